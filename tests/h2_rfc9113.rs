//! RFC 9113 protocol scenarios: for each MUST / MUST NOT a peer can break,
//! the violation as bytes and the exact answer. Every scenario runs twice:
//! input fed whole and one byte at a time (`Raw::run`).

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{Frame, Headers, PrioritySpec, Settings, StreamId, flags, kind};
use grpc_sansio::h2::{Config, Event, HeadersKind, ResetBy};

const PROTOCOL: ErrorCode = ErrorCode::PROTOCOL_ERROR;

// ---------------------------------------------------------------- §3.4

#[test]
fn s3_4_invalid_preface_is_protocol_error() {
    Raw::run(|r| {
        r.send_bytes(b"PRI * HTTP/1.1\r\n\r\nSM\r\n\r\n");
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s3_4_http1_request_instead_of_preface() {
    Raw::run(|r| {
        r.send_bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s3_4_first_frame_must_be_settings() {
    Raw::run(|r| {
        r.send_bytes(grpc_sansio::frame::PREFACE);
        r.send(ping([0; 8]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s3_4_server_sends_settings_first_and_acks_ours() {
    Raw::run(|r| {
        match r.next_sent() {
            Frame::Settings(s) => {
                assert!(!s.ack);
                assert_eq!(s.enable_push, Some(false));
                assert_eq!(s.max_concurrent_streams, Some(100));
            }
            other => panic!("expected SETTINGS, got {other:?}"),
        }
        r.sent.clear();
        r.send_bytes(grpc_sansio::frame::PREFACE);
        r.send(Frame::Settings(Settings {
            max_frame_size: Some(20_000),
            ..Settings::default()
        }));
        assert!(matches!(
            r.next_sent(),
            Frame::Settings(Settings { ack: true, .. })
        ));
    });
}

#[test]
fn s3_4_client_rejects_server_whose_first_frame_is_not_settings() {
    Raw::run_client(|r| {
        r.sent.clear();
        r.send(ping([1; 8]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s3_4_missing_preface_times_out() {
    Raw::run(|r| {
        r.advance(Duration::from_secs(11));
        r.collect();
        assert!(r.conn.is_closed());
        assert!(r.sent.iter().any(|f| matches!(f, Frame::GoAway(_))));
    });
}

// -------------------------------------------------------------- §4.1-4.3

#[test]
fn s4_1_unknown_frame_types_and_flags_are_ignored() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(0xfa, 0xff, 0, b"extension"));
        r.send_bytes(&raw_frame(0x20, 0, 7, b""));
        // unknown flags on PING, reserved bit on WINDOW_UPDATE's stream id
        r.send_bytes(&raw_frame(kind::PING, 0xfe, 0, &[9; 8]));
        assert!(matches!(r.next_sent(), Frame::Ping(p) if p.ack && p.payload == [9; 8]));
        r.expect_silence();
    });
}

#[test]
fn s4_1_reserved_bit_is_ignored() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        let mut b = raw_frame(kind::DATA, flags::END_STREAM, 1, b"x");
        b[5] |= 0x80; // reserved bit of the stream identifier
        r.send_bytes(&b);
        let _ = r.next_event(); // headers
        assert!(matches!(
            r.next_event(),
            Event::Data {
                end_stream: true,
                ..
            }
        ));
        r.expect_alive();
    });
}

#[test]
fn s4_2_frame_over_max_frame_size_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::DATA, 0, 1, &[0; 16_385]));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s4_2_larger_frames_accepted_once_settings_acked() {
    let config = Config {
        max_frame_size: 32_768,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::DATA, 0, 1, &[0; 30_000]));
        r.expect_alive();
    });
}

#[test]
fn s4_2_headers_fit_peer_max_frame_size() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        let _ = r.next_event();
        let big: Vec<_> = (0..40)
            .map(|i| f(&format!("x-header-{i}"), &"v".repeat(1000)))
            .chain([f(":status", "200")])
            .collect();
        // pseudo-headers first
        let mut fields = vec![f(":status", "200")];
        fields.extend(big.into_iter().filter(|f| f.name.as_ref() != b":status"));
        r.conn.send_headers(StreamId(1), &fields, true).unwrap();
        let mut frames = 0;
        r.collect();
        for fr in r.sent.drain(..) {
            match fr {
                Frame::Headers(h) => {
                    assert!(h.fragment.len() <= 16_384);
                    assert!(!h.end_headers);
                    frames += 1;
                }
                Frame::Continuation(c) => {
                    assert!(c.fragment.len() <= 16_384);
                    frames += 1;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(frames >= 3);
    });
}

#[test]
fn s4_3_invalid_header_block_is_compression_error() {
    for block in [
        &[0x1f][..],
        &[0x7f],
        &[0x3f],
        &[0x80],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ] {
        Raw::run(|r| {
            r.handshake();
            r.send_bytes(&raw_frame(kind::HEADERS, flags::END_HEADERS, 1, block));
            r.expect_goaway(ErrorCode::COMPRESSION_ERROR);
        });
    }
}

#[test]
fn s4_3_header_block_interrupted_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        let (a, b) = block.split_at(3);
        r.send_bytes(&raw_frame(kind::HEADERS, 0, 1, a));
        r.send(ping([0; 8]));
        let _ = b;
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s4_3_continuation_on_another_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        let (a, b) = block.split_at(3);
        r.send_bytes(&raw_frame(kind::HEADERS, 0, 1, a));
        r.send(continuation(3, Bytes::copy_from_slice(b), true));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s4_3_header_block_split_over_continuations() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/split"));
        let mut frames = raw_frame(kind::HEADERS, flags::END_STREAM, 1, &block[..2]);
        for chunk in block[2..block.len() - 1].chunks(2) {
            frames.extend(raw_frame(kind::CONTINUATION, 0, 1, chunk));
        }
        frames.extend(raw_frame(
            kind::CONTINUATION,
            flags::END_HEADERS,
            1,
            &block[block.len() - 1..],
        ));
        r.send_bytes(&frames);
        match r.next_event() {
            Event::Headers {
                fields,
                end_stream: true,
                kind: HeadersKind::Request,
                ..
            } => {
                assert_eq!(fields, get("/split"));
            }
            other => panic!("{other:?}"),
        }
    });
}

// ------------------------------------------------------------------ §5.1

#[test]
fn s5_1_data_on_idle_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send(data(1, b"x", false));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_rst_stream_on_idle_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send(rst(1, ErrorCode::CANCEL));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_window_update_on_idle_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send(window_update(1, 100));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_continuation_without_headers_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        r.send(continuation(1, block, true));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_priority_on_idle_stream_is_allowed() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::PRIORITY, 0, 9, &[0, 0, 0, 0, 16]));
        r.expect_silence();
        // the idle stream stays idle: a lower id may still open
        r.request(1, true);
        assert!(matches!(r.next_event(), Event::Headers { .. }));
    });
}

#[test]
fn s5_1_half_closed_remote_data_is_stream_closed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        r.send(data(1, b"late", false));
        r.expect_rst(1, ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_half_closed_remote_headers_is_stream_closed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        let h = r.headers(1, &[f("x-trailer", "1")], true);
        r.send(h);
        r.expect_rst(1, ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_half_closed_remote_allows_window_update_priority_rst() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        r.send(window_update(1, 10));
        r.send_bytes(&raw_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 0, 16]));
        r.expect_silence();
        r.send(rst(1, ErrorCode::CANCEL));
        r.expect_silence();
        let _ = r.next_event();
        assert!(matches!(
            r.next_event(),
            Event::Reset {
                code: ErrorCode::CANCEL,
                by: ResetBy::Remote,
                ..
            }
        ));
    });
}

#[test]
fn s5_1_closed_stream_data_is_stream_closed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        r.conn
            .send_headers(StreamId(1), &response("200"), true)
            .unwrap();
        r.collect();
        r.sent.clear();
        r.send(data(1, b"x", true));
        r.expect_rst(1, ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_closed_stream_headers_is_stream_closed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, true);
        r.conn
            .send_headers(StreamId(1), &response("200"), true)
            .unwrap();
        r.collect();
        r.sent.clear();
        r.request(1, true);
        r.expect_goaway(ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_frames_after_rst_stream_received_are_stream_closed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(rst(1, ErrorCode::CANCEL));
        r.send(data(1, b"x", false));
        r.expect_rst(1, ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_frames_after_we_reset_are_ignored() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.conn.reset_stream(StreamId(1), ErrorCode::CANCEL).unwrap();
        r.collect();
        assert!(matches!(r.next_sent(), Frame::RstStream(_)));
        r.send(data(1, b"in flight", false));
        r.send(window_update(1, 5));
        r.send(data(1, b"", true));
        r.expect_silence();
    });
}

#[test]
fn s5_1_1_even_stream_from_client_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(2, true);
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_1_decreasing_stream_id_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(5, true);
        r.request(3, true);
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s5_1_1_lower_idle_streams_close_implicitly() {
    Raw::run(|r| {
        r.handshake();
        r.request(7, false);
        r.send(data(3, b"x", false));
        r.expect_rst(3, ErrorCode::STREAM_CLOSED);
    });
}

#[test]
fn s5_1_2_max_concurrent_streams_refuses_extra_streams() {
    let config = Config {
        max_concurrent_streams: 2,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        r.request(1, false);
        r.request(3, false);
        r.request(5, false);
        r.expect_rst(5, ErrorCode::REFUSED_STREAM);
        // once one ends, a new one is accepted
        r.send(rst(1, ErrorCode::CANCEL));
        r.request(7, false);
        r.expect_alive();
        assert_eq!(r.conn.active_streams(), 2);
    });
}

#[test]
fn s5_1_2_client_respects_peer_max_concurrent_streams() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings {
            max_concurrent_streams: Some(1),
            ..Settings::default()
        }));
        assert!(r.conn.open_stream(&get("/"), false).is_ok());
        assert_eq!(
            r.conn.open_stream(&get("/"), false),
            Err(grpc_sansio::h2::SendError::StreamLimit)
        );
    });
}

// -------------------------------------------------------------- §5.3, §5.4

#[test]
fn s5_3_1_headers_depending_on_itself_is_stream_error() {
    Raw::run(|r| {
        r.handshake();
        let fragment = r.block(&get("/"));
        r.send(Frame::Headers(Headers {
            stream_id: StreamId(1),
            fragment,
            end_stream: true,
            end_headers: true,
            priority: Some(PrioritySpec {
                dependency: StreamId(1),
                exclusive: false,
                weight: 1,
            }),
        }));
        r.expect_rst(1, PROTOCOL);
        // the HPACK context survived: the next request decodes
        r.request(3, true);
        assert!(matches!(r.next_event(), Event::Headers { .. }));
    });
}

#[test]
fn s5_3_1_priority_depending_on_itself_is_an_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 1, 16]));
        r.expect_rst(1, PROTOCOL);
    });
}

#[test]
fn s5_4_stream_error_leaves_other_streams_intact() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.request(3, false);
        r.send_bytes(&raw_frame(kind::WINDOW_UPDATE, 0, 1, &[0; 4])); // stream error on 1
        r.send(data(3, b"still here", true));
        r.expect_rst(1, PROTOCOL);
        let evs: Vec<_> = r.events.drain(..).collect();
        assert!(evs.iter().any(|e| matches!(
            e,
            Event::Data {
                stream_id: StreamId(3),
                end_stream: true,
                ..
            }
        )));
    });
}

#[test]
fn s5_5_unknown_frame_inside_header_block_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        r.send_bytes(&raw_frame(kind::HEADERS, 0, 1, &block[..2]));
        r.send_bytes(&raw_frame(0xfa, 0, 0, b""));
        r.expect_goaway(PROTOCOL);
    });
}

// -------------------------------------------------------- §6.1 DATA

#[test]
fn s6_1_data_on_stream_zero_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::DATA, 0, 0, b"x"));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_1_padding_too_long_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::DATA, flags::PADDED, 1, &[5, b'a', b'b']));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_1_padding_is_stripped_and_counted_in_flow_control() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(
            kind::DATA,
            flags::PADDED | flags::END_STREAM,
            1,
            &[3, b'h', b'i', 0, 0, 0],
        ));
        let _ = r.next_event();
        match r.next_event() {
            Event::Data { data, .. } => assert_eq!(&data[..], b"hi"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn s6_1_data_before_headers_on_client_is_protocol_error() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let id = r.conn.open_stream(&post("/x"), true).unwrap();
        r.collect();
        r.sent.clear();
        r.send(data(id.0, b"early", false));
        r.expect_rst(id.0, PROTOCOL);
    });
}

// -------------------------------------------------------- §6.2 HEADERS

#[test]
fn s6_2_headers_on_stream_zero_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        r.send_bytes(&raw_frame(kind::HEADERS, flags::END_HEADERS, 0, &block));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_2_headers_padding_too_long_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        let block = r.block(&get("/"));
        let mut payload = vec![(block.len() + 1) as u8];
        payload.extend_from_slice(&block);
        r.send_bytes(&raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::PADDED,
            1,
            &payload,
        ));
        r.expect_goaway(PROTOCOL);
    });
}

// -------------------------------------------------------- §6.3 PRIORITY

#[test]
fn s6_3_priority_on_stream_zero_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::PRIORITY, 0, 0, &[0, 0, 0, 1, 16]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_3_priority_wrong_length_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::PRIORITY, 0, 1, &[0, 0, 0, 3]));
        r.expect_rst(1, ErrorCode::FRAME_SIZE_ERROR);
    });
}

// -------------------------------------------------------- §6.4 RST_STREAM

#[test]
fn s6_4_rst_stream_on_stream_zero_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_4_rst_stream_wrong_length_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8, 0]));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s6_4_rst_stream_ends_the_stream_with_an_event() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(rst(1, ErrorCode::CANCEL));
        let _ = r.next_event();
        assert_eq!(
            r.next_event(),
            Event::Reset {
                stream_id: StreamId(1),
                code: ErrorCode::CANCEL,
                by: ResetBy::Remote
            }
        );
        assert_eq!(r.conn.active_streams(), 0);
    });
}

// -------------------------------------------------------- §6.5 SETTINGS

#[test]
fn s6_5_settings_ack_with_payload_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(
            kind::SETTINGS,
            flags::ACK,
            0,
            &[0, 1, 0, 0, 0, 0],
        ));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s6_5_settings_on_a_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 1, &[]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_5_settings_length_not_multiple_of_6_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &[0, 3, 0, 0, 0]));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s6_5_2_enable_push_other_than_0_1_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 2]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_5_2_initial_window_too_large_is_flow_control_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &[0, 4, 0x80, 0, 0, 0]));
        r.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_5_2_max_frame_size_out_of_range_is_protocol_error() {
    for v in [16_383u32, 1 << 24] {
        Raw::run(|r| {
            r.handshake();
            let mut p = vec![0, 5];
            p.extend_from_slice(&v.to_be_bytes());
            r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &p));
            r.expect_goaway(PROTOCOL);
        });
    }
}

#[test]
fn s6_5_2_client_rejects_enable_push_from_server() {
    Raw::run_client(|r| {
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &[0, 2, 0, 0, 0, 1]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_5_2_unknown_settings_are_ignored() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::SETTINGS, 0, 0, &[0xff, 0x0f, 1, 2, 3, 4]));
        assert!(matches!(
            r.next_sent(),
            Frame::Settings(Settings { ack: true, .. })
        ));
        r.expect_alive();
    });
}

#[test]
fn s6_5_3_settings_not_acked_in_time_is_settings_timeout() {
    Raw::run(|r| {
        r.send_bytes(grpc_sansio::frame::PREFACE);
        r.send(Frame::Settings(Settings::default()));
        r.advance(Duration::from_secs(11));
        let g = r.sent.iter().find_map(|f| match f {
            Frame::GoAway(g) => Some(g.code),
            _ => None,
        });
        assert_eq!(g, Some(ErrorCode::SETTINGS_TIMEOUT));
        assert!(r.conn.is_closed());
    });
}

#[test]
fn s6_5_3_header_table_size_applies_to_our_encoder() {
    Raw::run(|r| {
        r.handshake();
        r.send(Frame::Settings(Settings {
            header_table_size: Some(0),
            ..Settings::default()
        }));
        r.request(1, true);
        let _ = r.next_event();
        r.sent.clear();
        r.conn
            .send_headers(
                StreamId(1),
                &[f(":status", "200"), f("x-custom", "value")],
                true,
            )
            .unwrap();
        let block = match r.next_sent() {
            Frame::Headers(h) => h.fragment,
            other => panic!("{other:?}"),
        };
        // a decoder whose table is 0 bytes accepts it; the block starts with
        // a dynamic table size update to 0 (RFC 7541 §6.3)
        assert_eq!(block[0] & 0xe0, 0x20, "block must start with a size update");
        let mut dec = grpc_sansio::hpack::Decoder::new(0, 1 << 20);
        let fields = dec.decode(&block).unwrap();
        assert_eq!(fields[1], f("x-custom", "value"));
    });
}

// -------------------------------------------------------- §6.6 PUSH_PROMISE

#[test]
fn s6_6_push_promise_to_server_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        let block = r.block(&get("/pushed"));
        let mut p = vec![0, 0, 0, 2];
        p.extend_from_slice(&block);
        r.send_bytes(&raw_frame(kind::PUSH_PROMISE, flags::END_HEADERS, 1, &p));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_6_push_promise_to_client_with_push_disabled_is_protocol_error() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let id = r.conn.open_stream(&get("/"), true).unwrap();
        let block = r.block(&get("/pushed"));
        let mut p = vec![0, 0, 0, 2];
        p.extend_from_slice(&block);
        r.send_bytes(&raw_frame(kind::PUSH_PROMISE, flags::END_HEADERS, id.0, &p));
        r.expect_goaway(PROTOCOL);
    });
}

// -------------------------------------------------------- §6.7 PING

#[test]
fn s6_7_ping_is_acked_with_the_same_payload() {
    Raw::run(|r| {
        r.handshake();
        r.send(ping(*b"abcdefgh"));
        assert_eq!(
            r.next_sent(),
            Frame::Ping(grpc_sansio::frame::Ping {
                ack: true,
                payload: *b"abcdefgh"
            })
        );
    });
}

#[test]
fn s6_7_ping_ack_is_not_answered() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::PING, flags::ACK, 0, &[0; 8]));
        r.expect_silence();
    });
}

#[test]
fn s6_7_ping_on_a_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::PING, 0, 1, &[0; 8]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_7_ping_wrong_length_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::PING, 0, 0, &[0; 6]));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s6_7_our_ping_is_reported_when_acked() {
    Raw::run(|r| {
        r.handshake();
        r.conn.send_ping(*b"12345678").unwrap();
        assert!(matches!(r.next_sent(), Frame::Ping(p) if !p.ack));
        r.send_bytes(&raw_frame(kind::PING, flags::ACK, 0, b"12345678"));
        assert_eq!(
            r.next_event(),
            Event::PingAck {
                payload: *b"12345678"
            }
        );
    });
}

// -------------------------------------------------------- §6.8 GOAWAY

#[test]
fn s6_8_goaway_on_a_stream_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::GOAWAY, 0, 1, &[0, 0, 0, 0, 0, 0, 0, 0]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_8_client_streams_above_last_stream_id_are_refused() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let a = r.conn.open_stream(&get("/a"), true).unwrap();
        let b = r.conn.open_stream(&get("/b"), true).unwrap();
        r.collect();
        r.events.clear();
        r.send(goaway(a.0, ErrorCode::NO_ERROR));
        assert!(
            matches!(r.next_event(), Event::GoAway { last_stream_id, .. } if last_stream_id == a)
        );
        assert_eq!(
            r.next_event(),
            Event::Reset {
                stream_id: b,
                code: ErrorCode::REFUSED_STREAM,
                by: ResetBy::Remote
            }
        );
        assert_eq!(
            r.conn.open_stream(&get("/c"), true),
            Err(grpc_sansio::h2::SendError::GoingAway)
        );
        // stream a still completes, then the connection closes cleanly
        let h = r.headers(a.0, &response("200"), true);
        r.send(h);
        assert!(matches!(r.next_event(), Event::Headers { .. }));
        assert_eq!(r.next_event(), Event::Closed { error: None });
    });
}

#[test]
fn s6_8_goaway_last_stream_id_must_not_increase() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let _ = r.conn.open_stream(&get("/a"), true).unwrap();
        r.send(goaway(1, ErrorCode::NO_ERROR));
        r.send(goaway(3, ErrorCode::NO_ERROR));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_8_goaway_with_error_closes() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        r.send(goaway(0, ErrorCode::ENHANCE_YOUR_CALM));
        let evs: Vec<_> = r.events.drain(..).collect();
        assert!(evs.iter().any(|e| matches!(e, Event::Closed { error: Some(err) } if err.code() == ErrorCode::ENHANCE_YOUR_CALM)));
        assert!(r.conn.is_closed());
    });
}

#[test]
fn s6_8_graceful_shutdown_is_two_step() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        let now = r.now;
        r.conn.shutdown(now);
        match r.next_sent() {
            Frame::GoAway(g) => {
                assert_eq!(g.last_stream_id, StreamId::MAX);
                assert_eq!(g.code, ErrorCode::NO_ERROR);
            }
            other => panic!("{other:?}"),
        }
        let payload = match r.next_sent() {
            Frame::Ping(p) => p.payload,
            other => panic!("{other:?}"),
        };
        // a stream opened while the first GOAWAY is in flight is accepted
        r.request(3, true);
        r.send_bytes(&raw_frame(kind::PING, flags::ACK, 0, &payload));
        match r.next_sent() {
            Frame::GoAway(g) => assert_eq!(g.last_stream_id, StreamId(3)),
            other => panic!("{other:?}"),
        }
        // later streams are refused
        r.request(5, true);
        r.expect_rst(5, ErrorCode::REFUSED_STREAM);
        // finishing the admitted streams closes the connection cleanly
        r.conn
            .send_headers(StreamId(3), &response("200"), true)
            .unwrap();
        r.send(data(1, b"", true));
        r.conn
            .send_headers(StreamId(1), &response("200"), true)
            .unwrap();
        r.collect();
        assert!(r.events.iter().any(|e| *e == Event::Closed { error: None }));
        assert!(r.conn.is_closed());
    });
}

#[test]
fn s6_8_graceful_shutdown_without_ping_ack_times_out_to_final_goaway() {
    Raw::run(|r| {
        r.handshake();
        let now = r.now;
        r.conn.shutdown(now);
        r.collect();
        r.sent.clear();
        r.advance(Duration::from_secs(6));
        match r.next_sent() {
            Frame::GoAway(g) => assert_eq!(g.last_stream_id, StreamId(0)),
            other => panic!("{other:?}"),
        }
        assert!(r.conn.is_closed());
    });
}

// -------------------------------------------------------- §6.9 flow control

#[test]
fn s6_9_zero_increment_on_stream_is_stream_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send_bytes(&raw_frame(kind::WINDOW_UPDATE, 0, 1, &[0; 4]));
        r.expect_rst(1, PROTOCOL);
    });
}

#[test]
fn s6_9_zero_increment_on_connection_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 0]));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_9_window_update_wrong_length_is_frame_size_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 1]));
        r.expect_goaway(ErrorCode::FRAME_SIZE_ERROR);
    });
}

#[test]
fn s6_9_1_connection_window_overflow_is_flow_control_error() {
    Raw::run(|r| {
        r.handshake();
        r.send(window_update(0, 0x7fff_ffff));
        r.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_9_1_stream_window_overflow_is_stream_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(window_update(1, 0x7fff_ffff));
        r.expect_rst(1, ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_9_1_data_beyond_the_stream_window_is_flow_control_error() {
    let config = Config {
        initial_window_size: 100,
        stream_window: 100,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        r.request(1, false);
        r.send(data(1, &[0; 101], false));
        r.expect_rst(1, ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_9_1_data_beyond_the_connection_window_is_flow_control_error() {
    let config = Config {
        connection_window: 65_535,
        release_mode: grpc_sansio::h2::ReleaseMode::Manual,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for id in [1, 3, 5] {
            r.request(id, false);
        }
        for id in [1, 3] {
            r.send(data(id, &[0; 16_384], false));
            r.send(data(id, &[0; 16_384], false));
        }
        r.send(data(5, &[0; 16], false));
        r.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_9_we_respect_the_peer_stream_window() {
    Raw::run(|r| {
        r.send_bytes(grpc_sansio::frame::PREFACE);
        r.send(Frame::Settings(Settings {
            initial_window_size: Some(3),
            ..Settings::default()
        }));
        r.send(Frame::Settings(Settings {
            ack: true,
            ..Settings::default()
        }));
        r.request(1, true);
        r.collect();
        r.sent.clear();
        r.conn
            .send_headers(StreamId(1), &response("200"), false)
            .unwrap();
        r.conn
            .send_data(StreamId(1), Bytes::from_static(b"hello"), true)
            .unwrap();
        assert!(matches!(r.next_sent(), Frame::Headers(_)));
        match r.next_sent() {
            Frame::Data(d) => {
                assert_eq!(&d.payload[..], b"hel");
                assert!(!d.end_stream);
            }
            other => panic!("{other:?}"),
        }
        r.expect_silence();
        r.send(window_update(1, 10));
        match r.next_sent() {
            Frame::Data(d) => {
                assert_eq!(&d.payload[..], b"lo");
                assert!(d.end_stream);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn s6_9_2_initial_window_change_applies_to_open_streams() {
    Raw::run(|r| {
        r.send_bytes(grpc_sansio::frame::PREFACE);
        r.send(Frame::Settings(Settings {
            initial_window_size: Some(0),
            ..Settings::default()
        }));
        r.request(1, true);
        r.conn
            .send_headers(StreamId(1), &response("200"), false)
            .unwrap();
        r.conn
            .send_data(StreamId(1), Bytes::from_static(b"abcdef"), true)
            .unwrap();
        r.collect();
        r.sent.clear();
        assert_eq!(r.conn.send_window(StreamId(1)), Some(0));
        r.send(Frame::Settings(Settings {
            initial_window_size: Some(4),
            ..Settings::default()
        }));
        assert!(matches!(
            r.next_sent(),
            Frame::Settings(Settings { ack: true, .. })
        ));
        match r.next_sent() {
            Frame::Data(d) => assert_eq!(&d.payload[..], b"abcd"),
            other => panic!("{other:?}"),
        }
        // shrinking makes the window negative (§6.9.2): 4 - 4 sent - 2 = -2
        r.send(Frame::Settings(Settings {
            initial_window_size: Some(2),
            ..Settings::default()
        }));
        r.send(window_update(1, 3));
        match r.next_sent() {
            Frame::Settings(_) => {}
            other => panic!("{other:?}"),
        }
        match r.next_sent() {
            Frame::Data(d) => assert_eq!(&d.payload[..], b"e"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn s6_9_2_initial_window_change_overflow_is_flow_control_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(window_update(1, 0x7fff_ffff - 65_535));
        r.send(Frame::Settings(Settings {
            initial_window_size: Some(65_536),
            ..Settings::default()
        }));
        r.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
    });
}

#[test]
fn s6_9_receive_window_is_replenished_as_data_is_consumed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        for _ in 0..4 {
            r.send(data(1, &[7; 16_000], false));
        }
        r.collect();
        let credited: u32 = r
            .sent
            .iter()
            .filter_map(|f| match f {
                Frame::WindowUpdate(w) if w.stream_id == StreamId(1) => Some(w.increment),
                _ => None,
            })
            .sum();
        assert!(
            credited > 0,
            "stream window must be replenished: {:?}",
            r.sent
        );
    });
}

// -------------------------------------------------------- §6.10 CONTINUATION

#[test]
fn s6_10_continuation_after_end_headers_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(continuation(1, Bytes::from_static(&[0x82]), true));
        r.expect_goaway(PROTOCOL);
    });
}

#[test]
fn s6_10_continuation_on_stream_zero_is_protocol_error() {
    Raw::run(|r| {
        r.handshake();
        r.send_bytes(&raw_frame(
            kind::CONTINUATION,
            flags::END_HEADERS,
            0,
            &[0x82],
        ));
        r.expect_goaway(PROTOCOL);
    });
}

// -------------------------------------------------------- §8.1-8.3

fn malformed(fields: Vec<grpc_sansio::hpack::Field>) {
    Raw::run(|r| {
        r.handshake();
        let h = r.headers(1, &fields, true);
        r.send(h);
        r.expect_rst(1, PROTOCOL);
        assert!(
            !r.events.iter().any(|e| matches!(e, Event::Headers { .. })),
            "malformed request delivered"
        );
    });
}

#[test]
fn s8_2_uppercase_field_name_is_malformed() {
    let mut h = get("/");
    h.push(f("X-Upper", "1"));
    malformed(h);
}

#[test]
fn s8_2_1_field_value_with_newline_is_malformed() {
    let mut h = get("/");
    h.push(f("x-a", "a\nb"));
    malformed(h);
}

#[test]
fn s8_2_2_connection_specific_fields_are_malformed() {
    for (n, v) in [
        ("connection", "close"),
        ("keep-alive", "1"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "h2c"),
        ("proxy-connection", "x"),
    ] {
        let mut h = get("/");
        h.push(f(n, v));
        malformed(h);
    }
}

#[test]
fn s8_2_2_te_other_than_trailers_is_malformed() {
    let mut h = get("/");
    h.push(f("te", "gzip"));
    malformed(h);
    let mut ok = get("/");
    ok.push(f("te", "trailers"));
    Raw::run(|r| {
        r.handshake();
        let hh = r.headers(1, &ok, true);
        r.send(hh);
        assert!(matches!(r.next_event(), Event::Headers { .. }));
    });
}

#[test]
fn s8_3_pseudo_header_after_regular_field_is_malformed() {
    malformed(vec![
        f(":method", "GET"),
        f(":scheme", "http"),
        f("x-a", "1"),
        f(":path", "/"),
    ]);
}

#[test]
fn s8_3_unknown_pseudo_header_is_malformed() {
    let mut h = get("/");
    h.insert(0, f(":foo", "bar"));
    malformed(h);
}

#[test]
fn s8_3_response_pseudo_header_in_request_is_malformed() {
    let mut h = get("/");
    h.insert(0, f(":status", "200"));
    malformed(h);
}

#[test]
fn s8_3_1_missing_or_duplicate_request_pseudo_headers_are_malformed() {
    malformed(vec![f(":scheme", "http"), f(":path", "/")]);
    malformed(vec![f(":method", "GET"), f(":path", "/")]);
    malformed(vec![f(":method", "GET"), f(":scheme", "http")]);
    malformed(vec![
        f(":method", "GET"),
        f(":scheme", "http"),
        f(":path", ""),
    ]);
    malformed(vec![
        f(":method", "GET"),
        f(":method", "GET"),
        f(":scheme", "http"),
        f(":path", "/"),
    ]);
    malformed(vec![
        f(":method", "GET"),
        f(":scheme", "http"),
        f(":path", "/"),
        f(":path", "/"),
    ]);
}

/// §8.3.1: a request whose `host` and `:authority` differ SHOULD be
/// treated as malformed; we do. Equal values (hosts compare without
/// regard to ASCII case) pass, and `host` alone may carry the authority.
#[test]
fn s8_3_1_host_and_authority_that_differ_are_malformed() {
    let mut h = get("/");
    h.push(f("host", "other.example"));
    malformed(h);
    // Two host fields that disagree say two things as well.
    let mut h = get("/");
    h.retain(|x| x.name.as_ref() != b":authority");
    h.push(f("host", "a.example"));
    h.push(f("host", "b.example"));
    malformed(h);
    let mut same = get("/");
    same.push(f("host", "EXAMPLE.com"));
    let mut alone = get("/");
    alone.retain(|x| x.name.as_ref() != b":authority");
    alone.push(f("host", "example.com"));
    for ok in [same, alone] {
        Raw::run(|r| {
            r.handshake();
            let hh = r.headers(1, &ok, true);
            r.send(hh);
            assert!(matches!(r.next_event(), Event::Headers { .. }));
        });
    }
}

#[test]
fn s8_1_trailers_without_end_stream_are_malformed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        let h = r.headers(1, &[f("x-t", "1")], false);
        r.send(h);
        r.expect_rst(1, PROTOCOL);
    });
}

#[test]
fn s8_1_trailers_with_pseudo_headers_are_malformed() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        let h = r.headers(1, &[f(":path", "/")], true);
        r.send(h);
        r.expect_rst(1, PROTOCOL);
    });
}

#[test]
fn s8_1_trailers_are_delivered() {
    Raw::run(|r| {
        r.handshake();
        r.request(1, false);
        r.send(data(1, b"body", false));
        let h = r.headers(1, &[f("x-checksum", "abc")], true);
        r.send(h);
        let _ = r.next_event();
        let _ = r.next_event();
        match r.next_event() {
            Event::Headers {
                kind: HeadersKind::Trailers,
                end_stream: true,
                fields,
                ..
            } => {
                assert_eq!(fields, vec![f("x-checksum", "abc")]);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn s8_1_1_content_length_mismatch_is_malformed() {
    Raw::run(|r| {
        r.handshake();
        let mut h = post("/x");
        h.push(f("content-length", "3"));
        let hh = r.headers(1, &h, false);
        r.send(hh);
        r.send(data(1, b"four", true));
        r.expect_rst(1, PROTOCOL);
    });
    Raw::run(|r| {
        r.handshake();
        let mut h = post("/x");
        h.push(f("content-length", "5"));
        let hh = r.headers(1, &h, false);
        r.send(hh);
        r.send(data(1, b"four", true));
        r.expect_rst(1, PROTOCOL);
    });
}

#[test]
fn s8_1_client_sees_informational_then_final_then_trailers() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let id = r.conn.open_stream(&post("/svc/M"), true).unwrap();
        r.events.clear();
        let h = r.headers(id.0, &[f(":status", "100")], false);
        r.send(h);
        let h = r.headers(id.0, &response("200"), false);
        r.send(h);
        r.send(data(id.0, b"msg", false));
        let h = r.headers(id.0, &[f("grpc-status", "0")], true);
        r.send(h);
        assert!(matches!(
            r.next_event(),
            Event::Headers {
                kind: HeadersKind::Informational { status: 100 },
                ..
            }
        ));
        assert!(matches!(
            r.next_event(),
            Event::Headers {
                kind: HeadersKind::Response { status: 200 },
                ..
            }
        ));
        assert!(matches!(r.next_event(), Event::Data { .. }));
        assert!(matches!(
            r.next_event(),
            Event::Headers {
                kind: HeadersKind::Trailers,
                end_stream: true,
                ..
            }
        ));
        assert_eq!(r.conn.active_streams(), 0);
    });
}

#[test]
fn s8_1_response_missing_status_is_malformed() {
    Raw::run_client(|r| {
        r.send(Frame::Settings(Settings::default()));
        let id = r.conn.open_stream(&post("/svc/M"), true).unwrap();
        r.collect();
        r.sent.clear();
        let h = r.headers(id.0, &[f("content-type", "application/grpc")], false);
        r.send(h);
        r.expect_rst(id.0, PROTOCOL);
    });
}

// -------------------------------------------------- RFC 7541 Appendix C

/// C.3: three requests whose blocks share one dynamic table, sent as the
/// RFC's exact bytes over three streams.
#[test]
fn rfc7541_c3_requests_share_the_decoding_context() {
    let blocks: [&[u8]; 3] = [
        &[
            0x82, 0x86, 0x84, 0x41, 0x0f, 0x77, 0x77, 0x77, 0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70,
            0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d,
        ],
        &[
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x08, 0x6e, 0x6f, 0x2d, 0x63, 0x61, 0x63, 0x68, 0x65,
        ],
        &[
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x0a, 0x63, 0x75, 0x73, 0x74, 0x6f, 0x6d, 0x2d, 0x6b,
            0x65, 0x79, 0x0c, 0x63, 0x75, 0x73, 0x74, 0x6f, 0x6d, 0x2d, 0x76, 0x61, 0x6c, 0x75,
            0x65,
        ],
    ];
    Raw::run(|r| {
        r.handshake();
        for (i, b) in blocks.iter().enumerate() {
            r.send_bytes(&raw_frame(
                kind::HEADERS,
                flags::END_HEADERS | flags::END_STREAM,
                1 + 2 * i as u32,
                b,
            ));
        }
        let mut got = vec![];
        while let Some(e) = r.events.pop_front() {
            if let Event::Headers { fields, .. } = e {
                got.push(fields);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            vec![
                f(":method", "GET"),
                f(":scheme", "http"),
                f(":path", "/"),
                f(":authority", "www.example.com")
            ]
        );
        assert_eq!(got[1][4], f("cache-control", "no-cache"));
        assert_eq!(
            got[2],
            vec![
                f(":method", "GET"),
                f(":scheme", "https"),
                f(":path", "/index.html"),
                f(":authority", "www.example.com"),
                f("custom-key", "custom-value")
            ]
        );
    });
}

/// C.4: the same requests with Huffman-coded literals.
#[test]
fn rfc7541_c4_huffman_requests() {
    let blocks: [&[u8]; 3] = [
        &[
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ],
        &[
            0x82, 0x86, 0x84, 0xbe, 0x58, 0x86, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf,
        ],
        &[
            0x82, 0x87, 0x85, 0xbf, 0x40, 0x88, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xa9, 0x7d, 0x7f,
            0x89, 0x25, 0xa8, 0x49, 0xe9, 0x5b, 0xb8, 0xe8, 0xb4, 0xbf,
        ],
    ];
    Raw::run(|r| {
        r.handshake();
        for (i, b) in blocks.iter().enumerate() {
            r.send_bytes(&raw_frame(
                kind::HEADERS,
                flags::END_HEADERS | flags::END_STREAM,
                1 + 2 * i as u32,
                b,
            ));
        }
        let got: Vec<_> = r
            .events
            .drain(..)
            .filter_map(|e| match e {
                Event::Headers { fields, .. } => Some(fields),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0][3], f(":authority", "www.example.com"));
        assert_eq!(got[1][4], f("cache-control", "no-cache"));
        assert_eq!(got[2][4], f("custom-key", "custom-value"));
    });
}

/// Fuzz finding (client_connection): a GOAWAY that refused streams closed
/// the connection before its own GoAway event, so an event followed Closed.
/// Now: GoAway, the refused streams' resets, then Closed.
#[test]
fn regression_goaway_event_comes_before_closed() {
    let input: &[u8] = &[
        0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, // SETTINGS
        0x00, 0x00, 0x08, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, // GOAWAY(0, NO_ERROR)
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    Raw::run_client(|r| {
        let _ = r.conn.open_stream(&get("/a"), true).unwrap();
        r.send_bytes(input);
        let evs: Vec<_> = r
            .events
            .drain(..)
            .filter(|e| !matches!(e, Event::PeerSettings(_)))
            .collect();
        assert!(matches!(evs[0], Event::GoAway { .. }), "{evs:?}");
        assert!(
            matches!(
                evs[1],
                Event::Reset {
                    code: ErrorCode::REFUSED_STREAM,
                    ..
                }
            ),
            "{evs:?}"
        );
        assert_eq!(evs[2], Event::Closed { error: None });
        assert_eq!(evs.len(), 3);
    });
}
