//! A client `Connection` that opened a couple of streams (one GET ended at
//! once, one POST that streams a body), fed arbitrary bytes as the server:
//! its SETTINGS, responses, pushes, resets, GOAWAYs.
//!
//! Options: bit 0 slow reader; bit 1 do not act on events; bit 2 open a
//! third stream after the first input chunk.
//! Checks: no panic; no event after `Closed`; held bytes bounded.
#![no_main]

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::h2::{Config, Connection, Role};
use grpc_sansio::hpack::Field;
use grpc_sansio_fuzz::{Driver, Input, drain, run};
use libfuzzer_sys::fuzz_target;

fn request(method: &'static str, path: &'static str) -> Vec<Field> {
    vec![
        Field::new(&b":method"[..], method.as_bytes()),
        Field::new(&b":scheme"[..], &b"http"[..]),
        Field::new(&b":path"[..], path.as_bytes()),
        Field::new(&b":authority"[..], &b"localhost"[..]),
        Field::new(&b"content-type"[..], &b"application/grpc"[..]),
        Field::new(&b"te"[..], &b"trailers"[..]),
    ]
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let d = Driver {
        slow_reader: input.bit(0),
        respond: !input.bit(1),
    };
    let now = Instant::now();
    let mut conn = Connection::new(Role::Client, Config::default(), now);
    let get = conn.open_stream(&request("GET", "/"), true);
    assert!(get.is_ok(), "first stream refused: {get:?}");
    if let Ok(post) = conn.open_stream(&request("POST", "/svc/Method"), false) {
        let _ = conn.send_data(post, Bytes::from_static(b"\0\0\0\0\x05hello"), false);
    }
    drain(&mut conn, now, &mut input.rng, d);
    if input.bit(2) {
        let payload = input.payload;
        let cut = input.rng.chunk_len(payload.len()).min(payload.len());
        let (head, tail) = payload.split_at(cut);
        let _ = conn.recv(Bytes::copy_from_slice(head), now);
        drain(&mut conn, now, &mut input.rng, d);
        let _ = conn.open_stream(&request("POST", "/svc/Other"), true);
        input.payload = tail;
    }
    run(&mut conn, now, &mut input, d);
});
