//! Per-message compression, both ways: a compressed call can carry an
//! uncompressed message, and each received message reports its flag.
#![cfg(feature = "compression")]
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::client;
use grpc_sansio::grpc::{Encoding, Metadata, Status};
use grpc_sansio::server::{Config, Connection, Event};

/// Moves bytes both ways until neither side has any to send.
fn shuttle(c: &mut client::Connection, s: &mut Connection, now: Instant) {
    loop {
        let mut moved = false;
        while let Some(t) = c.poll_transmit() {
            for chunk in t.chunks() {
                s.recv(chunk.clone(), now).unwrap();
            }
            moved = true;
        }
        while let Some(t) = s.poll_transmit() {
            for chunk in t.chunks() {
                c.recv(chunk.clone(), now).unwrap();
            }
            moved = true;
        }
        // The client opens streams only once it saw the server's SETTINGS.
        while c.poll_event().is_some() {}
        if !moved {
            return;
        }
    }
}

fn gzip_pair(now: Instant) -> (client::Connection, Connection) {
    let config = Config {
        response_encoding: Encoding::Gzip,
        ..Config::default()
    };
    let mut c = client::Connection::new(client::Config::default(), now);
    let mut s = Connection::new(config, now);
    shuttle(&mut c, &mut s, now);
    (c, s)
}

fn gzip_request() -> client::Request {
    let mut r = client::Request::new("/t.T/M");
    r.encoding = Encoding::Gzip;
    r
}

#[test]
fn compression_is_chosen_and_reported_per_message() {
    let now = Instant::now();
    let (mut c, mut s) = gzip_pair(now);
    let call = c.start_call(gzip_request(), now).unwrap();
    c.send_message(call, Bytes::from_static(b"squeezed"))
        .unwrap();
    c.send_message_uncompressed(call, Bytes::from_static(b"plain"))
        .unwrap();
    c.half_close(call).unwrap();
    // Client to server only: the client's events are looked at below.
    while let Some(t) = c.poll_transmit() {
        for chunk in t.chunks() {
            s.recv(chunk.clone(), now).unwrap();
        }
    }
    let mut got = Vec::new();
    let mut id = None;
    while let Some(e) = s.poll_event() {
        match e {
            Event::Call { call, .. } => id = Some(call),
            Event::Message { data, .. } => got.push((data, s.last_message_compressed())),
            _ => {}
        }
    }
    assert_eq!(
        got,
        [
            (Bytes::from_static(b"squeezed"), true),
            (Bytes::from_static(b"plain"), false)
        ]
    );
    let id = id.unwrap();
    s.send_message(id, Bytes::from_static(b"big")).unwrap();
    s.send_message_uncompressed(id, Bytes::from_static(b"small"))
        .unwrap();
    s.finish(id, Status::ok(), &Metadata::new()).unwrap();
    while let Some(t) = s.poll_transmit() {
        for chunk in t.chunks() {
            c.recv(chunk.clone(), now).unwrap();
        }
    }
    let mut got = Vec::new();
    while let Some(e) = c.poll_event() {
        if let client::Event::Message { data, .. } = e {
            got.push((data, c.last_message_compressed()));
        }
    }
    assert_eq!(
        got,
        [
            (Bytes::from_static(b"big"), true),
            (Bytes::from_static(b"small"), false)
        ]
    );
}

#[test]
fn flags_stay_in_step_when_a_call_s_messages_are_dropped() {
    let now = Instant::now();
    let (mut c, mut s) = gzip_pair(now);
    let a = c.start_call(gzip_request(), now).unwrap();
    for _ in 0..3 {
        c.send_message(a, Bytes::from_static(b"a")).unwrap();
    }
    let b = c.start_call(gzip_request(), now).unwrap();
    c.send_message_uncompressed(b, Bytes::from_static(b"b"))
        .unwrap();
    while let Some(t) = c.poll_transmit() {
        for chunk in t.chunks() {
            s.recv(chunk.clone(), now).unwrap();
        }
    }
    let mut seen_b = None;
    while let Some(e) = s.poll_event() {
        match e {
            // Finishing A drops its queued messages, and their flags.
            Event::Message { call, .. } if call.0 == 1 => {
                assert!(s.last_message_compressed());
                let _ = s.finish(call, Status::ok(), &Metadata::new());
            }
            Event::Message { data, .. } => {
                seen_b = Some((data, s.last_message_compressed()));
            }
            _ => {}
        }
    }
    assert_eq!(seen_b, Some((Bytes::from_static(b"b"), false)));
}

/// The status a gzip message over the receive limit gets is a sentence
/// naming the limit and the setting, not Rust debug text (issue 13, 7).
#[test]
fn gzip_message_over_the_limit_is_refused_in_words() {
    let now = Instant::now();
    let config = Config {
        max_receive_message_size: 1000,
        ..Config::default()
    };
    let mut c = client::Connection::new(client::Config::default(), now);
    let mut s = Connection::new(config, now);
    shuttle(&mut c, &mut s, now);
    let call = c.start_call(gzip_request(), now).unwrap();
    // 10 KiB of zeros compress to a few dozen bytes: under the limit on
    // the wire, over it once decompressed.
    c.send_message(call, Bytes::from(vec![0u8; 10 << 10]))
        .unwrap();
    c.half_close(call).unwrap();
    while let Some(t) = c.poll_transmit() {
        for chunk in t.chunks() {
            s.recv(chunk.clone(), now).unwrap();
        }
    }
    let mut server_status = None;
    while let Some(e) = s.poll_event() {
        if let Event::Cancelled { status, .. } = e {
            server_status = Some(status);
        }
    }
    let want = "cannot decompress a gzip message: the decompressed message is larger \
                than the 1000-byte limit (max_receive_message_size)";
    let status = server_status.expect("the call is refused");
    assert_eq!(status.code, grpc_sansio::grpc::Code::ResourceExhausted);
    assert_eq!(status.message, want);
    while let Some(t) = s.poll_transmit() {
        for chunk in t.chunks() {
            c.recv(chunk.clone(), now).unwrap();
        }
    }
    let mut client_status = None;
    while let Some(e) = c.poll_event() {
        if let client::Event::Status { status, .. } = e {
            client_status = Some(status);
        }
    }
    assert_eq!(client_status.expect("a status").message, want);
}
