//! The attack suite: every known class of HTTP/2 and gRPC denial-of-service
//! attack, played as bytes against our gRPC server (and, where it applies,
//! our client), with default limits unless a test says otherwise.
//!
//! Each test asserts (a) the outcome the RFCs and our limits promise —
//! GOAWAY with the right code, RST_STREAM, or harmless absorption — and
//! (b) that the bytes the endpoint holds (`held_bytes`: buffers, queues,
//! tables and per-stream bookkeeping) stay under a stated bound at every
//! step of the attack, sampled after each chunk the attacker sends.
//!
//! CPU is bounded by construction (work per received frame is constant or
//! proportional to its bytes, and every kind of frame that costs work
//! without carrying data is rate-limited); these tests check the outcome,
//! the attack's input size stands in for the CPU spent.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{self, Frame, FrameDecoder, FrameHeader, StreamId, flags, kind};
use grpc_sansio::grpc::{Code, Status};
use grpc_sansio::hpack::{self, Field};
use grpc_sansio::{client, server};

const CALM: ErrorCode = ErrorCode::ENHANCE_YOUR_CALM;

// ----------------------------------------------------------------------
// Harness
// ----------------------------------------------------------------------

fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = FrameHeader {
        length: payload.len() as u32,
        kind,
        flags,
        stream_id: StreamId(stream),
    }
    .to_bytes()
    .to_vec();
    v.extend_from_slice(payload);
    v
}

fn f(name: &str, value: &str) -> Field {
    Field::new(
        Bytes::copy_from_slice(name.as_bytes()),
        Bytes::copy_from_slice(value.as_bytes()),
    )
}

fn grpc_request(path: &str) -> Vec<Field> {
    vec![
        f(":method", "POST"),
        f(":scheme", "http"),
        f(":path", path),
        f(":authority", "attacked.example"),
        f("content-type", "application/grpc"),
        f("te", "trailers"),
    ]
}

/// An HPACK integer with an `n`-bit prefix whose high bits are `first`.
fn hpack_int(first: u8, n: u32, mut v: usize, out: &mut Vec<u8>) {
    let max = (1usize << n) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

/// A literal header field with incremental indexing and a new name.
fn literal_indexed(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x40];
    hpack_int(0, 7, name.len(), &mut out);
    out.extend_from_slice(name);
    hpack_int(0, 7, value.len(), &mut out);
    out.extend_from_slice(value);
    out
}

/// How the attacked endpoint's application and socket behave.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// Reads everything we send (an attacker that keeps its socket open).
    Reads,
    /// Never reads: our output stays in the core.
    NeverReads,
}

/// What the attacked endpoint sent back.
#[derive(Default)]
struct Seen {
    goaway: Option<ErrorCode>,
    resets: usize,
    data_frames: usize,
    headers: usize,
    /// Frames and bytes we sent (the answers' cost).
    frames: usize,
    bytes: usize,
}

/// Our gRPC server under attack.
struct Target {
    conn: server::Connection,
    now: Instant,
    peer: Peer,
    enc: hpack::Encoder,
    out: FrameDecoder,
    seen: Seen,
    max_held: usize,
    /// Whether the application answers calls (reject with UNIMPLEMENTED)
    /// or lets them sit.
    answer_calls: bool,
    calls: usize,
    messages: Vec<Bytes>,
    cancelled: Vec<Status>,
    /// When the target was made (for `work_per_peer_byte_is_bounded`).
    made: Instant,
}

impl Target {
    fn server(config: server::Config, peer: Peer) -> Target {
        let now = Instant::now();
        let mut t = Target {
            conn: server::Connection::new(config, now),
            now,
            peer,
            enc: hpack::Encoder::new(),
            out: FrameDecoder::new(frame::MAX_MAX_FRAME_SIZE),
            seen: Seen::default(),
            max_held: 0,
            answer_calls: false,
            calls: 0,
            messages: Vec::new(),
            cancelled: Vec::new(),
            made: now,
        };
        let mut hello = frame::PREFACE.to_vec();
        hello.extend(raw_frame(kind::SETTINGS, 0, 0, &[]));
        hello.extend(raw_frame(kind::SETTINGS, flags::ACK, 0, &[]));
        t.feed(&hello);
        t
    }

    fn default_server(peer: Peer) -> Target {
        Target::server(server::Config::default(), peer)
    }

    fn block(&mut self, fields: &[Field]) -> Bytes {
        let mut b = BytesMut::new();
        self.enc.encode(fields.iter(), &mut b);
        b.freeze()
    }

    fn request_bytes(&mut self, id: u32, end_stream: bool) -> Vec<u8> {
        let block = self.block(&grpc_request("/attack.Svc/Call"));
        let fl = flags::END_HEADERS | if end_stream { flags::END_STREAM } else { 0 };
        raw_frame(kind::HEADERS, fl, id, &block)
    }

    /// Feeds `bytes` in one `recv`, lets the application and the socket do
    /// their part, and records the held bytes.
    fn feed(&mut self, bytes: &[u8]) {
        if self.conn.is_closed() {
            return;
        }
        let _ = self.conn.recv(Bytes::copy_from_slice(bytes), self.now);
        self.settle();
    }

    /// Feeds `chunks` one `recv` each (the attacker's frames as separate
    /// reads), sampling after each.
    fn feed_each(&mut self, chunks: impl IntoIterator<Item = Vec<u8>>) {
        for c in chunks {
            if self.conn.is_closed() {
                break;
            }
            self.feed(&c);
        }
    }

    fn settle(&mut self) {
        self.max_held = self.max_held.max(self.conn.held_bytes());
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                server::Event::Call { call, .. } => {
                    self.calls += 1;
                    if self.answer_calls {
                        let _ = self
                            .conn
                            .reject(call, Status::new(Code::Unimplemented, "no"));
                    }
                }
                server::Event::Message { data, .. } => self.messages.push(data),
                server::Event::Cancelled { status, .. } => self.cancelled.push(status),
                _ => {}
            }
            self.max_held = self.max_held.max(self.conn.held_bytes());
        }
        if self.peer == Peer::Reads {
            self.drain_output();
        }
        self.max_held = self.max_held.max(self.conn.held_bytes());
    }

    fn drain_output(&mut self) {
        while let Some(t) = self.conn.poll_transmit() {
            for c in t.chunks() {
                self.seen.bytes += c.len();
                self.out.push(c.clone());
            }
        }
        while let Ok(Some(fr)) = self.out.decode() {
            self.seen.frames += 1;
            match fr {
                Frame::GoAway(g) => {
                    self.seen.goaway.get_or_insert(g.code);
                }
                Frame::RstStream(_) => self.seen.resets += 1,
                Frame::Data(_) => self.seen.data_frames += 1,
                Frame::Headers(_) => self.seen.headers += 1,
                _ => {}
            }
        }
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.conn.handle_timeout(self.now);
        self.settle();
    }

    #[track_caller]
    fn expect_goaway(&mut self, code: ErrorCode) {
        self.drain_output();
        assert_eq!(self.seen.goaway, Some(code), "GOAWAY code");
    }

    #[track_caller]
    fn expect_alive(&mut self) {
        self.drain_output();
        assert_eq!(
            self.seen.goaway,
            None,
            "no GOAWAY expected (held {}, {:?})",
            self.max_held,
            self.conn.h2().error()
        );
        assert!(!self.conn.is_closed());
    }

    #[track_caller]
    fn expect_held_below(&self, bound: usize) {
        assert!(
            self.max_held <= bound,
            "held up to {} bytes, bound {bound}",
            self.max_held
        );
    }
}

/// Bytes a fresh connection holds once the handshake is over (buffers,
/// tables); the bounds below are stated on top of it.
fn baseline() -> usize {
    let t = Target::default_server(Peer::Reads);
    t.conn.held_bytes()
}

const KIB: usize = 1024;

// ----------------------------------------------------------------------
// Rapid Reset, MadeYouReset, reset flood
// ----------------------------------------------------------------------

/// CVE-2023-44487: HEADERS then RST_STREAM, as fast as the attacker can.
/// The remote-reset rate (200 per 10 s) ends it with ENHANCE_YOUR_CALM.
#[test]
fn rapid_reset() {
    let mut t = Target::default_server(Peer::Reads);
    let mut n = 0;
    for i in 0..10_000u32 {
        let id = 1 + 2 * i;
        let mut b = t.request_bytes(id, false);
        b.extend(raw_frame(kind::RST_STREAM, 0, id, &8u32.to_be_bytes()));
        t.feed(&b);
        n += 1;
        if t.conn.is_closed() {
            break;
        }
    }
    t.expect_goaway(CALM);
    assert!(n <= 202, "took {n} resets to stop");
    t.expect_held_below(baseline() + 64 * KIB);
}

/// CVE-2025-8671: frames that make *us* reset the stream (WINDOW_UPDATE
/// with increment 0, DATA after END_STREAM, a bad content-length...). The
/// local-reset rate ends it.
#[test]
fn made_you_reset() {
    let mut t = Target::default_server(Peer::Reads);
    let mut n = 0;
    for i in 0..10_000u32 {
        let id = 1 + 2 * i;
        let mut b = t.request_bytes(id, i % 2 == 0);
        if i % 2 == 0 {
            // DATA on a half-closed (remote) stream: STREAM_CLOSED.
            b.extend(raw_frame(kind::DATA, 0, id, b"x"));
        } else {
            // WINDOW_UPDATE with increment 0: PROTOCOL_ERROR on the stream.
            b.extend(raw_frame(kind::WINDOW_UPDATE, 0, id, &[0; 4]));
        }
        t.feed(&b);
        n += 1;
        if t.conn.is_closed() {
            break;
        }
    }
    t.expect_goaway(CALM);
    assert!(n <= 202, "took {n} provoked resets to stop");
    assert!(t.seen.resets >= 100, "resets sent: {}", t.seen.resets);
    t.expect_held_below(baseline() + 64 * KIB);
}

/// CVE-2019-9514: a reset flood by a peer that never reads our RST_STREAMs.
/// The queued control output is bounded; the rate ends the connection.
#[test]
fn reset_flood_peer_never_reads() {
    let mut t = Target::default_server(Peer::NeverReads);
    for i in 0..5_000u32 {
        let id = 1 + 2 * i;
        let mut b = t.request_bytes(id, false);
        b.extend(raw_frame(kind::WINDOW_UPDATE, 0, id, &[0; 4]));
        t.feed(&b);
        if t.conn.is_closed() {
            break;
        }
    }
    t.drain_output();
    assert_eq!(t.seen.goaway, Some(CALM));
    t.expect_held_below(baseline() + 64 * KIB);
}

// ----------------------------------------------------------------------
// CONTINUATION flood, huge header blocks, HPACK bombs
// ----------------------------------------------------------------------

/// The 2024 CONTINUATION family: HEADERS without END_HEADERS, then
/// CONTINUATION frames forever. At most 32 frames or 64 KiB of block are
/// held; then ENHANCE_YOUR_CALM.
#[test]
fn continuation_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let block = t.block(&grpc_request("/a.B/C"));
    let mut chunks = vec![raw_frame(kind::HEADERS, 0, 1, &block)];
    chunks.extend((0..100_000).map(|_| raw_frame(kind::CONTINUATION, 0, 1, &[])));
    t.feed_each(chunks);
    t.expect_goaway(CALM);
    t.expect_held_below(baseline() + 80 * KIB);

    // The same with full frames: the block limit trips first.
    let mut t = Target::default_server(Peer::Reads);
    let mut chunks = vec![raw_frame(kind::HEADERS, 0, 1, &block)];
    chunks.extend((0..1_000).map(|_| raw_frame(kind::CONTINUATION, 0, 1, &[0x61; 16_384])));
    t.feed_each(chunks);
    t.expect_goaway(CALM);
    t.expect_held_below(baseline() + 128 * KIB);
}

/// One huge header block in a single HEADERS frame per stream, over and
/// over: each is refused (431 via the header-list limit) without growth.
#[test]
fn huge_header_blocks() {
    let mut t = Target::default_server(Peer::Reads);
    for i in 0..200u32 {
        let mut fields = grpc_request("/a.B/C");
        fields.push(f("x-big", &"v".repeat(15_000)));
        fields.push(f("x-big2", &"w".repeat(15_000)));
        let block = t.block(&fields);
        let (a, b) = block.split_at(block.len() / 2);
        let mut bytes = raw_frame(kind::HEADERS, flags::END_STREAM, 1 + 2 * i, a);
        bytes.extend(raw_frame(
            kind::CONTINUATION,
            flags::END_HEADERS,
            1 + 2 * i,
            b,
        ));
        t.feed(&bytes);
    }
    assert_eq!(
        t.calls, 0,
        "no call may be admitted with a 30 KB header list"
    );
    assert_eq!(t.seen.headers, 200, "each request is answered (HTTP 431)");
    t.expect_alive();
    t.expect_held_below(baseline() + 96 * KIB);
}

/// HPACK bomb: one 4 KB entry in the dynamic table, then blocks that
/// reference it hundreds of times (1 byte each → 4 KB decoded each). The
/// header-list limit (16 KiB) stops decoding growth: the request is
/// answered 431/refused and the table stays in sync for later requests.
#[test]
fn hpack_bomb() {
    let mut t = Target::default_server(Peer::Reads);
    // The first request inserts the entry and is itself fine.
    let mut b = t.block(&grpc_request("/a.B/C")).to_vec();
    b.extend(literal_indexed(b"x-bomb", &[b'a'; 4000]));
    t.feed(&raw_frame(
        kind::HEADERS,
        flags::END_HEADERS | flags::END_STREAM,
        1,
        &b,
    ));
    assert_eq!(t.calls, 1);
    let before = t.max_held;
    // Then 100 requests each referencing it 1000 times: 4 MB decoded each if
    // unchecked.
    for i in 1..=100u32 {
        let mut b = Vec::new();
        // :method POST (3), :scheme http (6), :path via literal, then bombs.
        b.extend([0x83, 0x86]);
        b.extend([0x04, 6]); // :path, literal without indexing
        b.extend(b"/a.B/C");
        b.extend(std::iter::repeat_n(0xbe, 1000)); // index 62: the newest entry
        t.feed(&raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::END_STREAM,
            1 + 2 * i,
            &b,
        ));
        if t.conn.is_closed() {
            break;
        }
    }
    assert_eq!(t.calls, 1, "no bomb request admitted");
    t.expect_held_below(before.max(baseline()) + 64 * KIB);
}

/// Dynamic-table churn: every block inserts fresh entries and resizes the
/// table; the table never exceeds its SETTINGS size and nothing else grows.
#[test]
fn hpack_table_churn() {
    let mut t = Target::default_server(Peer::Reads);
    t.answer_calls = true;
    for i in 0..2_000u32 {
        let mut b = Vec::new();
        // Size update to 0 then back to 4096 (both at block start).
        b.push(0x20);
        hpack_int(0x20, 5, 4096, &mut b);
        b.extend(t.block(&grpc_request("/a.B/C")).iter());
        for j in 0..8 {
            b.extend(literal_indexed(
                format!("x-churn-{j}").as_bytes(),
                format!("{i}-{j}-{}", "z".repeat(300)).as_bytes(),
            ));
        }
        t.feed(&raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::END_STREAM,
            1 + 2 * i,
            &b,
        ));
        if t.conn.is_closed() {
            break;
        }
    }
    // The peer's own encoder is out of sync after our size updates, so the
    // connection may end with COMPRESSION_ERROR; either way nothing grew.
    t.expect_held_below(baseline() + 64 * KIB);
}

// ----------------------------------------------------------------------
// The 2019 family (CVE-2019-9511 … 9518)
// ----------------------------------------------------------------------

/// CVE-2019-9511 data dribble: the peer asks for a large response and opens
/// the window one byte at a time. Each 13-byte WINDOW_UPDATE buys one byte
/// of DATA: work stays proportional to what the peer sends, and the queued
/// response is bounded by the send buffer (256 KiB) however slowly it
/// drains.
#[test]
fn data_dribble() {
    let mut config = server::Config::default();
    config.h2.max_send_buffer = 64 * KIB;
    let mut t = Target::server(config, Peer::Reads);
    // Initial window 0 for our responses.
    let mut s = Vec::new();
    s.extend(4u16.to_be_bytes());
    s.extend(0u32.to_be_bytes());
    t.feed(&raw_frame(kind::SETTINGS, 0, 0, &s));
    let req = t.request_bytes(1, true);
    t.feed(&req);
    assert_eq!(t.calls, 1);
    let call = grpc_sansio::grpc::CallId(1);
    // The application writes until blocked.
    let mut queued = 0;
    while t
        .conn
        .send_message(call, Bytes::from(vec![7u8; 16 * KIB]))
        .is_ok()
    {
        queued += 1;
        assert!(queued < 100, "the send buffer never filled");
    }
    t.settle();
    let dribble: Vec<Vec<u8>> = (0..20_000)
        .map(|_| raw_frame(kind::WINDOW_UPDATE, 0, 1, &1u32.to_be_bytes()))
        .collect();
    let received: usize = dribble.iter().map(Vec::len).sum();
    t.feed_each(dribble);
    // At most one DATA frame per WINDOW_UPDATE received.
    assert!(
        t.seen.data_frames <= 20_000,
        "{} DATA frames",
        t.seen.data_frames
    );
    assert!(
        t.seen.data_frames >= 19_000,
        "the dribbled window is used: {} DATA frames",
        t.seen.data_frames
    );
    assert!(received > 0);
    t.expect_held_below(baseline() + 64 * KIB + 32 * KIB);
}

/// CVE-2019-9512 ping flood: PINGs as fast as possible, read or not.
#[test]
fn ping_flood() {
    for peer in [Peer::Reads, Peer::NeverReads] {
        let mut t = Target::default_server(peer);
        let pings: Vec<Vec<u8>> = (0..10_000u32)
            .map(|i| raw_frame(kind::PING, 0, 0, &u64::from(i).to_be_bytes()))
            .collect();
        t.feed_each(pings);
        t.expect_goaway(CALM);
        t.expect_held_below(baseline() + 16 * KIB);
    }
}

/// A PING after each batch of our DATA is a bandwidth probe (grpc-go's BDP
/// estimator, grpc C-core), not a flood: thousands of them are answered
/// and nothing is charged, while the same PINGs with no data of ours in
/// between end the connection (`ping_flood`).
#[test]
fn pings_answering_our_data_are_not_a_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let req = t.request_bytes(1, false);
    t.feed(&req);
    let call = grpc_sansio::grpc::CallId(1);
    for i in 0..2_000u64 {
        t.conn
            .send_message(call, Bytes::from_static(b"0123456789abcdef"))
            .unwrap();
        t.settle();
        t.feed(&raw_frame(kind::PING, 0, 0, &i.to_be_bytes()));
        if i % 100 == 0 {
            // Keep the windows open, as the prober would.
            t.feed(&raw_frame(
                kind::WINDOW_UPDATE,
                0,
                0,
                &10_000u32.to_be_bytes(),
            ));
            t.feed(&raw_frame(
                kind::WINDOW_UPDATE,
                0,
                1,
                &10_000u32.to_be_bytes(),
            ));
        }
    }
    t.expect_alive();
    assert_eq!(t.seen.data_frames, 2_000);
    t.expect_held_below(baseline() + 16 * KIB);
}

/// CVE-2019-9513 resource loop: PRIORITY frames churning the (deprecated)
/// priority tree over many streams. We keep no priority tree: PRIORITY is
/// parsed and dropped, so nothing grows and nothing is sent back.
#[test]
fn priority_churn() {
    let mut t = Target::default_server(Peer::Reads);
    let mut frames = Vec::new();
    for i in 0..50_000u32 {
        let id = 1 + 2 * (i % 5000);
        // Never itself: a self-dependency on an idle stream cannot be
        // answered with RST_STREAM (§6.4) and is a connection error here.
        let dep = 1 + 2 * ((i % 5000 + 1 + (i * 7) % 4999) % 5000);
        let mut p = (dep | if i % 2 == 0 { 0x8000_0000 } else { 0 })
            .to_be_bytes()
            .to_vec();
        p.push((i % 256) as u8);
        frames.push(raw_frame(kind::PRIORITY, 0, id, &p));
    }
    t.feed_each(frames);
    t.expect_alive();
    assert_eq!(t.seen.resets, 0);
    t.expect_held_below(baseline() + 8 * KIB);
    // The connection still serves a real call afterwards.
    let req = t.request_bytes(10_001, true);
    t.feed(&req);
    assert_eq!(t.calls, 1);
}

/// CVE-2019-9515 settings flood, by a peer that never reads our ACKs.
#[test]
fn settings_flood() {
    for peer in [Peer::Reads, Peer::NeverReads] {
        let mut t = Target::default_server(peer);
        let frames: Vec<Vec<u8>> = (0..10_000)
            .map(|_| raw_frame(kind::SETTINGS, 0, 0, &[]))
            .collect();
        t.feed_each(frames);
        t.expect_goaway(CALM);
        t.expect_held_below(baseline() + 8 * KIB);
    }
}

/// CVE-2019-9516 0-length headers leak: header fields with empty names and
/// values. Each field costs 32 bytes of list size (RFC 7541 §4.1), so the
/// list limit caps them; empty names make the request malformed.
#[test]
fn zero_length_headers() {
    let mut t = Target::default_server(Peer::Reads);
    for i in 0..500u32 {
        let mut b = t.block(&grpc_request("/a.B/C")).to_vec();
        for _ in 0..1000 {
            b.extend([0x00, 0x00, 0x00]); // literal without indexing, "" : ""
        }
        t.feed(&raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::END_STREAM,
            1 + 2 * i,
            &b,
        ));
        if t.conn.is_closed() {
            break;
        }
    }
    assert_eq!(t.calls, 0);
    t.expect_held_below(baseline() + 32 * KIB);
}

/// CVE-2019-9517 internal data buffering: the peer opens huge windows,
/// starts many calls, and never reads. Our output is queued per stream up
/// to the send buffer (then `Blocked`), control output up to its own limit:
/// the total is bounded by configuration, not by the peer.
#[test]
fn internal_data_buffering_peer_never_reads() {
    let mut config = server::Config::default();
    config.h2.max_concurrent_streams = 20;
    config.h2.max_send_buffer = 64 * KIB;
    let mut t = Target::server(config, Peer::NeverReads);
    let mut b = Vec::new();
    b.extend(raw_frame(
        kind::WINDOW_UPDATE,
        0,
        0,
        &0x7fff_0000u32.to_be_bytes(),
    ));
    for i in 0..20u32 {
        b.extend(t.request_bytes(1 + 2 * i, true));
        b.extend(raw_frame(
            kind::WINDOW_UPDATE,
            0,
            1 + 2 * i,
            &0x7fff_0000u32.to_be_bytes(),
        ));
    }
    t.feed(&b);
    assert_eq!(t.calls, 20);
    let mut blocked = 0;
    for i in 0..20u64 {
        let call = grpc_sansio::grpc::CallId(1 + 2 * i);
        for _ in 0..1000 {
            if t.conn
                .send_message(call, Bytes::from(vec![1u8; 8 * KIB]))
                .is_err()
            {
                blocked += 1;
                break;
            }
        }
    }
    t.settle();
    assert_eq!(blocked, 20, "every call's buffer must fill and block");
    // 20 streams × 64 KiB of queued DATA plus fixed buffers.
    t.expect_held_below(baseline() + 20 * 64 * KIB + 64 * KIB);
}

/// CVE-2019-9518 empty frames flood: DATA frames with no payload and no
/// END_STREAM (and empty CONTINUATION-less HEADERS fragments).
#[test]
fn empty_frames_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let req = t.request_bytes(1, false);
    t.feed(&req);
    let frames: Vec<Vec<u8>> = (0..50_000)
        .map(|_| raw_frame(kind::DATA, 0, 1, &[]))
        .collect();
    t.feed_each(frames);
    t.expect_goaway(CALM);
    t.expect_held_below(baseline() + 16 * KIB);
}

// ----------------------------------------------------------------------
// Flow-control abuse
// ----------------------------------------------------------------------

/// WINDOW_UPDATE pushing a window past 2^31-1: FLOW_CONTROL_ERROR, on the
/// connection (GOAWAY) and on a stream (RST_STREAM) (RFC 9113 §6.9.1).
#[test]
fn window_update_overflow() {
    let mut t = Target::default_server(Peer::Reads);
    t.feed(&raw_frame(
        kind::WINDOW_UPDATE,
        0,
        0,
        &0x7fff_ffffu32.to_be_bytes(),
    ));
    t.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);

    let mut t = Target::default_server(Peer::Reads);
    let mut b = t.request_bytes(1, false);
    b.extend(raw_frame(
        kind::WINDOW_UPDATE,
        0,
        1,
        &0x7fff_ffffu32.to_be_bytes(),
    ));
    t.feed(&b);
    assert_eq!(t.seen.resets, 1);
    t.expect_alive();
}

/// A peer whose windows stay at zero forever: our responses wait in the
/// bounded send buffer, the application is told `Blocked`, nothing grows,
/// and the call's deadline still ends it.
#[test]
fn zero_window_forever() {
    let mut config = server::Config::default();
    config.h2.max_send_buffer = 32 * KIB;
    let mut t = Target::server(config, Peer::Reads);
    let mut s = Vec::new();
    s.extend(4u16.to_be_bytes());
    s.extend(0u32.to_be_bytes());
    t.feed(&raw_frame(kind::SETTINGS, 0, 0, &s));
    let mut fields = grpc_request("/a.B/C");
    fields.push(f("grpc-timeout", "2S"));
    let block = t.block(&fields);
    t.feed(&raw_frame(
        kind::HEADERS,
        flags::END_HEADERS | flags::END_STREAM,
        1,
        &block,
    ));
    let call = grpc_sansio::grpc::CallId(1);
    let mut sent = 0;
    while t
        .conn
        .send_message(call, Bytes::from(vec![0u8; 4096]))
        .is_ok()
    {
        sent += 1;
        assert!(sent < 100);
    }
    t.settle();
    assert_eq!(t.seen.data_frames, 0);
    for _ in 0..30 {
        t.advance(Duration::from_millis(100));
    }
    assert_eq!(t.cancelled.len(), 1, "the deadline ends the stuck call");
    assert_eq!(t.cancelled[0].code, Code::DeadlineExceeded);
    t.expect_held_below(baseline() + 32 * KIB + 16 * KIB);
}

/// Window shrink via SETTINGS: INITIAL_WINDOW_SIZE dropped to 0 while DATA
/// is in flight makes stream windows negative (allowed, §6.9.2); raising it
/// so a stream window passes 2^31-1 is a FLOW_CONTROL_ERROR.
#[test]
fn window_shrink_via_settings() {
    let mut t = Target::default_server(Peer::Reads);
    let req = t.request_bytes(1, true);
    t.feed(&req);
    let call = grpc_sansio::grpc::CallId(1);
    t.conn
        .send_message(call, Bytes::from(vec![0u8; 60_000]))
        .unwrap();
    t.settle();
    let setting = |v: u32| {
        let mut s = 4u16.to_be_bytes().to_vec();
        s.extend(v.to_be_bytes());
        raw_frame(kind::SETTINGS, 0, 0, &s)
    };
    t.feed(&setting(0));
    t.expect_alive();
    // Back up, then the stream's window grows by an update near the max,
    // then a SETTINGS increase that would overflow it.
    t.feed(&raw_frame(
        kind::WINDOW_UPDATE,
        0,
        1,
        &0x7fff_0000u32.to_be_bytes(),
    ));
    t.feed(&setting(0x7fff_ffff));
    t.expect_goaway(ErrorCode::FLOW_CONTROL_ERROR);
    t.expect_held_below(baseline() + 96 * KIB);
}

// ----------------------------------------------------------------------
// Stream ids, idle streams, handshakes
// ----------------------------------------------------------------------

/// Stream-id exhaustion: the peer jumps to the last stream id; the next
/// id is a PROTOCOL_ERROR (ids must increase), and our client stops
/// opening streams gracefully when its own ids run out.
#[test]
fn stream_id_exhaustion() {
    let mut t = Target::default_server(Peer::Reads);
    t.answer_calls = true;
    let req = t.request_bytes(0x7fff_ffff, true);
    t.feed(&req);
    assert_eq!(t.calls, 1);
    let req = t.request_bytes(1, true);
    t.feed(&req);
    t.expect_goaway(ErrorCode::PROTOCOL_ERROR);
}

/// Idle-stream churn: requests on ever-increasing ids that skip millions
/// (implicitly closing every idle stream below them, §5.1.1) and requests
/// that are refused: no per-id state is kept for the skipped ids.
#[test]
fn idle_stream_churn() {
    let mut t = Target::default_server(Peer::Reads);
    t.answer_calls = true;
    let mut id = 1u32;
    for _ in 0..1_000 {
        let req = t.request_bytes(id, true);
        t.feed(&req);
        id += 2_000_000;
        if id > 0x7fff_0000 {
            break;
        }
    }
    t.expect_alive();
    assert_eq!(t.calls, 1000);
    t.expect_held_below(baseline() + 96 * KIB);
}

/// A peer that connects and sends nothing (not even the preface): the
/// handshake timeout (10 s) closes the connection.
#[test]
fn no_preface_times_out() {
    let now = Instant::now();
    let mut conn = server::Connection::new(server::Config::default(), now);
    while conn.poll_transmit().is_some() {}
    let deadline = conn.poll_timeout().expect("a handshake timer");
    assert!(deadline <= now + Duration::from_secs(10));
    conn.handle_timeout(deadline);
    let mut closed = false;
    while let Some(ev) = conn.poll_event() {
        if matches!(ev, server::Event::Closed { .. }) {
            closed = true;
        }
    }
    assert!(closed && conn.is_closed());
}

/// A peer that sends the preface and SETTINGS but never ACKs ours: the
/// SETTINGS timeout closes with SETTINGS_TIMEOUT (§6.5.3).
#[test]
fn no_settings_ack_times_out() {
    let now = Instant::now();
    let mut t = Target {
        conn: server::Connection::new(server::Config::default(), now),
        now,
        peer: Peer::Reads,
        enc: hpack::Encoder::new(),
        out: FrameDecoder::new(frame::MAX_MAX_FRAME_SIZE),
        seen: Seen::default(),
        max_held: 0,
        answer_calls: false,
        calls: 0,
        messages: Vec::new(),
        cancelled: Vec::new(),
        made: now,
    };
    let mut hello = frame::PREFACE.to_vec();
    hello.extend(raw_frame(kind::SETTINGS, 0, 0, &[]));
    t.feed(&hello);
    t.advance(Duration::from_secs(11));
    t.expect_goaway(ErrorCode::SETTINGS_TIMEOUT);
}

/// Our client facing a hostile server: a SETTINGS/PING flood and a
/// CONTINUATION flood end the connection with ENHANCE_YOUR_CALM, and every
/// call still gets its one status.
#[test]
fn hostile_server_floods_our_client() {
    for attack in 0..3 {
        let now = Instant::now();
        let mut c = client::Connection::new(client::Config::default(), now);
        let mut out = Vec::new();
        while let Some(t) = c.poll_transmit() {
            out.extend(t.to_vec());
        }
        let mut b = raw_frame(kind::SETTINGS, 0, 0, &[]);
        b.extend(raw_frame(kind::SETTINGS, flags::ACK, 0, &[]));
        let _ = c.recv(Bytes::from(b), now);
        let call = c
            .start_call(client::Request::new("/a.B/C"), now)
            .expect("call");
        while c.poll_transmit().is_some() {}
        let mut max_held = 0;
        for i in 0..20_000u32 {
            let frame = match attack {
                0 => raw_frame(kind::SETTINGS, 0, 0, &[]),
                1 => raw_frame(kind::PING, 0, 0, &u64::from(i).to_be_bytes()),
                _ if i == 0 => raw_frame(kind::HEADERS, 0, 1, &[0x88]),
                _ => raw_frame(kind::CONTINUATION, 0, 1, &[0x88; 100]),
            };
            let _ = c.recv(Bytes::from(frame), now);
            max_held = max_held.max(c.held_bytes());
            if c.is_closed() {
                break;
            }
        }
        let mut goaway = None;
        let mut dec = FrameDecoder::new(frame::MAX_MAX_FRAME_SIZE);
        while let Some(t) = c.poll_transmit() {
            for ch in t.chunks() {
                dec.push(ch.clone());
            }
        }
        while let Ok(Some(fr)) = dec.decode() {
            if let Frame::GoAway(g) = fr {
                goaway = Some(g.code);
            }
        }
        assert_eq!(goaway, Some(CALM), "attack {attack}");
        let mut statuses = 0;
        while let Some(ev) = c.poll_event() {
            if let client::Event::Status { call: id, .. } = ev {
                assert_eq!(id, call);
                statuses += 1;
            }
        }
        assert_eq!(statuses, 1, "attack {attack}");
        assert!(max_held < 160 * KIB, "attack {attack}: held {max_held}");
    }
}

// ----------------------------------------------------------------------
// gRPC level
// ----------------------------------------------------------------------

fn grpc_call_with_data(t: &mut Target, id: u32, data: &[u8], end: bool) {
    let mut b = t.request_bytes(id, false);
    b.extend(raw_frame(
        kind::DATA,
        if end { flags::END_STREAM } else { 0 },
        id,
        data,
    ));
    t.feed(&b);
}

/// A length prefix declaring 4 GiB: nothing is preallocated; the call ends
/// with RESOURCE_EXHAUSTED as soon as the prefix is read.
#[test]
fn grpc_length_prefix_4_gib() {
    let mut t = Target::default_server(Peer::Reads);
    let mut msg = vec![0u8];
    msg.extend(u32::MAX.to_be_bytes());
    msg.extend([1, 2, 3]);
    grpc_call_with_data(&mut t, 1, &msg, false);
    assert_eq!(t.cancelled.len(), 1);
    assert_eq!(t.cancelled[0].code, Code::ResourceExhausted);
    t.expect_alive();
    t.expect_held_below(baseline() + 16 * KIB);
}

/// A gzip bomb: 10 MiB of zeros compressed to ~10 KB. Decompression stops at
/// the message limit (4 MiB): RESOURCE_EXHAUSTED, the connection goes on.
#[cfg(feature = "compression")]
#[test]
fn grpc_gzip_bomb() {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 10 << 20]).unwrap();
    let packed = gz.finish().unwrap();
    let mut t = Target::default_server(Peer::Reads);
    let mut fields = grpc_request("/a.B/C");
    fields.push(f("grpc-encoding", "gzip"));
    let block = t.block(&fields);
    let mut b = raw_frame(kind::HEADERS, flags::END_HEADERS, 1, &block);
    let mut msg = vec![1u8];
    msg.extend((packed.len() as u32).to_be_bytes());
    msg.extend(&packed);
    for chunk in msg.chunks(16_384) {
        b.extend(raw_frame(kind::DATA, 0, 1, chunk));
    }
    t.feed(&b);
    assert_eq!(t.cancelled.len(), 1);
    assert_eq!(t.cancelled[0].code, Code::ResourceExhausted);
    t.expect_alive();
    // The compressed message is held whole (it is under the limit); its
    // expansion never is.
    t.expect_held_below(baseline() + packed.len() + 64 * KIB);
}

/// Endless metadata: request headers past the 16 KiB header-list limit
/// are refused (HTTP 431 / RST_STREAM) per request; a CONTINUATION chain
/// of metadata ends the connection (the block limits).
#[test]
fn grpc_endless_metadata() {
    let mut t = Target::default_server(Peer::Reads);
    for i in 0..100u32 {
        let mut fields = grpc_request("/a.B/C");
        for j in 0..200 {
            fields.push(f(&format!("x-meta-{j}"), &"m".repeat(100)));
        }
        let block = t.block(&fields);
        let mut b = Vec::new();
        let mut chunks = block.chunks(8 * KIB).peekable();
        let first = chunks.next().unwrap();
        let last_first = chunks.peek().is_none();
        b.extend(raw_frame(
            kind::HEADERS,
            flags::END_STREAM | if last_first { flags::END_HEADERS } else { 0 },
            1 + 2 * i,
            first,
        ));
        while let Some(c) = chunks.next() {
            let end = chunks.peek().is_none();
            b.extend(raw_frame(
                kind::CONTINUATION,
                if end { flags::END_HEADERS } else { 0 },
                1 + 2 * i,
                c,
            ));
        }
        t.feed(&b);
        if t.conn.is_closed() {
            break;
        }
    }
    assert_eq!(t.calls, 0);
    t.expect_alive();
    t.expect_held_below(baseline() + 96 * KIB);
}

/// A message trickled one byte per DATA frame: absorbed (each frame is
/// 10 bytes of input for 1 byte of message), delivered intact, and the
/// partial message is all that is held.
#[test]
fn grpc_message_trickled_one_byte_per_frame() {
    let mut t = Target::default_server(Peer::Reads);
    let req = t.request_bytes(1, false);
    t.feed(&req);
    let body: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut msg = vec![0u8];
    msg.extend((body.len() as u32).to_be_bytes());
    msg.extend(&body);
    let frames: Vec<Vec<u8>> = msg
        .iter()
        .map(|b| raw_frame(kind::DATA, 0, 1, &[*b]))
        .collect();
    t.feed_each(frames);
    t.feed(&raw_frame(kind::DATA, flags::END_STREAM, 1, &[]));
    assert_eq!(t.messages.len(), 1);
    assert_eq!(&t.messages[0][..], &body[..]);
    t.expect_alive();
    t.expect_held_below(baseline() + body.len() + 16 * KIB);
}

// ----------------------------------------------------------------------
// Memory a peer pins: the buffers behind the slices we keep
// ----------------------------------------------------------------------

/// Live heap bytes allocated by this thread (a test's attack runs on one
/// thread, so its heap growth is its own whatever else runs in parallel).
mod live_heap {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    pub struct Counting;

    fn add(n: isize) {
        let _ = LIVE.try_with(|l| l.set(l.get() + n));
    }

    // SAFETY: every call is forwarded to the system allocator unchanged;
    // the counter is a thread-local Cell that allocates nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            add(layout.size() as isize);
            // SAFETY: forwarded as it came.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            add(-(layout.size() as isize));
            // SAFETY: forwarded as it came.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            add(layout.size() as isize);
            // SAFETY: forwarded as it came.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            add(new_size as isize - layout.size() as isize);
            // SAFETY: forwarded as it came.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Heap bytes this thread allocated and has not freed.
    pub fn live() -> isize {
        LIVE.with(Cell::get)
    }
}

#[global_allocator]
static HEAP: live_heap::Counting = live_heap::Counting;

/// The largest heap growth of this thread over `run`, sampled by `sample`
/// calls it makes.
struct HeapWatch {
    start: isize,
    peak: isize,
}

impl HeapWatch {
    fn start() -> HeapWatch {
        let start = live_heap::live();
        HeapWatch { start, peak: 0 }
    }
    fn sample(&mut self) {
        self.peak = self.peak.max(live_heap::live() - self.start);
    }
    #[track_caller]
    fn expect_below(&self, bound: usize, what: &str) {
        assert!(
            self.peak <= bound as isize,
            "{what}: the heap grew by up to {} bytes, bound {bound}",
            self.peak
        );
    }
}

/// A request on `id` whose first DATA frame announces a message of `len`
/// bytes and carries nothing of it yet.
fn announce_message(t: &mut Target, id: u32, len: u32) {
    let req = t.request_bytes(id, false);
    t.feed(&req);
    let prefix = grpc_sansio::grpc::framing::encode_header(false, len);
    t.feed(&raw_frame(kind::DATA, 0, id, &prefix));
}

/// Issue 13, finding 1: one stream announces a 1 MiB message and sends it
/// as 1-byte DATA frames, one per read. Each byte was kept as a slice of
/// its read (a buffer and a queue slot per byte, ~100 bytes of heap per
/// byte sent here, a 4 KiB read buffer per byte behind the adapters);
/// now small pieces are gathered by copying.
#[test]
fn one_byte_data_frames_pin_no_buffer_per_byte() {
    let mut t = Target::default_server(Peer::Reads);
    announce_message(&mut t, 1, 1 << 20);
    let mut heap = HeapWatch::start();
    let sent = 100_000;
    for _ in 0..sent {
        t.feed(&raw_frame(kind::DATA, 0, 1, b"x"));
        heap.sample();
    }
    t.expect_alive();
    assert!(t.cancelled.is_empty(), "{:?}", t.cancelled);
    // What the message holds (about `sent` bytes), a growth margin of the
    // gathering buffer, and nothing per frame.
    heap.expect_below(3 * sent, "1-byte DATA frames");
    t.expect_held_below(baseline() + 3 * sent);
}

/// Issue 13, finding 1: each read is 256 KiB of PRIORITY frames followed
/// by a 1-byte DATA frame of a message that never completes. The byte was
/// kept as a slice of its read, pinning the whole read: 800 message bytes
/// held 205 MB. Now a piece that pins much more than itself is copied.
#[test]
fn priority_filler_reads_are_not_pinned_by_a_byte() {
    let mut t = Target::default_server(Peer::Reads);
    announce_message(&mut t, 1, 1 << 20);
    let mut filler = Vec::with_capacity(256 * KIB + 64);
    while filler.len() < 256 * KIB {
        // PRIORITY on an idle stream, depending on stream 0 (§5.3).
        filler.extend(raw_frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 0, 16]));
    }
    filler.extend(raw_frame(kind::DATA, 0, 1, b"x"));
    let mut heap = HeapWatch::start();
    let reads = 48;
    for _ in 0..reads {
        t.feed(&filler);
        heap.sample();
    }
    t.expect_alive();
    assert!(t.cancelled.is_empty(), "{:?}", t.cancelled);
    // Today one read is alive while it is fed; nothing of the earlier ones.
    heap.expect_below(2 * filler.len() + 64 * KIB, "PRIORITY filler");
    t.expect_held_below(baseline() + 2 * filler.len());
}

/// Issue 13, finding 1: many streams' messages on their way at once are
/// bounded by `max_buffered_bytes` across the connection, counted as what
/// they pin: past it, the call that crossed it ends with RESOURCE_EXHAUSTED.
#[test]
fn partial_messages_across_streams_are_bounded_per_connection() {
    let config = server::Config {
        max_buffered_bytes: 1 << 20,
        ..server::Config::default()
    };
    let mut t = Target::server(config, Peer::Reads);
    let piece = vec![7u8; 16 * KIB - 100];
    let mut heap = HeapWatch::start();
    for i in 0..50u32 {
        let id = 1 + 2 * i;
        announce_message(&mut t, id, 4 << 20);
        // 64 KiB of each message, in reads that hold a DATA frame each.
        for _ in 0..4 {
            t.feed(&raw_frame(kind::DATA, 0, id, &piece));
            heap.sample();
        }
    }
    t.expect_alive();
    // 50 streams x 64 KiB = 3.2 MB asked; about 1 MiB is kept.
    assert!(
        t.cancelled
            .iter()
            .all(|s| s.code == Code::ResourceExhausted),
        "{:?}",
        t.cancelled
    );
    assert!(t.cancelled.len() >= 30, "{} calls ended", t.cancelled.len());
    assert!(t.cancelled[0].message.contains("max_buffered_bytes"));
    heap.expect_below((1 << 20) + 512 * KIB, "partial messages");
    t.expect_held_below(baseline() + (1 << 20) + 256 * KIB);
}

// ----------------------------------------------------------------------
// Answers the peer can make us repeat (issue 13, item 2)
// ----------------------------------------------------------------------

/// Sends `n` requests built by `request(t, stream id)`, one `recv` each,
/// until the connection ends; returns how many were sent and the bytes
/// they made (the attacker's cost, and the bound of what we decoded).
fn flood(
    t: &mut Target,
    n: u32,
    mut request: impl FnMut(&mut Target, u32) -> Vec<u8>,
) -> (u32, usize) {
    let (mut sent, mut bytes) = (0, 0);
    for i in 0..n {
        let b = request(t, 1 + 2 * i);
        bytes += b.len();
        t.feed(&b);
        sent += 1;
        if t.conn.is_closed() {
            break;
        }
    }
    (sent, bytes)
}

/// A request whose header list (one 20 KB field) is over the 16 KiB
/// limit, as HEADERS and CONTINUATION frames within the frame size.
fn oversized_request(t: &mut Target, id: u32, end_stream: bool) -> Vec<u8> {
    let mut fields = grpc_request("/a.B/C");
    fields.push(f("x-big", &"v".repeat(20_000)));
    let block = t.block(&fields);
    let (a, b) = block.split_at(block.len() / 2);
    let end = if end_stream { flags::END_STREAM } else { 0 };
    let mut bytes = raw_frame(kind::HEADERS, end, id, a);
    bytes.extend(raw_frame(kind::CONTINUATION, flags::END_HEADERS, id, b));
    bytes
}

/// Before: every request whose header list is over the 16 KiB limit was
/// decoded in full and answered HTTP 431 + RST_STREAM, forever (one
/// connection made the server decode 256 MiB of header blocks). After:
/// each 431 is charged to `error_answer_rate` (200 per 10 s), so 10,000
/// such requests end in GOAWAY(ENHANCE_YOUR_CALM) after at most 201
/// blocks, which bounds the header bytes decoded.
#[test]
fn oversized_header_lists_are_not_answered_forever() {
    let mut t = Target::default_server(Peer::Reads);
    // One 20 KB literal per request (never indexed: every block is fully
    // new work for the decoder), over the limit on its own.
    let (sent, bytes) = flood(&mut t, 10_000, |t, id| oversized_request(t, id, false));
    t.expect_goaway(CALM);
    assert_eq!(
        t.conn.h2().error().map(|e| e.code()),
        Some(CALM),
        "a typed connection error"
    );
    assert!(
        sent <= 201,
        "{sent} oversized requests decoded before the end"
    );
    assert!(t.seen.headers <= 200, "{} answers of 431", t.seen.headers);
    assert!(
        bytes <= 201 * 20_200,
        "{bytes} header-block bytes decoded before the end"
    );
    assert_eq!(t.calls, 0);
    t.expect_held_below(baseline() + 96 * KIB);
}

/// Before: a request with the wrong method (HTTP 405) or content-type
/// (HTTP 415) was answered each time, the connection never closed. After:
/// the answers are charged to `error_answer_rate`.
#[test]
fn wrong_method_and_content_type_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let (sent, _) = flood(&mut t, 10_000, |t, id| {
        let mut fields = grpc_request("/a.B/C");
        if id % 4 == 1 {
            fields[0] = f(":method", "GET");
        } else {
            fields[4] = f("content-type", "text/html");
        }
        let block = t.block(&fields);
        raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::END_STREAM,
            id,
            &block,
        )
    });
    t.expect_goaway(CALM);
    assert!(
        sent <= 201,
        "{sent} requests answered 405/415 before the end"
    );
    assert!(t.seen.headers <= 200, "{} answers", t.seen.headers);
    assert_eq!(t.calls, 0);
    t.expect_held_below(baseline() + 64 * KIB);
}

/// Before: a request in an unsupported `grpc-encoding`, or with a
/// malformed `:path` or `grpc-timeout`, was answered (UNIMPLEMENTED,
/// INTERNAL) each time, forever. After: charged like the HTTP errors.
#[test]
fn unservable_grpc_requests_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let (sent, _) = flood(&mut t, 10_000, |t, id| {
        let mut fields = grpc_request("/a.B/C");
        match id % 6 {
            1 => fields.push(f("grpc-encoding", "br")),
            3 => fields[2] = f(":path", "no-slash"),
            _ => fields.push(f("grpc-timeout", "1x")),
        }
        let block = t.block(&fields);
        raw_frame(
            kind::HEADERS,
            flags::END_HEADERS | flags::END_STREAM,
            id,
            &block,
        )
    });
    t.expect_goaway(CALM);
    assert!(
        sent <= 201,
        "{sent} unservable requests answered before the end"
    );
    assert_eq!(t.calls, 0, "none reaches the application");
    t.expect_held_below(baseline() + 64 * KIB);
}

/// Requests past SETTINGS_MAX_CONCURRENT_STREAMS are refused with
/// RST_STREAM(REFUSED_STREAM); each refusal is charged to
/// `error_answer_rate`. (Already bounded before this change, through
/// the reset budget that `error_answer_rate` replaces.)
#[test]
fn refused_stream_flood() {
    let mut t = Target::default_server(Peer::Reads);
    // 100 calls the application leaves open fill the stream limit.
    let (_, _) = flood(&mut t, 100, |t, id| t.request_bytes(id, false));
    assert_eq!(t.calls, 100);
    let resets_before = t.seen.resets;
    let mut sent = 0;
    for i in 100..10_100u32 {
        let b = t.request_bytes(1 + 2 * i, true);
        t.feed(&b);
        sent += 1;
        if t.conn.is_closed() {
            break;
        }
    }
    t.expect_goaway(CALM);
    assert!(sent <= 201, "{sent} refused streams before the end");
    assert!(t.seen.resets - resets_before <= 200);
    assert_eq!(t.calls, 100);
}

/// Before: messages the server cannot accept (over the size limit here)
/// were answered RESOURCE_EXHAUSTED on every call. After: charged.
#[test]
fn oversized_message_flood() {
    let mut t = Target::default_server(Peer::Reads);
    let (sent, _) = flood(&mut t, 10_000, |t, id| {
        let mut b = t.request_bytes(id, false);
        // A prefix announcing a 1 GiB message: refused from the prefix alone.
        let mut msg = vec![0u8];
        msg.extend((1u32 << 30).to_be_bytes());
        b.extend(raw_frame(kind::DATA, flags::END_STREAM, id, &msg));
        b
    });
    t.expect_goaway(CALM);
    assert!(
        sent <= 201,
        "{sent} oversized messages answered before the end"
    );
    assert!(t.seen.headers <= 200, "{} answers", t.seen.headers);
    t.expect_held_below(baseline() + 64 * KIB);
}

/// The budget is a rate: a client that gets an error answer now and then
/// keeps its connection (one 431 per second for a minute here).
#[test]
fn occasional_error_answers_are_not_a_flood() {
    let mut t = Target::default_server(Peer::Reads);
    for i in 0..60u32 {
        let mut b = oversized_request(&mut t, 1 + 4 * i, true);
        let mut get = grpc_request("/a.B/C");
        get[0] = f(":method", "GET");
        let block = t.block(&get);
        let fl = flags::END_HEADERS | flags::END_STREAM;
        b.extend(raw_frame(kind::HEADERS, fl, 3 + 4 * i, &block));
        t.feed(&b);
        t.advance(Duration::from_secs(1));
    }
    assert_eq!(t.seen.headers, 120, "every request answered (431 or 405)");
    t.expect_alive();
}

// ----------------------------------------------------------------------
// Work per byte the peer sends (the figures of the README's Security section)
// ----------------------------------------------------------------------

/// One row of `work_per_peer_byte_is_bounded`.
struct Cost {
    what: &'static str,
    /// Bytes the peer sent, after the handshake.
    peer_bytes: usize,
    /// Header-list bytes (RFC 9113 §6.5.2 count) the blocks we decoded
    /// expand to. Past the limit, indexed fields are counted, not copied:
    /// what is materialized stays under `max_header_list_size` per block.
    decoded: usize,
    /// Frames and bytes we sent in answer.
    frames: usize,
    bytes: usize,
    outcome: Option<ErrorCode>,
    /// Time since the pattern's target was made (an unoptimized build
    /// says little; run with `--release` for figures).
    elapsed: Duration,
}

impl Cost {
    fn of(what: &'static str, t: &mut Target, peer_bytes: usize, decoded: usize) -> Cost {
        t.drain_output();
        Cost {
            what,
            peer_bytes,
            decoded,
            frames: t.seen.frames,
            bytes: t.seen.bytes,
            outcome: t.seen.goaway,
            elapsed: t.made.elapsed(),
        }
    }
}

/// Feeds `frames` one `recv` each until the connection ends; the bytes fed.
fn feed_counted(t: &mut Target, frames: impl IntoIterator<Item = Vec<u8>>) -> usize {
    let mut n = 0;
    for fr in frames {
        if t.conn.is_closed() {
            break;
        }
        n += fr.len();
        t.feed(&fr);
    }
    n
}

fn list_size(fields: &[Field]) -> usize {
    fields
        .iter()
        .map(|f| f.name.len() + f.value.len() + 32)
        .sum()
}

/// A fresh target whose handshake output is already counted out.
fn measured_target(config: server::Config) -> Target {
    let mut t = Target::server(config, Peer::Reads);
    t.drain_output();
    t.seen = Seen::default();
    t.made = Instant::now();
    t
}

/// What each cheap pattern costs us per byte the peer sends: header
/// bytes decoded, frames and bytes sent back, and how it ends. Run with
/// `--nocapture` to print the table; the asserts keep the ratios bounded.
#[test]
fn work_per_peer_byte_is_bounded() {
    let mut rows = Vec::new();

    // Over-limit header lists (20 KB literal, never indexed), one per request.
    let mut t = measured_target(server::Config::default());
    let mut decoded = 0;
    let mut peer = 0;
    for i in 0..10_000u32 {
        if t.conn.is_closed() {
            break;
        }
        let mut fields = grpc_request("/a.B/C");
        fields.push(f("x-big", &"v".repeat(20_000)));
        decoded += list_size(&fields);
        let b = oversized_request(&mut t, 1 + 2 * i, false);
        peer += b.len();
        t.feed(&b);
    }
    rows.push(Cost::of(
        "oversized header lists (431)",
        &mut t,
        peer,
        decoded,
    ));

    // HPACK bomb: a 4 KB entry, then blocks of 1-byte references to it.
    let mut t = measured_target(server::Config::default());
    let mut first = t.block(&grpc_request("/a.B/C")).to_vec();
    first.extend(literal_indexed(b"x-bomb", &[b'a'; 4000]));
    let fl = flags::END_HEADERS | flags::END_STREAM;
    let mut peer = feed_counted(&mut t, [raw_frame(kind::HEADERS, fl, 1, &first)]);
    let mut decoded = 4100;
    let bombs = (1..10_000u32).map(|i| {
        let mut b = vec![0x83, 0x86, 0x04, 6];
        b.extend(b"/a.B/C");
        b.extend(std::iter::repeat_n(0xbe, 1000));
        raw_frame(kind::HEADERS, fl, 1 + 2 * i, &b)
    });
    for b in bombs {
        if t.conn.is_closed() {
            break;
        }
        decoded += 1000 * (6 + 4000 + 32);
        peer += b.len();
        t.feed(&b);
    }
    rows.push(Cost::of(
        "HPACK bomb (1-byte indices, 431)",
        &mut t,
        peer,
        decoded,
    ));

    // 405 answers to a request HPACK makes 10 bytes long.
    let mut t = measured_target(server::Config::default());
    let mut get = grpc_request("/a.B/C");
    get[0] = f(":method", "GET");
    let mut peer = 0;
    let mut decoded = 0;
    for i in 0..10_000u32 {
        if t.conn.is_closed() {
            break;
        }
        let block = t.block(&get);
        let b = raw_frame(kind::HEADERS, fl, 1 + 2 * i, &block);
        peer += b.len();
        decoded += list_size(&get);
        t.feed(&b);
    }
    rows.push(Cost::of("HTTP 405 answers", &mut t, peer, decoded));

    // REFUSED_STREAM past the stream limit.
    let mut t = measured_target(server::Config::default());
    let mut peer = 0;
    let mut decoded = 0;
    for i in 0..10_100u32 {
        if t.conn.is_closed() {
            break;
        }
        let b = t.request_bytes(1 + 2 * i, false);
        peer += b.len();
        decoded += list_size(&grpc_request("/attack.Svc/Call"));
        t.feed(&b);
    }
    rows.push(Cost::of(
        "REFUSED_STREAM (past 100 streams)",
        &mut t,
        peer,
        decoded,
    ));

    // 1-byte DATA frames, each window policy: WINDOW_UPDATEs sent back.
    for (what, policy) in [
        (
            "1-byte DATA, WINDOW_UPDATE at 1/2 window",
            grpc_sansio::h2::WindowUpdatePolicy::Fraction(2),
        ),
        (
            "1-byte DATA, WindowUpdatePolicy::Immediate",
            grpc_sansio::h2::WindowUpdatePolicy::Immediate,
        ),
    ] {
        let mut config = server::Config::default();
        config.h2.window_update_policy = policy;
        let mut t = measured_target(config);
        let req = t.request_bytes(1, false);
        let mut peer = feed_counted(&mut t, [req]);
        let mut msg = vec![0u8];
        msg.extend(1_000_000u32.to_be_bytes());
        msg.resize(200_005, 7);
        peer += feed_counted(
            &mut t,
            msg.iter().map(|b| raw_frame(kind::DATA, 0, 1, &[*b])),
        );
        rows.push(Cost::of(what, &mut t, peer, 0));
    }

    // SETTINGS, PING and PRIORITY floods.
    let mut t = measured_target(server::Config::default());
    let peer = feed_counted(
        &mut t,
        (0..10_000).map(|_| raw_frame(kind::SETTINGS, 0, 0, &[])),
    );
    rows.push(Cost::of("SETTINGS flood", &mut t, peer, 0));
    let mut t = measured_target(server::Config::default());
    let peer = feed_counted(
        &mut t,
        (0..10_000).map(|_| raw_frame(kind::PING, 0, 0, &[0; 8])),
    );
    rows.push(Cost::of("PING flood", &mut t, peer, 0));
    let mut t = measured_target(server::Config::default());
    let peer = feed_counted(
        &mut t,
        (0..10_000u32).map(|i| raw_frame(kind::PRIORITY, 0, 1 + 2 * i, &[0, 0, 0, 0, 16])),
    );
    rows.push(Cost::of("PRIORITY flood", &mut t, peer, 0));

    eprintln!(
        "| pattern | peer bytes | header-list bytes / peer byte | our frames \
         | our bytes / peer byte | ns / peer byte | outcome |"
    );
    eprintln!("|---|---|---|---|---|---|---|");
    for r in &rows {
        eprintln!(
            "| {} | {} | {:.2} | {} | {:.3} | {:.1} | {} |",
            r.what,
            r.peer_bytes,
            r.decoded as f64 / r.peer_bytes as f64,
            r.frames,
            r.bytes as f64 / r.peer_bytes as f64,
            r.elapsed.as_nanos() as f64 / r.peer_bytes as f64,
            r.outcome
                .map_or("open".to_string(), |c| format!("GOAWAY {c}")),
        );
    }
    for r in &rows {
        // No more bytes sent than received (but the final GOAWAY), except
        // where the configuration asks for a WINDOW_UPDATE per DATA frame.
        let bound = if r.what.contains("Immediate") {
            3 * r.peer_bytes
        } else {
            r.peer_bytes + 128
        };
        assert!(
            r.bytes <= bound,
            "{}: {} bytes for {}",
            r.what,
            r.bytes,
            r.peer_bytes
        );
        // Every pattern that makes us answer per request ends.
        if r.decoded > 0 {
            assert_eq!(r.outcome, Some(CALM), "{}", r.what);
        }
    }
}
