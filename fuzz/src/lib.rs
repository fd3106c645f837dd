//! Shared pieces of the fuzz targets.
//!
//! Every target reads the same input layout, chosen so that seeds can be
//! written by hand and the wire bytes stay contiguous (libFuzzer's
//! dictionary and splice mutations then work on real frames):
//!
//! ```text
//! byte 0       options: a bit field, its meaning per target
//! bytes 1..=8  seed (little-endian u64) of the generator that picks chunk
//!              sizes, time steps and which commands to issue
//! bytes 9..    the payload: wire bytes (or HPACK blocks)
//! ```
//!
//! Shorter inputs are padded with zeros. This is why `arbitrary` is not
//! used: its encoding of a `Vec<Vec<u8>>` would interleave lengths with the
//! frames and make hand-made seeds and the dictionary much less useful.

use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::ErrorCode;
use grpc_sansio::h2::{Connection, Event, HeadersKind};
use grpc_sansio::hpack::Field;

/// A parsed fuzz input.
pub struct Input<'a> {
    /// Byte 0.
    pub options: u8,
    /// The generator for everything that is not wire bytes.
    pub rng: Rng,
    /// The rest.
    pub payload: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits raw fuzzer bytes into options, seed and payload.
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let options = data.first().copied().unwrap_or(0);
        let mut seed = [0u8; 8];
        let seed_bytes = data.get(1..9).unwrap_or(data.get(1..).unwrap_or(&[]));
        seed[..seed_bytes.len()].copy_from_slice(seed_bytes);
        Input {
            options,
            rng: Rng::new(u64::from_le_bytes(seed)),
            payload: data.get(9..).unwrap_or(&[]),
        }
    }

    /// Whether option bit `bit` (0..8) is set.
    pub fn bit(&self, bit: u8) -> bool {
        self.options & (1 << bit) != 0
    }
}

/// xorshift64*: small, deterministic, never stuck at zero.
pub struct Rng(u64);

impl Rng {
    /// A generator; any seed (zero included) is fine.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }
    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    /// The length of the next chunk of `rest` bytes: sometimes 1 byte,
    /// sometimes a few, sometimes a frame-sized piece, sometimes all.
    pub fn chunk_len(&mut self, rest: usize) -> usize {
        let n = match self.below(8) {
            0 => 1,
            1..=3 => 1 + self.below(16),
            4..=5 => 1 + self.below(256),
            6 => 1 + self.below(rest.max(1)),
            _ => rest,
        };
        n.clamp(1, rest.max(1))
    }

    /// A time step: mostly none or milliseconds, sometimes seconds (so the
    /// handshake, SETTINGS ACK and shutdown timers fire).
    pub fn time_step(&mut self) -> Duration {
        match self.below(16) {
            0..=7 => Duration::ZERO,
            8..=13 => Duration::from_millis(self.below(50) as u64),
            14 => Duration::from_secs(self.below(4) as u64),
            _ => Duration::from_secs(5 + self.below(30) as u64),
        }
    }
}

/// Splits `payload` into chunks as `rng` decides.
pub fn chunks<'a>(payload: &'a [u8], rng: &mut Rng) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let (c, r) = rest.split_at(rng.chunk_len(rest.len()));
        out.push(c);
        rest = r;
    }
    out
}

/// A ceiling on what a connection may hold with the default `Config`:
/// the sum of its documented bounds (queued control bytes, per-stream send
/// buffers are ours, one frame, one header block), with slack. Crossing it
/// means some bound is not enforced.
pub const HELD_BYTES_CEILING: usize = 64 << 20;

/// How the driver treats output.
#[derive(Clone, Copy)]
pub struct Driver {
    /// Take transmits only now and then: a peer that reads slowly.
    pub slow_reader: bool,
    /// Answer requests (server) / send more data (client).
    pub respond: bool,
}

/// Drains a connection after input: events (acting on some), transmits
/// (unless the reader is slow), and timers. Returns the output bytes.
pub fn drain(conn: &mut Connection, now: Instant, rng: &mut Rng, d: Driver) -> usize {
    if conn.poll_timeout().is_some_and(|t| t <= now) {
        conn.handle_timeout(now);
    }
    let mut closed_seen = false;
    while let Some(event) = conn.poll_event() {
        assert!(!closed_seen, "event after Event::Closed: {event:?}");
        if d.respond {
            act_on(conn, &event, now, rng);
        }
        if let Event::Closed { .. } = event {
            closed_seen = true;
        }
    }
    let mut out = 0;
    if !d.slow_reader || rng.one_in(8) {
        while let Some(t) = conn.poll_transmit() {
            out += t.len();
        }
    }
    let held = conn.held_bytes();
    assert!(
        held < HELD_BYTES_CEILING,
        "held_bytes {held} over the ceiling"
    );
    out
}

fn status_200() -> [Field; 2] {
    [
        Field::new(&b":status"[..], &b"200"[..]),
        Field::new(&b"content-type"[..], &b"application/grpc"[..]),
    ]
}

fn trailers() -> [Field; 2] {
    [
        Field::new(&b"grpc-status"[..], &b"0"[..]),
        Field::new(&b"grpc-message"[..], &b""[..]),
    ]
}

/// What an application might do on an event. Results are ignored: a
/// command refused with a `SendError` is fine, a panic is not.
fn act_on(conn: &mut Connection, event: &Event, now: Instant, rng: &mut Rng) {
    match event {
        Event::Headers {
            stream_id,
            kind: HeadersKind::Request,
            end_stream,
            ..
        } => {
            let id = *stream_id;
            match rng.below(8) {
                0 => {
                    let _ = conn.reset_stream(id, ErrorCode::CANCEL);
                }
                1 => {
                    // Trailers-only response.
                    let mut f = status_200().to_vec();
                    f.extend(trailers());
                    let _ = conn.send_headers(id, &f, true);
                }
                _ => {
                    let _ = conn.send_headers(id, &status_200(), false);
                    if *end_stream {
                        let _ = conn.send_data(id, Bytes::from_static(b"\0\0\0\0\x02hi"), false);
                        let _ = conn.send_headers(id, &trailers(), true);
                    }
                }
            }
        }
        Event::Data {
            stream_id,
            end_stream: true,
            ..
        } => {
            let id = *stream_id;
            let body = Bytes::from(vec![0x5a; rng.below(40_000)]);
            let _ = conn.send_data(id, body, false);
            let _ = conn.send_headers(id, &trailers(), true);
        }
        Event::Headers {
            stream_id,
            kind: HeadersKind::Response { .. },
            end_stream: false,
            ..
        } if rng.one_in(4) => {
            let _ = conn.reset_stream(*stream_id, ErrorCode::CANCEL);
        }
        Event::Writable { stream_id } => {
            let _ = conn.send_data(*stream_id, Bytes::from_static(b"more"), rng.one_in(2));
        }
        Event::PeerSettings(_) if rng.one_in(4) => {
            let _ = conn.send_ping(*b"fuzzping");
        }
        Event::PingAck { .. } | Event::GoAway { .. } if rng.one_in(2) => {
            conn.shutdown(now);
        }
        _ => {}
    }
}

/// Feeds `payload` to `conn` in random chunks with random time steps,
/// draining after each; ends with EOF or a close now and then.
pub fn run(conn: &mut Connection, mut now: Instant, input: &mut Input<'_>, d: Driver) {
    let pieces = chunks(input.payload, &mut input.rng);
    for piece in pieces {
        now += input.rng.time_step();
        let _ = conn.recv(Bytes::copy_from_slice(piece), now);
        drain(conn, now, &mut input.rng, d);
        if input.rng.one_in(64) {
            conn.shutdown(now);
        }
    }
    now += input.rng.time_step();
    match input.rng.below(4) {
        0 => conn.recv_eof(now),
        1 => conn.close(ErrorCode::NO_ERROR, now),
        2 => now += Duration::from_secs(60),
        _ => {}
    }
    // Let every timer fire, a bounded number of times.
    for _ in 0..8 {
        drain(
            conn,
            now,
            &mut input.rng,
            Driver {
                slow_reader: false,
                ..d
            },
        );
        match conn.poll_timeout() {
            Some(t) => now = now.max(t),
            None => break,
        }
    }
}
