//! Mixed load: 200 calls of every interop case kind (unary, large, client,
//! server and ping-pong streaming, empty stream, both cancels, a deadline,
//! status echoes, custom metadata, unimplemented, the compressed cases),
//! started together on ONE connection, each checked message by message and
//! status by status as the interop cases check them
//! (`examples/interop/client.rs`, [`MixApp`]). Our client against our
//! interop server over each adapter (std, tokio, smol), and against
//! grpc-go's interop server (`target/grpcgo/bin/grpcgo_server`, built by
//! `scripts/install-test-deps`; skipped when missing unless
//! `GRPC_SANSIO_INTEROP=require`).
//!
//! What it is for: bytes the adapters lose or corrupt between the socket
//! and the core, and calls that stall when many share a connection (calls
//! queued past the server's stream limit, reads that time out between
//! frames). Each round is a new connection with the calls in a different
//! order; `GRPC_SANSIO_STRESS_ROUNDS` sets the rounds per peer (default 3;
//! 20 to check a fix).

#![cfg(feature = "compression")]

#[path = "../examples/adapters/mod.rs"]
mod adapters;
#[path = "../examples/interop/mod.rs"]
mod interop;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use adapters::{Runtime, Server};
use grpc_sansio::client;
use interop::client::{MixApp, mixed};
use interop::server::{TestServer, config};

/// Calls per round, all on one connection.
const CALLS: usize = 200;
/// How long one round may take.
const ROUND_LIMIT: Duration = Duration::from_secs(60);

fn rounds() -> u64 {
    std::env::var("GRPC_SANSIO_STRESS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// Runs the rounds with our client (on the std adapter for a peer
/// server, on `rt` for ours) against `addr`; panics with every failure.
fn stress(what: &str, rt: Runtime, addr: SocketAddr) {
    let rounds = rounds();
    let mut failed = Vec::new();
    let started = Instant::now();
    for round in 0..rounds {
        let mut app = MixApp::new(mixed(CALLS, round), ROUND_LIMIT);
        let config = client::Config {
            authority: addr.to_string(),
            ..client::Config::default()
        };
        let io = rt.run_client(addr, config, &mut app);
        match (io, app.outcome()) {
            (Ok(()), Ok(n)) if n == CALLS => {}
            (Ok(()), Ok(n)) => failed.push(format!("round {round}: {n} of {CALLS} calls checked")),
            (io, outcome) => failed.push(format!("round {round}: {io:?}, {outcome:?}")),
        }
    }
    let _ = writeln!(
        std::io::stderr(),
        "{what}: {} of {rounds} rounds of {CALLS} mixed calls clean in {:.1?}",
        rounds - failed.len() as u64,
        started.elapsed()
    );
    assert!(failed.is_empty(), "{what}:\n{}", failed.join("\n"));
}

fn against_our_server(rt: Runtime) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let server = Server::default();
    let serving = rt.serve_in_thread(
        listener,
        server.clone(),
        config(),
        |_| TestServer::default(),
        false,
    );
    stress(&format!("our client -> our server ({rt})"), rt, addr);
    server.shutdown();
    let _ = serving.join();
}

#[test]
fn mixed_load_std() {
    against_our_server(Runtime::Std);
}

#[test]
fn mixed_load_tokio() {
    against_our_server(Runtime::Tokio);
}

#[test]
fn mixed_load_smol() {
    against_our_server(Runtime::Smol);
}

/// The grpc-go server, killed when dropped.
struct GoServer(Child);

impl Drop for GoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn mixed_load_against_grpcgo() {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/grpcgo/bin/grpcgo_server");
    if !bin.is_file() {
        let required = std::env::var("GRPC_SANSIO_INTEROP").is_ok_and(|v| v == "require");
        assert!(
            !required,
            "{} is missing and GRPC_SANSIO_INTEROP=require: run scripts/install-test-deps",
            bin.display()
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: the grpc-go server is missing; run scripts/install-test-deps"
        );
        return;
    }
    let mut child = Command::new(&bin)
        .arg("--port=0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start grpcgo_server");
    let stdout = child.stdout.take().expect("piped stdout");
    let _server = GoServer(child);
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("grpcgo_server did not say where it listens");
    let port: u16 = line
        .strip_prefix("LISTENING ")
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("grpcgo_server said {line:?}, not LISTENING <port>"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    stress("our client (std) -> grpc-go server", Runtime::Std, addr);
}
