//! A gRPC client endpoint with a unary call, a streaming call and a call
//! with a deadline, fed arbitrary bytes as the server in arbitrary chunks
//! and time steps.
//!
//! Options: bit 0 small limits; bit 1 gzip requests; bit 2 start a call
//! midway.
//! Checks: no panic; each call ends with exactly one Status and nothing
//! after it; after end of input every call has ended; nothing after
//! `Closed`; held bytes bounded.
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::client::{Config, Connection, Event, Request};
use grpc_sansio::grpc::Encoding;
use grpc_sansio_fuzz::{HELD_BYTES_CEILING, Input, chunks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let mut config = Config::default();
    if input.bit(0) {
        config.max_receive_message_size = 64;
        config.max_queued_calls = 2;
    }
    let mut now = Instant::now();
    let mut conn = Connection::new(config, now);
    let mut started = BTreeSet::new();
    let mut ended = BTreeMap::new();
    let mut req = Request::new("/fuzz.Svc/Unary");
    if input.bit(1) {
        req.encoding = Encoding::Gzip;
    }
    if let Ok(c) = conn.start_call(req, now) {
        let _ = conn.send_message(c, Bytes::from_static(b"hello"));
        let _ = conn.half_close(c);
        started.insert(c);
    }
    if let Ok(c) = conn.start_call(Request::new("/fuzz.Svc/Stream"), now) {
        let _ = conn.send_message(c, Bytes::from_static(b"one"));
        started.insert(c);
    }
    let mut timed = Request::new("/fuzz.Svc/Timed");
    timed.deadline = Some(now + Duration::from_millis(200));
    if let Ok(c) = conn.start_call(timed, now) {
        started.insert(c);
    }
    let mut closed = false;
    let payload = input.payload;
    let pieces = chunks(payload, &mut input.rng);
    let midway = pieces.len() / 2;
    for (i, chunk) in pieces.into_iter().enumerate() {
        if i == midway && input.bit(2) {
            if let Ok(c) = conn.start_call(Request::new("/fuzz.Svc/Late"), now) {
                started.insert(c);
            }
        }
        now += input.rng.time_step();
        conn.handle_timeout(now);
        let _ = conn.recv(Bytes::copy_from_slice(chunk), now);
        drain(&mut conn, &mut ended, &mut closed);
        while conn.poll_transmit().is_some() {}
        assert!(
            conn.held_bytes() < HELD_BYTES_CEILING,
            "held {}",
            conn.held_bytes()
        );
    }
    conn.recv_eof(now);
    drain(&mut conn, &mut ended, &mut closed);
    for c in &started {
        assert_eq!(ended.get(c), Some(&1), "call {c:?} must end exactly once");
    }
});

fn drain(
    conn: &mut Connection,
    ended: &mut BTreeMap<grpc_sansio::grpc::CallId, u32>,
    closed: &mut bool,
) {
    while let Some(ev) = conn.poll_event() {
        assert!(!*closed, "event after Closed: {ev:?}");
        match ev {
            Event::Headers { call, .. }
            | Event::Message { call, .. }
            | Event::Writable { call } => {
                assert!(
                    !ended.contains_key(&call),
                    "event after the status of {call:?}"
                );
            }
            Event::Status { call, .. } => *ended.entry(call).or_default() += 1,
            Event::GoAway { .. } => {}
            Event::Closed { .. } => *closed = true,
        }
    }
}
