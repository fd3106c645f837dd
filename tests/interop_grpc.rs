//! Interop: our gRPC client and server against four independent gRPC
//! stacks, every case of grpc/grpc `doc/interop-test-descriptions.md` in
//! both directions:
//! - grpcio (the C core, Python bindings),
//! - grpclib (pure-Python asyncio HTTP/2 and gRPC), both from the venv
//!   `target/interop-venv`,
//! - grpc-js (Node's `@grpc/grpc-js` on Node's own HTTP/2), from
//!   `tests/interop/grpcjs/node_modules`, and
//! - grpc-go (Debian's grpc-go 1.33, Go's own HTTP/2), our programs of
//!   `tests/interop/grpcgo/` built into `target/grpcgo/bin`,
//!
//! all installed by `scripts/install-test-deps`. Our side runs in this
//! process, on threads: the interop server and client of `examples/interop/`
//! (the very code of the `interop_server` and `interop_client` examples) over
//! the blocking std adapter. The peers run as subprocesses, on ephemeral
//! ports, each with a timeout and killed when done or failed: the Python
//! ones (`tests/interop/*.py`) on stubs generated from our protos into
//! `target/interop-py/`, the Node ones (`tests/interop/grpcjs/*.js`) loading
//! those protos with `@grpc/proto-loader`, the Go ones on stubs generated
//! from them when they were built.
//!
//! The matrix (cases × peers × directions) is printed to stderr and written
//! to `target/interop-matrix.txt`. A cell is PASS or FAIL, and every cell
//! must pass. Where a peer library lacks what a case needs, the peer program
//! adds it on the library's own structures: gzip for grpclib
//! (`tests/interop/grpclib_gzip.py`), response compression for grpc-js's
//! server (the interceptor in `tests/interop/grpcjs/server.js`), and
//! per-message compression and its detection for grpc-go
//! (`tests/interop/grpcgo/interopgo`).
//!
//! When the venv, the Node modules or the Go programs are missing, the test prints
//! "skipped: ..." and runs the columns it can (passing if none), unless
//! `GRPC_SANSIO_INTEROP=require` (as `scripts/test` and CI set it): then a
//! missing peer fails the test.

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
/// How long checking that a peer library is installed may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    repo_root().join("target/interop-venv/bin/python")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests/interop").join(name)
}

fn grpcjs_dir() -> PathBuf {
    repo_root().join("tests/interop/grpcjs")
}

fn grpcgo_bin(name: &str) -> PathBuf {
    repo_root().join("target/grpcgo/bin").join(name)
}

/// How to start a peer program: `python <script> --stubs=...`,
/// `node <script>` or a built binary; the caller adds the program's flags.
#[derive(Clone)]
enum Program {
    Python { file: &'static str, stubs: PathBuf },
    Node { file: &'static str },
    Binary { path: PathBuf },
}

impl Program {
    fn command(&self) -> Command {
        match self {
            Program::Python { file, stubs } => {
                let mut cmd = Command::new(venv_python());
                cmd.arg(script(file))
                    .arg(format!("--stubs={}", stubs.display()));
                cmd
            }
            Program::Node { file } => {
                let mut cmd = Command::new("node");
                cmd.arg(grpcjs_dir().join(file));
                cmd
            }
            Program::Binary { path } => Command::new(path),
        }
    }
}

/// `true` if the tool is there. Otherwise fails the test when interop is
/// required, or prints why its columns are skipped.
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

fn python_peers_installed() -> bool {
    run(
        "python probe",
        Command::new(venv_python()).args(["-c", "import grpc, grpc_tools, grpclib"]),
        PROBE_TIMEOUT,
    )
    .0
}

fn grpcjs_installed() -> bool {
    run(
        "node probe",
        Command::new("node")
            .args([
                "-e",
                "require('@grpc/grpc-js'); require('@grpc/proto-loader')",
            ])
            .current_dir(grpcjs_dir()),
        PROBE_TIMEOUT,
    )
    .0
}

fn grpcgo_built() -> bool {
    ["grpcgo_server", "grpcgo_client"]
        .iter()
        .all(|name| grpcgo_bin(name).is_file())
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
/// success and its stdout and stderr (there, why it could not start).
fn run(name: &str, cmd: &mut Command, timeout: Duration) -> (bool, String, String) {
    let child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return (false, String::new(), format!("cannot start {name}: {e}")),
    };
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

/// A peer server starting up: its first stdout line comes through `said`.
struct Starting {
    peer: Peer,
    said: mpsc::Receiver<String>,
}

/// Starts a peer server on an ephemeral port; [`listening`] waits for it.
fn start_peer_server(name: &str, program: &Program) -> Starting {
    let child = program
        .command()
        .arg("--port=0")
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
    Starting { peer, said: rx }
}

/// Waits until a starting peer server says where it listens: the server
/// and its port (a server that does not is killed, and the test fails).
fn listening(starting: Starting) -> (Peer, u16) {
    let Starting { peer, said } = starting;
    let name = &peer.name;
    let line = said
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
}

impl Cell {
    fn short(&self) -> &'static str {
        match self {
            Cell::Pass => "PASS",
            Cell::Fail(_) => "FAIL",
        }
    }
}

/// Our client against a peer server: every case, each on its own connection.
fn our_client_against(port: u16) -> BTreeMap<String, Cell> {
    let addr = format!("127.0.0.1:{port}");
    CASES
        .iter()
        .map(|&case| {
            let cell = match run_case(&addr, case) {
                Ok(()) => Cell::Pass,
                Err(why) => Cell::Fail(why),
            };
            (case.to_string(), cell)
        })
        .collect()
}

/// A peer client against our server: its PASS / FAIL lines.
fn peer_client_against(name: &str, program: &Program, port: u16) -> BTreeMap<String, Cell> {
    let (_, out, err) = run(
        name,
        program
            .command()
            .arg(format!("--server_port={port}"))
            .arg("--server_host=127.0.0.1")
            .arg("--test_case=all"),
        PEER_CLIENT_TIMEOUT,
    );
    let mut cells = BTreeMap::new();
    for line in out.lines() {
        let (verdict, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (case, why) = rest.split_once(": ").unwrap_or((rest, ""));
        let cell = match verdict {
            "PASS" => Cell::Pass,
            "FAIL" => Cell::Fail(why.to_string()),
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

/// A peer library: the name its columns go by, and its
/// interop server and client programs.
struct Library {
    name: &'static str,
    server: Program,
    client: Program,
}

#[test]
fn interop_matrix_with_grpcio_grpclib_grpcjs_and_grpcgo() {
    let started = Instant::now();
    let python = available(
        python_peers_installed(),
        "grpcio, grpcio-tools and grpclib in target/interop-venv",
    );
    let node = available(
        grpcjs_installed(),
        "node with @grpc/grpc-js and @grpc/proto-loader in tests/interop/grpcjs/node_modules",
    );
    let go = available(
        grpcgo_built(),
        "the grpc-go peers in target/grpcgo/bin (tests/interop/grpcgo/build.sh)",
    );
    let mut libraries = Vec::new();
    if python {
        let stubs = repo_root().join("target/interop-py");
        let (ok, out, err) = run(
            "gen_stubs",
            Command::new(venv_python())
                .arg(script("gen_stubs.py"))
                .arg(&stubs),
            STUBS_TIMEOUT,
        );
        assert!(ok, "generating the Python stubs failed:\n{out}\n{err}");
        let py = |file| Program::Python {
            file,
            stubs: stubs.clone(),
        };
        libraries.push(Library {
            name: "grpcio",
            server: py("grpcio_server.py"),
            client: py("grpcio_client.py"),
        });
        libraries.push(Library {
            name: "grpclib",
            server: py("grpclib_server.py"),
            client: py("grpclib_client.py"),
        });
    }
    if node {
        libraries.push(Library {
            name: "grpc-js",
            server: Program::Node { file: "server.js" },
            client: Program::Node { file: "client.js" },
        });
    }
    if go {
        libraries.push(Library {
            name: "grpc-go",
            server: Program::Binary {
                path: grpcgo_bin("grpcgo_server"),
            },
            client: Program::Binary {
                path: grpcgo_bin("grpcgo_client"),
            },
        });
    }
    if libraries.is_empty() {
        return;
    }

    // Our server, in this process.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let our_port = listener.local_addr().expect("local addr").port();
    let server = Server::default();
    let serving = {
        let server = server.clone();
        thread::spawn(move || std_io::serve(listener, server, config(), |_| TestServer::default()))
    };

    // The peer servers, started together.
    let starting: Vec<Starting> = libraries
        .iter()
        .map(|lib| start_peer_server(&format!("{} server", lib.name), &lib.server))
        .collect();
    let peer_servers: Vec<(Peer, u16)> = starting.into_iter().map(listening).collect();

    // Both directions of every library at once.
    let mut runs: Vec<(String, thread::JoinHandle<BTreeMap<String, Cell>>)> = Vec::new();
    for (lib, (_, port)) in libraries.iter().zip(&peer_servers) {
        let (name, port) = (lib.name, *port);
        runs.push((
            format!("{name} srv"),
            thread::spawn(move || our_client_against(port)),
        ));
        let client = lib.client.clone();
        runs.push((
            format!("{name} cli"),
            thread::spawn(move || {
                peer_client_against(&format!("{name} client"), &client, our_port)
            }),
        ));
    }
    let columns: Vec<(String, BTreeMap<String, Cell>)> = runs
        .into_iter()
        .map(|(name, h)| (name, h.join().expect("a direction panicked")))
        .collect();
    drop(peer_servers);
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
    let mut failures = Vec::new();
    for case in CASES {
        text.push_str(&format!("{case:<30}"));
        for (name, cells) in &columns {
            let cell = &cells[*case];
            text.push_str(&format!("{:<13}", cell.short()));
            if let Cell::Fail(why) = cell {
                failures.push(format!("{case} [{name}]: {why}"));
            }
        }
        text.push('\n');
    }
    for line in &failures {
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
