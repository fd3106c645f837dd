//! A gRPC server endpoint fed the client preface and arbitrary bytes in
//! arbitrary chunks and time steps; the application answers calls in ways
//! the seed picks (headers, messages, finish, reject, nothing).
//!
//! Options: bit 0 do not answer; bit 1 small limits; bit 2 gzip responses.
//! Checks: no panic; nothing after `Closed`; no event for a call after its
//! `Cancelled` or after the application finished it; held bytes bounded.
#![no_main]

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::frame::PREFACE;
use grpc_sansio::grpc::{Code, Encoding, Metadata, Status};
use grpc_sansio::server::{Config, Connection, Event};
use grpc_sansio_fuzz::{HELD_BYTES_CEILING, Input, chunks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let mut config = Config::default();
    if input.bit(1) {
        config.max_receive_message_size = 64;
        config.h2.max_concurrent_streams = 3;
        config.h2.max_header_list_size = 512;
    }
    if input.bit(2) {
        config.response_encoding = Encoding::Gzip;
    }
    let answer = !input.bit(0);
    let mut now = Instant::now();
    let mut conn = Connection::new(config, now);
    let _ = conn.recv(Bytes::from_static(PREFACE), now);
    let mut ended = BTreeSet::new();
    let mut closed = false;
    let payload = input.payload;
    for chunk in chunks(payload, &mut input.rng) {
        now += input.rng.time_step();
        conn.handle_timeout(now);
        let _ = conn.recv(Bytes::copy_from_slice(chunk), now);
        while let Some(ev) = conn.poll_event() {
            assert!(!closed, "event after Closed: {ev:?}");
            match ev {
                Event::Call { call, .. } => {
                    // An Err means the call already ended; its Cancelled
                    // event is still queued.
                    if answer
                        && input.rng.one_in(3)
                        && conn
                            .reject(call, Status::new(Code::Unimplemented, "no"))
                            .is_ok()
                    {
                        ended.insert(call);
                    }
                }
                Event::Message { call, data } => {
                    assert!(!ended.contains(&call), "message after the call ended");
                    if answer && input.rng.one_in(2) {
                        let _ = conn.send_message(call, data);
                    }
                }
                Event::HalfClose { call } => {
                    assert!(!ended.contains(&call), "half-close after the call ended");
                    if answer {
                        let mut md = Metadata::new();
                        let _ = md.append("x-fuzz", "1");
                        if conn.finish(call, Status::ok(), &md).is_ok() {
                            ended.insert(call);
                        }
                    }
                }
                Event::Cancelled { call, .. } => {
                    assert!(ended.insert(call), "second ending for {call:?}");
                }
                Event::Writable { .. } | Event::GoAway { .. } => {}
                Event::Closed { .. } => closed = true,
            }
        }
        while conn.poll_transmit().is_some() {}
        assert!(
            conn.held_bytes() < HELD_BYTES_CEILING,
            "held {}",
            conn.held_bytes()
        );
    }
    conn.recv_eof(now);
    while conn.poll_event().is_some() {}
});
