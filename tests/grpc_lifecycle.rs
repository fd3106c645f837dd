//! The lifecycle of each RPC kind through the call layer (client and server
//! endpoints over the in-memory pair), each scenario with whole delivery and
//! with one byte per read: normal ends, errors, cancellation by either side,
//! deadlines, GOAWAY, message limits, metadata, bad peers, connection loss.

mod grpc_support;

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use grpc_sansio::ErrorCode;
use grpc_sansio::grpc::{CallId, Code, Metadata, MetadataError, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, h2, server};
use grpc_support::*;

/// Runs a call of `kind` up to the point where the server has seen it and
/// every request message (and the half-close, if `half_close`).
fn open(p: &mut Pair, kind: Kind, md: Metadata, half_close: bool) -> (CallId, CallId) {
    let mut req = client::Request::new(kind.path());
    req.metadata = md;
    let c = p.client.start_call(req, p.now).unwrap();
    for i in 0..kind.requests() {
        p.client.send_message(c, msg("req", i)).unwrap();
    }
    if half_close {
        p.client.half_close(c).unwrap();
    }
    assert!(p.drive());
    (c, take_server_call(p))
}

/// The server answers with headers, every response message and `status`.
fn answer(p: &mut Pair, kind: Kind, s: CallId, status: Status, trailers: &Metadata) {
    let mut hmd = Metadata::new();
    hmd.append("x-initial", "yes").unwrap();
    p.server.send_headers(s, &hmd).unwrap();
    for i in 0..kind.responses() {
        p.server.send_message(s, msg("resp", i)).unwrap();
        if kind == Kind::Bidi {
            assert!(p.drive());
        }
    }
    p.server.finish(s, status, trailers).unwrap();
    assert!(p.drive());
}

fn expected(tag: &str, n: usize) -> Vec<Bytes> {
    (0..n).map(|i| msg(tag, i)).collect()
}

#[test]
fn normal_completion_each_kind() {
    for split in SPLITS {
        for kind in KINDS {
            let mut p = pair_split(split);
            let mut md = Metadata::new();
            md.append("x-kind", &format!("{kind:?}")).unwrap();
            let (c, s) = open(&mut p, kind, md, true);
            let sev = server_events_of(&mut p, s);
            assert_eq!(
                server_messages(&sev),
                expected("req", kind.requests()),
                "{kind:?}"
            );
            assert!(
                matches!(sev.last(), Some(server::Event::HalfClose { .. })),
                "{sev:?}"
            );
            let mut tmd = Metadata::new();
            tmd.append("x-trailer", "t").unwrap();
            answer(&mut p, kind, s, Status::ok(), &tmd);
            let evs = client_events_of(&mut p, c);
            assert!(
                matches!(&evs[0], client::Event::Headers { metadata, .. } if metadata.get("x-initial") == Some("yes"))
            );
            assert_eq!(
                client_messages(&evs),
                expected("resp", kind.responses()),
                "{kind:?}"
            );
            let (status, trailers) = the_status(&evs);
            assert!(status.is_ok(), "{kind:?} {split}: {status:?}");
            assert_eq!(trailers.get("x-trailer"), Some("t"));
            assert!(server_events_of(&mut p, s).is_empty());
            assert_idle(&mut p);
        }
    }
}

#[test]
fn bidi_interleaved_and_server_finishes_first() {
    for split in SPLITS {
        let mut p = pair_split(split);
        let c = p
            .client
            .start_call(client::Request::new("/test.Svc/Bidi"), p.now)
            .unwrap();
        p.drive();
        let s = take_server_call(&mut p);
        for i in 0..5 {
            p.client.send_message(c, msg("req", i)).unwrap();
            p.drive();
            let sev = server_events_of(&mut p, s);
            assert_eq!(server_messages(&sev), vec![msg("req", i)]);
            p.server.send_message(s, msg("resp", i)).unwrap();
            p.drive();
            assert_eq!(
                client_messages(&client_events_of(&mut p, c)),
                vec![msg("resp", i)]
            );
        }
        // The server ends while the client still has its side open.
        p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
        p.drive();
        assert!(status_of(&mut p, c).is_ok());
        assert_eq!(
            p.client.send_message(c, msg("late", 0)),
            Err(client::CallError::UnknownCall)
        );
        assert!(
            server_events_of(&mut p, s).is_empty(),
            "the server finished: no Cancelled"
        );
        assert_idle(&mut p);
    }
}

fn error_status() -> Status {
    Status::with_details(
        Code::FailedPrecondition,
        "état: 100% cassé — \u{1F4A5}\r\n%25 literally",
        Bytes::from_static(&[0, 1, 2, 0xfe, 0xff, b'%', b',']),
    )
}

#[test]
fn trailers_only_error_each_kind() {
    for split in SPLITS {
        for kind in KINDS {
            let mut p = pair_split(split);
            // Rejected before the client half-closes (and after, below).
            for half in [false, true] {
                let (c, s) = open(&mut p, kind, Metadata::new(), half);
                let mut tmd = Metadata::new();
                tmd.append_bin("x-why-bin", Bytes::from_static(b"\x00\xffwhy"))
                    .unwrap();
                p.server.finish(s, error_status(), &tmd).unwrap();
                p.drive();
                let evs = client_events_of(&mut p, c);
                assert_eq!(evs.len(), 1, "Trailers-Only: only a status: {evs:?}");
                let (status, trailers) = the_status(&evs);
                assert_eq!(status, error_status(), "{kind:?} {split}");
                assert_eq!(
                    trailers.get_bin("x-why-bin").map(|b| &b[..]),
                    Some(&b"\x00\xffwhy"[..])
                );
                let sev = server_events_of(&mut p, s);
                assert!(server_cancelled(&sev).is_none(), "{sev:?}");
                assert_idle(&mut p);
            }
        }
    }
}

/// Regression: a Trailers-Only answer (or trailers after a cut message)
/// arriving before the client half-closed left the client's stream open,
/// holding one of the server's concurrent streams for good.
#[test]
fn early_trailers_only_frees_the_client_stream() {
    let mut p = pair_split(usize::MAX);
    let c = p
        .client
        .start_call(client::Request::new("/test.Svc/Bidi"), p.now)
        .unwrap();
    p.drive();
    let s = take_server_call(&mut p);
    p.server
        .reject(s, Status::new(Code::NotFound, "nope"))
        .unwrap();
    p.drive();
    assert_eq!(status_of(&mut p, c).code, Code::NotFound);
    assert_idle(&mut p);
}

#[test]
fn error_after_messages_each_kind() {
    for split in SPLITS {
        for kind in KINDS {
            let mut p = pair_split(split);
            let (c, s) = open(&mut p, kind, Metadata::new(), kind != Kind::Bidi);
            let mut tmd = Metadata::new();
            tmd.append("x-a", "1").unwrap();
            tmd.append("x-a", "2").unwrap();
            answer(&mut p, kind, s, error_status(), &tmd);
            let evs = client_events_of(&mut p, c);
            assert_eq!(client_messages(&evs), expected("resp", kind.responses()));
            let (status, trailers) = the_status(&evs);
            assert_eq!(status, error_status(), "{kind:?} {split}");
            assert_eq!(trailers.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
            assert_idle(&mut p);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Before the server saw the call.
    NotSeen,
    /// The server saw the call, nothing else happened.
    Started,
    /// Messages flowed both ways where the kind has them.
    MidStream,
    /// The client half-closed and the server saw it.
    HalfClosed,
}
const STAGES: [Stage; 4] = [
    Stage::NotSeen,
    Stage::Started,
    Stage::MidStream,
    Stage::HalfClosed,
];

/// Brings a call of `kind` to `stage`; the server call once it saw it.
fn to_stage(p: &mut Pair, kind: Kind, stage: Stage) -> (CallId, Option<CallId>) {
    let c = p
        .client
        .start_call(client::Request::new(kind.path()), p.now)
        .unwrap();
    if stage == Stage::NotSeen {
        return (c, None);
    }
    p.drive();
    let s = take_server_call(p);
    if stage == Stage::Started {
        return (c, Some(s));
    }
    p.client.send_message(c, msg("req", 0)).unwrap();
    if matches!(kind, Kind::ClientStreaming | Kind::Bidi) {
        p.client.send_message(c, msg("req", 1)).unwrap();
    }
    p.server.send_message(s, msg("resp", 0)).unwrap();
    if stage == Stage::HalfClosed {
        p.client.half_close(c).unwrap();
    }
    p.drive();
    (c, Some(s))
}

#[test]
fn client_cancel_at_each_stage() {
    for split in SPLITS {
        for kind in KINDS {
            for stage in STAGES {
                let mut p = pair_split(split);
                let (c, s) = to_stage(&mut p, kind, stage);
                p.client.cancel(c).unwrap();
                assert_eq!(p.client.cancel(c), Err(client::CallError::UnknownCall));
                p.drive();
                let status = status_of(&mut p, c);
                assert_eq!(status.code, Code::Cancelled, "{kind:?} {stage:?} {split}");
                // A call the server saw (now or from the HEADERS that
                // preceded the RST_STREAM) is reported cancelled once.
                let s = s.or_else(|| {
                    p.server_events.iter().find_map(|e| match e {
                        server::Event::Call { call, .. } => Some(*call),
                        _ => None,
                    })
                });
                if let Some(s) = s {
                    let sev = server_events_of(&mut p, s);
                    let st = server_cancelled(&sev).expect("server told of the cancel");
                    assert_eq!(st.code, Code::Cancelled, "{kind:?} {stage:?}");
                    assert_eq!(
                        p.server.send_message(s, msg("x", 0)),
                        Err(server::CallError::UnknownCall)
                    );
                }
                assert_idle(&mut p);
            }
        }
    }
}

#[test]
fn server_reset_at_each_stage() {
    for split in SPLITS {
        for kind in KINDS {
            for stage in [Stage::Started, Stage::MidStream, Stage::HalfClosed] {
                for headers_first in [false, true] {
                    let mut p = pair_split(split);
                    let (c, s) = to_stage(&mut p, kind, stage);
                    let s = s.unwrap();
                    if headers_first && stage == Stage::Started {
                        p.server.send_headers(s, &Metadata::new()).unwrap();
                        p.drive();
                    }
                    p.server
                        .h2()
                        .reset_stream(stream_of(s), ErrorCode::CANCEL)
                        .unwrap();
                    p.drive();
                    let status = status_of(&mut p, c);
                    assert_eq!(status.code, Code::Cancelled, "{kind:?} {stage:?} {split}");
                    let sev = server_events_of(&mut p, s);
                    assert_eq!(
                        server_cancelled(&sev).map(|s| s.code),
                        Some(Code::Cancelled)
                    );
                    assert_eq!(
                        p.server.send_message(s, msg("x", 0)),
                        Err(server::CallError::UnknownCall)
                    );
                    assert_idle(&mut p);
                }
            }
        }
    }
}

/// Regression: a call whose stream the server application reset through
/// `h2()` stayed in the server's `active_calls` forever, and its deadline
/// later reported a second ending.
#[test]
fn server_h2_reset_forgets_the_call_and_its_deadline() {
    let mut p = pair_split(usize::MAX);
    let mut req = client::Request::new("/test.Svc/Unary");
    req.deadline = Some(p.now + Duration::from_secs(1));
    let c = p.client.start_call(req, p.now).unwrap();
    p.drive();
    let s = take_server_call(&mut p);
    p.server
        .h2()
        .reset_stream(stream_of(s), ErrorCode::CANCEL)
        .unwrap();
    p.drive();
    assert_eq!(status_of(&mut p, c).code, Code::Cancelled);
    assert_eq!(p.server.active_calls(), 0);
    p.advance(Duration::from_secs(2));
    let sev = server_events_of(&mut p, s);
    assert_eq!(
        server_cancelled(&sev).map(|s| s.code),
        Some(Code::Cancelled)
    );
    assert_idle(&mut p);
}

/// A stream reset with a code other than CANCEL ends the call with a
/// status message for people: the code by its RFC 9113 §7 name, unknown
/// codes in hex, never Rust debug text (issue 13, 7).
#[test]
fn reset_code_is_named_in_the_status_message() {
    for (code, text) in [
        (ErrorCode::PROTOCOL_ERROR, "PROTOCOL_ERROR"),
        (ErrorCode(0x2a), "unknown error code 0x2a"),
    ] {
        let mut p = pair_split(usize::MAX);
        let c = p
            .client
            .start_call(client::Request::new("/test.Svc/Unary"), p.now)
            .unwrap();
        p.drive();
        let s = take_server_call(&mut p);
        p.server.h2().reset_stream(stream_of(s), code).unwrap();
        p.drive();
        let status = status_of(&mut p, c);
        assert_eq!(
            status.message,
            format!("the server reset the stream (RST_STREAM with {text}, RFC 9113 §6.4)")
        );
    }
}

#[test]
fn client_deadline_each_kind() {
    for split in SPLITS {
        for kind in KINDS {
            for stage in STAGES {
                let mut p = pair_split(split);
                let mut req = client::Request::new(kind.path());
                req.deadline = Some(p.now + Duration::from_millis(100));
                let c = p.client.start_call(req, p.now).unwrap();
                let mut s = None;
                if stage != Stage::NotSeen {
                    p.drive();
                    let sc = take_server_call(&mut p);
                    s = Some(sc);
                    if stage != Stage::Started {
                        p.client.send_message(c, msg("req", 0)).unwrap();
                        p.server.send_message(sc, msg("resp", 0)).unwrap();
                    }
                    if stage == Stage::HalfClosed {
                        p.client.half_close(c).unwrap();
                    }
                    p.drive();
                }
                assert!(p.advance_to_next_timeout());
                while p.advance_to_next_timeout()
                    && p.client.active_calls() + p.server.active_calls() > 0
                {}
                let status = status_of(&mut p, c);
                assert_eq!(
                    status.code,
                    Code::DeadlineExceeded,
                    "{kind:?} {stage:?} {split}"
                );
                let s = s.or_else(|| {
                    p.server_events.iter().find_map(|e| match e {
                        server::Event::Call { call, .. } => Some(*call),
                        _ => None,
                    })
                });
                if let Some(s) = s {
                    let sev = server_events_of(&mut p, s);
                    let st = server_cancelled(&sev).expect("server told");
                    assert!(
                        matches!(st.code, Code::Cancelled | Code::DeadlineExceeded),
                        "{st:?}"
                    );
                }
                assert_idle(&mut p);
            }
        }
    }
}

#[test]
fn server_deadline_each_kind() {
    for split in SPLITS {
        for kind in KINDS {
            let mut p = pair_split(split);
            p.drive(); // the handshake: the call gets its stream at once
            // A client whose clock runs 900 ms ahead: it sends grpc-timeout
            // 100m but would only give up a second from the pair's now.
            let mut req = client::Request::new(kind.path());
            req.deadline = Some(p.now + Duration::from_secs(1));
            let c = p
                .client
                .start_call(req, p.now + Duration::from_millis(900))
                .unwrap();
            p.client.send_message(c, msg("req", 0)).unwrap();
            p.drive();
            let s = take_server_call(&mut p);
            if matches!(kind, Kind::ServerStreaming | Kind::Bidi) {
                p.server.send_message(s, msg("resp", 0)).unwrap();
                p.drive();
            }
            let t0 = p.now;
            assert!(p.advance_to_next_timeout());
            assert_eq!(
                p.now - t0,
                Duration::from_millis(100),
                "the server's deadline fires first"
            );
            let evs = client_events_of(&mut p, c);
            let (status, _) = the_status(&evs);
            assert_eq!(status.code, Code::DeadlineExceeded, "{kind:?} {split}");
            let sev = server_events_of(&mut p, s);
            assert_eq!(
                server_cancelled(&sev).map(|s| s.code),
                Some(Code::DeadlineExceeded)
            );
            assert_idle(&mut p);
            // The client's own timer is gone with the call.
            assert!(
                p.client
                    .poll_timeout()
                    .is_none_or(|t| t > p.now + Duration::from_secs(1))
            );
        }
    }
}

#[test]
fn goaway_lets_calls_in_flight_finish() {
    for split in SPLITS {
        let mut p = pair_split(split);
        let calls: Vec<_> = KINDS
            .iter()
            .map(|&k| (k, open(&mut p, k, Metadata::new(), k != Kind::Bidi)))
            .collect();
        p.server.shutdown(p.now);
        p.drive();
        assert!(
            p.client_events
                .iter()
                .any(|e| matches!(e, client::Event::GoAway { .. }))
        );
        let err = p
            .client
            .start_call(client::Request::new("/test.Svc/Late"), p.now)
            .unwrap_err();
        assert_eq!(err.code, Code::Unavailable);
        for &(kind, (c, s)) in &calls {
            let _ = server_events_of(&mut p, s);
            answer(&mut p, kind, s, Status::ok(), &Metadata::new());
            let evs = client_events_of(&mut p, c);
            assert_eq!(client_messages(&evs), expected("resp", kind.responses()));
            assert!(the_status(&evs).0.is_ok(), "{kind:?}");
        }
        for _ in 0..10 {
            if !p.advance_to_next_timeout() {
                break;
            }
        }
        assert!(
            p.client.is_closed() && p.server.is_closed(),
            "graceful shutdown ends both sides"
        );
        assert!(
            matches!(
                p.client_events.back(),
                Some(client::Event::Closed { error: None })
            ),
            "{:?}",
            p.client_events
        );
        assert_eq!(
            p.client
                .start_call(client::Request::new("/x/y"), p.now)
                .unwrap_err()
                .code,
            Code::Unavailable
        );
        assert_idle(&mut p);
    }
}

fn limited_server() -> server::Config {
    server::Config {
        h2: h2::Config {
            max_concurrent_streams: 2,
            ..h2::Config::default()
        },
        ..server::Config::default()
    }
}

#[test]
fn calls_beyond_max_concurrent_streams_wait_then_run() {
    for split in SPLITS {
        let mut p = pair_with(client::Config::default(), limited_server(), split);
        p.drive(); // the server's SETTINGS reach the client
        let calls: Vec<_> = KINDS
            .iter()
            .map(|&k| {
                let c = p
                    .client
                    .start_call(client::Request::new(k.path()), p.now)
                    .unwrap();
                for i in 0..k.requests() {
                    p.client.send_message(c, msg("req", i)).unwrap();
                }
                p.client.half_close(c).unwrap();
                (k, c)
            })
            .collect();
        p.drive();
        let mut done = 0;
        while done < calls.len() {
            let seen: Vec<_> = p
                .server_events
                .iter()
                .filter_map(|e| match e {
                    server::Event::Call { call, path, .. } => Some((*call, path.clone())),
                    _ => None,
                })
                .collect();
            assert!(!seen.is_empty() && seen.len() <= 2, "{seen:?}");
            for (s, path) in seen {
                let kind = *KINDS.iter().find(|k| k.path() == path).unwrap();
                let sev = server_events_of(&mut p, s);
                assert_eq!(
                    server_messages(&sev),
                    expected("req", kind.requests()),
                    "{kind:?}"
                );
                answer(&mut p, kind, s, Status::ok(), &Metadata::new());
                done += 1;
            }
        }
        for (kind, c) in calls {
            let evs = client_events_of(&mut p, c);
            assert_eq!(client_messages(&evs), expected("resp", kind.responses()));
            assert!(the_status(&evs).0.is_ok());
        }
        assert_idle(&mut p);
    }
}

#[test]
fn queued_calls_fail_unavailable_on_goaway() {
    for split in SPLITS {
        let mut p = pair_with(client::Config::default(), limited_server(), split);
        p.drive();
        let calls: Vec<_> = KINDS
            .iter()
            .map(|k| {
                p.client
                    .start_call(client::Request::new(k.path()), p.now)
                    .unwrap()
            })
            .collect();
        p.drive();
        let running: Vec<_> = (0..2).map(|_| take_server_call(&mut p)).collect();
        p.server.shutdown(p.now);
        p.drive();
        for &c in &calls[2..] {
            assert_eq!(status_of(&mut p, c).code, Code::Unavailable);
        }
        for (&c, &s) in calls[..2].iter().zip(&running) {
            p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
            p.drive();
            assert!(status_of(&mut p, c).is_ok());
        }
        assert_idle(&mut p);
    }
}

#[test]
fn client_receive_limit_ends_only_that_call() {
    for split in SPLITS {
        for kind in KINDS {
            let cfg = client::Config {
                max_receive_message_size: 1000,
                ..client::Config::default()
            };
            let mut p = pair_with(cfg, server::Config::default(), split);
            let (other_c, other_s) = open(&mut p, Kind::Unary, Metadata::new(), true);
            let (c, s) = open(&mut p, kind, Metadata::new(), true);
            p.server
                .send_message(s, Bytes::from(vec![1u8; 1000]))
                .unwrap();
            p.server
                .send_message(s, Bytes::from(vec![2u8; 1001]))
                .unwrap();
            p.drive();
            let evs = client_events_of(&mut p, c);
            assert_eq!(client_messages(&evs).len(), 1);
            assert_eq!(the_status(&evs).0.code, Code::ResourceExhausted, "{kind:?}");
            let sev = server_events_of(&mut p, s);
            assert_eq!(
                server_cancelled(&sev).map(|s| s.code),
                Some(Code::Cancelled)
            );
            answer(&mut p, Kind::Unary, other_s, Status::ok(), &Metadata::new());
            assert!(status_of(&mut p, other_c).is_ok());
            assert_idle(&mut p);
        }
    }
}

#[test]
fn server_receive_limit_ends_only_that_call() {
    for split in SPLITS {
        for kind in KINDS {
            let cfg = server::Config {
                max_receive_message_size: 1000,
                ..server::Config::default()
            };
            let mut p = pair_with(client::Config::default(), cfg, split);
            let (other_c, other_s) = open(&mut p, Kind::Unary, Metadata::new(), true);
            let c = p
                .client
                .start_call(client::Request::new(kind.path()), p.now)
                .unwrap();
            p.client
                .send_message(c, Bytes::from(vec![1u8; 1000]))
                .unwrap();
            p.client
                .send_message(c, Bytes::from(vec![2u8; 1001]))
                .unwrap();
            p.drive();
            let s = take_server_call(&mut p);
            let sev = server_events_of(&mut p, s);
            assert_eq!(server_messages(&sev).len(), 1);
            assert_eq!(
                server_cancelled(&sev).map(|s| s.code),
                Some(Code::ResourceExhausted)
            );
            assert_eq!(
                status_of(&mut p, c).code,
                Code::ResourceExhausted,
                "{kind:?}"
            );
            answer(&mut p, Kind::Unary, other_s, Status::ok(), &Metadata::new());
            assert!(status_of(&mut p, other_c).is_ok());
            assert_idle(&mut p);
        }
    }
}

#[test]
fn metadata_round_trip() {
    let bins: [&[u8]; 4] = [b"", b"\x00", b"\xff\xfe,\x00 x", &[7u8; 1000]];
    let mut md = Metadata::new();
    for b in bins {
        md.append_bin("x-blob-bin", Bytes::copy_from_slice(b))
            .unwrap();
    }
    md.append("x-multi", "one").unwrap();
    md.append("x-multi", "two, three").unwrap();
    md.append("x-empty", "").unwrap();
    md.append("x-dotted.key_1", "~!@#$%^&*()").unwrap();
    for split in SPLITS {
        let mut p = pair_split(split);
        let c = p
            .client
            .start_call(
                client::Request {
                    metadata: md.clone(),
                    ..client::Request::new("/m/M")
                },
                p.now,
            )
            .unwrap();
        p.client.half_close(c).unwrap();
        p.drive();
        let got = match p.server_events.pop_front() {
            Some(server::Event::Call { metadata, .. }) => metadata,
            other => panic!("{other:?}"),
        };
        let s = CallId(1);
        let check = |got: &Metadata| {
            let b: Vec<_> = got.get_all_bin("x-blob-bin").map(|b| b.to_vec()).collect();
            assert_eq!(b, bins.iter().map(|b| b.to_vec()).collect::<Vec<_>>());
            assert_eq!(
                got.get_all("x-multi").collect::<Vec<_>>(),
                ["one", "two, three"]
            );
            assert_eq!(got.get("x-empty"), Some(""));
            assert_eq!(got.get("x-dotted.key_1"), Some("~!@#$%^&*()"));
        };
        check(&got);
        p.server.send_headers(s, &md).unwrap();
        p.server.finish(s, Status::ok(), &md).unwrap();
        p.drive();
        let evs = client_events_of(&mut p, c);
        match &evs[0] {
            client::Event::Headers { metadata, .. } => check(metadata),
            other => panic!("{other:?}"),
        }
        check(&the_status(&evs).1);
    }
    let mut m = Metadata::new();
    for key in [
        "content-type",
        "te",
        "grpc-timeout",
        "grpc-encoding",
        "grpc-accept-encoding",
        "grpc-message-type",
        "grpc-status",
        "grpc-message",
        ":path",
        ":authority",
    ] {
        assert_eq!(m.append(key, "v"), Err(MetadataError::Reserved), "{key}");
    }
    assert_eq!(
        m.append_bin("grpc-status-details-bin", Bytes::new()),
        Err(MetadataError::Reserved)
    );
    assert!(m.append("X-Upper", "v").is_err());
    assert!(m.append("x-bad", "line\nbreak").is_err());
    assert!(m.append("x-wrong-bin", "v").is_err());
    assert!(m.is_empty());
}

// ---------------------------------------------------------------------
// Bad peers, as raw HTTP/2 around one of our endpoints
// ---------------------------------------------------------------------

fn value<'a>(fields: &'a [grpc_sansio::hpack::Field], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|f| f.name.as_ref() == name.as_bytes())
        .map(|f| f.value.as_ref())
}

/// Sends `fields` (and `body`, then END_STREAM) to our server; returns the
/// single response block, which must end the stream.
fn raw_request(
    split: usize,
    fields: &[grpc_sansio::hpack::Field],
    body: &[u8],
) -> (RawClient, Vec<grpc_sansio::hpack::Field>) {
    let mut r = RawClient::new(server::Config::default(), split);
    let sid = r.peer.open_stream(fields, false).unwrap();
    r.peer
        .send_data(sid, Bytes::copy_from_slice(body), true)
        .unwrap();
    r.drive();
    let resp = r.responses(sid);
    assert_eq!(resp.len(), 1, "{resp:?}");
    assert!(resp[0].1, "the answer ends the stream");
    assert_eq!(r.server.active_calls(), 0);
    assert_eq!(r.server.h2().active_streams(), 0);
    let f = resp[0].0.clone();
    (r, f)
}

fn frame(compressed: bool, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = BytesMut::new();
    b.put_u8(u8::from(compressed));
    b.put_u32(declared);
    b.put_slice(payload);
    b.to_vec()
}

#[test]
fn server_answers_bad_requests() {
    for split in SPLITS {
        // Not gRPC: plain HTTP errors, never a call.
        let mut f = grpc_request("/a/b");
        f[4] = field("content-type", "application/json");
        let (r, resp) = raw_request(split, &f, b"{}");
        assert_eq!(value(&resp, ":status"), Some(&b"415"[..]));
        assert!(r.server_events.is_empty(), "{:?}", r.server_events);

        let mut f = grpc_request("/a/b");
        f[0] = field(":method", "PUT");
        let (r, resp) = raw_request(split, &f, b"");
        assert_eq!(value(&resp, ":status"), Some(&b"405"[..]));
        assert!(r.server_events.is_empty());

        // gRPC with bad details: Trailers-Only with a status.
        let cases: Vec<(Vec<grpc_sansio::hpack::Field>, Vec<u8>, Code)> = vec![
            (vec![field("grpc-timeout", "1x")], vec![], Code::Internal),
            (
                vec![field("grpc-timeout", "123456789S")],
                vec![],
                Code::Internal,
            ),
            (vec![field("grpc-timeout", "")], vec![], Code::Internal),
            (
                vec![field("x-data-bin", "!!not base64!!")],
                vec![],
                Code::Internal,
            ),
            (
                vec![field("grpc-encoding", "snappy")],
                frame(true, 1, b"x"),
                Code::Unimplemented,
            ),
            (vec![], frame(true, 1, b"x"), Code::Internal),
            (vec![], frame(false, 10, b"short"), Code::Internal),
            (vec![], frame(false, 1, b""), Code::Internal),
        ];
        for (extra, body, code) in cases {
            let mut f = grpc_request("/a/b");
            f.extend(extra.iter().cloned());
            let (r, resp) = raw_request(split, &f, &body);
            assert_eq!(value(&resp, ":status"), Some(&b"200"[..]), "{extra:?}");
            assert_eq!(value(&resp, "content-type"), Some(&b"application/grpc"[..]));
            let got = value(&resp, "grpc-status").map(Code::from_header_value);
            assert_eq!(got, Some(code), "{extra:?} {body:?} {resp:?}");
            if code == Code::Unimplemented {
                assert_eq!(
                    value(&resp, "grpc-accept-encoding"),
                    Some(grpc_sansio::grpc::compression::accept_encoding_value().as_bytes())
                );
            }
            // A call the application saw is reported ended.
            let calls = r
                .server_events
                .iter()
                .filter(|e| matches!(e, server::Event::Call { .. }))
                .count();
            let cancels = r
                .server_events
                .iter()
                .filter(|e| matches!(e, server::Event::Cancelled { .. }))
                .count();
            assert_eq!(calls, cancels, "{:?}", r.server_events);
        }
    }
}

/// Our client against a raw server answering with `fields` (+ `body`,
/// + `trailers` when given); returns the call's status.
fn raw_response(
    split: usize,
    fields: &[grpc_sansio::hpack::Field],
    end: bool,
    body: &[u8],
    trailers: Option<&[grpc_sansio::hpack::Field]>,
) -> (RawServer, Status) {
    let mut r = RawServer::new(client::Config::default(), split);
    let (c, sid) = r.call("/a/b");
    r.peer.send_headers(sid, fields, end).unwrap();
    if !body.is_empty() {
        r.peer
            .send_data(sid, Bytes::copy_from_slice(body), false)
            .unwrap();
    }
    if let Some(t) = trailers {
        r.peer.send_headers(sid, t, true).unwrap();
    }
    r.drive();
    let st = r.status(c);
    assert_eq!(r.client.active_calls(), 0);
    assert_eq!(r.client.h2().active_streams(), 0, "{fields:?} {st:?}");
    (r, st)
}

#[test]
fn client_maps_bad_responses() {
    let ok_head = || {
        vec![
            field(":status", "200"),
            field("content-type", "application/grpc"),
        ]
    };
    for split in SPLITS {
        for (http, code) in [
            ("503", Code::Unavailable),
            ("404", Code::Unimplemented),
            ("401", Code::Unauthenticated),
            ("500", Code::Unknown),
            ("429", Code::Unavailable),
        ] {
            let (_, st) = raw_response(
                split,
                &[field(":status", http), field("content-type", "text/html")],
                true,
                b"",
                None,
            );
            assert_eq!(st.code, code, "{http}");
            let (_, st) = raw_response(split, &[field(":status", http)], false, b"<html>", None);
            assert_eq!(st.code, code, "{http} with a body");
        }
        // A grpc-status wins over the HTTP status.
        let (_, st) = raw_response(
            split,
            &[field(":status", "503"), field("grpc-status", "5")],
            true,
            b"",
            None,
        );
        assert_eq!(st.code, Code::NotFound);
        // 200 without gRPC content-type.
        let (_, st) = raw_response(
            split,
            &[field(":status", "200"), field("content-type", "text/plain")],
            true,
            b"",
            None,
        );
        assert_eq!(st.code, Code::Unknown);
        // Missing grpc-status: in Trailers-Only and in trailers.
        let (_, st) = raw_response(split, &ok_head(), true, b"", None);
        assert_eq!(st.code, Code::Unknown);
        let (r, st) = raw_response(
            split,
            &ok_head(),
            false,
            &frame(false, 2, b"hi"),
            Some(&[field("x-t", "1")]),
        );
        assert_eq!(st.code, Code::Unknown);
        assert_eq!(
            client_messages(&r.client_events),
            vec![Bytes::from_static(b"hi")]
        );
        // Truncated message before trailers.
        let (_, st) = raw_response(
            split,
            &ok_head(),
            false,
            &frame(false, 9, b"hi"),
            Some(&[field("grpc-status", "0")]),
        );
        assert_eq!(st.code, Code::Internal);
        // Compressed flag without grpc-encoding.
        let (_, st) = raw_response(
            split,
            &ok_head(),
            false,
            &frame(true, 2, b"hi"),
            Some(&[field("grpc-status", "0")]),
        );
        assert_eq!(st.code, Code::Internal);
        // Unsupported response encoding.
        let mut h = ok_head();
        h.push(field("grpc-encoding", "snappy"));
        let (_, st) = raw_response(split, &h, false, b"", Some(&[field("grpc-status", "0")]));
        assert_eq!(st.code, Code::Internal);
        // Bad base64 in a -bin header of the response headers.
        let mut h = ok_head();
        h.push(field("x-data-bin", "***"));
        let (_, st) = raw_response(split, &h, false, b"", Some(&[field("grpc-status", "0")]));
        assert_eq!(st.code, Code::Internal);
        // Bad grpc-status value.
        let (_, st) = raw_response(
            split,
            &ok_head(),
            false,
            b"",
            Some(&[field("grpc-status", "abc")]),
        );
        assert_eq!(st.code, Code::Unknown);
        // A response body ended without trailers.
        let mut r = RawServer::new(client::Config::default(), split);
        let (c, sid) = r.call("/a/b");
        r.peer.send_headers(sid, &ok_head(), false).unwrap();
        r.peer
            .send_data(sid, Bytes::from(frame(false, 1, b"z")), true)
            .unwrap();
        r.drive();
        assert_eq!(r.status(c).code, Code::Internal);
        assert_eq!(client_messages(&r.client_events).len(), 1);
    }
}

#[test]
fn body_after_trailers_is_rejected_by_http2() {
    for split in SPLITS {
        let mut r = RawServer::new(client::Config::default(), split);
        let (c, sid) = r.call("/a/b");
        r.client.half_close(c).unwrap();
        r.peer
            .send_headers(
                sid,
                &[
                    field(":status", "200"),
                    field("content-type", "application/grpc"),
                ],
                false,
            )
            .unwrap();
        r.peer
            .send_headers(sid, &[field("grpc-status", "0")], true)
            .unwrap();
        assert!(
            r.peer
                .send_data(sid, Bytes::from_static(b"late"), false)
                .is_err(),
            "our h2 refuses it"
        );
        r.drive();
        assert!(r.status(c).is_ok());
        // The same bytes forged onto the wire: the client's HTTP/2 layer
        // treats DATA on a closed stream as an error; no second status.
        let mut b = BytesMut::new();
        grpc_sansio::frame::FrameHeader {
            length: 6,
            kind: grpc_sansio::frame::kind::DATA,
            flags: 0,
            stream_id: sid,
        }
        .encode(&mut b);
        b.put_slice(&frame(false, 1, b"x"));
        let _ = r.client.recv(b.freeze(), r.now);
        r.drive();
        let statuses = r
            .client_events
            .iter()
            .filter(|e| matches!(e, client::Event::Status { .. }))
            .count();
        assert_eq!(statuses, 1, "{:?}", r.client_events);
        assert!(
            !r.client_events
                .iter()
                .any(|e| matches!(e, client::Event::Message { .. }))
        );
    }
}

#[test]
fn connection_loss_ends_every_call_once() {
    for split in SPLITS {
        for client_side in [true, false] {
            let mut p = pair_split(split);
            let mut calls = Vec::new();
            for (i, kind) in KINDS.iter().enumerate() {
                let (c, s) = open(&mut p, *kind, Metadata::new(), i % 2 == 0);
                p.server.send_message(s, msg("resp", 0)).unwrap();
                p.drive();
                calls.push((c, s));
            }
            let queued = p
                .client
                .start_call(client::Request::new("/late/call"), p.now)
                .unwrap();
            if client_side {
                p.client.recv_eof(p.now);
            } else {
                p.server.recv_eof(p.now);
            }
            p.drive();
            for &(c, s) in &calls {
                let evs = client_events_of(&mut p, c);
                if client_side {
                    assert_eq!(the_status(&evs).0.code, Code::Unavailable, "{evs:?}");
                    assert!(p.client.is_closed());
                } else {
                    let sev = server_events_of(&mut p, s);
                    assert_eq!(
                        server_cancelled(&sev).map(|s| s.code),
                        Some(Code::Unavailable)
                    );
                }
            }
            if client_side {
                assert_eq!(status_of(&mut p, queued).code, Code::Unavailable);
                assert!(matches!(
                    p.client_events.back(),
                    Some(client::Event::Closed { .. })
                ));
                assert_eq!(p.client.active_calls(), 0);
            } else {
                assert_eq!(p.server.active_calls(), 0);
                assert!(matches!(
                    p.server_events.back(),
                    Some(server::Event::Closed { .. })
                ));
            }
        }
    }
}

fn small_send_buffer() -> client::Config {
    client::Config {
        h2: h2::Config {
            max_send_buffer: 100,
            ..h2::Config::default()
        },
        ..client::Config::default()
    }
}

/// Regression: a half-close while the stream's send buffer was full was
/// refused by HTTP/2 (Blocked) and silently dropped: END_STREAM never went
/// out and the server waited for the rest of the request forever.
#[test]
fn half_close_with_full_send_buffer_is_not_lost() {
    for split in SPLITS {
        let mut p = pair_with(small_send_buffer(), server::Config::default(), split);
        p.drive();
        let c = p
            .client
            .start_call(client::Request::new("/test.Svc/ClientStreaming"), p.now)
            .unwrap();
        p.client
            .send_message(c, Bytes::from(vec![5u8; 100_000]))
            .unwrap();
        p.client.half_close(c).unwrap();
        p.drive();
        let s = take_server_call(&mut p);
        let sev = server_events_of(&mut p, s);
        assert_eq!(server_messages(&sev).len(), 1);
        assert!(
            matches!(sev.last(), Some(server::Event::HalfClose { .. })),
            "{sev:?}"
        );
        p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
        p.drive();
        assert!(status_of(&mut p, c).is_ok());
        assert_idle(&mut p);
    }
}

/// Regression: messages buffered by a call waiting for a stream were handed
/// to HTTP/2 all at once when it got one; past the stream's send buffer they
/// were refused (Blocked) and lost, with the half-close.
#[test]
fn queued_call_messages_are_not_lost_when_it_gets_a_stream() {
    for split in SPLITS {
        let mut p = pair_with(small_send_buffer(), limited_server(), split);
        p.drive();
        let first: Vec<_> = (0..2)
            .map(|_| {
                p.client
                    .start_call(client::Request::new("/a/b"), p.now)
                    .unwrap()
            })
            .collect();
        let c = p
            .client
            .start_call(client::Request::new("/test.Svc/ClientStreaming"), p.now)
            .unwrap();
        for i in 0..5 {
            p.client.send_message(c, msg("req", i * 10)).unwrap();
        }
        p.client.half_close(c).unwrap();
        p.drive();
        for &f in &first {
            let _ = f;
            let s = take_server_call(&mut p);
            let _ = server_events_of(&mut p, s);
            p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
        }
        p.drive();
        let s = take_server_call(&mut p);
        let sev = server_events_of(&mut p, s);
        assert_eq!(
            server_messages(&sev),
            (0..5).map(|i| msg("req", i * 10)).collect::<Vec<_>>()
        );
        assert!(
            matches!(sev.last(), Some(server::Event::HalfClose { .. })),
            "{sev:?}"
        );
        p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
        p.drive();
        for f in first {
            assert!(status_of(&mut p, f).is_ok());
        }
        assert!(status_of(&mut p, c).is_ok());
        assert_idle(&mut p);
    }
}

/// Regression: calls started before the server's SETTINGS arrived were all
/// given streams at once, past the server's MAX_CONCURRENT_STREAMS, and the
/// extra ones failed UNAVAILABLE (REFUSED_STREAM) instead of waiting.
#[test]
fn calls_started_before_server_settings_respect_its_stream_limit() {
    for split in SPLITS {
        let mut p = pair_with(client::Config::default(), limited_server(), split);
        let calls: Vec<_> = (0..5)
            .map(|_| {
                let c = p
                    .client
                    .start_call(client::Request::new("/test.Svc/Unary"), p.now)
                    .unwrap();
                p.client.send_message(c, msg("req", 1)).unwrap();
                p.client.half_close(c).unwrap();
                c
            })
            .collect();
        for _ in 0..5 {
            p.drive();
            let s = take_server_call(&mut p);
            let sev = server_events_of(&mut p, s);
            assert_eq!(server_messages(&sev), vec![msg("req", 1)]);
            p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
        }
        p.drive();
        for c in calls {
            assert!(status_of(&mut p, c).is_ok());
        }
        assert_idle(&mut p);
    }
}

/// Regression: a call half-closed before its stream opened (started before
/// the server's SETTINGS came) ended its request on the HEADERS frame.
/// PROTOCOL-HTTP2.md ends a request with a DATA frame carrying END_STREAM,
/// and grpc-go's server (before its issue 2867) never delivered an end
/// that came on HEADERS, so such a call hung until its deadline.
#[test]
fn request_half_closed_before_its_stream_ends_on_an_empty_data_frame() {
    for split in SPLITS {
        for messages in [0usize, 1, 2] {
            let now = std::time::Instant::now();
            let mut r = RawServer {
                peer: h2::Connection::new(h2::Role::Server, h2::Config::default(), now),
                client: client::Connection::new(client::Config::default(), now),
                now,
                split,
                peer_events: Vec::new(),
                client_events: Vec::new(),
            };
            // Before anything was exchanged: the stream cannot open yet.
            let c = r
                .client
                .start_call(client::Request::new("/a/b".to_owned()), now)
                .unwrap();
            for i in 0..messages {
                r.client.send_message(c, msg("m", i)).unwrap();
            }
            r.client.half_close(c).unwrap();
            r.drive();
            let mut saw_headers = false;
            let mut ends = 0;
            let mut last_data_len = None;
            for e in &r.peer_events {
                match e {
                    h2::Event::Headers { end_stream, .. } => {
                        assert!(
                            !end_stream,
                            "request ended on HEADERS ({messages} messages)"
                        );
                        saw_headers = true;
                    }
                    h2::Event::Data {
                        data, end_stream, ..
                    } => {
                        if *end_stream {
                            ends += 1;
                        }
                        last_data_len = Some(data.len());
                    }
                    _ => {}
                }
            }
            assert!(saw_headers);
            assert_eq!(ends, 1, "one END_STREAM, on DATA: {:?}", r.peer_events);
            if messages == 0 {
                assert_eq!(last_data_len, Some(0), "an empty DATA frame ends it");
            }
        }
    }
}

/// Regression (issue 14): a call started before the server's SETTINGS came
/// was sent one 1 MiB message, then refused a second (`Blocked`, "wait for
/// Writable"); when its stream opened, the queued message went to the
/// stream's send buffer at once, nothing was refused by HTTP/2, and no
/// `Writable` ever came: the application waited for ever.
#[test]
fn call_refused_before_its_stream_opened_gets_writable() {
    for size in [600 << 10, 1 << 20, 2 << 20] {
        let mut p = Pair::new(
            client::Config::default(),
            server::Config::default(),
            std::time::Instant::now(),
        );
        // No step yet: the server's SETTINGS have not come.
        let c = p
            .client
            .start_call(client::Request::new("/a/b"), p.now)
            .unwrap();
        let msg = Bytes::from(vec![1u8; size]);
        assert_eq!(p.client.send_message(c, msg.clone()), Ok(()));
        let refused = p.client.send_message(c, msg.clone());
        let mut sent = 1 + usize::from(refused.is_ok());
        let mut got = 0;
        for _ in 0..10_000 {
            let moved = p.step();
            let mut writable = false;
            while let Some(e) = p.client_events.pop_front() {
                if matches!(e, client::Event::Writable { call } if call == c) {
                    writable = true;
                }
            }
            while let Some(e) = p.server_events.pop_front() {
                if matches!(e, server::Event::Message { .. }) {
                    got += 1;
                }
            }
            if writable && sent < 2 {
                // Refused again while the first still fills the send
                // buffer: then another Writable is owed.
                match p.client.send_message(c, msg.clone()) {
                    Ok(()) => sent += 1,
                    Err(client::CallError::Blocked) => {}
                    Err(e) => panic!("{size} B: {e:?}"),
                }
            }
            if !moved && got == sent {
                break;
            }
        }
        assert_eq!(sent, 2, "{size} B: the refused message could never be sent");
        assert_eq!(got, 2, "{size} B: both messages arrive");
    }
}
