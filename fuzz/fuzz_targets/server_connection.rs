//! A server `Connection` fed the client preface and then arbitrary bytes in
//! arbitrary chunks, with arbitrary time steps; events are drained and some
//! acted on (responses, resets, pings, shutdown), transmits drained, timers
//! fired.
//!
//! Options: bit 0 slow reader (transmits taken only now and then); bit 1
//! do not act on events; bit 2 a small config (tight windows and limits);
//! bit 3 leave the preface to the payload.
//! Checks: no panic; no event after `Closed`; held bytes bounded.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::frame::PREFACE;
use grpc_sansio::h2::{Config, Connection, Role};
use grpc_sansio_fuzz::{Driver, Input, drain, run};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let d = Driver {
        slow_reader: input.bit(0),
        respond: !input.bit(1),
    };
    let config = if input.bit(2) {
        small_config()
    } else {
        Config::default()
    };
    let now = Instant::now();
    let mut conn = Connection::new(Role::Server, config, now);
    if !input.bit(3) {
        let _ = conn.recv(Bytes::from_static(PREFACE), now);
    }
    drain(&mut conn, now, &mut input.rng, d);
    run(&mut conn, now, &mut input, d);
});

fn small_config() -> Config {
    Config {
        max_concurrent_streams: 4,
        initial_window_size: 1024,
        stream_window: 4096,
        connection_window: 65_535,
        max_header_list_size: 512,
        max_continuation_frames: 2,
        max_header_block_size: 1024,
        max_closed_streams_remembered: 4,
        max_pending_control_bytes: 4096,
        max_send_buffer: 1024,
        ..Config::default()
    }
}
