//! Structure-aware: a gRPC server fed a sequence of WELL-FORMED frames with
//! hostile contents (chosen by `arbitrary`), so the fuzzer spends its time
//! in stream states, flow control, header validation, call lifecycles and
//! the application's commands rather than in frame parsing.
//!
//! Frames are built with our encoders and a peer-side HPACK encoder; header
//! lists mix valid gRPC requests with every kind of wrong field; DATA
//! carries length-prefixed messages with arbitrary prefixes; SETTINGS,
//! WINDOW_UPDATE, RST_STREAM, PING, PRIORITY and GOAWAY take arbitrary
//! values; header blocks are split into CONTINUATIONs; reads are split
//! anywhere; the clock moves; the application answers, streams, finishes,
//! rejects and cancels calls.
//!
//! Checks: no panic; no event after `Closed`; exactly one ending per call;
//! no event for a call after its ending; held bytes under the ceiling.
#![no_main]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{
    self, Continuation, Data, Frame, GoAway, Headers, Ping, Priority, PrioritySpec, RstStream,
    Settings, StreamId, WindowUpdate,
};
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::hpack::{Encoder, Field};
use grpc_sansio::server::{Config, Connection, Event};
use grpc_sansio_fuzz::HELD_BYTES_CEILING;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug, Clone, Copy)]
enum HeaderName {
    Method,
    Scheme,
    Path,
    Authority,
    Status,
    ContentType,
    Te,
    Timeout,
    Encoding,
    AcceptEncoding,
    Connection,
    Custom,
    CustomBin,
    Upper,
    Empty,
}

#[derive(Arbitrary, Debug)]
struct Request {
    /// A valid gRPC request first, then these fields.
    valid_base: bool,
    fields: Vec<(HeaderName, Vec<u8>)>,
    end_stream: bool,
    /// Number of CONTINUATION frames the block is split into.
    pieces: u8,
    priority: Option<(u8, u8)>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Headers {
        stream: u8,
        request: Request,
    },
    Trailers {
        stream: u8,
        fields: Vec<(HeaderName, Vec<u8>)>,
    },
    Message {
        stream: u8,
        compressed: bool,
        declared: Option<u32>,
        body: Vec<u8>,
        end_stream: bool,
        frames: u8,
    },
    Data {
        stream: u8,
        payload: Vec<u8>,
        end_stream: bool,
    },
    /// A message too long for the input to spell out (`len` bytes of
    /// `fill`): long DATA frames, which reads split by `Split` hand to the
    /// core in pieces.
    LongMessage {
        stream: u8,
        len: u16,
        fill: u8,
        end_stream: bool,
        frames: u8,
    },
    Rst {
        stream: u8,
        code: u32,
    },
    Settings {
        table: Option<u16>,
        streams: Option<u8>,
        window: Option<u32>,
        frame: Option<u32>,
        list: Option<u16>,
    },
    SettingsAck,
    Ping {
        ack: bool,
        payload: u64,
    },
    WindowUpdate {
        stream: u8,
        increment: u32,
    },
    Priority {
        stream: u8,
        dep: u8,
        weight: u8,
    },
    GoAway {
        last: u8,
        code: u32,
    },
    Advance {
        millis: u16,
    },
    Split {
        at: u16,
    },
    App {
        call: u8,
        action: AppAction,
    },
}

#[derive(Arbitrary, Debug)]
enum AppAction {
    Headers,
    Message(Vec<u8>),
    Finish(u8),
    Reject,
    Cancel,
    Shutdown,
}

#[derive(Arbitrary, Debug)]
struct In {
    small_limits: bool,
    ops: Vec<Op>,
}

fn stream(s: u8) -> StreamId {
    StreamId(1 + 2 * u32::from(s % 32))
}

fn field(name: HeaderName, value: &[u8]) -> Field {
    let n: &'static str = match name {
        HeaderName::Method => ":method",
        HeaderName::Scheme => ":scheme",
        HeaderName::Path => ":path",
        HeaderName::Authority => ":authority",
        HeaderName::Status => ":status",
        HeaderName::ContentType => "content-type",
        HeaderName::Te => "te",
        HeaderName::Timeout => "grpc-timeout",
        HeaderName::Encoding => "grpc-encoding",
        HeaderName::AcceptEncoding => "grpc-accept-encoding",
        HeaderName::Connection => "connection",
        HeaderName::Custom => "x-custom",
        HeaderName::CustomBin => "x-custom-bin",
        HeaderName::Upper => "X-Upper",
        HeaderName::Empty => "",
    };
    Field::new(
        Bytes::from_static(n.as_bytes()),
        Bytes::copy_from_slice(&value[..value.len().min(256)]),
    )
}

fn base() -> Vec<Field> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/fuzz.Svc/Call"),
        (":authority", "fuzz"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ]
    .iter()
    .map(|(n, v)| {
        Field::new(
            Bytes::from_static(n.as_bytes()),
            Bytes::from_static(v.as_bytes()),
        )
    })
    .collect()
}

/// Encodes a header block as HEADERS plus `pieces` CONTINUATIONs.
fn header_frames(
    enc: &mut Encoder,
    id: StreamId,
    fields: &[Field],
    end_stream: bool,
    pieces: u8,
    priority: Option<(u8, u8)>,
    out: &mut BytesMut,
) {
    let mut block = BytesMut::new();
    enc.encode(fields.iter(), &mut block);
    let block = block.freeze();
    let n = usize::from(pieces % 4) + 1;
    let step = block.len().div_ceil(n).max(1);
    let mut parts: Vec<Bytes> = (0..block.len())
        .step_by(step)
        .map(|i| block.slice(i..(i + step).min(block.len())))
        .collect();
    if parts.is_empty() {
        parts.push(Bytes::new());
    }
    let last = parts.len() - 1;
    for (i, p) in parts.into_iter().enumerate() {
        let f = if i == 0 {
            Frame::Headers(Headers {
                stream_id: id,
                fragment: p,
                end_stream,
                end_headers: i == last,
                priority: priority.map(|(d, w)| PrioritySpec {
                    dependency: if stream(d) == id {
                        StreamId(0)
                    } else {
                        stream(d)
                    },
                    exclusive: false,
                    weight: w,
                }),
            })
        } else {
            Frame::Continuation(Continuation {
                stream_id: id,
                fragment: p,
                end_headers: i == last,
            })
        };
        f.encode(out);
    }
}

/// `msg` as `frames % 4 + 1` DATA frames (none over 16 KiB) on `id`.
fn data_frames(id: StreamId, msg: &[u8], frames: u8, end_stream: bool, wire: &mut BytesMut) {
    let n = usize::from(frames % 4) + 1;
    let step = msg.len().div_ceil(n).min(16_384);
    let chunks: Vec<&[u8]> = msg.chunks(step.max(1)).collect();
    let last = chunks.len().saturating_sub(1);
    for (i, c) in chunks.into_iter().enumerate() {
        Frame::Data(Data {
            stream_id: id,
            payload: Bytes::copy_from_slice(c),
            end_stream: end_stream && i == last,
            flow_len: c.len() as u32,
        })
        .encode(wire);
    }
}

fuzz_target!(|input: In| {
    let mut config = Config::default();
    if input.small_limits {
        config.max_receive_message_size = 256;
        config.h2.max_concurrent_streams = 4;
        config.h2.max_header_list_size = 1024;
        config.h2.max_send_buffer = 4096;
    }
    let mut now = Instant::now();
    let mut conn = Connection::new(config, now);
    let mut enc = Encoder::new();
    let mut wire = BytesMut::new();
    wire.extend_from_slice(frame::PREFACE);
    Frame::Settings(Settings::default()).encode(&mut wire);
    Frame::Settings(Settings {
        ack: true,
        ..Settings::default()
    })
    .encode(&mut wire);

    let mut live: Vec<CallId> = Vec::new();
    let mut ended: BTreeSet<CallId> = BTreeSet::new();
    let mut closed = false;

    let flush = |conn: &mut Connection,
                 wire: &mut BytesMut,
                 now: Instant,
                 live: &mut Vec<CallId>,
                 ended: &mut BTreeSet<CallId>,
                 closed: &mut bool| {
        if !wire.is_empty() {
            let _ = conn.recv(wire.split().freeze(), now);
        }
        while let Some(ev) = conn.poll_event() {
            assert!(!*closed, "event after Closed: {ev:?}");
            match ev {
                Event::Call { call, .. } => {
                    assert!(
                        !ended.contains(&call) && !live.contains(&call),
                        "call reported twice"
                    );
                    live.push(call);
                }
                Event::Message { call, .. }
                | Event::HalfClose { call }
                | Event::Writable { call } => {
                    assert!(!ended.contains(&call), "event after the call ended");
                }
                Event::Cancelled { call, .. } => {
                    assert!(ended.insert(call), "second ending for {call:?}");
                    live.retain(|c| *c != call);
                }
                Event::GoAway { .. } => {}
                Event::Closed { .. } => *closed = true,
            }
        }
        while conn.poll_transmit().is_some() {}
        assert!(
            conn.held_bytes() <= HELD_BYTES_CEILING,
            "held {} bytes",
            conn.held_bytes()
        );
    };

    for op in input.ops.iter().take(256) {
        match op {
            Op::Headers { stream: s, request } => {
                let mut fields = if request.valid_base {
                    base()
                } else {
                    Vec::new()
                };
                fields.extend(request.fields.iter().take(16).map(|(n, v)| field(*n, v)));
                header_frames(
                    &mut enc,
                    stream(*s),
                    &fields,
                    request.end_stream,
                    request.pieces,
                    request.priority,
                    &mut wire,
                );
            }
            Op::Trailers { stream: s, fields } => {
                let fields: Vec<Field> = fields.iter().take(8).map(|(n, v)| field(*n, v)).collect();
                header_frames(&mut enc, stream(*s), &fields, true, 0, None, &mut wire);
            }
            Op::LongMessage {
                stream: s,
                len,
                fill,
                end_stream,
                frames,
            } => {
                let mut msg = vec![0];
                msg.extend(u32::from(*len).to_be_bytes());
                msg.resize(5 + usize::from(*len), *fill);
                data_frames(stream(*s), &msg, *frames, *end_stream, &mut wire);
            }
            Op::Message {
                stream: s,
                compressed,
                declared,
                body,
                end_stream,
                frames,
            } => {
                let mut msg = vec![u8::from(*compressed)];
                msg.extend(declared.unwrap_or(body.len() as u32).to_be_bytes());
                msg.extend_from_slice(body);
                data_frames(stream(*s), &msg, *frames, *end_stream, &mut wire);
            }
            Op::Data {
                stream: s,
                payload,
                end_stream,
            } => Frame::Data(Data {
                stream_id: stream(*s),
                payload: Bytes::copy_from_slice(&payload[..payload.len().min(16_384)]),
                end_stream: *end_stream,
                flow_len: payload.len().min(16_384) as u32,
            })
            .encode(&mut wire),
            Op::Rst { stream: s, code } => Frame::RstStream(RstStream {
                stream_id: stream(*s),
                code: ErrorCode(*code),
            })
            .encode(&mut wire),
            Op::Settings {
                table,
                streams,
                window,
                frame,
                list,
            } => Frame::Settings(Settings {
                ack: false,
                header_table_size: table.map(u32::from),
                enable_push: None,
                max_concurrent_streams: streams.map(u32::from),
                initial_window_size: window.map(|w| w & 0x7fff_ffff),
                max_frame_size: frame.map(|f| 16_384 + f % (16_777_215 - 16_384 + 1)),
                max_header_list_size: list.map(u32::from),
                enable_connect_protocol: None,
            })
            .encode(&mut wire),
            Op::SettingsAck => Frame::Settings(Settings {
                ack: true,
                ..Settings::default()
            })
            .encode(&mut wire),
            Op::Ping { ack, payload } => Frame::Ping(Ping {
                ack: *ack,
                payload: payload.to_be_bytes(),
            })
            .encode(&mut wire),
            Op::WindowUpdate {
                stream: s,
                increment,
            } => Frame::WindowUpdate(WindowUpdate {
                stream_id: if *s == 0 { StreamId(0) } else { stream(*s) },
                increment: (increment & 0x7fff_ffff).max(1),
            })
            .encode(&mut wire),
            Op::Priority {
                stream: s,
                dep,
                weight,
            } => {
                let id = stream(*s);
                let d = stream(*dep);
                Frame::Priority(Priority {
                    stream_id: id,
                    spec: PrioritySpec {
                        dependency: if d == id { StreamId(0) } else { d },
                        exclusive: false,
                        weight: *weight,
                    },
                })
                .encode(&mut wire)
            }
            Op::GoAway { last, code } => Frame::GoAway(GoAway {
                last_stream_id: StreamId(u32::from(*last)),
                code: ErrorCode(*code),
                debug_data: Bytes::new(),
            })
            .encode(&mut wire),
            Op::Advance { millis } => {
                flush(
                    &mut conn,
                    &mut wire,
                    now,
                    &mut live,
                    &mut ended,
                    &mut closed,
                );
                now += Duration::from_millis(u64::from(*millis) * 4);
                conn.handle_timeout(now);
            }
            Op::Split { at } => {
                let at = usize::from(*at) % (wire.len() + 1);
                let rest = wire.split_off(at);
                flush(
                    &mut conn,
                    &mut wire,
                    now,
                    &mut live,
                    &mut ended,
                    &mut closed,
                );
                wire = rest;
            }
            Op::App { call, action } => {
                flush(
                    &mut conn,
                    &mut wire,
                    now,
                    &mut live,
                    &mut ended,
                    &mut closed,
                );
                if live.is_empty() {
                    continue;
                }
                let c = live[usize::from(*call) % live.len()];
                let finished = match action {
                    AppAction::Headers => {
                        let mut md = Metadata::new();
                        let _ = md.append("x-app", "1");
                        let _ = conn.send_headers(c, &md);
                        false
                    }
                    AppAction::Message(m) => {
                        let _ = conn.send_message(c, Bytes::copy_from_slice(m));
                        false
                    }
                    AppAction::Finish(code) => conn
                        .finish(
                            c,
                            Status::new(Code::from_i32(i32::from(*code % 17)), "done"),
                            &Metadata::new(),
                        )
                        .is_ok(),
                    AppAction::Reject => conn
                        .reject(c, Status::new(Code::Unimplemented, "no"))
                        .is_ok(),
                    AppAction::Cancel => conn.cancel(c).is_ok(),
                    AppAction::Shutdown => {
                        conn.shutdown(now);
                        false
                    }
                };
                if finished {
                    live.retain(|x| *x != c);
                    assert!(ended.insert(c), "finished twice");
                }
            }
        }
    }
    flush(
        &mut conn,
        &mut wire,
        now,
        &mut live,
        &mut ended,
        &mut closed,
    );
});
