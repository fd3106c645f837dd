//! Every configured limit, exceeded: the documented answer, never growth.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{Frame, Settings, StreamId, flags, kind};
use grpc_sansio::h2::{Config, Event, Rate, SendError};

const CALM: ErrorCode = ErrorCode::ENHANCE_YOUR_CALM;

#[test]
fn header_list_size_over_limit_answers_431_and_keeps_hpack_in_sync() {
    let config = Config {
        max_header_list_size: 200,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        let mut h = get("/");
        h.push(f("x-big", &"v".repeat(300)));
        let hh = r.headers(1, &h, true);
        r.send(hh);
        match r.next_sent() {
            Frame::Headers(hd) => {
                let mut dec = grpc_sansio::hpack::Decoder::new(4096, 1 << 16);
                let fields = dec.decode(&hd.fragment).unwrap();
                assert_eq!(fields[0], f(":status", "431"));
                assert!(hd.end_stream);
            }
            other => panic!("{other:?}"),
        }
        assert!(
            r.events.is_empty(),
            "an oversized request must not reach the application"
        );
        // the decoder stayed in sync: the next request decodes
        r.request(3, true);
        assert!(matches!(
            r.next_event(),
            Event::Headers {
                stream_id: StreamId(3),
                ..
            }
        ));
        r.expect_alive();
    });
}

#[test]
fn continuation_frames_per_block_limit() {
    let config = Config {
        max_continuation_frames: 4,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        let block = r.block(&get("/"));
        let mut b = raw_frame(kind::HEADERS, flags::END_STREAM, 1, &block[..1]);
        for _ in 0..4 {
            b.extend(raw_frame(kind::CONTINUATION, 0, 1, &[]));
        }
        r.send_bytes(&b);
        r.expect_goaway(CALM);
    });
}

#[test]
fn continuation_flood_without_end_headers_stays_bounded() {
    Raw::run(|r| {
        r.handshake();
        let mut b = raw_frame(kind::HEADERS, 0, 1, &[0x40, 0x7f]);
        for _ in 0..10_000 {
            b.extend(raw_frame(kind::CONTINUATION, 0, 1, &[0x61; 16]));
            if b.len() > 200_000 {
                break;
            }
        }
        if r.feed == Feed::OneByte {
            b.truncate(20_000);
        }
        r.send_bytes(&b);
        assert!(
            r.conn.held_bytes() < 100_000,
            "held {}",
            r.conn.held_bytes()
        );
        if r.feed == Feed::Whole {
            r.expect_goaway(CALM);
        }
    });
}

#[test]
fn header_block_size_limit() {
    let config = Config {
        max_header_block_size: 1000,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        let mut b = raw_frame(kind::HEADERS, 0, 1, &[0; 600]);
        b.extend(raw_frame(kind::CONTINUATION, 0, 1, &[0; 600]));
        r.send_bytes(&b);
        r.expect_goaway(CALM);
    });
}

#[test]
fn error_answer_rate_limit_madeyoureset() {
    let config = Config {
        error_answer_rate: Rate::new(10, Duration::from_secs(10)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for i in 0..11 {
            let id = 1 + 2 * i;
            r.request(id, false);
            r.send_bytes(&raw_frame(kind::WINDOW_UPDATE, 0, id, &[0; 4])); // provokes our RST_STREAM
        }
        r.expect_goaway(CALM);
    });
}

#[test]
fn remote_reset_rate_limit_rapid_reset() {
    let config = Config {
        remote_reset_rate: Rate::new(20, Duration::from_secs(10)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for i in 0..21 {
            let id = 1 + 2 * i;
            r.request(id, false);
            r.send(rst(id, ErrorCode::CANCEL));
        }
        r.expect_goaway(CALM);
        assert!(r.conn.held_bytes() < 64 << 10);
    });
}

#[test]
fn remote_resets_are_fine_below_the_rate() {
    let config = Config {
        remote_reset_rate: Rate::new(5, Duration::from_secs(1)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for i in 0..20u32 {
            let id = 1 + 2 * i;
            r.request(id, false);
            r.send(rst(id, ErrorCode::CANCEL));
            r.advance(Duration::from_millis(300));
        }
        r.expect_alive();
    });
}

#[test]
fn settings_rate_limit() {
    let config = Config {
        settings_rate: Rate::new(5, Duration::from_secs(10)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for _ in 0..5 {
            r.send(Frame::Settings(Settings::default()));
        }
        r.expect_goaway(CALM);
    });
}

#[test]
fn ping_rate_limit() {
    let config = Config {
        ping_rate: Rate::new(10, Duration::from_secs(10)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for _ in 0..11 {
            r.send(ping([1; 8]));
            r.collect();
        }
        r.expect_goaway(CALM);
    });
}

#[test]
fn pending_ping_acks_limit_when_peer_does_not_read() {
    let config = Config {
        max_pending_ping_acks: 4,
        ..Config::default()
    };
    for feed in [Feed::Whole, Feed::OneByte] {
        let mut r = Raw::server_with(config.clone(), feed);
        r.handshake();
        // the peer sends pings but never reads: feed without collecting
        let mut b = bytes::BytesMut::new();
        for _ in 0..5 {
            ping([2; 8]).encode(&mut b);
        }
        let mut res = Ok(());
        for chunk in b.chunks(if feed == Feed::Whole { b.len() } else { 1 }) {
            res = res.and(r.conn.recv(Bytes::copy_from_slice(chunk), r.now));
        }
        assert_eq!(res.unwrap_err().code(), CALM);
    }
}

#[test]
fn pending_settings_acks_limit_when_peer_does_not_read() {
    let config = Config {
        max_pending_settings_acks: 3,
        ..Config::default()
    };
    let mut r = Raw::server_with(config, Feed::Whole);
    r.handshake();
    let mut b = bytes::BytesMut::new();
    for _ in 0..4 {
        Frame::Settings(Settings::default()).encode(&mut b);
    }
    let res = r.conn.recv(b.freeze(), r.now);
    assert_eq!(res.unwrap_err().code(), CALM);
}

#[test]
fn empty_frame_flood_limit() {
    let config = Config {
        empty_frame_rate: Rate::new(100, Duration::from_secs(10)),
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        r.request(1, false);
        let mut b = Vec::new();
        for _ in 0..101 {
            b.extend(raw_frame(kind::DATA, 0, 1, &[]));
        }
        r.send_bytes(&b);
        r.expect_goaway(CALM);
    });
}

#[test]
fn pending_control_bytes_limit() {
    let config = Config {
        max_pending_control_bytes: 4096,
        ping_rate: Rate::new(1_000_000, Duration::from_secs(1)),
        max_pending_ping_acks: 1_000_000,
        ..Config::default()
    };
    let mut r = Raw::server_with(config, Feed::Whole);
    r.handshake();
    let mut b = bytes::BytesMut::new();
    for _ in 0..300 {
        ping([3; 8]).encode(&mut b);
    }
    let res = r.conn.recv(b.freeze(), r.now);
    assert_eq!(res.unwrap_err().code(), CALM);
    assert!(r.conn.held_bytes() < 16 << 10);
}

#[test]
fn concurrent_streams_limit_applies_to_held_memory() {
    let config = Config {
        max_concurrent_streams: 10,
        ..Config::default()
    };
    Raw::run_with(config, |r| {
        r.handshake();
        for i in 0..50 {
            r.request(1 + 2 * i, false);
        }
        assert_eq!(r.conn.active_streams(), 10);
        r.expect_alive();
    });
}

#[test]
fn send_buffer_limit_blocks_then_reports_writable() {
    let config = Config {
        max_send_buffer: 1000,
        ..Config::default()
    };
    let mut r = Raw::server_with(config, Feed::Whole);
    r.send_bytes(grpc_sansio::frame::PREFACE);
    r.send(Frame::Settings(Settings {
        initial_window_size: Some(0),
        ..Settings::default()
    }));
    r.request(1, true);
    let id = StreamId(1);
    r.conn.send_headers(id, &response("200"), false).unwrap();
    r.conn
        .send_data(id, Bytes::from(vec![0u8; 1500]), false)
        .unwrap();
    assert_eq!(
        r.conn.send_data(id, Bytes::from_static(b"x"), false),
        Err(SendError::Blocked)
    );
    r.collect();
    r.events.clear();
    r.send(window_update(id.0, 1000));
    r.collect();
    assert!(
        r.events
            .iter()
            .any(|e| *e == Event::Writable { stream_id: id })
    );
    r.conn
        .send_data(id, Bytes::from_static(b"x"), true)
        .unwrap();
}

#[test]
fn closed_stream_memory_is_bounded() {
    let config = Config {
        max_closed_streams_remembered: 16,
        ..Config::default()
    };
    let mut r = Raw::server_with(config, Feed::Whole);
    r.handshake();
    let before = r.conn.held_bytes();
    for i in 0..2000u32 {
        r.request(1 + 2 * i, true);
        r.conn
            .send_headers(StreamId(1 + 2 * i), &response("200"), true)
            .unwrap();
        r.collect();
        r.sent.clear();
        r.events.clear();
    }
    assert_eq!(r.conn.active_streams(), 0);
    assert!(
        r.conn.held_bytes() <= before + 8192,
        "{} vs {before}",
        r.conn.held_bytes()
    );
}

/// Timeouts too large for the clock are "no deadline", never an overflow.
#[test]
fn huge_timeouts_do_not_overflow_the_clock() {
    let config = Config {
        handshake_timeout: Duration::MAX,
        settings_timeout: Duration::MAX,
        shutdown_ping_timeout: Duration::MAX,
        ..Config::default()
    };
    let mut r = Raw::server_with(config, Feed::Whole);
    r.handshake();
    let now = r.now;
    r.conn.shutdown(now);
    r.advance(Duration::from_secs(3600));
    // only the first GOAWAY (2^31-1): still waiting for the PING's ACK
    let goaways: Vec<_> = r
        .sent
        .iter()
        .filter_map(|f| match f {
            Frame::GoAway(g) => Some(g.last_stream_id),
            _ => None,
        })
        .collect();
    assert_eq!(goaways, vec![StreamId::MAX]);
    assert!(!r.conn.is_closed());
    assert!(r.result.is_ok());
}
