//! The basic lifecycle of each RPC kind over the in-memory pair.

use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::{Code, Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

fn pair() -> Pair {
    Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    )
}

fn server_call(p: &mut Pair) -> grpc_sansio::grpc::CallId {
    match p.server_events.pop_front() {
        Some(server::Event::Call { call, .. }) => call,
        other => panic!("expected a call, got {other:?}"),
    }
}

#[test]
fn unary_call_completes() {
    for split in [usize::MAX, 1] {
        let mut p = pair();
        p.split = split;
        let mut req = client::Request::new("/pkg.Svc/Unary");
        req.metadata.append("x-id", "42").unwrap();
        req.metadata
            .append_bin("x-bin", Bytes::from_static(&[0, 1, 2, 255]))
            .unwrap();
        let c = p.client.start_call(req, p.now).unwrap();
        p.client
            .send_message(c, Bytes::from_static(b"ping"))
            .unwrap();
        p.client.half_close(c).unwrap();
        assert!(p.drive());
        let (s, md) = match p.server_events.pop_front() {
            Some(server::Event::Call {
                call,
                path,
                metadata,
                ..
            }) => {
                assert_eq!(path, "/pkg.Svc/Unary");
                (call, metadata)
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(md.get("x-id"), Some("42"));
        assert_eq!(
            md.get_bin("x-bin").map(|b| &b[..]),
            Some(&[0u8, 1, 2, 255][..])
        );
        assert_eq!(
            p.server_events.pop_front(),
            Some(server::Event::Message {
                call: s,
                data: Bytes::from_static(b"ping")
            })
        );
        assert_eq!(
            p.server_events.pop_front(),
            Some(server::Event::HalfClose { call: s })
        );
        let mut hmd = Metadata::new();
        hmd.append("x-h", "1").unwrap();
        p.server.send_headers(s, &hmd).unwrap();
        p.server
            .send_message(s, Bytes::from_static(b"pong"))
            .unwrap();
        let mut tmd = Metadata::new();
        tmd.append("x-t", "2").unwrap();
        p.server.finish(s, Status::ok(), &tmd).unwrap();
        assert!(p.drive());
        match p.client_events.pop_front() {
            Some(client::Event::Headers { call, metadata }) => {
                assert_eq!(call, c);
                assert_eq!(metadata.get("x-h"), Some("1"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            p.client_events.pop_front(),
            Some(client::Event::Message {
                call: c,
                data: Bytes::from_static(b"pong")
            })
        );
        match p.client_events.pop_front() {
            Some(client::Event::Status {
                call,
                status,
                trailers,
            }) => {
                assert_eq!(call, c);
                assert!(status.is_ok(), "{status:?}");
                assert_eq!(trailers.get("x-t"), Some("2"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.client.active_calls(), 0);
        assert_eq!(p.server.active_calls(), 0);
        assert_eq!(p.client.h2().active_streams(), 0);
        assert_eq!(p.server.h2().active_streams(), 0);
    }
}

#[test]
fn trailers_only_error() {
    let mut p = pair();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/Missing"), p.now)
        .unwrap();
    p.client.half_close(c).unwrap();
    p.drive();
    let s = server_call(&mut p);
    p.server
        .reject(
            s,
            Status::new(Code::Unimplemented, "no such method: 100% sure"),
        )
        .unwrap();
    p.drive();
    match p.client_events.pop_front() {
        Some(client::Event::Status { status, .. }) => {
            assert_eq!(status.code, Code::Unimplemented);
            assert_eq!(status.message, "no such method: 100% sure");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn server_streaming_and_bidi() {
    let mut p = pair();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/Bidi"), p.now)
        .unwrap();
    p.drive();
    let s = server_call(&mut p);
    for i in 0..100u32 {
        p.client
            .send_message(c, Bytes::from(i.to_be_bytes().to_vec()))
            .unwrap();
        p.server
            .send_message(s, Bytes::from(vec![i as u8; i as usize * 100]))
            .unwrap();
        p.drive();
    }
    p.client.half_close(c).unwrap();
    p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    let msgs = p
        .server_events
        .iter()
        .filter(|e| matches!(e, server::Event::Message { .. }))
        .count();
    assert_eq!(msgs, 100);
    let got: Vec<_> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            client::Event::Message { data, .. } => Some(data.len()),
            _ => None,
        })
        .collect();
    assert_eq!(got, (0..100).map(|i| i * 100).collect::<Vec<_>>());
    assert!(
        matches!(p.client_events.back(), Some(client::Event::Status { status, .. }) if status.is_ok())
    );
}

#[test]
fn client_deadline_expires() {
    let mut p = pair();
    let mut req = client::Request::new("/pkg.Svc/Slow");
    req.deadline = Some(p.now + Duration::from_millis(100));
    let c = p.client.start_call(req, p.now).unwrap();
    p.drive();
    let (s, deadline) = match p.server_events.pop_front() {
        Some(server::Event::Call { call, deadline, .. }) => (call, deadline),
        other => panic!("{other:?}"),
    };
    assert!(deadline.is_some());
    assert!(p.advance_to_next_timeout());
    let status = p.client_events.iter().find_map(|e| match e {
        client::Event::Status { call, status, .. } if *call == c => Some(status.clone()),
        _ => None,
    });
    assert_eq!(status.map(|s| s.code), Some(Code::DeadlineExceeded));
    let cancelled = p
        .server_events
        .iter()
        .any(|e| matches!(e, server::Event::Cancelled { call, .. } if *call == s));
    assert!(cancelled, "{:?}", p.server_events);
}

#[test]
fn client_cancel_reaches_server() {
    let mut p = pair();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/X"), p.now)
        .unwrap();
    p.drive();
    let s = server_call(&mut p);
    p.client.cancel(c).unwrap();
    p.drive();
    assert!(
        matches!(p.client_events.pop_front(), Some(client::Event::Status { status, .. }) if status.code == Code::Cancelled)
    );
    assert!(
        matches!(p.server_events.pop_front(), Some(server::Event::Cancelled { call, status }) if call == s && status.code == Code::Cancelled)
    );
}

#[test]
fn message_too_large_is_resource_exhausted() {
    let mut p = Pair::new(
        client::Config::default(),
        server::Config {
            max_receive_message_size: 1000,
            ..server::Config::default()
        },
        Instant::now(),
    );
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/X"), p.now)
        .unwrap();
    p.client
        .send_message(c, Bytes::from(vec![0u8; 1001]))
        .unwrap();
    p.drive();
    let status = p.client_events.iter().find_map(|e| match e {
        client::Event::Status { status, .. } => Some(status.code),
        _ => None,
    });
    assert_eq!(status, Some(Code::ResourceExhausted));
}

#[cfg(feature = "compression")]
#[test]
fn compressed_both_ways() {
    use grpc_sansio::grpc::Encoding;
    for enc in [Encoding::Gzip, Encoding::Deflate] {
        for split in [usize::MAX, 1] {
            let mut p = Pair::new(
                client::Config::default(),
                server::Config {
                    response_encoding: enc,
                    ..server::Config::default()
                },
                Instant::now(),
            );
            p.split = split;
            let mut req = client::Request::new("/pkg.Svc/Bidi");
            req.encoding = enc;
            let c = p.client.start_call(req, p.now).unwrap();
            let big = Bytes::from(vec![b'a'; 100_000]);
            p.client.send_message(c, big.clone()).unwrap();
            p.client.half_close(c).unwrap();
            p.drive();
            let s = server_call(&mut p);
            assert_eq!(
                p.server_events.pop_front(),
                Some(server::Event::Message {
                    call: s,
                    data: big.clone()
                })
            );
            p.server.send_message(s, big.clone()).unwrap();
            p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
            // the wire carries far fewer bytes than the messages
            let mut wire = 0;
            while let Some(t) = p.server.poll_transmit() {
                wire += t.len();
                for chunk in t {
                    let _ = p.client.recv(chunk, p.now);
                }
            }
            assert!(wire < 10_000, "{enc:?}: {wire} bytes on the wire");
            p.drive();
            let got: Vec<_> = std::iter::from_fn(|| p.client.poll_event())
                .chain(p.client_events.drain(..))
                .collect();
            assert!(
                got.iter()
                    .any(|e| matches!(e, client::Event::Message { data, .. } if *data == big)),
                "{enc:?}"
            );
            assert!(
                got.iter()
                    .any(|e| matches!(e, client::Event::Status { status, .. } if status.is_ok())),
                "{enc:?}"
            );
        }
    }
}

#[cfg(feature = "compression")]
#[test]
fn gzip_bomb_is_resource_exhausted() {
    use grpc_sansio::grpc::Encoding;
    let mut p = Pair::new(
        client::Config::default(),
        server::Config {
            max_receive_message_size: 64 << 10,
            ..server::Config::default()
        },
        Instant::now(),
    );
    let mut req = client::Request::new("/pkg.Svc/Bomb");
    req.encoding = Encoding::Gzip;
    let c = p.client.start_call(req, p.now).unwrap();
    // 10 MiB of zeros compresses to ~10 KiB: under the limit on the wire
    p.client
        .send_message(c, Bytes::from(vec![0u8; 10 << 20]))
        .unwrap();
    p.drive();
    let status = p.client_events.iter().find_map(|e| match e {
        client::Event::Status { call, status, .. } if *call == c => Some(status.code),
        _ => None,
    });
    assert_eq!(status, Some(Code::ResourceExhausted));
    assert!(p.server.held_bytes() < 1 << 20);
}

/// Fuzz finding (grpc_server): messages that arrived with the request were
/// still reported after the application rejected the call.
#[test]
fn nothing_is_reported_about_a_call_after_finish() {
    let mut p = pair();
    p.drive(); // handshake: calls wait for the server's SETTINGS
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/X"), p.now)
        .unwrap();
    p.client
        .send_message(c, Bytes::from_static(b"one"))
        .unwrap();
    p.client.half_close(c).unwrap();
    // deliver everything to the server, but look at its events one by one
    while let Some(t) = p.client.poll_transmit() {
        for chunk in t {
            let _ = p.server.recv(chunk, p.now);
        }
    }
    let s = match p.server.poll_event() {
        Some(server::Event::Call { call, .. }) => call,
        other => panic!("{other:?}"),
    };
    p.server
        .reject(s, Status::new(Code::PermissionDenied, "no"))
        .unwrap();
    assert_eq!(
        p.server.poll_event(),
        None,
        "no message or half-close after reject"
    );
}

/// DESIGN §1, backpressure inbound: a server application that does not
/// consume its events stops the client's flow of messages; what the
/// server holds stays within its flow-control windows.
#[test]
fn slow_server_application_slows_the_client() {
    let mut p = pair();
    p.drive();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/Upload"), p.now)
        .unwrap();
    let msg = Bytes::from(vec![9u8; 64 << 10]);
    let mut accepted = 0usize;
    for _ in 0..2000 {
        while p.client.send_message(c, msg.clone()).is_ok() {
            accepted += msg.len();
            if accepted > 64 << 20 {
                break;
            }
        }
        // move bytes both ways; the client's events are read, the server's not
        let mut moved = false;
        while let Some(t) = p.client.poll_transmit() {
            moved = true;
            for chunk in t {
                let _ = p.server.recv(chunk, p.now);
            }
        }
        while let Some(t) = p.server.poll_transmit() {
            moved = true;
            for chunk in t {
                let _ = p.client.recv(chunk, p.now);
            }
        }
        while p.client.poll_event().is_some() {}
        if !moved {
            break;
        }
    }
    let held = p.server.held_bytes();
    // the server's connection window (2 MiB by default) bounds what it holds
    assert!(held < 3 << 20, "server holds {held} bytes");
    assert!(
        accepted < 8 << 20,
        "client queued {accepted} bytes without the server reading"
    );
    // once the application reads, everything flows again
    let mut got = 0usize;
    for _ in 0..10_000 {
        p.step();
        while let Some(ev) = p.server_events.pop_front() {
            if let server::Event::Message { data, .. } = ev {
                got += data.len();
            }
        }
        if got >= accepted {
            break;
        }
    }
    assert_eq!(got, accepted);
}

#[test]
fn server_cancel_is_cancelled_at_the_client() {
    let mut p = pair();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/X"), p.now)
        .unwrap();
    p.client.send_message(c, Bytes::from_static(b"m")).unwrap();
    p.drive();
    let s = server_call(&mut p);
    p.server.cancel(s).unwrap();
    assert_eq!(p.server.cancel(s), Err(server::CallError::UnknownCall));
    p.drive();
    assert!(
        p.server_events
            .iter()
            .all(|e| !matches!(e, server::Event::Cancelled { .. }))
    );
    match p.client_events.pop_front() {
        Some(client::Event::Status { call, status, .. }) => {
            assert_eq!(call, c);
            assert_eq!(status.code, Code::Cancelled);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(p.server.active_calls(), 0);
    assert_eq!(p.client.active_calls(), 0);
}

#[test]
fn client_stream_reset_through_h2_ends_the_call_once() {
    let mut p = pair();
    p.drive();
    let c = p
        .client
        .start_call(client::Request::new("/pkg.Svc/X"), p.now)
        .unwrap();
    p.drive();
    let _ = server_call(&mut p);
    p.client
        .h2()
        .reset_stream(
            grpc_sansio::frame::StreamId(1),
            grpc_sansio::ErrorCode::CANCEL,
        )
        .unwrap();
    p.drive();
    let statuses: Vec<_> = p
        .client_events
        .iter()
        .filter(|e| matches!(e, client::Event::Status { call, .. } if *call == c))
        .collect();
    assert_eq!(statuses.len(), 1);
    assert_eq!(p.client.active_calls(), 0);
}
