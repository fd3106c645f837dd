//! The demo: a gRPC server and a gRPC client of this crate talking over
//! loopback TCP, on the blocking std adapter (`examples/adapters/`): the
//! server and the client are sans-IO apps, the adapter moves their bytes.
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! It makes a unary call, a server-streaming call, a call the server
//! rejects, and a call whose deadline passes, and prints what happens. It
//! works on raw bytes and paths, to show the call API itself; the
//! `product_info` and `order_management` examples use generated stubs.

#[path = "adapters/mod.rs"]
mod adapters;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use adapters::{ClientApp, Server, ServerApp, std_io};
use bytes::Bytes;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::{client, server};

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");
    let server = Server::default();
    let serving = {
        let server = server.clone();
        std::thread::spawn(move || {
            std_io::serve(listener, server, server::Config::default(), |_| {
                Echo::default()
            })
        })
    };

    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    let mut app = Demo::new();
    std_io::run_client(addr, config, &mut app)?;

    server.shutdown();
    serving
        .join()
        .map_err(|_| io::Error::other("the server panicked"))??;
    match app.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn other<E: std::fmt::Debug>(e: E) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

fn text(msgs: &[Bytes]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

fn show(s: &Status) -> String {
    if s.message.is_empty() {
        format!("{}", s.code)
    } else {
        format!("{} ({})", s.code, s.message)
    }
}

/// The client: four calls, one after the other, each printed as it ends.
struct Demo {
    steps: VecDeque<Step>,
    current: Option<(CallId, Step, Vec<Bytes>)>,
    error: Option<io::Error>,
}

#[derive(Clone, Copy)]
enum Step {
    Say,
    Count,
    Nope,
    Slow,
}

impl Demo {
    fn new() -> Demo {
        Demo {
            steps: [Step::Say, Step::Count, Step::Nope, Step::Slow].into(),
            current: None,
            error: None,
        }
    }

    /// Starts the next call (request, messages, half-close).
    fn next(&mut self, conn: &mut client::Connection, now: Instant) {
        let Some(step) = self.steps.pop_front() else {
            return;
        };
        let started = (|| {
            let call = match step {
                // 1. unary
                Step::Say => {
                    let mut req = client::Request::new("/demo.Echo/Say");
                    req.metadata.append("x-user", "demo").map_err(other)?;
                    let call = conn.start_call(req, now).map_err(other)?;
                    conn.send_message(call, Bytes::from_static(b"hello"))
                        .map_err(other)?;
                    call
                }
                // 2. server streaming
                Step::Count => {
                    let req = client::Request::new("/demo.Echo/Count");
                    let call = conn.start_call(req, now).map_err(other)?;
                    conn.send_message(call, Bytes::from_static(&[5]))
                        .map_err(other)?;
                    call
                }
                // 3. an unknown method: UNIMPLEMENTED (Trailers-Only)
                Step::Nope => {
                    let req = client::Request::new("/demo.Echo/Nope");
                    conn.start_call(req, now).map_err(other)?
                }
                // 4. a deadline shorter than the server's work
                Step::Slow => {
                    let mut req = client::Request::new("/demo.Echo/Slow");
                    req.deadline = Some(now + Duration::from_millis(100));
                    conn.start_call(req, now).map_err(other)?
                }
            };
            conn.half_close(call).map_err(other)?;
            Ok::<_, io::Error>(call)
        })();
        match started {
            Ok(call) => self.current = Some((call, step, Vec::new())),
            Err(e) => {
                self.error = Some(e);
                self.steps.clear();
            }
        }
    }
}

impl ClientApp for Demo {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        self.next(conn, now);
    }

    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, now: Instant) {
        match event {
            client::Event::Message { call, data } => {
                if let Some((c, _, msgs)) = &mut self.current
                    && *c == call
                {
                    msgs.push(data);
                }
            }
            client::Event::Status { call, status, .. } => {
                let Some((c, step, msgs)) = self.current.take() else {
                    return;
                };
                if c != call {
                    self.current = Some((c, step, msgs));
                    return;
                }
                match step {
                    Step::Say => println!(
                        "unary   /demo.Echo/Say     -> {:?} {}",
                        text(&msgs),
                        show(&status)
                    ),
                    Step::Count => println!(
                        "stream  /demo.Echo/Count   -> {:?} {}",
                        text(&msgs),
                        show(&status)
                    ),
                    Step::Nope => println!("unknown /demo.Echo/Nope    -> {}", show(&status)),
                    Step::Slow => println!("slow    /demo.Echo/Slow    -> {}", show(&status)),
                }
                self.next(conn, now);
            }
            // Closed before the last call ended: the demo failed.
            client::Event::Closed { error } if !self.is_done() => {
                self.error = Some(other(error));
                self.current = None;
                self.steps.clear();
            }
            _ => {}
        }
    }

    fn is_done(&self) -> bool {
        self.current.is_none() && self.steps.is_empty()
    }
}

/// The server: calls answered by method name.
#[derive(Default)]
struct Echo {
    methods: HashMap<CallId, String>,
}

impl ServerApp for Echo {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event, _now: Instant) {
        match event {
            server::Event::Call { call, path, .. } => match path.as_str() {
                "/demo.Echo/Say" | "/demo.Echo/Count" | "/demo.Echo/Slow" => {
                    self.methods.insert(call, path.into());
                }
                _ => {
                    let _ = conn.reject(
                        call,
                        Status::new(Code::Unimplemented, format!("unknown method {path}")),
                    );
                }
            },
            server::Event::Message { call, data } => {
                match self.methods.get(&call).map(String::as_str) {
                    Some("/demo.Echo/Say") => {
                        let mut reply = b"echo: ".to_vec();
                        reply.extend_from_slice(&data);
                        let _ = conn.send_message(call, Bytes::from(reply));
                    }
                    Some("/demo.Echo/Count") => {
                        let n = data.first().copied().unwrap_or(0);
                        for i in 1..=n {
                            let _ = conn.send_message(call, Bytes::from(i.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            // "Slow" never answers: its deadline ends it.
            server::Event::HalfClose { call }
                if self.methods.get(&call).map(String::as_str) != Some("/demo.Echo/Slow") =>
            {
                self.methods.remove(&call);
                let _ = conn.finish(call, Status::ok(), &Metadata::new());
            }
            server::Event::Cancelled { call, status } => {
                self.methods.remove(&call);
                println!("server: call {} ended early: {}", call.0, show(&status));
            }
            _ => {}
        }
    }
}
