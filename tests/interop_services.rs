//! Interop of the standard services with grpcio, the C-core gRPC of
//! Python (PyPI grpcio, grpcio-health-checking, grpcio-reflection), from
//! the venv that `scripts/install-test-deps` makes in
//! `target/interop-venv`:
//!
//! - **a** grpcio's health client against our server (`examples/services`
//!   on the std adapter, in this process): Check, NOT_FOUND, a Watch that
//!   sees a change this test makes, Watch of an unknown service;
//! - **b** grpcio's reflection client against our server: v1alpha through
//!   `ProtoReflectionDescriptorDatabase` under a protobuf `DescriptorPool`
//!   (list, then a method resolved with its messages, fields and enum),
//!   and raw v1 and v1alpha streams (an unknown file's NOT_FOUND
//!   `error_response`, the stream going on);
//! - **c** our generated `HealthClient` (std adapter) against grpcio's
//!   `HealthServicer`: the same, the change made by the Python side;
//! - **d** the health probe's logic (`examples/services/probe.rs`) and its
//!   exit codes against both servers, a closed port and a silent one.
//!
//! The Python scripts are in `tests/interop_services/`; they print one line
//! per result, which this test reads with a timeout. Every subprocess is
//! killed when its part ends, passed or not. One test runs the parts in
//! turn and prints a matrix of what passed.
//!
//! When the venv is missing the test prints "skipped: ..." and passes,
//! unless `GRPC_SANSIO_INTEROP=require` (as `scripts/test` and CI set it),
//! in which case it fails.
#![cfg(all(feature = "health", feature = "reflection"))]

#[path = "../examples/adapters/mod.rs"]
mod adapters;
#[path = "../examples/ecommerce/mod.rs"]
mod ecommerce;
#[path = "../examples/services/mod.rs"]
mod services;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::{ClientApp, Server, std_io};
use grpc_sansio::grpc::{CallId, Code};
use grpc_sansio::services::health::ServingStatus;
use grpc_sansio::services::health::v1::HealthCheckRequest;
use grpc_sansio::services::health::v1::health::{self, HealthClient};
use grpc_sansio::{client, server};
use services::Services;
use services::probe::{self, Outcome};

/// How long one line of a peer may take to come.
const LINE_TIMEOUT: Duration = Duration::from_secs(15);
/// The service whose status the watch tests change.
const WATCHED: &str = "shop.Cart";
const UNKNOWN: &str = "no.such.Service";

// ---------------------------------------------------------------------------
// Tools
// ---------------------------------------------------------------------------

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn venv_python() -> PathBuf {
    repo_root().join("target/interop-venv/bin/python")
}

fn script(name: &str) -> PathBuf {
    repo_root().join("tests/interop_services").join(name)
}

/// Whether the venv has the Python peers. When it has not: fails if
/// interop is required, else prints why the test is skipped.
fn peers_available() -> bool {
    let ok = Command::new(venv_python())
        .args([
            "-c",
            "import grpc, grpc_health.v1.health, \
             grpc_reflection.v1alpha.proto_reflection_descriptor_database",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    let what = "grpcio, grpcio-health-checking and grpcio-reflection in target/interop-venv";
    let required = std::env::var("GRPC_SANSIO_INTEROP").is_ok_and(|v| v == "require");
    assert!(
        !required,
        "{what} missing and GRPC_SANSIO_INTEROP=require: run scripts/install-test-deps"
    );
    // Straight to the process's stderr: the harness captures `eprintln!`.
    let _ = writeln!(
        io::stderr(),
        "skipped: {what} missing; run scripts/install-test-deps"
    );
    false
}

/// A Python peer: its stdout lines come through a channel; it is killed
/// when dropped.
struct Peer {
    name: String,
    child: Child,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Peer {
    fn spawn(script_name: &str, args: &[&str]) -> Peer {
        let mut child = Command::new(venv_python())
            .arg("-u")
            .arg(script(script_name))
            .args(args)
            // A loopback peer needs no proxy, whatever the environment says.
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("grpc_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env("GRPC_VERBOSITY", "ERROR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {script_name}: {e}"));
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    return;
                }
                adapters::lock(&sink).push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Peer {
            name: script_name.to_string(),
            child,
            lines,
            stderr,
        }
    }

    /// The next line the peer prints; panics (with its stderr) when none
    /// comes in time.
    fn line(&self) -> String {
        match self.lines.recv_timeout(LINE_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                // Give a crashing peer a moment to finish its traceback.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "{}: no line ({e:?}); stderr:\n{}",
                    self.name,
                    adapters::lock(&self.stderr)
                )
            }
        }
    }

    /// Asserts that the next line is `want`.
    fn expect(&self, want: &str) {
        let got = self.line();
        assert_eq!(got, want, "{}: stderr:\n{}", self.name, self.stderr());
    }

    fn stderr(&self) -> String {
        adapters::lock(&self.stderr).clone()
    }

    fn stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("piped stdin")
    }

    /// Waits (bounded) for the peer to exit successfully.
    fn wait_success(&mut self) {
        drop(self.child.stdin.take());
        let give_up = Instant::now() + LINE_TIMEOUT;
        loop {
            match self.child.try_wait().expect("try_wait") {
                Some(status) => {
                    assert!(
                        status.success(),
                        "{} exited with {status}; stderr:\n{}",
                        self.name,
                        self.stderr()
                    );
                    return;
                }
                None if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                None => panic!("{} did not exit", self.name),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our server (`examples/services`) on an ephemeral loopback port, on the
/// std adapter in background threads. The returned `Services` sets
/// statuses; the server stops when the test process exits.
fn start_our_server() -> (SocketAddr, Services) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let server = Server::default();
    // The book's services next to health and reflection: reflection then
    // describes a service whose protos import another file
    // (google/protobuf/wrappers.proto), which must be served as a dependency.
    let store = ecommerce::Store::book();
    let services = Services::new(server.clone()).with_app(
        ecommerce::FILE_DESCRIPTOR_SET,
        &ecommerce::SERVICE_NAMES,
        move |_| ecommerce::EcommerceApp::new(store.clone()),
    );
    let make = services.clone();
    std::thread::spawn(move || {
        std_io::serve(listener, server, server::Config::default(), move |id| {
            make.app(id)
        })
    });
    (addr, services)
}

/// grpcio's health server in a subprocess, and its address.
fn start_grpcio_server() -> (Peer, SocketAddr) {
    let peer = Peer::spawn("health_server.py", &[]);
    let line = peer.line();
    let port: u16 = line
        .strip_prefix("port ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("health_server.py said {line:?}"));
    (peer, SocketAddr::from(([127, 0, 0, 1], port)))
}

// ---------------------------------------------------------------------------
// The parts
// ---------------------------------------------------------------------------

/// a: grpcio's health client against our server.
fn grpcio_client_vs_our_server() {
    let (addr, services) = start_our_server();
    services.set_status(WATCHED, ServingStatus::Serving);
    let mut peer = Peer::spawn("health_client.py", &[&addr.port().to_string(), WATCHED]);
    peer.expect("check-server SERVING");
    peer.expect("check-unknown NOT_FOUND");
    peer.expect(&format!("watch {WATCHED} SERVING"));
    // The client is now waiting on its watch: change the status.
    services.set_status(WATCHED, ServingStatus::NotServing);
    peer.expect(&format!("watch {WATCHED} NOT_SERVING"));
    peer.expect("watch-unknown SERVICE_UNKNOWN");
    peer.expect("done");
    peer.wait_success();
}

/// b: grpcio's reflection client against our server.
fn grpcio_reflection_vs_our_server() {
    let (addr, _services) = start_our_server();
    let mut peer = Peer::spawn("reflection_client.py", &[&addr.port().to_string()]);
    let names = "ecommerce.OrderManagement,ecommerce.ProductInfo,grpc.health.v1.Health,\
                 grpc.reflection.v1.ServerReflection,grpc.reflection.v1alpha.ServerReflection";
    peer.expect(&format!("services {names}"));
    peer.expect(
        "method grpc.health.v1.Health.Watch grpc.health.v1.HealthCheckRequest -> \
         grpc.health.v1.HealthCheckResponse server_streaming=True \
         file=grpc/health/v1/health.proto",
    );
    peer.expect("message grpc.health.v1.HealthCheckRequest service=1:string");
    peer.expect(
        "message grpc.health.v1.HealthCheckResponse \
         status=1:enum(grpc.health.v1.HealthCheckResponse.ServingStatus)",
    );
    peer.expect(
        "enum grpc.health.v1.HealthCheckResponse.ServingStatus \
         UNKNOWN,SERVING,NOT_SERVING,SERVICE_UNKNOWN",
    );
    peer.expect("service grpc.reflection.v1.ServerReflection ServerReflectionInfo");
    // A method whose types come from a dependency of its file.
    peer.expect(
        "method ecommerce.OrderManagement.getOrder google.protobuf.StringValue -> \
         ecommerce.Order server_streaming=False file=ecommerce/order_management.proto",
    );
    peer.expect("message google.protobuf.StringValue value=1:string");
    peer.expect("message-file google.protobuf.StringValue google/protobuf/wrappers.proto");
    peer.expect(
        "message ecommerce.Order id=1:string,items=2:string,description=3:string,\
         price=4:float,destination=5:string",
    );
    for version in ["v1", "v1alpha"] {
        peer.expect(&format!("{version} list {names}"));
        peer.expect(&format!("{version} unknown-file NOT_FOUND"));
        peer.expect(&format!(
            "{version} symbol-file grpc/health/v1/health.proto"
        ));
    }
    peer.expect("done");
    peer.wait_success();
}

/// c: our generated health client against grpcio's health server.
fn our_client_vs_grpcio_server() {
    let (mut peer, addr) = start_grpcio_server();
    let mut app = HealthScenario::new(peer.stdin());
    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    std_io::run_client(addr, config, &mut app).expect("client connection");
    assert_eq!(
        app.seen,
        [
            "check-server SERVING".to_string(),
            "check-unknown NOT_FOUND".into(),
            format!("watch {WATCHED} SERVING"),
            format!("watch {WATCHED} NOT_SERVING"),
            "watch-unknown SERVICE_UNKNOWN".into(),
        ],
        "grpcio server stderr:\n{}",
        peer.stderr()
    );
    peer.expect(&format!("set {WATCHED} NOT_SERVING"));
    drop(app.server_stdin.take());
    peer.wait_success();
}

/// d: the probe against our server.
fn probe_vs_our_server() {
    let (addr, services) = start_our_server();
    let addr = addr.to_string();
    let t = Duration::from_secs(5);
    assert_probe(probe::probe(&addr, "", t), Outcome::Serving, 0);
    for name in services.service_names() {
        assert_probe(probe::probe(&addr, name, t), Outcome::Serving, 0);
    }
    services.set_status(WATCHED, ServingStatus::NotServing);
    assert_probe(
        probe::probe(&addr, WATCHED, t),
        Outcome::Unhealthy(ServingStatus::NotServing),
        1,
    );
    let got = probe::probe(&addr, UNKNOWN, t);
    assert!(matches!(got, Outcome::NotFound(_)), "{got:?}");
    assert_eq!(got.exit_code(), 1);
}

/// d: the probe against grpcio's health server.
fn probe_vs_grpcio_server() {
    let (mut peer, addr) = start_grpcio_server();
    let addr = addr.to_string();
    let t = Duration::from_secs(5);
    assert_probe(probe::probe(&addr, "", t), Outcome::Serving, 0);
    assert_probe(probe::probe(&addr, WATCHED, t), Outcome::Serving, 0);
    let mut stdin = peer.stdin();
    writeln!(stdin, "set {WATCHED} NOT_SERVING").expect("write to health_server.py");
    peer.expect(&format!("set {WATCHED} NOT_SERVING"));
    assert_probe(
        probe::probe(&addr, WATCHED, t),
        Outcome::Unhealthy(ServingStatus::NotServing),
        1,
    );
    let got = probe::probe(&addr, UNKNOWN, t);
    assert!(matches!(got, Outcome::NotFound(_)), "{got:?}");
    assert_eq!(got.exit_code(), 1);
    drop(stdin);
    peer.wait_success();
}

/// d: the probe without an answer: a closed port, a server that accepts
/// and stays silent (the deadline passes).
fn probe_without_answer() {
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let got = probe::probe(&closed, "", Duration::from_secs(5));
    assert!(matches!(got, Outcome::Failed(_)), "{got:?}");
    assert_eq!(got.exit_code(), 2);

    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let start = Instant::now();
    let got = probe::probe(&addr, "", Duration::from_millis(300));
    let took = start.elapsed();
    assert!(matches!(got, Outcome::Failed(_)), "{got:?}");
    assert_eq!(got.exit_code(), 2);
    assert!(took < Duration::from_secs(2), "the deadline took {took:?}");
    drop(silent);
}

fn assert_probe(got: Outcome, want: Outcome, code: i32) {
    assert_eq!(got, want);
    assert_eq!(got.exit_code(), code);
}

// ---------------------------------------------------------------------------
// c's client: a sans-IO app over the std adapter
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    CheckServer,
    CheckUnknown,
    WatchFirst,
    WatchChange,
    WatchUnknown,
    Done,
}

/// Check "", Check unknown, Watch WATCHED (asking the Python server to
/// change its status after the first message), Watch unknown. `seen`
/// collects what came, in the words of `health_client.py`.
struct HealthScenario {
    server_stdin: Option<ChildStdin>,
    step: Step,
    call: Option<CallId>,
    answer: Option<ServingStatus>,
    seen: Vec<String>,
    give_up: Instant,
}

impl HealthScenario {
    fn new(server_stdin: ChildStdin) -> HealthScenario {
        HealthScenario {
            server_stdin: Some(server_stdin),
            step: Step::CheckServer,
            call: None,
            answer: None,
            seen: Vec::new(),
            give_up: Instant::now() + LINE_TIMEOUT,
        }
    }

    fn request(&self) -> client::Request {
        let mut r = health::CHECK.request();
        r.deadline = Some(self.give_up);
        r
    }

    fn start_step(&mut self, conn: &mut client::Connection, step: Step, now: Instant) {
        self.step = step;
        self.answer = None;
        let (service, watch) = match step {
            Step::CheckServer => ("", false),
            Step::CheckUnknown => (UNKNOWN, false),
            Step::WatchFirst => (WATCHED, true),
            Step::WatchUnknown => (UNKNOWN, true),
            Step::WatchChange | Step::Done => return,
        };
        let message = HealthCheckRequest {
            service: service.into(),
        };
        let started = if watch {
            HealthClient::watch(conn, self.request(), &message, now)
        } else {
            HealthClient::check(conn, self.request(), &message, now)
        };
        match started {
            Ok(call) => self.call = Some(call),
            Err(status) => self.fail(format!("{step:?}: not started: {status}")),
        }
    }

    fn fail(&mut self, why: String) {
        self.seen.push(format!("failed: {why}"));
        self.step = Step::Done;
    }
}

impl ClientApp for HealthScenario {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        self.start_step(conn, Step::CheckServer, now);
    }

    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, now: Instant) {
        match event {
            client::Event::Message { call, data } if Some(call) == self.call => {
                let status = match HealthClient::decode_watch(data) {
                    Ok(r) => r.status(),
                    Err(e) => return self.fail(format!("{:?}: {e}", self.step)),
                };
                match self.step {
                    Step::CheckServer | Step::CheckUnknown => self.answer = Some(status),
                    Step::WatchFirst => {
                        self.seen
                            .push(format!("watch {WATCHED} {}", status.as_str_name()));
                        let mut stdin = self.server_stdin.take().expect("stdin once");
                        if let Err(e) = writeln!(stdin, "set {WATCHED} NOT_SERVING") {
                            return self.fail(format!("writing to the server: {e}"));
                        }
                        // Kept open: end of stdin stops the server.
                        self.server_stdin = Some(stdin);
                        self.step = Step::WatchChange;
                    }
                    Step::WatchChange | Step::WatchUnknown => {
                        let name = if self.step == Step::WatchChange {
                            format!("watch {WATCHED}")
                        } else {
                            "watch-unknown".into()
                        };
                        self.seen.push(format!("{name} {}", status.as_str_name()));
                        let _ = conn.cancel(call);
                        let next = if self.step == Step::WatchChange {
                            Step::WatchUnknown
                        } else {
                            Step::Done
                        };
                        self.start_step(conn, next, now);
                    }
                    Step::Done => {}
                }
            }
            client::Event::Status { call, status, .. } if Some(call) == self.call => {
                match self.step {
                    Step::CheckServer => {
                        let what = match (status.code, self.answer) {
                            (Code::Ok, Some(s)) => s.as_str_name().to_string(),
                            _ => status.code.as_str().to_string(),
                        };
                        self.seen.push(format!("check-server {what}"));
                        self.start_step(conn, Step::CheckUnknown, now);
                    }
                    Step::CheckUnknown => {
                        self.seen
                            .push(format!("check-unknown {}", status.code.as_str()));
                        self.start_step(conn, Step::WatchFirst, now);
                    }
                    Step::Done => {}
                    // A watch does not end by itself.
                    step => self.fail(format!("{step:?}: ended with {status}")),
                }
            }
            client::Event::Closed { error } if self.step != Step::Done => {
                self.fail(format!("connection closed: {error:?}"));
            }
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        (self.step != Step::Done).then_some(self.give_up)
    }

    fn on_timeout(&mut self, _conn: &mut client::Connection, _now: Instant) {
        if self.step != Step::Done {
            let step = self.step;
            self.fail(format!("{step:?}: timed out"));
        }
    }

    fn is_done(&self) -> bool {
        self.step == Step::Done
    }
}

// ---------------------------------------------------------------------------
// The test
// ---------------------------------------------------------------------------

#[test]
fn standard_services_interop() {
    if !peers_available() {
        return;
    }
    type Part = (&'static str, &'static str, fn());
    let parts: [Part; 6] = [
        (
            "a health: grpcio client",
            "our server",
            grpcio_client_vs_our_server,
        ),
        (
            "b reflection: grpcio client",
            "our server",
            grpcio_reflection_vs_our_server,
        ),
        (
            "c health: our HealthClient",
            "grpcio HealthServicer",
            our_client_vs_grpcio_server,
        ),
        ("d probe", "our server", probe_vs_our_server),
        ("d probe", "grpcio HealthServicer", probe_vs_grpcio_server),
        ("d probe", "closed / silent port", probe_without_answer),
    ];
    let start = Instant::now();
    let mut rows = Vec::new();
    for (what, against, run) in parts {
        let t = Instant::now();
        let ok = std::panic::catch_unwind(run).is_ok();
        rows.push((what, against, ok, t.elapsed()));
    }
    let mut matrix = String::from("\ninterop_services:\n");
    for (what, against, ok, took) in &rows {
        let mark = if *ok { "pass" } else { "FAIL" };
        matrix += &format!("  {mark}  {what:<28} vs {against:<24} {took:>8.2?}\n");
    }
    matrix += &format!("  total {:.2?}\n", start.elapsed());
    let _ = io::stderr().write_all(matrix.as_bytes());
    assert!(rows.iter().all(|r| r.2), "some parts failed:{matrix}");
}
