//! `grpc.testing.TestService` as a sans-IO server application, per
//! grpc/grpc `doc/interop-test-descriptions.md` ("Server" section).
//!
//! Bounded by design, as an example should be:
//!
//! - streamed responses are produced as the call's send buffer takes them:
//!   a call keeps what it still has to send as a few numbers per response
//!   (size, interval, compression), encodes one response when it goes, and
//!   stops at [`server::CallError::Blocked`] until [`server::Event::Writable`].
//!   A client that never reads costs the core's send buffer per call
//!   (`h2::Config::max_send_buffer`, plus the message that overshot it), not
//!   what it asked for;
//! - a request may ask for payloads of at most [`MAX_RESPONSE_SIZE`] bytes
//!   and for at most [`MAX_PENDING_RESPONSES`] responses not yet sent per
//!   call; past either the call ends with RESOURCE_EXHAUSTED before anything
//!   is allocated for it.
//!
//! Delayed responses (`interval_us`) wait on the application timer
//! ([`ServerApp::poll_timeout`]); nothing here sleeps. Responses are
//! compressed only when the request asks for it (`response_compressed`,
//! `ResponseParameters.compressed`) and the connection's
//! `server::Config::response_encoding` is one the client accepts; every
//! other message goes out with the Compressed-Flag clear.

use std::collections::{HashMap, VecDeque};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::{codec, server};

use super::pb::test_service::{self, TestServiceMethod, TestServiceRequest};
use super::pb::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleResponse, StreamingInputCallResponse,
    StreamingOutputCallResponse,
};
use super::{ECHO_INITIAL, ECHO_TRAILING, zeros};
use crate::adapters::ServerApp;

/// The largest payload a request may ask for (`SimpleRequest.response_size`,
/// `ResponseParameters.size`): 4 MiB, gRPC's default limit on a received
/// message, so a client with default settings can take every response this
/// server agrees to send. Larger asks end the call with RESOURCE_EXHAUSTED.
pub const MAX_RESPONSE_SIZE: usize = 4 << 20;

/// The most responses one call may have asked for and not yet been sent
/// (the `response_parameters` of its requests so far, HalfDuplexCall's held
/// ones included): 1,024, 12 bytes each. Past it the call ends with
/// RESOURCE_EXHAUSTED: a client that asks faster than it reads gets an
/// answer instead of a growing queue.
pub const MAX_PENDING_RESPONSES: usize = 1024;

/// The server configuration the interop server runs with: gzip responses
/// when asked for and accepted.
pub fn config() -> server::Config {
    server::Config {
        response_encoding: Encoding::Gzip,
        ..server::Config::default()
    }
}

/// What `SimpleResponse.server_id` and `hostname` say when a request sets
/// `fill_server_id`: the same for every call this process serves (grpc-go's
/// `pick_first_unary` case checks that all its calls reached one server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `<hostname>-<process id>`: stable for the life of the process.
    pub server_id: String,
    /// The host's name, from the OS (`localhost` where it cannot be read).
    pub hostname: String,
}

impl Identity {
    /// This process's identity (looked up once).
    pub fn of_process() -> Identity {
        static ID: OnceLock<Identity> = OnceLock::new();
        ID.get_or_init(|| {
            let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .or_else(|| std::env::var("HOSTNAME").ok())
                .map(|h| h.trim().to_string())
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| "localhost".to_string());
            Identity {
                server_id: format!("{hostname}-{}", std::process::id()),
                hostname,
            }
        })
        .clone()
    }
}

/// One connection's calls of the test service.
pub struct TestServer {
    calls: HashMap<CallId, Call>,
    identity: Identity,
}

impl Default for TestServer {
    fn default() -> Self {
        TestServer::new(Identity::of_process())
    }
}

impl TestServer {
    /// A connection's app answering `fill_server_id` with `identity`.
    pub fn new(identity: Identity) -> TestServer {
        TestServer {
            calls: HashMap::new(),
            identity,
        }
    }

    /// Responses the calls of this connection still have to send (each a
    /// few bytes: what the app holds beyond its call records).
    pub fn pending_responses(&self) -> usize {
        self.calls
            .values()
            .map(|c| c.pending.len() + c.held.len())
            .sum()
    }
}

struct Call {
    method: TestServiceMethod,
    /// Trailing metadata to send with the status (the echoed entry).
    trailers: Metadata,
    /// Streamed responses still to send, oldest first.
    pending: VecDeque<Zeros>,
    /// When the front of `pending` may go (its interval after the previous
    /// response, or after the request for the first).
    due: Instant,
    /// The send buffer is full: wait for `Writable`.
    blocked: bool,
    /// The status to end with once `pending` is empty.
    end: Option<Status>,
    /// StreamingInputCall: the sum of the payload sizes so far.
    aggregate: usize,
    /// HalfDuplexCall: the responses asked for, sent after the half-close.
    held: Vec<Zeros>,
    /// Whether a request message arrived.
    got_request: bool,
}

/// One streamed response to produce: a `StreamingOutputCallResponse` of
/// `size` zero bytes, `interval_us` after the one before.
#[derive(Clone, Copy)]
struct Zeros {
    size: u32,
    interval_us: u32,
    compress: bool,
}

impl Zeros {
    fn interval(self) -> Duration {
        Duration::from_micros(u64::from(self.interval_us))
    }

    /// The encoded response (allocated only now, when it can be sent).
    fn encode(self) -> Bytes {
        codec::encode(&StreamingOutputCallResponse {
            payload: Some(zeros(self.size as usize)),
        })
    }
}

fn is_true(b: &Option<BoolValue>) -> bool {
    b.as_ref().is_some_and(|b| b.value)
}

/// The status a request asks to be echoed, if any (code 0 is OK: none).
fn echo_status(s: &Option<EchoStatus>) -> Option<Status> {
    s.as_ref()
        .filter(|s| s.code != 0)
        .map(|s| Status::new(Code::from_i32(s.code), s.message.clone()))
}

/// The status for a message that had to arrive compressed but did not.
fn expected_compressed() -> Status {
    Status::invalid_argument("expected a compressed request message")
}

/// A requested payload size, checked against [`MAX_RESPONSE_SIZE`]
/// (negative sizes are empty payloads).
fn checked_size(size: i32) -> Result<usize, Status> {
    let size = size.max(0) as usize;
    if size > MAX_RESPONSE_SIZE {
        return Err(Status::resource_exhausted(format!(
            "a response of {size} bytes was asked for; this server sends at most \
             {MAX_RESPONSE_SIZE} bytes per response"
        )));
    }
    Ok(size)
}

/// The responses `params` ask for, checked against the caps: `waiting`
/// are already pending on the call.
fn checked_responses(params: &[ResponseParameters], waiting: usize) -> Result<Vec<Zeros>, Status> {
    if waiting.saturating_add(params.len()) > MAX_PENDING_RESPONSES {
        return Err(Status::resource_exhausted(format!(
            "{} more responses were asked for with {waiting} not yet sent; this server \
             keeps at most {MAX_PENDING_RESPONSES} per call (read the responses first)",
            params.len()
        )));
    }
    params
        .iter()
        .map(|p| {
            Ok(Zeros {
                // At most 4 MiB: fits.
                size: checked_size(p.size)? as u32,
                interval_us: p.interval_us.max(0) as u32,
                compress: is_true(&p.compressed),
            })
        })
        .collect()
}

impl Call {
    /// Queues streamed responses; the first waits its interval from `now`
    /// if nothing was waiting before it.
    fn push(&mut self, now: Instant, responses: Vec<Zeros>) {
        if self.pending.is_empty() {
            if let Some(first) = responses.first() {
                self.due = now + first.interval();
            }
        }
        self.pending.extend(responses);
    }

    /// Ends the call with `status` as soon as possible: what was still to
    /// be sent is dropped.
    fn fail(&mut self, status: Status) {
        self.pending = VecDeque::new();
        self.held = Vec::new();
        self.end = Some(status);
    }
}

/// Sends a call's one answer (unary calls, StreamingInputCall): a fresh
/// call's send buffer always takes one message.
fn answer(
    conn: &mut server::Connection,
    id: CallId,
    message: Bytes,
    compress: bool,
) -> Result<(), Status> {
    let sent = if compress {
        conn.send_message(id, message)
    } else {
        conn.send_message_uncompressed(id, message)
    };
    sent.map_err(|e| {
        Status::internal(match e {
            server::CallError::Blocked => "the send buffer of a new call refused its response",
            server::CallError::HeadersTooLarge => "the response headers were too large",
            _ => "the call ended before its response was sent",
        })
    })
}

impl TestServer {
    fn on_call(
        &mut self,
        conn: &mut server::Connection,
        call: CallId,
        path: &str,
        metadata: &Metadata,
        now: Instant,
    ) {
        let method = match test_service::route(path) {
            Some(TestServiceMethod::UnimplementedCall) => {
                let s = Status::unimplemented("UnimplementedCall is never implemented");
                let _ = conn.reject(call, s);
                return;
            }
            Some(m) => m,
            None => {
                let s = codec::route_unimplemented(path, &[test_service::SERVICE_NAME]);
                let _ = conn.reject(call, s);
                return;
            }
        };
        if let Some(v) = metadata.get(ECHO_INITIAL) {
            let mut md = Metadata::new();
            if md.insert(ECHO_INITIAL, v).is_ok() {
                let _ = conn.send_headers(call, &md);
            }
        }
        let mut trailers = Metadata::new();
        if let Some(v) = metadata.get_bin(ECHO_TRAILING) {
            let _ = trailers.insert_bin(ECHO_TRAILING, v.clone());
        }
        self.calls.insert(
            call,
            Call {
                method,
                trailers,
                pending: VecDeque::new(),
                due: now,
                blocked: false,
                end: None,
                aggregate: 0,
                held: Vec::new(),
                got_request: false,
            },
        );
    }

    fn on_message(&mut self, conn: &mut server::Connection, id: CallId, data: Bytes, now: Instant) {
        let compressed = conn.last_message_compressed();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let request = match TestServiceRequest::decode(call.method, data) {
            Ok(r) => r,
            Err(status) => return call.fail(status),
        };
        let unary = !call.method.descriptor().kind.client_streaming();
        if unary && call.got_request {
            return call.fail(Status::internal("a second request on a unary call"));
        }
        call.got_request = true;
        let waiting = call.pending.len() + call.held.len();
        match request {
            TestServiceRequest::EmptyCall(_) => {
                let sent = answer(conn, id, codec::encode(&Empty {}), false);
                call.end = Some(sent.err().unwrap_or_else(Status::ok));
            }
            TestServiceRequest::UnaryCall(req) | TestServiceRequest::CacheableUnaryCall(req) => {
                if is_true(&req.expect_compressed) && !compressed {
                    return call.fail(expected_compressed());
                }
                if let Some(status) = echo_status(&req.response_status) {
                    return call.fail(status);
                }
                let size = match checked_size(req.response_size) {
                    Ok(size) => size,
                    Err(status) => return call.fail(status),
                };
                let mut response = SimpleResponse {
                    payload: Some(zeros(size)),
                    ..SimpleResponse::default()
                };
                if req.fill_server_id {
                    response.server_id = self.identity.server_id.clone();
                    response.hostname = self.identity.hostname.clone();
                }
                let compress = is_true(&req.response_compressed);
                let sent = answer(conn, id, codec::encode(&response), compress);
                call.end = Some(sent.err().unwrap_or_else(Status::ok));
            }
            TestServiceRequest::StreamingOutputCall(req) => {
                match checked_responses(&req.response_parameters, waiting) {
                    Ok(responses) => call.push(now, responses),
                    Err(status) => return call.fail(status),
                }
                call.end = Some(echo_status(&req.response_status).unwrap_or_else(Status::ok));
            }
            TestServiceRequest::StreamingInputCall(req) => {
                if is_true(&req.expect_compressed) && !compressed {
                    return call.fail(expected_compressed());
                }
                call.aggregate += req.payload.map_or(0, |p| p.body.len());
            }
            TestServiceRequest::FullDuplexCall(req) => {
                match checked_responses(&req.response_parameters, waiting) {
                    Ok(responses) => call.push(now, responses),
                    Err(status) => return call.fail(status),
                }
                if let Some(status) = echo_status(&req.response_status) {
                    call.end = Some(status);
                }
            }
            TestServiceRequest::HalfDuplexCall(req) => {
                match checked_responses(&req.response_parameters, waiting) {
                    Ok(responses) => call.held.extend(responses),
                    Err(status) => call.fail(status),
                }
            }
            TestServiceRequest::UnimplementedCall(_) => {
                call.fail(Status::unimplemented("UnimplementedCall"));
            }
        }
    }

    fn on_half_close(&mut self, conn: &mut server::Connection, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.end.is_some() {
            return;
        }
        match call.method {
            TestServiceMethod::StreamingInputCall => {
                let response = StreamingInputCallResponse {
                    aggregated_payload_size: call.aggregate as i32,
                };
                let sent = answer(conn, id, codec::encode(&response), false);
                call.end = Some(sent.err().unwrap_or_else(Status::ok));
            }
            TestServiceMethod::HalfDuplexCall => {
                let held = std::mem::take(&mut call.held);
                call.push(now, held);
                call.end = Some(Status::ok());
            }
            TestServiceMethod::FullDuplexCall => call.end = Some(Status::ok()),
            _ if !call.got_request => {
                call.end = Some(Status::internal("the call ended without its request"));
            }
            _ => {}
        }
    }

    /// Sends what is due on call `id` while its send buffer takes it, and
    /// its status once all is sent.
    fn pump(&mut self, conn: &mut server::Connection, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        while let Some(&next) = call.pending.front() {
            if call.blocked || call.due > now {
                return;
            }
            // Encoded again after a refusal: a blocked call holds numbers,
            // not a message.
            let message = next.encode();
            let sent = if next.compress {
                conn.send_message(id, message)
            } else {
                conn.send_message_uncompressed(id, message)
            };
            match sent {
                Ok(()) => {
                    call.pending.pop_front();
                    if let Some(after) = call.pending.front() {
                        call.due = now + after.interval();
                    } else {
                        // Drained: give back what a long queue reserved.
                        call.pending = VecDeque::new();
                    }
                }
                Err(server::CallError::Blocked) => {
                    call.blocked = true;
                    return;
                }
                Err(_) => {
                    self.calls.remove(&id);
                    return;
                }
            }
        }
        if let Some(status) = call.end.take() {
            let _ = conn.finish(id, status, &call.trailers);
            self.calls.remove(&id);
        }
    }
}

impl ServerApp for TestServer {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event, now: Instant) {
        let id = match event {
            server::Event::Call {
                call,
                path,
                metadata,
                ..
            } => {
                self.on_call(conn, call, &path, &metadata, now);
                call
            }
            server::Event::Message { call, data } => {
                self.on_message(conn, call, data, now);
                call
            }
            server::Event::HalfClose { call } => {
                self.on_half_close(conn, call, now);
                call
            }
            server::Event::Writable { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.blocked = false;
                }
                call
            }
            server::Event::Cancelled { call, .. } => {
                self.calls.remove(&call);
                return;
            }
            server::Event::GoAway { .. } | server::Event::Closed { .. } => return,
        };
        self.pump(conn, id, now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.calls
            .values()
            .filter(|c| !c.blocked)
            .filter(|c| !c.pending.is_empty())
            .map(|c| c.due)
            .min()
    }

    fn on_timeout(&mut self, conn: &mut server::Connection, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            self.pump(conn, id, now);
        }
    }
}
