//! `grpc.testing.TestService` as a sans-IO server application, per
//! grpc/grpc `doc/interop-test-descriptions.md` ("Server" section).
//!
//! Delayed responses (`interval_us`) wait on the application timer
//! ([`ServerApp::poll_timeout`]); nothing here sleeps. Responses are
//! compressed only when the request asks for it (`response_compressed`,
//! `ResponseParameters.compressed`) and the connection's
//! `server::Config::response_encoding` is one the client accepts; every
//! other message goes out with the Compressed-Flag clear.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::{codec, server};

use super::pb::test_service::{self, TestServiceMethod, TestServiceRequest};
use super::pb::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleResponse, StreamingInputCallResponse,
    StreamingOutputCallRequest, StreamingOutputCallResponse,
};
use super::{ECHO_INITIAL, ECHO_TRAILING, zeros};
use crate::adapters::ServerApp;

/// The server configuration the interop server runs with: gzip responses
/// when asked for and accepted.
pub fn config() -> server::Config {
    server::Config {
        response_encoding: Encoding::Gzip,
        ..server::Config::default()
    }
}

/// One connection's calls of the test service.
#[derive(Default)]
pub struct TestServer {
    calls: HashMap<CallId, Call>,
}

struct Call {
    method: TestServiceMethod,
    /// Trailing metadata to send with the status (the echoed entry).
    trailers: Metadata,
    /// Responses waiting for their time, or for room to send.
    queue: VecDeque<Out>,
    /// When the last queued response is due (intervals add up).
    last_at: Instant,
    /// The send buffer is full: wait for `Writable`.
    blocked: bool,
    /// The status to end with once `queue` is empty.
    end: Option<Status>,
    /// StreamingInputCall: the sum of the payload sizes so far.
    aggregate: usize,
    /// HalfDuplexCall: the requests, answered after the half-close.
    held: Vec<StreamingOutputCallRequest>,
    /// Whether a request message arrived.
    got_request: bool,
}

struct Out {
    at: Instant,
    message: Bytes,
    compress: bool,
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

impl Call {
    fn push(&mut self, now: Instant, delay: Duration, message: Bytes, compress: bool) {
        let at = self.last_at.max(now) + delay;
        self.last_at = at;
        self.queue.push_back(Out {
            at,
            message,
            compress,
        });
    }

    /// Queues the responses one StreamingOutputCallRequest asks for.
    fn push_streaming(&mut self, now: Instant, params: &[ResponseParameters]) {
        for p in params {
            let response = StreamingOutputCallResponse {
                payload: Some(zeros(p.size.max(0) as usize)),
            };
            let delay = Duration::from_micros(p.interval_us.max(0) as u64);
            self.push(now, delay, codec::encode(&response), is_true(&p.compressed));
        }
    }
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
                queue: VecDeque::new(),
                last_at: now,
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
            Err(status) => {
                call.queue.clear();
                call.end = Some(status);
                return;
            }
        };
        let unary = !call.method.descriptor().kind.client_streaming();
        if unary && call.got_request {
            call.queue.clear();
            call.end = Some(Status::internal("a second request on a unary call"));
            return;
        }
        call.got_request = true;
        match request {
            TestServiceRequest::EmptyCall(_) => {
                call.push(now, Duration::ZERO, codec::encode(&Empty {}), false);
                call.end = Some(Status::ok());
            }
            TestServiceRequest::UnaryCall(req) | TestServiceRequest::CacheableUnaryCall(req) => {
                if is_true(&req.expect_compressed) && !compressed {
                    call.end = Some(expected_compressed());
                } else if let Some(status) = echo_status(&req.response_status) {
                    call.end = Some(status);
                } else {
                    let response = SimpleResponse {
                        payload: Some(zeros(req.response_size.max(0) as usize)),
                        ..SimpleResponse::default()
                    };
                    let compress = is_true(&req.response_compressed);
                    call.push(now, Duration::ZERO, codec::encode(&response), compress);
                    call.end = Some(Status::ok());
                }
            }
            TestServiceRequest::StreamingOutputCall(req) => {
                call.push_streaming(now, &req.response_parameters);
                call.end = Some(echo_status(&req.response_status).unwrap_or_else(Status::ok));
            }
            TestServiceRequest::StreamingInputCall(req) => {
                if is_true(&req.expect_compressed) && !compressed {
                    call.queue.clear();
                    call.end = Some(expected_compressed());
                } else {
                    call.aggregate += req.payload.map_or(0, |p| p.body.len());
                }
            }
            TestServiceRequest::FullDuplexCall(req) => {
                call.push_streaming(now, &req.response_parameters);
                if let Some(status) = echo_status(&req.response_status) {
                    call.end = Some(status);
                }
            }
            TestServiceRequest::HalfDuplexCall(req) => call.held.push(req),
            TestServiceRequest::UnimplementedCall(_) => {
                call.end = Some(Status::unimplemented("UnimplementedCall"));
            }
        }
    }

    fn on_half_close(&mut self, id: CallId, now: Instant) {
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
                call.push(now, Duration::ZERO, codec::encode(&response), false);
                call.end = Some(Status::ok());
            }
            TestServiceMethod::HalfDuplexCall => {
                let held = std::mem::take(&mut call.held);
                for req in &held {
                    call.push_streaming(now, &req.response_parameters);
                }
                call.end = Some(Status::ok());
            }
            TestServiceMethod::FullDuplexCall => call.end = Some(Status::ok()),
            _ if !call.got_request => {
                call.end = Some(Status::internal("the call ended without its request"));
            }
            _ => {}
        }
    }

    /// Sends what is due on call `id`, and its status once all is sent.
    fn pump(&mut self, conn: &mut server::Connection, id: CallId, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        while let Some(out) = call.queue.front() {
            if call.blocked || out.at > now {
                return;
            }
            let message = out.message.clone();
            let sent = if out.compress {
                conn.send_message(id, message)
            } else {
                conn.send_message_uncompressed(id, message)
            };
            match sent {
                Ok(()) => {
                    call.queue.pop_front();
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
                self.on_half_close(call, now);
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
            .filter_map(|c| c.queue.front().map(|o| o.at))
            .min()
    }

    fn on_timeout(&mut self, conn: &mut server::Connection, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            self.pump(conn, id, now);
        }
    }
}
