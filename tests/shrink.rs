//! `shrink()` gives back what a quiet connection keeps for reuse, changes
//! nothing observable, and the connection goes on as before.

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

/// One unary call with `n`-byte messages each way; returns the reply.
fn call(p: &mut Pair, n: usize) -> Bytes {
    p.echo_unary("/t.S/M", &Bytes::from(vec![1u8; n]))
        .expect("the call ends OK")
}

#[test]
fn a_quiet_connection_gives_memory_back_and_goes_on() {
    let mut p = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    p.drive();
    // A burst of concurrent calls grows tables and queues.
    for n in [16, 1000, 70_000] {
        assert_eq!(call(&mut p, n).len(), n);
    }
    let (client_before, server_before) = (p.client.held_bytes(), p.server.held_bytes());
    p.client.shrink();
    p.server.shrink();
    let (client_after, server_after) = (p.client.held_bytes(), p.server.held_bytes());
    assert!(
        client_after < client_before,
        "client {client_before} -> {client_after}"
    );
    assert!(
        server_after < server_before,
        "server {server_before} -> {server_after}"
    );
    assert!(
        !p.drive() || p.client_events.is_empty(),
        "shrink made something happen"
    );
    // Shrinking twice, or with nothing to give back, is harmless.
    p.client.shrink();
    p.server.shrink();
    for n in [16, 70_000, 3] {
        assert_eq!(call(&mut p, n).len(), n);
    }
}

#[test]
fn shrink_with_calls_open_keeps_them() {
    let mut p = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    p.drive();
    let c = p
        .client
        .start_call(client::Request::new("/t.S/Open"), p.now)
        .unwrap();
    p.client
        .send_message(c, Bytes::from_static(b"one"))
        .unwrap();
    p.drive();
    p.client.shrink();
    p.server.shrink();
    p.client
        .send_message(c, Bytes::from_static(b"two"))
        .unwrap();
    p.client.half_close(c).unwrap();
    p.drive();
    let mut got = Vec::new();
    let mut call_id = None;
    while let Some(ev) = p.server_events.pop_front() {
        match ev {
            server::Event::Message { data, .. } => got.push(data),
            server::Event::HalfClose { call } => call_id = Some(call),
            _ => {}
        }
    }
    assert_eq!(
        got,
        [Bytes::from_static(b"one"), Bytes::from_static(b"two")]
    );
    let s = call_id.expect("no half-close");
    p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    assert!(p
        .client_events
        .iter()
        .any(|e| matches!(e, client::Event::Status { status, .. } if status.code == grpc_sansio::grpc::Code::Ok)));
}
