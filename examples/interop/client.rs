//! The interop client cases of grpc/grpc `doc/interop-test-descriptions.md`
//! as sans-IO client applications.
//!
//! A case is a list of [`Exchange`]s run one after the other on one
//! connection: each starts a call, may react to its response messages
//! (ping-pong, cancel after the first response) and checks the call's
//! [`Record`] once its status arrived. [`CaseApp`] runs a case as a
//! [`ClientApp`] and keeps its verdict.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::compression::Encoding;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::{client, codec};

use super::pb::test_service::{self, TestServiceClient};
use super::pb::unimplemented_service::{self, UnimplementedServiceClient};
use super::pb::{
    BoolValue, EchoStatus, Empty, ResponseParameters, SimpleRequest, SimpleResponse,
    StreamingInputCallRequest, StreamingInputCallResponse, StreamingOutputCallRequest,
    StreamingOutputCallResponse,
};
use super::{ECHO_INITIAL, ECHO_TRAILING, zeros};
use crate::adapters::ClientApp;

/// Every case, in the order `--test_case=all` runs them.
pub const CASES: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// How long one case may take before it fails.
pub const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// What happened to one call.
#[derive(Debug, Default)]
pub struct Record {
    /// Response headers (initial metadata), if they came.
    pub headers: Option<Metadata>,
    /// Response messages, each with whether it came compressed.
    pub messages: Vec<(Bytes, bool)>,
    /// The status (set when the call ended).
    pub status: Option<Status>,
    /// Trailing metadata.
    pub trailers: Metadata,
}

type Start = Box<dyn FnOnce(&mut client::Connection, Instant) -> Result<CallId, Status>>;
type React = Box<dyn FnMut(&mut client::Connection, CallId, &Record, Instant)>;
type Check = Box<dyn FnOnce(&Record) -> Result<(), String>>;

/// One call of a case.
pub struct Exchange {
    start: Start,
    on_message: Option<React>,
    check: Check,
}

impl Exchange {
    fn new(
        start: impl FnOnce(&mut client::Connection, Instant) -> Result<CallId, Status> + 'static,
        check: impl FnOnce(&Record) -> Result<(), String> + 'static,
    ) -> Exchange {
        Exchange {
            start: Box::new(start),
            on_message: None,
            check: Box::new(check),
        }
    }

    fn reacting(
        mut self,
        react: impl FnMut(&mut client::Connection, CallId, &Record, Instant) + 'static,
    ) -> Exchange {
        self.on_message = Some(Box::new(react));
        self
    }
}

/// Runs one case on a connection: a [`ClientApp`].
pub struct CaseApp {
    /// The case's name.
    pub name: String,
    exchanges: VecDeque<Exchange>,
    current: Option<(CallId, Option<React>, Option<Check>, Record)>,
    give_up: Option<Instant>,
    outcome: Option<Result<(), String>>,
}

impl CaseApp {
    /// The app for case `name`; `None` if there is no such case.
    pub fn new(name: &str) -> Option<CaseApp> {
        Some(CaseApp {
            name: name.to_string(),
            exchanges: exchanges(name)?.into(),
            current: None,
            give_up: None,
            outcome: None,
        })
    }

    /// `Ok` if the case passed, else why not (`Err` also while unfinished).
    pub fn outcome(&self) -> Result<(), String> {
        self.outcome
            .clone()
            .unwrap_or_else(|| Err("the case did not finish".into()))
    }

    fn fail(&mut self, why: String) {
        if self.outcome.is_none() {
            self.outcome = Some(Err(why));
        }
    }

    fn next(&mut self, conn: &mut client::Connection, now: Instant) {
        let Some(ex) = self.exchanges.pop_front() else {
            self.outcome = Some(Ok(()));
            return;
        };
        let n = self.exchanges.len();
        match (ex.start)(conn, now) {
            Ok(call) => {
                self.current = Some((call, ex.on_message, Some(ex.check), Record::default()))
            }
            Err(status) => self.fail(format!("call {} could not start: {status}", n + 1)),
        }
    }
}

impl ClientApp for CaseApp {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        self.give_up = Some(now + CASE_TIMEOUT);
        self.next(conn, now);
    }

    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, now: Instant) {
        let compressed = conn.last_message_compressed();
        let Some((id, react, check, record)) = self.current.as_mut() else {
            if let client::Event::Closed { error } = event {
                self.fail(format!("connection closed: {error:?}"));
            }
            return;
        };
        match event {
            client::Event::Headers { call, metadata } if call == *id => {
                record.headers = Some(metadata);
            }
            client::Event::Message { call, data } if call == *id => {
                record.messages.push((data, compressed));
                if let Some(react) = react {
                    react(conn, call, record, now);
                }
            }
            client::Event::Status {
                call,
                status,
                trailers,
            } if call == *id => {
                record.status = Some(status);
                record.trailers = trailers;
                let verdict = check.take().map_or(Ok(()), |c| c(record));
                self.current = None;
                match verdict {
                    Ok(()) => self.next(conn, now),
                    Err(why) => self.fail(why),
                }
            }
            client::Event::Closed { error } => {
                self.fail(format!("connection closed during a call: {error:?}"));
            }
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.give_up.filter(|_| self.outcome.is_none())
    }

    fn on_timeout(&mut self, conn: &mut client::Connection, _now: Instant) {
        if let Some((id, ..)) = self.current.take() {
            let _ = conn.cancel(id);
        }
        self.fail(format!("timed out after {CASE_TIMEOUT:?}"));
    }

    fn is_done(&self) -> bool {
        self.outcome.is_some()
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn ok(r: &Record) -> Result<(), String> {
    match &r.status {
        Some(s) if s.is_ok() => Ok(()),
        Some(s) => Err(format!("expected OK, got {s}")),
        None => Err("expected OK, the call did not end".into()),
    }
}

fn code(r: &Record, want: Code) -> Result<(), String> {
    match &r.status {
        Some(s) if s.code == want => Ok(()),
        Some(s) => Err(format!("expected {want}, got {s}")),
        None => Err(format!("expected {want}, the call did not end")),
    }
}

fn payload_len(p: &Option<super::pb::Payload>, want: usize, what: &str) -> Result<(), String> {
    let body = p.as_ref().map_or(&[][..], |p| &p.body[..]);
    if body.len() != want || body.iter().any(|&b| b != 0) {
        return Err(format!(
            "{what}: expected {want} zero bytes, got {} bytes",
            body.len()
        ));
    }
    Ok(())
}

fn one_message(r: &Record) -> Result<(Bytes, bool), String> {
    match &r.messages[..] {
        [m] => Ok(m.clone()),
        ms => Err(format!("expected one response message, got {}", ms.len())),
    }
}

fn simple_response(r: &Record, size: usize) -> Result<bool, String> {
    ok(r)?;
    let (data, compressed) = one_message(r)?;
    let resp: SimpleResponse =
        TestServiceClient::decode_unary_call(data).map_err(|s| s.to_string())?;
    payload_len(&resp.payload, size, "response payload")?;
    Ok(compressed)
}

fn streaming_responses(r: &Record, sizes: &[usize]) -> Result<(), String> {
    ok(r)?;
    if r.messages.len() != sizes.len() {
        return Err(format!(
            "expected {} responses, got {}",
            sizes.len(),
            r.messages.len()
        ));
    }
    for (i, ((data, _), &size)) in r.messages.iter().zip(sizes).enumerate() {
        let resp: StreamingOutputCallResponse =
            TestServiceClient::decode_full_duplex_call(data.clone()).map_err(|s| s.to_string())?;
        payload_len(&resp.payload, size, &format!("response {}", i + 1))?;
    }
    Ok(())
}

fn aggregated(r: &Record, want: i32) -> Result<(), String> {
    ok(r)?;
    let (data, _) = one_message(r)?;
    let resp: StreamingInputCallResponse =
        TestServiceClient::decode_streaming_input_call(data).map_err(|s| s.to_string())?;
    if resp.aggregated_payload_size != want {
        return Err(format!(
            "aggregated_payload_size {} != {want}",
            resp.aggregated_payload_size
        ));
    }
    Ok(())
}

fn echoed(r: &Record) -> Result<(), String> {
    let initial = r.headers.as_ref().and_then(|h| h.get(ECHO_INITIAL));
    if initial != Some(INITIAL_VALUE) {
        return Err(format!("{ECHO_INITIAL} in headers: {initial:?}"));
    }
    let trailing = r.trailers.get_bin(ECHO_TRAILING).map(|b| &b[..]);
    if trailing != Some(TRAILING_VALUE) {
        return Err(format!("{ECHO_TRAILING} in trailers: {trailing:?}"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

const INITIAL_VALUE: &str = "test_initial_metadata_value";
const TRAILING_VALUE: &[u8] = b"\xab\xab\xab";
const SPECIAL_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263A} and non-BMP \u{1F608}\t\n";

fn bool_value(value: bool) -> Option<BoolValue> {
    Some(BoolValue { value })
}

fn large_request() -> SimpleRequest {
    SimpleRequest {
        response_size: 314159,
        payload: Some(zeros(271828)),
        ..SimpleRequest::default()
    }
}

fn sized(sizes: &[i32]) -> Vec<ResponseParameters> {
    sizes
        .iter()
        .map(|&size| ResponseParameters {
            size,
            ..ResponseParameters::default()
        })
        .collect()
}

fn input(len: usize, expect_compressed: Option<bool>) -> StreamingInputCallRequest {
    StreamingInputCallRequest {
        payload: Some(zeros(len)),
        expect_compressed: expect_compressed.map(|value| BoolValue { value }),
    }
}

fn unary(
    request: client::Request,
    message: SimpleRequest,
) -> impl FnOnce(&mut client::Connection, Instant) -> Result<CallId, Status> {
    move |conn, now| TestServiceClient::unary_call(conn, request, &message, now)
}

fn echo_metadata() -> Metadata {
    let mut md = Metadata::new();
    md.insert(ECHO_INITIAL, INITIAL_VALUE)
        .expect("valid metadata");
    md.insert_bin(ECHO_TRAILING, TRAILING_VALUE)
        .expect("valid metadata");
    md
}

/// Starts a FullDuplexCall, sends `messages` and half-closes.
fn full_duplex(
    request: client::Request,
    messages: Vec<StreamingOutputCallRequest>,
) -> impl FnOnce(&mut client::Connection, Instant) -> Result<CallId, Status> {
    move |conn, now| {
        let call = TestServiceClient::full_duplex_call(conn, request, now)?;
        for m in &messages {
            let _ = TestServiceClient::send_full_duplex_call(conn, call, m);
        }
        let _ = conn.half_close(call);
        Ok(call)
    }
}

/// The calls of case `name`, per `doc/interop-test-descriptions.md`.
pub fn exchanges(name: &str) -> Option<Vec<Exchange>> {
    let unary_path = || test_service::UNARY_CALL.request();
    Some(match name {
        "empty_unary" => vec![Exchange::new(
            |conn, now| {
                TestServiceClient::empty_call(
                    conn,
                    test_service::EMPTY_CALL.request(),
                    &Empty {},
                    now,
                )
            },
            |r| {
                ok(r)?;
                let (data, _) = one_message(r)?;
                let _: Empty =
                    TestServiceClient::decode_empty_call(data).map_err(|s| s.to_string())?;
                Ok(())
            },
        )],
        "large_unary" => vec![Exchange::new(unary(unary_path(), large_request()), |r| {
            simple_response(r, 314159).map(|_| ())
        })],
        "client_streaming" => vec![Exchange::new(
            |conn, now| {
                let call = TestServiceClient::streaming_input_call(
                    conn,
                    test_service::STREAMING_INPUT_CALL.request(),
                    now,
                )?;
                for len in [27182, 8, 1828, 45904] {
                    let _ =
                        TestServiceClient::send_streaming_input_call(conn, call, &input(len, None));
                }
                let _ = conn.half_close(call);
                Ok(call)
            },
            |r| aggregated(r, 74922),
        )],
        "server_streaming" => vec![Exchange::new(
            |conn, now| {
                let m = StreamingOutputCallRequest {
                    response_parameters: sized(&[31415, 9, 2653, 58979]),
                    ..StreamingOutputCallRequest::default()
                };
                TestServiceClient::streaming_output_call(
                    conn,
                    test_service::STREAMING_OUTPUT_CALL.request(),
                    &m,
                    now,
                )
            },
            |r| streaming_responses(r, &[31415, 9, 2653, 58979]),
        )],
        "ping_pong" => {
            const SIZES: [i32; 4] = [31415, 9, 2653, 58979];
            const PAYLOADS: [usize; 4] = [27182, 8, 1828, 45904];
            let ping = |i: usize| StreamingOutputCallRequest {
                response_parameters: sized(&[SIZES[i]]),
                payload: Some(zeros(PAYLOADS[i])),
                ..StreamingOutputCallRequest::default()
            };
            vec![
                Exchange::new(
                    move |conn, now| {
                        let call = TestServiceClient::full_duplex_call(
                            conn,
                            test_service::FULL_DUPLEX_CALL.request(),
                            now,
                        )?;
                        let _ = TestServiceClient::send_full_duplex_call(conn, call, &ping(0));
                        Ok(call)
                    },
                    |r| streaming_responses(r, &SIZES.map(|s| s as usize)),
                )
                .reacting(move |conn, call, r, _| {
                    // One request per response: the next ping after each pong.
                    let n = r.messages.len();
                    if n < SIZES.len() {
                        let _ = TestServiceClient::send_full_duplex_call(conn, call, &ping(n));
                    } else {
                        let _ = conn.half_close(call);
                    }
                }),
            ]
        }
        "empty_stream" => vec![Exchange::new(
            full_duplex(test_service::FULL_DUPLEX_CALL.request(), Vec::new()),
            |r| streaming_responses(r, &[]),
        )],
        "timeout_on_sleeping_server" => vec![Exchange::new(
            |conn, now| {
                let mut request = test_service::FULL_DUPLEX_CALL.request();
                request.deadline = Some(now + Duration::from_millis(1));
                let call = TestServiceClient::full_duplex_call(conn, request, now)?;
                let m = StreamingOutputCallRequest {
                    payload: Some(zeros(27182)),
                    ..StreamingOutputCallRequest::default()
                };
                // The deadline may already have ended the call: fine.
                let _ = TestServiceClient::send_full_duplex_call(conn, call, &m);
                Ok(call)
            },
            |r| code(r, Code::DeadlineExceeded),
        )],
        "cancel_after_begin" => vec![Exchange::new(
            |conn, now| {
                let call = TestServiceClient::streaming_input_call(
                    conn,
                    test_service::STREAMING_INPUT_CALL.request(),
                    now,
                )?;
                let _ = conn.cancel(call);
                Ok(call)
            },
            |r| code(r, Code::Cancelled),
        )],
        "cancel_after_first_response" => vec![
            Exchange::new(
                |conn, now| {
                    let call = TestServiceClient::full_duplex_call(
                        conn,
                        test_service::FULL_DUPLEX_CALL.request(),
                        now,
                    )?;
                    let m = StreamingOutputCallRequest {
                        response_parameters: sized(&[31415]),
                        payload: Some(zeros(27182)),
                        ..StreamingOutputCallRequest::default()
                    };
                    let _ = TestServiceClient::send_full_duplex_call(conn, call, &m);
                    Ok(call)
                },
                |r| {
                    code(r, Code::Cancelled)?;
                    match r.messages.len() {
                        1 => Ok(()),
                        n => Err(format!("expected 1 response before cancelling, got {n}")),
                    }
                },
            )
            .reacting(|conn, call, _, _| {
                let _ = conn.cancel(call);
            }),
        ],
        "custom_metadata" => vec![
            Exchange::new(
                unary(
                    client::Request {
                        metadata: echo_metadata(),
                        ..unary_path()
                    },
                    large_request(),
                ),
                |r| {
                    simple_response(r, 314159)?;
                    echoed(r)
                },
            ),
            Exchange::new(
                full_duplex(
                    client::Request {
                        metadata: echo_metadata(),
                        ..test_service::FULL_DUPLEX_CALL.request()
                    },
                    vec![StreamingOutputCallRequest {
                        response_parameters: sized(&[314159]),
                        payload: Some(zeros(271828)),
                        ..StreamingOutputCallRequest::default()
                    }],
                ),
                |r| {
                    streaming_responses(r, &[314159])?;
                    echoed(r)
                },
            ),
        ],
        "status_code_and_message" | "special_status_message" => {
            let message = if name == "special_status_message" {
                SPECIAL_MESSAGE
            } else {
                "test status message"
            };
            let echo = || {
                Some(EchoStatus {
                    code: 2,
                    message: message.to_string(),
                })
            };
            let check = move |r: &Record| match &r.status {
                Some(s) if s.code == Code::Unknown && s.message == message => Ok(()),
                s => Err(format!("expected UNKNOWN {message:?}, got {s:?}")),
            };
            let mut v = vec![Exchange::new(
                unary(
                    unary_path(),
                    SimpleRequest {
                        response_status: echo(),
                        ..SimpleRequest::default()
                    },
                ),
                check,
            )];
            if name == "status_code_and_message" {
                v.push(Exchange::new(
                    full_duplex(
                        test_service::FULL_DUPLEX_CALL.request(),
                        vec![StreamingOutputCallRequest {
                            response_status: echo(),
                            ..StreamingOutputCallRequest::default()
                        }],
                    ),
                    check,
                ));
            }
            v
        }
        "unimplemented_method" => vec![Exchange::new(
            |conn, now| {
                TestServiceClient::unimplemented_call(
                    conn,
                    test_service::UNIMPLEMENTED_CALL.request(),
                    &Empty {},
                    now,
                )
            },
            |r| code(r, Code::Unimplemented),
        )],
        "unimplemented_service" => vec![Exchange::new(
            |conn, now| {
                UnimplementedServiceClient::unimplemented_call(
                    conn,
                    unimplemented_service::UNIMPLEMENTED_CALL.request(),
                    &Empty {},
                    now,
                )
            },
            |r| code(r, Code::Unimplemented),
        )],
        "client_compressed_unary" => {
            let gzip = move || client::Request {
                encoding: Encoding::Gzip,
                ..test_service::UNARY_CALL.request()
            };
            let expecting = |expect: bool| SimpleRequest {
                expect_compressed: bool_value(expect),
                ..large_request()
            };
            vec![
                // The probe: an uncompressed message that claims to be
                // compressed must be refused, or the server checks nothing.
                Exchange::new(unary(unary_path(), expecting(true)), |r| {
                    code(r, Code::InvalidArgument)
                }),
                Exchange::new(unary(gzip(), expecting(true)), |r| {
                    simple_response(r, 314159).map(|_| ())
                }),
                Exchange::new(unary(unary_path(), expecting(false)), |r| {
                    simple_response(r, 314159).map(|_| ())
                }),
            ]
        }
        "server_compressed_unary" => {
            let asking = |compressed: bool| SimpleRequest {
                response_compressed: bool_value(compressed),
                ..large_request()
            };
            vec![
                Exchange::new(
                    unary(unary_path(), asking(true)),
                    |r| match simple_response(r, 314159)? {
                        true => Ok(()),
                        false => Err("the response should have come compressed".into()),
                    },
                ),
                Exchange::new(
                    unary(unary_path(), asking(false)),
                    |r| match simple_response(r, 314159)? {
                        false => Ok(()),
                        true => Err("the response should have come uncompressed".into()),
                    },
                ),
            ]
        }
        "client_compressed_streaming" => vec![
            Exchange::new(
                |conn, now| {
                    let call = TestServiceClient::streaming_input_call(
                        conn,
                        test_service::STREAMING_INPUT_CALL.request(),
                        now,
                    )?;
                    let _ = TestServiceClient::send_streaming_input_call(
                        conn,
                        call,
                        &input(27182, Some(true)),
                    );
                    let _ = conn.half_close(call);
                    Ok(call)
                },
                |r| code(r, Code::InvalidArgument),
            ),
            Exchange::new(
                |conn, now| {
                    let request = client::Request {
                        encoding: Encoding::Gzip,
                        ..test_service::STREAMING_INPUT_CALL.request()
                    };
                    let call = TestServiceClient::streaming_input_call(conn, request, now)?;
                    let _ = TestServiceClient::send_streaming_input_call(
                        conn,
                        call,
                        &input(27182, Some(true)),
                    );
                    let _ = conn
                        .send_message_uncompressed(call, codec::encode(&input(45904, Some(false))));
                    let _ = conn.half_close(call);
                    Ok(call)
                },
                |r| aggregated(r, 73086),
            ),
        ],
        "server_compressed_streaming" => vec![Exchange::new(
            |conn, now| {
                let m = StreamingOutputCallRequest {
                    response_parameters: vec![
                        ResponseParameters {
                            size: 31415,
                            compressed: bool_value(true),
                            ..ResponseParameters::default()
                        },
                        ResponseParameters {
                            size: 92653,
                            compressed: bool_value(false),
                            ..ResponseParameters::default()
                        },
                    ],
                    ..StreamingOutputCallRequest::default()
                };
                TestServiceClient::streaming_output_call(
                    conn,
                    test_service::STREAMING_OUTPUT_CALL.request(),
                    &m,
                    now,
                )
            },
            |r| {
                streaming_responses(r, &[31415, 92653])?;
                let flags: Vec<bool> = r.messages.iter().map(|m| m.1).collect();
                match flags[..] {
                    [true, false] => Ok(()),
                    _ => Err(format!(
                        "compressed flags {flags:?}, expected [true, false]"
                    )),
                }
            },
        )],
        _ => return None,
    })
}

/// Runs case `name` against `addr` on a new connection (blocking std
/// adapter); `Ok` if it passed.
pub fn run_case(addr: &str, name: &str) -> Result<(), String> {
    let mut app = CaseApp::new(name).ok_or_else(|| format!("unknown test case {name}"))?;
    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    crate::adapters::std_io::run_client(addr, config, &mut app).map_err(|e| format!("I/O: {e}"))?;
    app.outcome()
}

/// A server streaming call whose small responses come paced, `interval`
/// apart: it keeps a connection busy with small frames and quiet gaps (where
/// reads time out) while other calls come and go.
pub fn paced_streaming(responses: usize, interval: Duration) -> Exchange {
    let sizes: Vec<usize> = (0..responses).map(|i| 1 + (i * 37) % 64).collect();
    let m = StreamingOutputCallRequest {
        response_parameters: sizes
            .iter()
            .map(|&size| ResponseParameters {
                size: size as i32,
                interval_us: interval.as_micros() as i32,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    };
    Exchange::new(
        move |conn, now| {
            TestServiceClient::streaming_output_call(
                conn,
                test_service::STREAMING_OUTPUT_CALL.request(),
                &m,
                now,
            )
        },
        move |r| streaming_responses(r, &sizes),
    )
}

/// A FullDuplexCall the server never answers, ended by a `deadline` of the
/// client's: a timer that fires while other calls are busy.
pub fn sleeping_with_deadline(deadline: Duration) -> Exchange {
    Exchange::new(
        move |conn, now| {
            let mut request = test_service::FULL_DUPLEX_CALL.request();
            request.deadline = Some(now + deadline);
            let call = TestServiceClient::full_duplex_call(conn, request, now)?;
            let m = StreamingOutputCallRequest {
                payload: Some(zeros(13)),
                ..StreamingOutputCallRequest::default()
            };
            let _ = TestServiceClient::send_full_duplex_call(conn, call, &m);
            Ok(call)
        },
        |r| code(r, Code::DeadlineExceeded),
    )
}

/// The calls of every case, `calls` of them, as a mixed load: the cases'
/// exchanges in turn (every case's whole list, again from the first case
/// when all are used) with a paced server stream ([`paced_streaming`]) and a
/// call ended by a deadline of 5 to 250 ms ([`sleeping_with_deadline`])
/// among every ten calls, in an order shuffled by `seed`. Each comes with the
/// name of its case.
pub fn mixed(calls: usize, seed: u64) -> Vec<(&'static str, Exchange)> {
    let mut all = Vec::with_capacity(calls);
    'fill: loop {
        for &case in CASES {
            for ex in exchanges(case).expect("every case has exchanges") {
                if all.len() == calls {
                    break 'fill;
                }
                if all.len() % 10 == 9 {
                    let paced = paced_streaming(100, Duration::from_millis(2));
                    all.push(("paced_server_streaming", paced));
                } else if all.len() % 10 == 4 {
                    let deadline = Duration::from_millis(5 * (1 + (all.len() as u64 / 10) % 50));
                    all.push(("deadline_mid_load", sleeping_with_deadline(deadline)));
                }
                if all.len() == calls {
                    break 'fill;
                }
                all.push((case, ex));
            }
        }
    }
    // Fisher-Yates with xorshift64*: the same seed gives the same order.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for i in (1..all.len()).rev() {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let j = (x.wrapping_mul(0x2545_F491_4F6C_DD1D) % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    all
}

/// A call of [`MixApp`] under way: its case, reaction, check and record.
type Running = (&'static str, Option<React>, Option<Check>, Record);

/// Runs many exchanges at once on one connection: every call is started in
/// [`ClientApp::start`] (past the server's stream limit the client queues
/// them), and each is checked, messages and status, when its status comes.
/// A [`ClientApp`] for the mixed-load stress test.
pub struct MixApp {
    waiting: Vec<(&'static str, Exchange)>,
    running: HashMap<CallId, Running>,
    checked: usize,
    failures: Vec<String>,
    closed: Option<String>,
    limit: Duration,
    give_up: Option<Instant>,
}

impl MixApp {
    /// The app for `exchanges`, all of which must end within `limit`.
    pub fn new(exchanges: Vec<(&'static str, Exchange)>, limit: Duration) -> MixApp {
        MixApp {
            waiting: exchanges,
            running: HashMap::new(),
            checked: 0,
            failures: Vec::new(),
            closed: None,
            limit,
            give_up: None,
        }
    }

    /// How many calls passed their checks, or every reason some did not
    /// (and why the connection closed early, if it did).
    pub fn outcome(&self) -> Result<usize, String> {
        let mut why = self.failures.clone();
        if let Some(closed) = &self.closed {
            why.push(closed.clone());
        }
        if !self.running.is_empty() {
            why.push(format!("{} calls never ended", self.running.len()));
        }
        match why.is_empty() {
            true => Ok(self.checked),
            false => Err(why.join("\n")),
        }
    }
}

impl ClientApp for MixApp {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        self.give_up = Some(now + self.limit);
        for (i, (case, ex)) in std::mem::take(&mut self.waiting).into_iter().enumerate() {
            match (ex.start)(conn, now) {
                Ok(call) => {
                    let entry = (case, ex.on_message, Some(ex.check), Record::default());
                    self.running.insert(call, entry);
                }
                Err(status) => self
                    .failures
                    .push(format!("call {i} ({case}) could not start: {status:?}")),
            }
        }
    }

    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, now: Instant) {
        let compressed = conn.last_message_compressed();
        match event {
            client::Event::Headers { call, metadata } => {
                if let Some((.., record)) = self.running.get_mut(&call) {
                    record.headers = Some(metadata);
                }
            }
            client::Event::Message { call, data } => {
                if let Some((_, react, _, record)) = self.running.get_mut(&call) {
                    record.messages.push((data, compressed));
                    if let Some(react) = react {
                        react(conn, call, record, now);
                    }
                }
            }
            client::Event::Status {
                call,
                status,
                trailers,
            } => {
                if let Some((case, _, check, mut record)) = self.running.remove(&call) {
                    record.status = Some(status);
                    record.trailers = trailers;
                    match check.map_or(Ok(()), |c| c(&record)) {
                        Ok(()) => self.checked += 1,
                        Err(why) => self.failures.push(format!("{case}: {why}")),
                    }
                }
            }
            client::Event::Closed { error } if error.is_some() || !self.running.is_empty() => {
                self.closed = Some(format!(
                    "connection closed with {} calls running: {error:?}",
                    self.running.len()
                ));
            }
            _ => {}
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.give_up.filter(|_| !self.is_done())
    }

    fn on_timeout(&mut self, conn: &mut client::Connection, _now: Instant) {
        let running: Vec<CallId> = self.running.keys().copied().collect();
        for call in running {
            let _ = conn.cancel(call);
        }
        self.failures.push(format!(
            "timed out after {:?} with {} calls running",
            self.limit,
            self.running.len()
        ));
        self.running.clear();
    }

    fn is_done(&self) -> bool {
        self.closed.is_some() || self.running.is_empty()
    }
}
