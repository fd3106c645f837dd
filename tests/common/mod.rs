//! Test harnesses over the HTTP/2 core.
//!
//! - [`Raw`]: one endpoint of ours facing a scripted peer that speaks in
//!   frames (encoded here to bytes), so a test sends an exact violation and
//!   checks the exact answer. `Raw::run` runs a scenario twice: input fed
//!   whole, then one byte at a time.
//! - [`Pair`]: a client and a server of ours joined in memory, with a
//!   virtual clock and configurable read splits (quinn-proto's `Pair`).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::{
    self, Continuation, Data, Frame, FrameDecoder, GoAway, Headers, Ping, RstStream, Settings,
    StreamId, WindowUpdate,
};
use grpc_sansio::h2::{Config, Connection, Event, Role};
use grpc_sansio::hpack::{self, Field};

pub fn f(name: &str, value: &str) -> Field {
    Field::new(
        Bytes::copy_from_slice(name.as_bytes()),
        Bytes::copy_from_slice(value.as_bytes()),
    )
}

/// A valid GET request.
pub fn get(path: &str) -> Vec<Field> {
    vec![
        f(":method", "GET"),
        f(":scheme", "http"),
        f(":path", path),
        f(":authority", "example.com"),
    ]
}

/// A valid gRPC-style POST request.
pub fn post(path: &str) -> Vec<Field> {
    vec![
        f(":method", "POST"),
        f(":scheme", "http"),
        f(":path", path),
        f(":authority", "example.com"),
        f("content-type", "application/grpc"),
        f("te", "trailers"),
    ]
}

pub fn response(status: &str) -> Vec<Field> {
    vec![f(":status", status), f("content-type", "application/grpc")]
}

/// How the scripted peer's bytes reach our endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feed {
    Whole,
    OneByte,
}

/// Our endpoint (of `role`) and a scripted peer.
pub struct Raw {
    pub conn: Connection,
    pub now: Instant,
    pub feed: Feed,
    /// The peer's HPACK encoder (its context matches our decoder).
    pub enc: hpack::Encoder,
    /// Parses what our endpoint sends.
    pub dec: FrameDecoder,
    /// Frames our endpoint sent and the test has not looked at yet.
    pub sent: VecDeque<Frame>,
    pub events: VecDeque<Event>,
    pub result: Result<(), grpc_sansio::ConnectionError>,
}

impl Raw {
    /// Runs `scenario` with whole input, then with one byte at a time.
    pub fn run(scenario: impl Fn(&mut Raw)) {
        for feed in [Feed::Whole, Feed::OneByte] {
            let mut raw = Raw::server_with(Config::default(), feed);
            scenario(&mut raw);
        }
    }

    /// Like [`run`](Self::run) with a config.
    pub fn run_with(config: Config, scenario: impl Fn(&mut Raw)) {
        for feed in [Feed::Whole, Feed::OneByte] {
            let mut raw = Raw::server_with(config.clone(), feed);
            scenario(&mut raw);
        }
    }

    /// Runs a scenario against a client of ours.
    pub fn run_client(scenario: impl Fn(&mut Raw)) {
        for feed in [Feed::Whole, Feed::OneByte] {
            let mut raw = Raw::new(Role::Client, Config::default(), feed);
            scenario(&mut raw);
        }
    }

    /// A server of ours; nothing exchanged yet.
    pub fn server_with(config: Config, feed: Feed) -> Raw {
        Raw::new(Role::Server, config, feed)
    }

    pub fn new(role: Role, config: Config, feed: Feed) -> Raw {
        let now = Instant::now();
        let conn = Connection::new(role, config, now);
        let mut dec = FrameDecoder::new(frame::MAX_MAX_FRAME_SIZE);
        if role == Role::Client {
            dec.expect_preface();
        }
        let mut raw = Raw {
            conn,
            now,
            feed,
            enc: hpack::Encoder::new(),
            dec,
            sent: VecDeque::new(),
            events: VecDeque::new(),
            result: Ok(()),
        };
        raw.collect();
        raw
    }

    /// Preface (as client peer) + empty SETTINGS + ACK of ours; drains the
    /// handshake frames.
    pub fn handshake(&mut self) {
        if self.conn.role() == Role::Server {
            self.send_bytes(frame::PREFACE);
        }
        self.send(Frame::Settings(Settings::default()));
        self.send(Frame::Settings(Settings {
            ack: true,
            ..Settings::default()
        }));
        self.sent.clear();
        self.events.retain(|e| !matches!(e, Event::PeerSettings(_)));
    }

    /// Feeds raw bytes to our endpoint, per `feed`.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        match self.feed {
            Feed::Whole => {
                let r = self.conn.recv(Bytes::copy_from_slice(bytes), self.now);
                self.note(r);
            }
            Feed::OneByte => {
                for b in bytes {
                    let r = self.conn.recv(Bytes::copy_from_slice(&[*b]), self.now);
                    self.note(r);
                }
            }
        }
        self.collect();
    }

    fn note(&mut self, r: Result<(), grpc_sansio::ConnectionError>) {
        if self.result.is_ok() {
            self.result = r;
        }
    }

    pub fn send(&mut self, frame: Frame) {
        let mut b = BytesMut::new();
        frame.encode(&mut b);
        self.send_bytes(&b);
    }

    pub fn send_all(&mut self, frames: Vec<Frame>) {
        let mut b = BytesMut::new();
        for fr in frames {
            fr.encode(&mut b);
        }
        self.send_bytes(&b);
    }

    /// Encodes a header block with the peer's encoder.
    pub fn block(&mut self, fields: &[Field]) -> Bytes {
        let mut b = BytesMut::new();
        self.enc.encode(fields.iter(), &mut b);
        b.freeze()
    }

    /// HEADERS carrying a whole block.
    pub fn headers(&mut self, id: u32, fields: &[Field], end_stream: bool) -> Frame {
        let fragment = self.block(fields);
        Frame::Headers(Headers {
            stream_id: StreamId(id),
            fragment,
            end_stream,
            end_headers: true,
            priority: None,
        })
    }

    pub fn request(&mut self, id: u32, end_stream: bool) {
        let h = self.headers(id, &get("/"), end_stream);
        self.send(h);
    }

    /// Moves everything our endpoint wants to send into `sent` / `events`.
    pub fn collect(&mut self) {
        while let Some(t) = self.conn.poll_transmit() {
            for c in t.chunks() {
                self.dec.push(c.clone());
            }
            while let Ok(Some(fr)) = self.dec.decode() {
                self.sent.push_back(fr);
            }
        }
        while let Some(e) = self.conn.poll_event() {
            self.events.push_back(e);
        }
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
        self.conn.handle_timeout(self.now);
        self.collect();
    }

    /// Asserts that our endpoint ended the connection with GOAWAY(`code`).
    #[track_caller]
    pub fn expect_goaway(&mut self, code: ErrorCode) {
        self.collect();
        let found = self.sent.iter().find_map(|fr| match fr {
            Frame::GoAway(g) => Some(g.code),
            _ => None,
        });
        assert_eq!(
            found,
            Some(code),
            "expected GOAWAY {code:?}; sent {:?}",
            self.sent
        );
        assert!(self.conn.is_closed(), "GOAWAY for an error must close");
        match &self.result {
            Err(e) => assert_eq!(e.code(), code),
            Ok(()) => panic!("recv did not report the connection error"),
        }
        assert!(
            self.events
                .iter()
                .any(|e| matches!(e, Event::Closed { error: Some(_) })),
            "no Closed event"
        );
    }

    /// Asserts RST_STREAM(`code`) on `id` and that the connection lives.
    #[track_caller]
    pub fn expect_rst(&mut self, id: u32, code: ErrorCode) {
        self.collect();
        let found = self.sent.iter().find_map(|fr| match fr {
            Frame::RstStream(r) if r.stream_id == StreamId(id) => Some(r.code),
            _ => None,
        });
        assert_eq!(
            found,
            Some(code),
            "expected RST_STREAM {code:?} on {id}; sent {:?}",
            self.sent
        );
        self.expect_alive();
    }

    #[track_caller]
    pub fn expect_alive(&mut self) {
        assert!(self.result.is_ok(), "connection failed: {:?}", self.result);
        assert!(!self.conn.is_closed());
        assert!(
            !self.sent.iter().any(|fr| matches!(fr, Frame::GoAway(_))),
            "unexpected GOAWAY: {:?}",
            self.sent
        );
    }

    /// Asserts nothing was sent (the input was ignored), connection alive.
    #[track_caller]
    pub fn expect_silence(&mut self) {
        self.collect();
        assert!(
            self.sent.is_empty(),
            "expected nothing sent, got {:?}",
            self.sent
        );
        self.expect_alive();
    }

    /// Pops the next sent frame.
    #[track_caller]
    pub fn next_sent(&mut self) -> Frame {
        self.collect();
        self.sent.pop_front().expect("a frame was expected")
    }

    /// Pops the next event, skipping PeerSettings.
    #[track_caller]
    pub fn next_event(&mut self) -> Event {
        self.collect();
        loop {
            let e = self.events.pop_front().expect("an event was expected");
            if !matches!(e, Event::PeerSettings(_)) {
                return e;
            }
        }
    }
}

pub fn data(id: u32, payload: &[u8], end_stream: bool) -> Frame {
    Frame::Data(Data {
        stream_id: StreamId(id),
        payload: Bytes::copy_from_slice(payload),
        end_stream,
        flow_len: payload.len() as u32,
    })
}

pub fn rst(id: u32, code: ErrorCode) -> Frame {
    Frame::RstStream(RstStream {
        stream_id: StreamId(id),
        code,
    })
}

pub fn window_update(id: u32, increment: u32) -> Frame {
    Frame::WindowUpdate(WindowUpdate {
        stream_id: StreamId(id),
        increment,
    })
}

pub fn ping(payload: [u8; 8]) -> Frame {
    Frame::Ping(Ping {
        ack: false,
        payload,
    })
}

pub fn goaway(last: u32, code: ErrorCode) -> Frame {
    Frame::GoAway(GoAway {
        last_stream_id: StreamId(last),
        code,
        debug_data: Bytes::new(),
    })
}

pub fn continuation(id: u32, fragment: Bytes, end_headers: bool) -> Frame {
    Frame::Continuation(Continuation {
        stream_id: StreamId(id),
        fragment,
        end_headers,
    })
}

/// Raw frame bytes: a header with any length, type, flags and stream, and a
/// payload (for frames the encoders would not produce).
pub fn raw_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = frame::FrameHeader {
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

// ----------------------------------------------------------------------
// Pair
// ----------------------------------------------------------------------

/// A client and a server of ours, joined in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    /// Bytes delivered per `recv` call (`usize::MAX`: as transmitted).
    pub split: usize,
    to_server: VecDeque<Bytes>,
    to_client: VecDeque<Bytes>,
    pub client_events: VecDeque<Event>,
    pub server_events: VecDeque<Event>,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Pair {
        let now = Instant::now();
        Pair {
            client: Connection::new(Role::Client, client, now),
            server: Connection::new(Role::Server, server, now),
            now,
            split: usize::MAX,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
        }
    }

    /// One round: transmit both ways, deliver, collect events. Returns
    /// whether anything moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(t) = self.client.poll_transmit() {
            moved = true;
            queue_split(&mut self.to_server, t.to_vec(), self.split);
        }
        while let Some(t) = self.server.poll_transmit() {
            moved = true;
            queue_split(&mut self.to_client, t.to_vec(), self.split);
        }
        while let Some(b) = self.to_server.pop_front() {
            let _ = self.server.recv(b, self.now);
        }
        while let Some(b) = self.to_client.pop_front() {
            let _ = self.client.recv(b, self.now);
        }
        while let Some(e) = self.client.poll_event() {
            moved = true;
            self.client_events.push_back(e);
        }
        while let Some(e) = self.server.poll_event() {
            moved = true;
            self.server_events.push_back(e);
        }
        moved
    }

    /// Steps until nothing moves; panics on a livelock.
    pub fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("pair did not settle");
    }
}

fn queue_split(q: &mut VecDeque<Bytes>, bytes: Vec<u8>, split: usize) {
    let bytes = Bytes::from(bytes);
    let mut off = 0;
    while off < bytes.len() {
        let end = (off + split.max(1)).min(bytes.len());
        q.push_back(bytes.slice(off..end));
        off = end;
    }
}
