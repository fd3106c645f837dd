//! The health probe's logic: one `grpc.health.v1.Health/Check` call over
//! the blocking std adapter, its answer as an [`Outcome`] and an exit code.
//! `examples/health_probe.rs` is its command line; the interop test calls
//! [`probe`] in-process against our server and grpcio's.

use std::fmt;
use std::net::ToSocketAddrs;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use grpc_sansio::client;
use grpc_sansio::grpc::{CallId, Code};
use grpc_sansio::services::health::ServingStatus;
use grpc_sansio::services::health::v1::HealthCheckRequest;
use grpc_sansio::services::health::v1::health::{self, HealthClient};

use crate::adapters::{ClientApp, std_io};

/// What the probe learnt.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The service is SERVING.
    Serving,
    /// The server answered another status: NOT_SERVING, UNKNOWN, or
    /// SERVICE_UNKNOWN.
    Unhealthy(ServingStatus),
    /// The server does not know the service: the call ended with NOT_FOUND.
    NotFound(String),
    /// No answer: the connection failed, the deadline passed, or the call
    /// ended with another error (UNIMPLEMENTED: no health service there).
    Failed(String),
}

impl Outcome {
    /// The process exit code: 0 for SERVING, 1 for an answer that is not
    /// SERVING (NOT_SERVING, SERVICE_UNKNOWN, NOT_FOUND…), 2 without an
    /// answer (connection error, deadline, other call error).
    pub fn exit_code(&self) -> i32 {
        match self {
            Outcome::Serving => 0,
            Outcome::Unhealthy(_) | Outcome::NotFound(_) => 1,
            Outcome::Failed(_) => 2,
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Serving => f.write_str("SERVING"),
            Outcome::Unhealthy(s) => f.write_str(s.as_str_name()),
            Outcome::NotFound(m) => write!(f, "NOT_FOUND: {m}"),
            Outcome::Failed(m) => write!(f, "error: {m}"),
        }
    }
}

/// Asks the server at `addr` for the health of `service` (`""`: the server
/// as a whole) within `timeout`. The call carries the deadline
/// (`grpc-timeout`); connecting is bounded by it too, the std adapter's
/// blocking connect running on a thread of its own.
pub fn probe(addr: &str, service: &str, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let Some(sock) = addr.to_socket_addrs().ok().and_then(|mut a| a.next()) else {
        return Outcome::Failed(format!("cannot resolve {addr:?}"));
    };
    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    let mut app = CheckApp::new(service, deadline);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let io = std_io::run_client(sock, config, &mut app);
        let _ = tx.send((io, app.outcome));
    });
    // A little past the deadline: the core ends the call with
    // DEADLINE_EXCEEDED at the deadline itself.
    match rx.recv_timeout(timeout + Duration::from_millis(500)) {
        Ok((_, Some(outcome))) => outcome,
        Ok((Err(e), None)) => Outcome::Failed(format!("connection to {addr}: {e}")),
        Ok((Ok(()), None)) => Outcome::Failed(format!("connection to {addr} closed")),
        Err(_) => Outcome::Failed(format!("deadline exceeded connecting to {addr}")),
    }
}

/// One `Check` call; done once its outcome is known.
struct CheckApp {
    service: String,
    deadline: Instant,
    call: Option<CallId>,
    answer: Option<ServingStatus>,
    outcome: Option<Outcome>,
}

impl CheckApp {
    fn new(service: &str, deadline: Instant) -> CheckApp {
        CheckApp {
            service: service.to_string(),
            deadline,
            call: None,
            answer: None,
            outcome: None,
        }
    }
}

impl ClientApp for CheckApp {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        let mut request = health::CHECK.request();
        request.deadline = Some(self.deadline);
        let message = HealthCheckRequest {
            service: self.service.clone(),
        };
        match HealthClient::check(conn, request, &message, now) {
            Ok(call) => self.call = Some(call),
            Err(status) => self.outcome = Some(Outcome::Failed(status.to_string())),
        }
    }

    fn on_event(&mut self, _conn: &mut client::Connection, event: client::Event, _now: Instant) {
        match event {
            client::Event::Message { call, data } if Some(call) == self.call => {
                match HealthClient::decode_check(data) {
                    Ok(r) => self.answer = Some(r.status()),
                    Err(status) => self.outcome = Some(Outcome::Failed(status.to_string())),
                }
            }
            client::Event::Status { call, status, .. } if Some(call) == self.call => {
                if self.outcome.is_some() {
                    return;
                }
                self.outcome = Some(match (status.code, self.answer) {
                    (Code::Ok, Some(ServingStatus::Serving)) => Outcome::Serving,
                    (Code::Ok, Some(other)) => Outcome::Unhealthy(other),
                    (Code::Ok, None) => Outcome::Failed("no response message".into()),
                    (Code::NotFound, _) => Outcome::NotFound(status.message),
                    _ => Outcome::Failed(status.to_string()),
                });
            }
            client::Event::Closed { error } if self.outcome.is_none() => {
                let why = error.map_or("closed".to_string(), |e| e.to_string());
                self.outcome = Some(Outcome::Failed(format!("connection {why}")));
            }
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        // A backstop: the core's own deadline timer comes first.
        self.outcome
            .is_none()
            .then_some(self.deadline + Duration::from_millis(100))
    }

    fn on_timeout(&mut self, _conn: &mut client::Connection, _now: Instant) {
        if self.outcome.is_none() {
            self.outcome = Some(Outcome::Failed("deadline exceeded".into()));
        }
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }
}
