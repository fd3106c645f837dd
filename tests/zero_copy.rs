//! Payloads are never copied by the cores: a message sent as a `Bytes`
//! reaches the receiving application as a slice of the very bytes that
//! crossed the "wire", when the receiver lets the message travel in one
//! DATA frame (SETTINGS_MAX_FRAME_SIZE and windows at least its size) and
//! the transport hands the frame's body over in one piece, as a socket read
//! of the sender's vectored write does. In memory (`testing::Pair` passes
//! the transmitted chunks through as they are), the received message is
//! then the sent `Bytes`' own memory.

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

const MIB: usize = 1 << 20;

fn big_frames_client() -> client::Config {
    let mut c = client::Config {
        max_receive_message_size: 8 * MIB,
        ..client::Config::default()
    };
    c.h2.max_frame_size = (1 << 24) - 1;
    c.h2.initial_window_size = 8 * MIB as u32;
    c.h2.stream_window = 8 * MIB as u32;
    c.h2.connection_window = 16 * MIB as u32;
    c
}

/// Server-streams `sent` on one call; returns what the client got.
fn stream(p: &mut Pair, sent: &[Bytes]) -> Vec<Bytes> {
    let (_, call) = p.open_call("/bench.Bench/Stream", true);
    let mut got = Vec::new();
    for m in sent {
        p.server.send_message(call, m.clone()).unwrap();
        p.drive();
        while let Some(ev) = p.client_events.pop_front() {
            if let client::Event::Message { data, .. } = ev {
                got.push(data);
            }
        }
    }
    p.server
        .finish(call, Status::ok(), &Metadata::new())
        .unwrap();
    p.drive();
    got
}

#[test]
fn one_mib_messages_arrive_without_a_copy() {
    let mut p = Pair::new(
        big_frames_client(),
        server::Config::default(),
        Instant::now(),
    );
    p.drive();
    let sent: Vec<Bytes> = (0..4u8).map(|i| Bytes::from(vec![i; MIB])).collect();
    let got = stream(&mut p, &sent);
    assert_eq!(got.len(), sent.len());
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(g, s);
        assert_eq!(g.as_ptr(), s.as_ptr(), "the message was copied");
    }
}

#[test]
fn default_frames_deliver_the_same_messages() {
    // With the default 16 KiB frames a message spans many DATA frames and
    // is gathered (one copy, in the deframer): same bytes, other memory.
    let mut p = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    p.drive();
    let sent: Vec<Bytes> = (0..3u8).map(|i| Bytes::from(vec![i; 100_000])).collect();
    let got = stream(&mut p, &sent);
    assert_eq!(got, sent);
}
