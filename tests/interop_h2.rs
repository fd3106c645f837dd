//! Interop: independent HTTP/2 clients talk to our core over loopback.
//!
//! A server thread runs a blocking-std loop around `h2::Connection` (the
//! approach of `examples/h2_server.rs`) on an ephemeral port and answers
//! every request with `200` and the body `"<METHOD> <PATH> <N> bytes\n"`,
//! N being the length of the request body it received. Then:
//! - `nghttp` (Debian package nghttp2-client) fetches one URL, the same URL
//!   several times concurrently, and POSTs a file;
//! - `scripts/h2_interop_client.py` (python-hyper's `h2`, from the venv
//!   `target/interop-venv`) runs several streams, a PING and a GOAWAY.
//!
//! The tools come from `scripts/install-test-deps`. When one is missing the
//! test prints "skipped: ..." and passes, unless `GRPC_SANSIO_INTEROP=require`
//! (as `scripts/test` and CI set it), in which case it fails.

use std::collections::HashMap;
use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::h2::{Config, Connection, Event, HeadersKind, Role};
use grpc_sansio::hpack::Field;

/// How long one client run may take before it is killed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The server: a blocking adapter around the sans-IO core
// ---------------------------------------------------------------------------

/// Starts the server on an ephemeral loopback port; returns the port. The
/// accept thread lives until the test process exits.
fn start_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let Ok(socket) = socket else { continue };
            std::thread::spawn(move || {
                if let Err(e) = serve(socket) {
                    eprintln!("test server: connection ended: {e}");
                }
            });
        }
    });
    port
}

/// A request in progress: what the response body will name.
struct Request {
    method: String,
    path: String,
    body_len: usize,
}

fn serve(mut socket: TcpStream) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut requests: HashMap<u32, Request> = HashMap::new();
    let mut buf = BytesMut::new();
    loop {
        flush(&mut conn, &mut socket)?;
        if conn.is_closed() {
            return Ok(());
        }
        let now = Instant::now();
        let wait = conn.poll_timeout().map(|t| {
            t.saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        socket.set_read_timeout(wait)?;
        buf.resize(64 << 10, 0);
        match socket.read(&mut buf) {
            Ok(0) => {
                conn.recv_eof(Instant::now());
                flush(&mut conn, &mut socket)?;
                return Ok(());
            }
            Ok(n) => {
                buf.truncate(n);
                if let Err(e) = conn.recv(buf.split().freeze(), Instant::now()) {
                    eprintln!("test server: connection error: {e:?}");
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(Instant::now());
            }
            Err(e) => return Err(e),
        }
        while let Some(event) = conn.poll_event() {
            let (id, ended) = match event {
                Event::Headers {
                    stream_id,
                    kind: HeadersKind::Request,
                    fields,
                    end_stream,
                } => {
                    let get = |name: &str| {
                        fields
                            .iter()
                            .find(|f| f.name == name.as_bytes())
                            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
                            .unwrap_or_default()
                    };
                    let request = Request {
                        method: get(":method"),
                        path: get(":path"),
                        body_len: 0,
                    };
                    requests.insert(stream_id.0, request);
                    (stream_id, end_stream)
                }
                Event::Headers {
                    stream_id,
                    kind: HeadersKind::Trailers,
                    end_stream,
                    ..
                } => (stream_id, end_stream),
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                    ..
                } => {
                    if let Some(r) = requests.get_mut(&stream_id.0) {
                        r.body_len += data.len();
                    }
                    (stream_id, end_stream)
                }
                Event::Reset { stream_id, .. } => {
                    requests.remove(&stream_id.0);
                    continue;
                }
                _ => continue,
            };
            if !ended {
                continue;
            }
            let Some(r) = requests.remove(&id.0) else {
                continue;
            };
            let body = format!("{} {} {} bytes\n", r.method, r.path, r.body_len);
            let headers = [
                Field::new(&b":status"[..], &b"200"[..]),
                Field::new(&b"content-type"[..], &b"text/plain"[..]),
            ];
            if conn.send_headers(id, &headers, false).is_ok() {
                let _ = conn.send_data(id, Bytes::from(body), true);
            }
        }
    }
}

/// Writes everything the connection has to send, with vectored writes.
fn flush(conn: &mut Connection, socket: &mut TcpStream) -> io::Result<()> {
    while let Some(t) = conn.poll_transmit() {
        let mut slices: Vec<IoSlice<'_>> = t.chunks().iter().map(|c| IoSlice::new(c)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = socket.write_vectored(slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Tool discovery and running clients
// ---------------------------------------------------------------------------

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
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
    // Straight to the process's stderr: the harness captures `eprintln!`,
    // and a skip must be seen.
    let _ = writeln!(
        io::stderr(),
        "skipped: {what} is missing; run scripts/install-test-deps"
    );
    false
}

fn nghttp_ok() -> bool {
    Command::new("nghttp")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn venv_python() -> PathBuf {
    repo_root().join("target/interop-venv/bin/python")
}

fn python_h2_ok() -> bool {
    Command::new(venv_python())
        .args(["-c", "import h2"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What a client run left: exit status, stdout, stderr.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn assert_success(&self, what: &str) {
        assert!(
            self.status.success(),
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
    }
}

/// Runs a command with a deadline, capturing its output.
fn run(cmd: &mut Command) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    // Read the pipes on threads so a chatty client never blocks on them.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} did not finish within {CLIENT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = out_t.join().expect("stdout reader");
    let stderr = err_t.join().expect("stderr reader");
    Run {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn nghttp_single_get() {
    if !available(nghttp_ok(), "nghttp (Debian package nghttp2-client)") {
        return;
    }
    let port = start_server();
    let url = format!("http://127.0.0.1:{port}/");
    let r = run(Command::new("nghttp").args(["-nv", "-t", "10", &url]));
    r.assert_success("nghttp -nv");
    let stdout = &r.stdout;
    // -v traces every frame: our SETTINGS, the response and its end.
    for needle in [
        "recv SETTINGS frame",
        "recv HEADERS frame",
        ":status: 200",
        "recv DATA frame",
        "END_STREAM",
    ] {
        assert!(stdout.contains(needle), "no {needle:?} in:\n{stdout}");
    }
}

#[test]
fn nghttp_concurrent_requests_and_post() {
    if !available(nghttp_ok(), "nghttp (Debian package nghttp2-client)") {
        return;
    }
    let port = start_server();

    // The same URL five times, concurrently on one connection.
    let url = format!("http://127.0.0.1:{port}/many");
    let r = run(Command::new("nghttp").args(["-v", "-t", "10", "-m", "5", &url]));
    r.assert_success("nghttp -m 5");
    let stdout = &r.stdout;
    assert_eq!(
        stdout.matches(":status: 200").count(),
        5,
        "expected five 200 responses in:\n{stdout}"
    );
    assert_eq!(
        stdout.matches("GET /many 0 bytes").count(),
        5,
        "expected five bodies in:\n{stdout}"
    );

    // A POST with a 100 kB body: past the initial 64 KiB windows, so the
    // server's WINDOW_UPDATEs are needed for it to arrive whole.
    let dir = std::env::temp_dir().join(format!("grpc-sansio-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let body = dir.join("body.bin");
    std::fs::write(&body, vec![b'a'; 100_000]).expect("write body");
    let up = format!("http://127.0.0.1:{port}/upload");
    let r = run(Command::new("nghttp").args([
        "-v",
        "-t",
        "10",
        "-d",
        body.to_str().expect("utf-8 temp path"),
        &up,
    ]));
    let _ = std::fs::remove_dir_all(&dir);
    r.assert_success("nghttp -d");
    let stdout = &r.stdout;
    assert!(
        stdout.contains("POST /upload 100000 bytes"),
        "the server did not get the whole body:\n{stdout}"
    );
    assert!(stdout.contains(":status: 200"), "no 200 in:\n{stdout}");
}

#[test]
fn python_h2_streams_ping_goaway() {
    if !available(
        python_h2_ok(),
        "python-hyper h2 in target/interop-venv (PyPI h2)",
    ) {
        return;
    }
    let port = start_server();
    let script = repo_root().join("scripts/h2_interop_client.py");
    let r = run(Command::new(venv_python())
        .arg(&script)
        .arg(port.to_string()));
    r.assert_success("h2_interop_client.py");
    assert!(
        r.stdout
            .contains("interop-ok: 5 streams, ping acked, goaway sent"),
        "unexpected output:\n{}\n{}",
        r.stdout,
        r.stderr
    );
}
