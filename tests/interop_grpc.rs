//! Interop: our gRPC client and server against two independent gRPC
//! stacks, every case of grpc/grpc `doc/interop-test-descriptions.md` in
//! both directions:
//! - grpcio (the C core, Python bindings) and
//! - grpclib (pure-Python asyncio HTTP/2 and gRPC),
//!
//! both from the venv `target/interop-venv` (`scripts/install-test-deps`).
//! Our side runs in this process, on threads: the interop server and client
//! of `examples/interop/` (the very code of the `interop_server` and
//! `interop_client` examples) over the blocking std adapter. The peers run
//! as subprocesses (`tests/interop/*.py`, on stubs generated from our protos
//! into `target/interop-py/`), on ephemeral ports, each with a timeout.
//!
//! The matrix (cases × peers × directions) is printed to stderr and written
//! to `target/interop-matrix.txt`. A cell is PASS, FAIL, or n/a where the
//! peer library cannot do the case (the reason is printed); every other
//! cell must pass.
//!
//! When the venv is missing the test prints "skipped: ..." and passes,
//! unless `GRPC_SANSIO_INTEROP=require` (as `scripts/test` and CI set it).

#![cfg(feature = "compression")]

#[path = "../examples/adapters/mod.rs"]
mod adapters;
#[path = "../examples/interop/mod.rs"]
mod interop;

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use adapters::{Server, std_io};
use interop::client::{CASES, run_case};
use interop::server::{TestServer, config};

/// How long a peer client may take for all cases before it is killed.
const PEER_CLIENT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a peer server may take to say where it listens.
const PEER_SERVER_START: Duration = Duration::from_secs(30);
/// How long stub generation may take.
const STUBS_TIMEOUT: Duration = Duration::from_secs(60);

/// Cells our client does not run, and why: the peer server cannot do them.
const OUR_CLIENT_NA: &[(&str, &str, &str)] = &[
    (
        "grpcio",
        "client_compressed_unary",
        "grpcio's Python server cannot see if a request came compressed",
    ),
    (
        "grpcio",
        "client_compressed_streaming",
        "grpcio's Python server cannot see if a request came compressed",
    ),
    (
        "grpclib",
        "client_compressed_unary",
        "grpclib has no compression",
    ),
    (
        "grpclib",
        "server_compressed_unary",
        "grpclib has no compression",
    ),
    (
        "grpclib",
        "client_compressed_streaming",
        "grpclib has no compression",
    ),
    (
        "grpclib",
        "server_compressed_streaming",
        "grpclib has no compression",
    ),
];

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    repo_root().join("target/interop-venv/bin/python")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests/interop").join(name)
}

/// `true` if the tool is there. Otherwise fails the test when interop is
/// required, or prints why it is skipped.
fn available(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    let required = std::env::var("GRPC_SANSIO_INTEROP").is_ok_and(|v| v == "require");
    assert!(
        !required,
        "{what} is missing and GRPC_SANSIO_INTEROP=require: run scripts/install-test-deps"
    );
    // Straight to the process's stderr: the harness captures `eprintln!`.
    let _ = writeln!(
        io::stderr(),
        "skipped: {what} is missing; run scripts/install-test-deps"
    );
    false
}

fn peers_installed() -> bool {
    Command::new(venv_python())
        .args(["-c", "import grpc, grpc_tools, grpclib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A child process that is killed when dropped (test failure included).
struct Peer {
    name: String,
    child: Child,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a pipe to its end on a thread; the text comes through the channel.
fn collect(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(pipe).read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Runs `cmd` to its end or until `timeout` (then kills it); returns its
/// success and its stdout and stderr.
fn run(name: &str, cmd: &mut Command, timeout: Duration) -> (bool, String, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut peer = Peer {
        name: name.to_string(),
        child,
    };
    let out = collect(peer.child.stdout.take().expect("piped stdout"));
    let err = collect(peer.child.stderr.take().expect("piped stderr"));
    let give_up = Instant::now() + timeout;
    let ok = loop {
        match peer.child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if Instant::now() < give_up => thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = peer.child.kill();
                let _ = peer.child.wait();
                let _ = writeln!(io::stderr(), "{}: killed after {timeout:?}", peer.name);
                break false;
            }
        }
    };
    let text =
        |rx: mpsc::Receiver<String>| rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    (ok, text(out), text(err))
}

/// Starts a peer server on an ephemeral port; returns it and its port.
fn start_peer_server(name: &str, file: &str, stubs: &Path) -> (Peer, u16) {
    let child = Command::new(venv_python())
        .arg(script(file))
        .arg("--port=0")
        .arg(format!("--stubs={}", stubs.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut peer = Peer {
        name: name.to_string(),
        child,
    };
    let stdout = peer.child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(PEER_SERVER_START)
        .unwrap_or_else(|_| panic!("{name} did not start within {PEER_SERVER_START:?}"));
    let port = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} said {line:?}, not LISTENING <port>"));
    (peer, port)
}

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq)]
enum Cell {
    Pass,
    Fail(String),
    NotApplicable(String),
}

impl Cell {
    fn short(&self) -> &'static str {
        match self {
            Cell::Pass => "PASS",
            Cell::Fail(_) => "FAIL",
            Cell::NotApplicable(_) => "n/a",
        }
    }
}

/// Our client against a peer server: every case, each on its own connection.
fn our_client_against(peer: &'static str, port: u16) -> BTreeMap<String, Cell> {
    let addr = format!("127.0.0.1:{port}");
    CASES
        .iter()
        .map(|&case| {
            let na = OUR_CLIENT_NA
                .iter()
                .find(|(p, c, _)| *p == peer && *c == case);
            let cell = match na {
                Some((_, _, why)) => Cell::NotApplicable((*why).to_string()),
                None => match run_case(&addr, case) {
                    Ok(()) => Cell::Pass,
                    Err(why) => Cell::Fail(why),
                },
            };
            (case.to_string(), cell)
        })
        .collect()
}

/// A peer client against our server: its PASS / FAIL / NA lines.
fn peer_client_against(name: &str, file: &str, stubs: &Path, port: u16) -> BTreeMap<String, Cell> {
    let (_, out, err) = run(
        name,
        Command::new(venv_python())
            .arg(script(file))
            .arg(format!("--server_port={port}"))
            .arg("--server_host=127.0.0.1")
            .arg("--test_case=all")
            .arg(format!("--stubs={}", stubs.display())),
        PEER_CLIENT_TIMEOUT,
    );
    let mut cells = BTreeMap::new();
    for line in out.lines() {
        let (verdict, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (case, why) = rest.split_once(": ").unwrap_or((rest, ""));
        let cell = match verdict {
            "PASS" => Cell::Pass,
            "FAIL" => Cell::Fail(why.to_string()),
            "NA" => Cell::NotApplicable(why.to_string()),
            _ => continue,
        };
        cells.insert(case.to_string(), cell);
    }
    for case in CASES {
        cells
            .entry(case.to_string())
            .or_insert_with(|| Cell::Fail(format!("no verdict from {name}; its stderr:\n{err}")));
    }
    cells
}

#[test]
fn interop_matrix_with_grpcio_and_grpclib() {
    if !available(
        peers_installed(),
        "grpcio, grpcio-tools and grpclib in target/interop-venv",
    ) {
        return;
    }
    let started = Instant::now();
    let stubs = repo_root().join("target/interop-py");
    let (ok, out, err) = run(
        "gen_stubs",
        Command::new(venv_python())
            .arg(script("gen_stubs.py"))
            .arg(&stubs),
        STUBS_TIMEOUT,
    );
    assert!(ok, "generating the Python stubs failed:\n{out}\n{err}");

    // Our server, in this process.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let our_port = listener.local_addr().expect("local addr").port();
    let server = Server::default();
    let serving = {
        let server = server.clone();
        thread::spawn(move || std_io::serve(listener, server, config(), |_| TestServer::default()))
    };

    let (grpcio_server, grpcio_port) =
        start_peer_server("grpcio server", "grpcio_server.py", &stubs);
    let (grpclib_server, grpclib_port) =
        start_peer_server("grpclib server", "grpclib_server.py", &stubs);

    // The four directions at once.
    let runs: Vec<(&str, thread::JoinHandle<BTreeMap<String, Cell>>)> = vec![
        (
            "grpcio srv",
            thread::spawn(move || our_client_against("grpcio", grpcio_port)),
        ),
        ("grpcio cli", {
            let stubs = stubs.clone();
            thread::spawn(move || {
                peer_client_against("grpcio client", "grpcio_client.py", &stubs, our_port)
            })
        }),
        (
            "grpclib srv",
            thread::spawn(move || our_client_against("grpclib", grpclib_port)),
        ),
        ("grpclib cli", {
            let stubs = stubs.clone();
            thread::spawn(move || {
                peer_client_against("grpclib client", "grpclib_client.py", &stubs, our_port)
            })
        }),
    ];
    let columns: Vec<(&str, BTreeMap<String, Cell>)> = runs
        .into_iter()
        .map(|(name, h)| (name, h.join().expect("a direction panicked")))
        .collect();
    drop(grpcio_server);
    drop(grpclib_server);
    server.shutdown();
    let _ = serving.join();

    // The matrix.
    let mut text = String::new();
    text.push_str(
        "interop matrix: our client -> peer server (srv), peer client -> our server (cli)\n",
    );
    text.push_str(&format!("{:<30}", "case"));
    for (name, _) in &columns {
        text.push_str(&format!("{name:<13}"));
    }
    text.push('\n');
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    for case in CASES {
        text.push_str(&format!("{case:<30}"));
        for (name, cells) in &columns {
            let cell = &cells[*case];
            text.push_str(&format!("{:<13}", cell.short()));
            match cell {
                Cell::Pass => {}
                Cell::Fail(why) => failures.push(format!("{case} [{name}]: {why}")),
                Cell::NotApplicable(why) => notes.push(format!("n/a {case} [{name}]: {why}")),
            }
        }
        text.push('\n');
    }
    for line in notes.iter().chain(&failures) {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!("took {:.1?}\n", started.elapsed()));
    let _ = std::fs::write(repo_root().join("target/interop-matrix.txt"), &text);
    let _ = io::stderr().write_all(text.as_bytes());
    assert!(
        failures.is_empty(),
        "interop failures:\n{}",
        failures.join("\n")
    );
}
