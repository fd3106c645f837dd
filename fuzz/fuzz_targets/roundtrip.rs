//! Round trips: what we encode, we parse back to the same thing.
//!
//! - frames: every frame type built from arbitrary (valid) fields, encoded,
//!   then parsed by `FrameDecoder` fed in arbitrary pieces;
//! - header blocks: arbitrary field lists through our HPACK encoder and
//!   decoder, several blocks sharing one dynamic table;
//! - metadata: arbitrary keys and values (ASCII and `-bin`) to header fields
//!   and back;
//! - `grpc-timeout`: a duration formatted and parsed back is never shorter,
//!   and exact when it fits the unit;
//! - `grpc-message`: percent-encoding then decoding gives the message back,
//!   and decoding arbitrary bytes never fails.
#![no_main]

use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{
    self, Continuation, Data, Frame, FrameDecoder, GoAway, Headers, Ping, Priority, PrioritySpec,
    PushPromise, RstStream, Settings, StreamId, WindowUpdate,
};
use grpc_sansio::grpc::status::{decode_message, encode_message};
use grpc_sansio::grpc::{Metadata, timeout};
use grpc_sansio::hpack::{Decoder, Encoder, Field};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum F {
    Data {
        id: u32,
        payload: Vec<u8>,
        end: bool,
    },
    Headers {
        id: u32,
        block: Vec<u8>,
        end: bool,
        end_headers: bool,
        prio: Option<(u32, bool, u8)>,
    },
    Priority {
        id: u32,
        dep: u32,
        excl: bool,
        weight: u8,
    },
    Rst {
        id: u32,
        code: u32,
    },
    Settings {
        ack: bool,
        table: Option<u32>,
        push: Option<bool>,
        streams: Option<u32>,
        window: Option<u32>,
        frame: Option<u32>,
        list: Option<u32>,
    },
    PushPromise {
        id: u32,
        promised: u32,
        block: Vec<u8>,
        end_headers: bool,
    },
    Ping {
        ack: bool,
        payload: [u8; 8],
    },
    GoAway {
        last: u32,
        code: u32,
        debug: Vec<u8>,
    },
    WindowUpdate {
        id: u32,
        inc: u32,
    },
    Continuation {
        id: u32,
        block: Vec<u8>,
        end_headers: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct In {
    frames: Vec<F>,
    split: Vec<u8>,
    blocks: Vec<Vec<(Vec<u8>, Vec<u8>)>>,
    metadata: Vec<(String, Vec<u8>, bool)>,
    timeout_nanos: u64,
    timeout_secs: u32,
    message: String,
    raw_message: Vec<u8>,
}

fn sid(v: u32) -> StreamId {
    StreamId((v & 0x7fff_ffff).max(1))
}

fn build(f: &F) -> Frame {
    match f {
        F::Data { id, payload, end } => Frame::Data(Data {
            stream_id: sid(*id),
            payload: Bytes::copy_from_slice(payload),
            end_stream: *end,
            flow_len: payload.len() as u32,
        }),
        F::Headers {
            id,
            block,
            end,
            end_headers,
            prio,
        } => {
            let id = sid(*id);
            Frame::Headers(Headers {
                stream_id: id,
                fragment: Bytes::copy_from_slice(block),
                end_stream: *end,
                end_headers: *end_headers,
                priority: prio.map(|(dep, exclusive, weight)| PrioritySpec {
                    dependency: if dep & 0x7fff_ffff == id.0 {
                        StreamId(0)
                    } else {
                        StreamId(dep & 0x7fff_ffff)
                    },
                    exclusive,
                    weight,
                }),
            })
        }
        F::Priority {
            id,
            dep,
            excl,
            weight,
        } => {
            let id = sid(*id);
            let dep = StreamId(dep & 0x7fff_ffff);
            Frame::Priority(Priority {
                stream_id: id,
                spec: PrioritySpec {
                    dependency: if dep == id { StreamId(0) } else { dep },
                    exclusive: *excl,
                    weight: *weight,
                },
            })
        }
        F::Rst { id, code } => Frame::RstStream(RstStream {
            stream_id: sid(*id),
            code: ErrorCode(*code),
        }),
        F::Settings {
            ack,
            table,
            push,
            streams,
            window,
            frame,
            list,
        } => {
            if *ack {
                Frame::Settings(Settings {
                    ack: true,
                    ..Settings::default()
                })
            } else {
                Frame::Settings(Settings {
                    ack: false,
                    header_table_size: *table,
                    enable_push: *push,
                    max_concurrent_streams: *streams,
                    initial_window_size: window.map(|w| w & 0x7fff_ffff),
                    max_frame_size: frame.map(|f| 16_384 + f % (16_777_215 - 16_384 + 1)),
                    max_header_list_size: *list,
                    enable_connect_protocol: None,
                })
            }
        }
        F::PushPromise {
            id,
            promised,
            block,
            end_headers,
        } => Frame::PushPromise(PushPromise {
            stream_id: sid(*id),
            promised_id: sid(*promised),
            fragment: Bytes::copy_from_slice(block),
            end_headers: *end_headers,
        }),
        F::Ping { ack, payload } => Frame::Ping(Ping {
            ack: *ack,
            payload: *payload,
        }),
        F::GoAway { last, code, debug } => Frame::GoAway(GoAway {
            last_stream_id: StreamId(last & 0x7fff_ffff),
            code: ErrorCode(*code),
            debug_data: Bytes::copy_from_slice(debug),
        }),
        F::WindowUpdate { id, inc } => Frame::WindowUpdate(WindowUpdate {
            stream_id: StreamId(id & 0x7fff_ffff),
            increment: (inc & 0x7fff_ffff).max(1),
        }),
        F::Continuation {
            id,
            block,
            end_headers,
        } => Frame::Continuation(Continuation {
            stream_id: sid(*id),
            fragment: Bytes::copy_from_slice(block),
            end_headers: *end_headers,
        }),
    }
}

/// The decoder hands a long DATA frame that straddles pushed chunks out in
/// pieces: joins the pieces of each expected DATA frame (their `flow_len`s
/// add up to its own), checking that only the last carries END_STREAM.
fn join_data_pieces(back: Vec<Frame>, frames: &[Frame]) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut back = back.into_iter().peekable();
    for want in frames {
        let (Frame::Data(w), Some(Frame::Data(_))) = (want, back.peek()) else {
            if let Some(f) = back.next() {
                out.push(f);
            }
            continue;
        };
        let Some(Frame::Data(mut d)) = back.next() else {
            unreachable!()
        };
        let mut payload = BytesMut::from(&d.payload[..]);
        while d.flow_len < w.flow_len {
            assert!(!d.end_stream, "END_STREAM on a piece before the last");
            let Some(Frame::Data(next)) = back.next() else {
                panic!(
                    "DATA frame cut short: {} of {} bytes",
                    d.flow_len, w.flow_len
                );
            };
            assert_eq!(next.stream_id, d.stream_id);
            payload.extend_from_slice(&next.payload);
            d.flow_len += next.flow_len;
            d.end_stream = next.end_stream;
        }
        d.payload = payload.freeze();
        out.push(Frame::Data(d));
    }
    out.extend(back);
    out
}

fuzz_target!(|input: In| {
    // Frames.
    let frames: Vec<Frame> = input.frames.iter().take(64).map(build).collect();
    let mut wire = BytesMut::new();
    for f in &frames {
        f.encode(&mut wire);
    }
    let wire = wire.freeze();
    let mut dec = FrameDecoder::new(frame::MAX_MAX_FRAME_SIZE);
    let mut back = Vec::new();
    let mut at = 0;
    let mut splits = input.split.iter().cycle();
    while at < wire.len() {
        let step = splits
            .next()
            .map_or(wire.len(), |&s| usize::from(s).max(1) * 7);
        let end = (at + step).min(wire.len());
        dec.push(wire.slice(at..end));
        at = end;
        while let Some(f) = dec.decode().expect("our own frames must parse") {
            back.push(f);
        }
    }
    assert_eq!(join_data_pieces(back, &frames), frames);

    // Header blocks through one encoder/decoder pair.
    let mut enc = Encoder::new();
    let mut hdec = Decoder::new(4096, usize::MAX);
    for block in input.blocks.iter().take(8) {
        let fields: Vec<Field> = block
            .iter()
            .take(32)
            .map(|(n, v)| Field::new(Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
            .collect();
        let mut buf = BytesMut::new();
        enc.encode(fields.iter(), &mut buf);
        let got = hdec.decode(&buf).expect("our own block must decode");
        assert_eq!(got.len(), fields.len());
        for (a, b) in fields.iter().zip(&got) {
            assert_eq!((&a.name, &a.value), (&b.name, &b.value));
        }
    }

    // Metadata.
    let mut md = Metadata::new();
    for (key, value, bin) in input.metadata.iter().take(16) {
        if *bin {
            let _ = md.append_bin(&format!("{key}-bin"), Bytes::copy_from_slice(value));
        } else if let Ok(v) = std::str::from_utf8(value) {
            let _ = md.append(key, v);
        }
    }
    let fields: Vec<Field> = md.to_fields().collect();
    let again = Metadata::from_fields(&fields).expect("our own metadata must parse");
    assert_eq!(again, md);

    // grpc-timeout.
    let d = Duration::new(u64::from(input.timeout_secs), 0)
        + Duration::from_nanos(input.timeout_nanos % 1_000_000_000);
    let text = timeout::format(d);
    let parsed = timeout::parse(&text).expect("our own grpc-timeout must parse");
    assert!(
        parsed >= d || parsed == timeout::MAX,
        "{d:?} -> {text:?} -> {parsed:?}"
    );

    // grpc-message.
    assert_eq!(
        decode_message(encode_message(&input.message).as_bytes()),
        input.message
    );
    let _ = decode_message(&input.raw_message);
});
