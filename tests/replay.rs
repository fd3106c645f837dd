//! Deterministic replay of real traffic: the bytes another gRPC stack's
//! interop client and server exchanged, recorded once, replayed here into
//! our `server::Connection` and `client::Connection` with no sockets, no
//! subprocesses and a virtual clock.
//!
//! Recordings: `tests/replay/<peer>/<case>.txt`, one connection per
//! interop case (grpc/grpc `doc/interop-test-descriptions.md`), written by
//! `tests/interop/record.py`, a TCP proxy between the peer's client and
//! server (`tests/interop/<peer>_{client,server}.py`). One line per chunk,
//! as the proxy relayed it (it drops grpc-core's private SETTINGS 0xfe03,
//! true binary metadata, which our core never advertises):
//!
//! ```text
//! # comment
//! c2s 1.714 0000000401000000000000f2010400000001...
//! s2c 62.315 00004e0104...[00*65427]
//! c2s 81.084 eof
//! ```
//!
//! direction, milliseconds since the connection was accepted, and the bytes
//! in hex, a run of 16 or more equal bytes written `[xx*count]`, or `eof`
//! when that side closed. To re-record (needs the venv of
//! `scripts/install-test-deps`):
//!
//! ```text
//! target/interop-venv/bin/python tests/interop/record.py --peer grpcio --out tests/replay/grpcio
//! target/interop-venv/bin/python tests/interop/record.py --peer grpclib --out tests/replay/grpclib
//! ```
//!
//! A new recording can differ where the peers race (a 1 ms deadline, a
//! cancel right after the start); the expectations below then say what
//! changed.
//!
//! Each recording is replayed twice:
//! - server side: the client-to-server bytes go into our server, whose
//!   application finishes every call with OK at its half-close (what it
//!   sends is dropped); the calls, paths, metadata (minus `user-agent`),
//!   decoded request messages, half-closes and cancellations it reports
//!   must be the case's;
//! - client side: our client starts the same calls, in the same order
//!   (so they get the same stream ids 1, 3, 5…), with the same metadata,
//!   deadlines and messages, cancelling where the case cancels; it is fed
//!   the server-to-client bytes, and the response headers, decoded
//!   messages and statuses it reports must be the case's. What our client
//!   sends is dropped: only its reading of the recorded server matters.
//!
//! and each of those three times: all bytes at once, split as recorded, and
//! one byte at a time. The recorded offsets drive a virtual clock (timers
//! fire as it passes them; "all at once" feeds the bytes at the first
//! chunk's time and the end of stream at its own). In every mode the
//! server's first frame (its SETTINGS) goes in on its own: our client opens
//! its streams only once it has it, while the recorded client did not wait
//! and grpclib's server sends its SETTINGS with its first responses; a
//! real server could not answer streams our client has not opened yet.
//! One byte at a time
//! covers every byte but those inside long runs of equal bytes (the cases'
//! payloads of up to 314,159 zeros): each such run goes in as its first 16
//! bytes one at a time and then the rest at once, which keeps the test
//! fast and still splits every frame header, header block, message prefix
//! and compressed message. The three outcomes, lists of normalised
//! events, must be identical and equal to the expectations written below
//! per case.
//!
//! Without the `compression` feature the client side of the recordings
//! whose server compressed its responses is skipped ([`GZIP_RESPONSES`]).
//!
//! The window and frame size limits of both our endpoints are raised to at
//! least what the recorded endpoints advertised (grpcio: 4 MiB windows and
//! frames), since the recorded peer sent as much as *its* peer allowed.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::grpc::{CallId, Metadata, MetadataValue, Status};
use grpc_sansio::{ConnectionError, client, server};

#[allow(clippy::all, dead_code, missing_docs)]
mod pb {
    include!("../examples/generated/grpc.testing.rs");
}

/// Runs of equal bytes at least this long are not fed one byte at a time
/// past their first 16 bytes (see [`bytewise`]).
const LONG_RUN: usize = 1024;

// ---------------------------------------------------------------------------
// Recordings

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    C2s,
    S2c,
}

#[derive(Clone, Debug)]
struct Chunk {
    dir: Dir,
    at: Duration,
    /// `None`: that side closed.
    data: Option<Bytes>,
}

fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("bad hex digit {:?}", c as char),
    }
}

fn decode_data(s: &str) -> Vec<u8> {
    let s = s.as_bytes();
    let mut out = Vec::with_capacity(s.len() / 2);
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'[' {
            let end = i + s[i..].iter().position(|&c| c == b']').expect("unclosed [");
            let run = std::str::from_utf8(&s[i + 1..end]).expect("ascii");
            let (byte, count) = run.split_once('*').expect("[xx*count]");
            let byte = u8::from_str_radix(byte, 16).expect("run byte");
            let count: usize = count.parse().expect("run count");
            out.resize(out.len() + count, byte);
            i = end + 1;
        } else {
            out.push(hex_digit(s[i]) << 4 | hex_digit(s[i + 1]));
            i += 2;
        }
    }
    out
}

fn parse(text: &str) -> Vec<Chunk> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let (dir, ms, data) = (
                parts.next().unwrap(),
                parts.next().expect("time"),
                parts.next().expect("data"),
            );
            let dir = match dir {
                "c2s" => Dir::C2s,
                "s2c" => Dir::S2c,
                _ => panic!("bad direction in {line:?}"),
            };
            let ms: f64 = ms.parse().expect("time in ms");
            let data = (data != "eof").then(|| Bytes::from(decode_data(data)));
            Chunk {
                dir,
                at: Duration::from_nanos((ms * 1e6).round() as u64),
                data,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Driving an endpoint

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Whole,
    AsRecorded,
    Bytewise,
}

enum Feed {
    Data(Bytes),
    Eof,
}

/// `data` one byte at a time, except inside a run of [`LONG_RUN`] or more
/// equal bytes (a payload of zeros): its first 16 bytes go one at a time,
/// the rest in one piece.
fn bytewise(data: &Bytes) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let run = data[i..].iter().take_while(|&&b| b == data[i]).count();
        if run >= LONG_RUN {
            out.extend((i..i + 16).map(|j| data.slice(j..j + 1)));
            out.push(data.slice(i + 16..i + run));
            i += run;
        } else {
            out.push(data.slice(i..i + 1));
            i += 1;
        }
    }
    out
}

/// What is fed when, for one direction of a recording in one mode.
fn feeds(chunks: &[Chunk], dir: Dir, mode: Mode, start: Instant) -> Vec<(Instant, Feed)> {
    let mine: Vec<&Chunk> = chunks.iter().filter(|c| c.dir == dir).collect();
    let mut out = Vec::new();
    match mode {
        Mode::Whole => {
            let mut all = Vec::new();
            let mut first = None;
            for c in &mine {
                if let Some(d) = &c.data {
                    first.get_or_insert(c.at);
                    all.extend_from_slice(d);
                }
            }
            if let Some(at) = first {
                out.push((start + at, Feed::Data(Bytes::from(all))));
            }
            for c in mine.iter().filter(|c| c.data.is_none()) {
                out.push((start + c.at, Feed::Eof));
            }
        }
        Mode::AsRecorded | Mode::Bytewise => {
            for c in &mine {
                let at = start + c.at;
                match &c.data {
                    None => out.push((at, Feed::Eof)),
                    Some(d) if mode == Mode::AsRecorded => out.push((at, Feed::Data(d.clone()))),
                    Some(d) => {
                        for piece in bytewise(d) {
                            out.push((at, Feed::Data(piece)));
                        }
                    }
                }
            }
        }
    }
    // Our client opens its streams once it has the server's SETTINGS; the
    // recorded client did not wait, and a server may send its SETTINGS
    // together with its first responses (grpclib does). A real server's
    // answers could not come before our client opened the streams, so the
    // server's first frame goes in on its own.
    if dir == Dir::S2c {
        if let Some(i) = out.iter().position(|(_, f)| matches!(f, Feed::Data(_))) {
            if let (at, Feed::Data(d)) = &out[i] {
                let len = first_frame_len(d);
                if len < d.len() {
                    let (at, rest) = (*at, d.slice(len..));
                    out[i].1 = Feed::Data(d.slice(..len));
                    out.insert(i + 1, (at, Feed::Data(rest)));
                }
            }
        }
    }
    out
}

/// The length of the HTTP/2 frame `data` starts with (all of it if shorter).
fn first_frame_len(data: &[u8]) -> usize {
    if data.len() < 9 {
        return data.len();
    }
    let len = 9 + (usize::from(data[0]) << 16 | usize::from(data[1]) << 8 | usize::from(data[2]));
    len.min(data.len())
}

/// The sans-IO surface both endpoints share.
trait Endpoint {
    type Event;
    fn recv(&mut self, data: Bytes, now: Instant) -> Result<(), ConnectionError>;
    fn recv_eof(&mut self, now: Instant);
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    /// Drops what the endpoint would send: nobody is listening.
    fn drop_transmits(&mut self);
    fn poll_event(&mut self) -> Option<Self::Event>;
}

macro_rules! endpoint {
    ($conn:ty, $event:ty) => {
        impl Endpoint for $conn {
            type Event = $event;
            fn recv(&mut self, data: Bytes, now: Instant) -> Result<(), ConnectionError> {
                <$conn>::recv(self, data, now)
            }
            fn recv_eof(&mut self, now: Instant) {
                <$conn>::recv_eof(self, now)
            }
            fn handle_timeout(&mut self, now: Instant) {
                <$conn>::handle_timeout(self, now)
            }
            fn poll_timeout(&self) -> Option<Instant> {
                <$conn>::poll_timeout(self)
            }
            fn drop_transmits(&mut self) {
                while self.poll_transmit().is_some() {}
            }
            fn poll_event(&mut self) -> Option<$event> {
                <$conn>::poll_event(self)
            }
        }
    };
}
endpoint!(server::Connection, server::Event);
endpoint!(client::Connection, client::Event);

/// The application on top of an endpoint: turns events into normalised
/// lines and reacts as the case requires.
trait App<E: Endpoint> {
    fn on_event(&mut self, conn: &mut E, event: E::Event, now: Instant, out: &mut Vec<String>);
    /// After each `recv` and its events; `fed` bytes were received so far.
    fn after_recv(&mut self, _conn: &mut E, _fed: usize) {}
}

fn pump<E: Endpoint>(conn: &mut E, app: &mut impl App<E>, now: Instant, out: &mut Vec<String>) {
    loop {
        conn.drop_transmits();
        match conn.poll_event() {
            Some(ev) => app.on_event(conn, ev, now, out),
            None => break,
        }
    }
}

/// Fires the timers due by `now`, each at its own time.
fn advance<E: Endpoint>(conn: &mut E, app: &mut impl App<E>, now: Instant, out: &mut Vec<String>) {
    for _ in 0..1000 {
        match conn.poll_timeout() {
            Some(t) if t <= now => {
                conn.handle_timeout(t);
                pump(conn, app, t, out);
            }
            _ => return,
        }
    }
    panic!("timers keep firing");
}

fn replay<E: Endpoint>(
    mut conn: E,
    app: &mut impl App<E>,
    feeds: Vec<(Instant, Feed)>,
    start: Instant,
) -> Vec<String> {
    let mut out = Vec::new();
    pump(&mut conn, app, start, &mut out);
    let mut broken = false;
    let mut fed = 0;
    let mut last = start;
    for (at, feed) in feeds {
        advance(&mut conn, app, at, &mut out);
        last = at;
        match feed {
            Feed::Data(_) if broken => {}
            Feed::Data(d) => {
                fed += d.len();
                if let Err(e) = conn.recv(d, at) {
                    out.push(format!("recv error {e:?}"));
                    broken = true;
                }
                pump(&mut conn, app, at, &mut out);
                app.after_recv(&mut conn, fed);
            }
            Feed::Eof => conn.recv_eof(at),
        }
        pump(&mut conn, app, at, &mut out);
    }
    // Whatever timers are left (deadlines, shutdown), a minute on.
    advance(&mut conn, app, last + Duration::from_secs(60), &mut out);
    out
}

// ---------------------------------------------------------------------------
// Normalised events

/// The messages of the cases, whose payload bodies (up to 314,159 zeros)
/// are rendered by size.
trait Bodies: prost::Message + Default + Clone + Debug {
    fn bodies(&mut self) -> Vec<&mut Vec<u8>>;
}

macro_rules! bodies {
    ($($t:ident),*; $($p:ident),*) => {
        $(impl Bodies for pb::$t {
            fn bodies(&mut self) -> Vec<&mut Vec<u8>> {
                Vec::new()
            }
        })*
        $(impl Bodies for pb::$p {
            fn bodies(&mut self) -> Vec<&mut Vec<u8>> {
                self.payload.iter_mut().map(|p| &mut p.body).collect()
            }
        })*
    };
}
bodies!(Empty, StreamingInputCallResponse;
    SimpleRequest, SimpleResponse, StreamingInputCallRequest,
    StreamingOutputCallRequest, StreamingOutputCallResponse);

/// `Debug` of a message, each payload body shortened to its size.
fn render<M: Bodies>(m: &M) -> String {
    let mut m = m.clone();
    let sizes: Vec<String> = m
        .bodies()
        .into_iter()
        .map(|b| {
            let text = if b.iter().all(|&x| x == 0) {
                format!("body: <{} zeros>", b.len())
            } else {
                format!("body: <{} bytes, not all zero>", b.len())
            };
            b.clear();
            text
        })
        .collect();
    let mut out = format!("{m:?}");
    for size in sizes {
        out = out.replacen("body: []", &size, 1);
    }
    out
}

fn decode<M: Bodies>(data: Bytes) -> String {
    match M::decode(data.clone()) {
        Ok(m) => render(&m),
        Err(e) => format!("undecodable ({} bytes): {e}", data.len()),
    }
}

fn method(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn request_text(path: &str, data: Bytes) -> String {
    match method(path) {
        "EmptyCall" | "UnimplementedCall" => decode::<pb::Empty>(data),
        "UnaryCall" | "CacheableUnaryCall" => decode::<pb::SimpleRequest>(data),
        "StreamingInputCall" => decode::<pb::StreamingInputCallRequest>(data),
        _ => decode::<pb::StreamingOutputCallRequest>(data),
    }
}

fn response_text(path: &str, data: Bytes) -> String {
    match method(path) {
        "EmptyCall" | "UnimplementedCall" => decode::<pb::Empty>(data),
        "UnaryCall" | "CacheableUnaryCall" => decode::<pb::SimpleResponse>(data),
        "StreamingInputCall" => decode::<pb::StreamingInputCallResponse>(data),
        _ => decode::<pb::StreamingOutputCallResponse>(data),
    }
}

/// Metadata as `key=value`, binary values as `0x<hex>`; `user-agent` (the
/// peer's version) is left out.
fn md_text(md: &Metadata) -> String {
    let items: Vec<String> = md
        .iter()
        .filter(|(k, _)| *k != "user-agent")
        .map(|(k, v)| match v {
            MetadataValue::Ascii(s) => format!("{k}={s}"),
            MetadataValue::Binary(b) => {
                let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
                format!("{k}=0x{hex}")
            }
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn status_text(status: &Status) -> String {
    format!("{:?} {:?}", status.code, status.message)
}

// ---------------------------------------------------------------------------
// Our applications

/// Our server's application: records what it is told, finishes each call
/// with OK at its half-close.
#[derive(Default)]
struct ServerApp {
    paths: BTreeMap<CallId, String>,
}

impl App<server::Connection> for ServerApp {
    fn on_event(
        &mut self,
        conn: &mut server::Connection,
        event: server::Event,
        _now: Instant,
        out: &mut Vec<String>,
    ) {
        match event {
            server::Event::Call {
                call,
                path,
                metadata,
                deadline,
                ..
            } => {
                out.push(format!(
                    "call {} {path} {} deadline={}",
                    call.0,
                    md_text(&metadata),
                    deadline.is_some()
                ));
                self.paths.insert(call, path.into());
            }
            server::Event::Message { call, data } => {
                let path = self.paths.get(&call).map_or("?", |p| p.as_str());
                out.push(format!("message {} {}", call.0, request_text(path, data)));
            }
            server::Event::HalfClose { call } => {
                out.push(format!("half-close {}", call.0));
                let _ = conn.finish(call, Status::ok(), &Metadata::new());
            }
            server::Event::Cancelled { call, status } => {
                out.push(format!("cancelled {} {:?}", call.0, status.code));
            }
            server::Event::Writable { .. } => {}
            server::Event::GoAway { code } => out.push(format!("goaway {code:?}")),
            server::Event::Closed { error } => out.push(format!("closed {error:?}")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cancel {
    Never,
    /// Right after the start, before the call has a stream.
    AtOnce,
    /// Once the call has its stream (after the first bytes from the
    /// server, its SETTINGS), so that the stream was used as recorded.
    AfterOpen,
    AfterFirstMessage,
}

/// A call our client makes, as the recorded client made it.
#[derive(Clone)]
struct CallSpec {
    path: &'static str,
    metadata: Metadata,
    timeout: Duration,
    messages: Vec<Bytes>,
    half_close: bool,
    cancel: Cancel,
}

/// Our client's application: starts the case's calls, records what it is
/// told, cancels where the case cancels.
struct ClientApp {
    specs: Vec<CallSpec>,
    calls: BTreeMap<CallId, usize>,
    /// The length of the server's first frame (its SETTINGS).
    server_preface: usize,
}

impl ClientApp {
    fn start(&mut self, conn: &mut client::Connection, now: Instant, out: &mut Vec<String>) {
        for (i, spec) in self.specs.iter().enumerate() {
            let mut req = client::Request::new(spec.path);
            req.metadata = spec.metadata.clone();
            req.deadline = Some(now + spec.timeout);
            let call = match conn.start_call(req, now) {
                Ok(call) => call,
                Err(status) => {
                    out.push(format!("start failed {}", status_text(&status)));
                    continue;
                }
            };
            self.calls.insert(call, i);
            for m in &spec.messages {
                conn.send_message(call, m.clone()).expect("send_message");
            }
            if spec.half_close {
                conn.half_close(call).expect("half_close");
            }
            if spec.cancel == Cancel::AtOnce {
                conn.cancel(call).expect("cancel");
            }
        }
    }

    fn spec(&self, call: CallId) -> &CallSpec {
        &self.specs[self.calls[&call]]
    }
}

impl App<client::Connection> for ClientApp {
    fn after_recv(&mut self, conn: &mut client::Connection, fed: usize) {
        if fed < self.server_preface {
            return;
        }
        for (&call, &i) in &self.calls {
            if self.specs[i].cancel == Cancel::AfterOpen {
                // A second cancel of the same call is UnknownCall.
                let _ = conn.cancel(call);
            }
        }
    }

    fn on_event(
        &mut self,
        conn: &mut client::Connection,
        event: client::Event,
        _now: Instant,
        out: &mut Vec<String>,
    ) {
        match event {
            client::Event::Headers { call, metadata } => {
                out.push(format!("headers {} {}", call.0, md_text(&metadata)));
            }
            client::Event::Message { call, data } => {
                let spec = self.spec(call);
                out.push(format!(
                    "message {} {}",
                    call.0,
                    response_text(spec.path, data)
                ));
                if spec.cancel == Cancel::AfterFirstMessage {
                    let _ = conn.cancel(call);
                }
            }
            client::Event::Status {
                call,
                status,
                trailers,
            } => {
                out.push(format!(
                    "status {} {} {}",
                    call.0,
                    status_text(&status),
                    md_text(&trailers)
                ));
            }
            client::Event::Writable { .. } => {}
            client::Event::GoAway { code } => out.push(format!("goaway {code:?}")),
            client::Event::Closed { error } => out.push(format!("closed {error:?}")),
        }
    }
}

/// Windows and frames at least as large as the recorded peers allowed.
fn h2_config() -> grpc_sansio::h2::Config {
    grpc_sansio::h2::Config {
        initial_window_size: 16 << 20,
        max_frame_size: (1 << 24) - 1,
        stream_window: 16 << 20,
        connection_window: 64 << 20,
        ..grpc_sansio::h2::Config::default()
    }
}

fn replay_server(chunks: &[Chunk], mode: Mode) -> Vec<String> {
    let start = Instant::now();
    let config = server::Config {
        h2: h2_config(),
        ..server::Config::default()
    };
    let conn = server::Connection::new(config, start);
    let feeds = feeds(chunks, Dir::C2s, mode, start);
    replay(conn, &mut ServerApp::default(), feeds, start)
}

fn replay_client(chunks: &[Chunk], specs: &[CallSpec], mode: Mode) -> Vec<String> {
    let start = Instant::now();
    let config = client::Config {
        h2: h2_config(),
        ..client::Config::default()
    };
    // The calls start when the recorded connection did.
    let t0 = start + chunks.first().map_or(Duration::ZERO, |c| c.at);
    let mut conn = client::Connection::new(config, start);
    let server_preface = chunks
        .iter()
        .find_map(|c| c.data.as_ref().filter(|_| c.dir == Dir::S2c))
        .map_or(0, |d| first_frame_len(d));
    let mut app = ClientApp {
        specs: specs.to_vec(),
        calls: BTreeMap::new(),
        server_preface,
    };
    let mut out = Vec::new();
    app.start(&mut conn, t0, &mut out);
    let feeds = feeds(chunks, Dir::S2c, mode, start);
    out.extend(replay(conn, &mut app, feeds, t0));
    out
}

// ---------------------------------------------------------------------------
// The cases

const SVC: &str = "/grpc.testing.TestService/";
const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
const INITIAL_VALUE: &str = "test_initial_metadata_value";
const SPECIAL_MESSAGE: &str =
    "\t\ntest with whitespace\r\nand Unicode BMP \u{263a} and non-BMP \u{1f608}\t\n";
const TIMEOUT: Duration = Duration::from_secs(20);

fn zeros(n: usize) -> Option<pb::Payload> {
    Some(pb::Payload {
        r#type: pb::PayloadType::Compressable as i32,
        body: vec![0; n],
    })
}

fn large_request() -> pb::SimpleRequest {
    pb::SimpleRequest {
        response_size: 314159,
        payload: zeros(271828),
        ..Default::default()
    }
}

fn sizes(sizes: &[i32]) -> Vec<pb::ResponseParameters> {
    sizes
        .iter()
        .map(|&size| pb::ResponseParameters {
            size,
            ..Default::default()
        })
        .collect()
}

fn output(size: usize) -> String {
    render(&pb::StreamingOutputCallResponse {
        payload: zeros(size),
    })
}

fn echo_status(message: &str) -> Option<pb::EchoStatus> {
    Some(pb::EchoStatus {
        code: 2,
        message: message.into(),
    })
}

fn call(path: &str, messages: &[&dyn EncodeDebug]) -> CallSpec {
    CallSpec {
        path: Box::leak(format!("{SVC}{path}").into_boxed_str()),
        metadata: Metadata::new(),
        timeout: TIMEOUT,
        messages: messages.iter().map(|m| m.encoded()).collect(),
        half_close: true,
        cancel: Cancel::Never,
    }
}

/// A message: its encoding (what our client sends) and rendering (what a
/// receiver reports).
trait EncodeDebug {
    fn encoded(&self) -> Bytes;
    fn text(&self) -> String;
}

impl<M: Bodies> EncodeDebug for M {
    fn encoded(&self) -> Bytes {
        Bytes::from(self.encode_to_vec())
    }
    fn text(&self) -> String {
        render(self)
    }
}

fn echo_metadata() -> Metadata {
    let mut md = Metadata::new();
    md.append(ECHO_INITIAL, INITIAL_VALUE).unwrap();
    md.append_bin(ECHO_TRAILING, &b"\xab\xab\xab"[..]).unwrap();
    md
}

const ECHOED: &str = "[x-grpc-test-echo-initial=test_initial_metadata_value, x-grpc-test-echo-trailing-bin=0xababab]";

/// One interop case: the calls the recorded client made, and what our
/// server and our client must report.
struct Case {
    name: &'static str,
    calls: Vec<CallSpec>,
    server: Vec<String>,
    client: Vec<String>,
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The cases as grpcio's client (`tests/interop/grpcio_client.py`) and
/// server (`tests/interop/grpcio_server.py`) play them. Our server numbers
/// calls by stream id (1, 3, …), our client from 0. The recorded client
/// closes the TCP connection without a GOAWAY: both sides end with
/// `TransportClosed`.
fn grpcio_cases() -> Vec<Case> {
    let empty = pb::Empty {};
    let ok = "Ok \"\" []";
    let closed = "closed Some(TransportClosed)";
    let mut cases = Vec::new();

    // One call each way: the request the recorded client sent and the
    // response the recorded server sent, with an OK status.
    let simple =
        |name: &'static str, method: &str, request: &dyn EncodeDebug, responses: &[String]| {
            let mut client = vec!["headers 0 []".to_string()];
            client.extend(responses.iter().map(|r| format!("message 0 {r}")));
            client.push(format!("status 0 {ok}"));
            client.push(closed.into());
            Case {
                name,
                calls: vec![call(method, &[request])],
                server: vec![
                    format!("call 1 {SVC}{method} [] deadline=true"),
                    format!("message 1 {}", request.text()),
                    "half-close 1".into(),
                    closed.into(),
                ],
                client,
            }
        };

    cases.push(simple("empty_unary", "EmptyCall", &empty, &[empty.text()]));
    cases.push(simple(
        "large_unary",
        "UnaryCall",
        &large_request(),
        &[render(&pb::SimpleResponse {
            payload: zeros(314159),
            ..Default::default()
        })],
    ));

    let inputs: Vec<pb::StreamingInputCallRequest> = [27182, 8, 1828, 45904]
        .iter()
        .map(|&n| pb::StreamingInputCallRequest {
            payload: zeros(n),
            ..Default::default()
        })
        .collect();
    let mut server = vec![format!("call 1 {SVC}StreamingInputCall [] deadline=true")];
    server.extend(inputs.iter().map(|m| format!("message 1 {}", m.text())));
    server.extend(lines(&["half-close 1", closed]));
    let dyn_inputs: Vec<&dyn EncodeDebug> = inputs.iter().map(|m| m as _).collect();
    cases.push(Case {
        name: "client_streaming",
        calls: vec![call("StreamingInputCall", &dyn_inputs)],
        server,
        client: vec![
            "headers 0 []".into(),
            format!(
                "message 0 {}",
                render(&pb::StreamingInputCallResponse {
                    aggregated_payload_size: 74922
                })
            ),
            format!("status 0 {ok}"),
            closed.into(),
        ],
    });

    // grpcio's server compresses streamed responses with gzip; our client
    // reports them decompressed.
    let streamed = [31415, 9, 2653, 58979];
    cases.push(simple(
        "server_streaming",
        "StreamingOutputCall",
        &pb::StreamingOutputCallRequest {
            response_parameters: sizes(&streamed),
            ..Default::default()
        },
        &streamed.map(|s| output(s as usize)),
    ));

    let pings: Vec<pb::StreamingOutputCallRequest> = [27182, 8, 1828, 45904]
        .iter()
        .zip(streamed)
        .map(|(&p, s)| pb::StreamingOutputCallRequest {
            response_parameters: sizes(&[s]),
            payload: zeros(p),
            ..Default::default()
        })
        .collect();
    let mut server = vec![format!("call 1 {SVC}FullDuplexCall [] deadline=true")];
    server.extend(pings.iter().map(|m| format!("message 1 {}", m.text())));
    server.extend(lines(&["half-close 1", closed]));
    let mut client = vec!["headers 0 []".to_string()];
    client.extend(streamed.map(|s| format!("message 0 {}", output(s as usize))));
    client.extend([format!("status 0 {ok}"), closed.into()]);
    let dyn_pings: Vec<&dyn EncodeDebug> = pings.iter().map(|m| m as _).collect();
    cases.push(Case {
        name: "ping_pong",
        calls: vec![call("FullDuplexCall", &dyn_pings)],
        server,
        client,
    });

    cases.push(Case {
        name: "empty_stream",
        calls: vec![call("FullDuplexCall", &[])],
        server: vec![
            format!("call 1 {SVC}FullDuplexCall [] deadline=true"),
            "half-close 1".into(),
            closed.into(),
        ],
        // No response message: grpcio answers Trailers-Only.
        client: lines(&[&format!("status 0 {ok}"), closed]),
    });

    // grpcio's 1 ms deadline usually passes before its call reaches the
    // wire: in this recording its client connects and closes without a
    // byte. Our client's own deadline ends the call before the server's
    // SETTINGS would let it open a stream.
    let sleepy = pb::StreamingOutputCallRequest {
        payload: zeros(27182),
        ..Default::default()
    };
    let mut spec = call("FullDuplexCall", &[&sleepy]);
    spec.timeout = Duration::from_millis(1);
    spec.half_close = false;
    cases.push(Case {
        name: "timeout_on_sleeping_server",
        calls: vec![spec],
        server: lines(&[closed]),
        client: lines(&["status 0 DeadlineExceeded \"deadline exceeded\" []", closed]),
    });

    // grpcio's client sends the request headers, then resets the stream
    // (CANCEL); our client cancels before it has a stream, so the recorded
    // server's bytes (nothing on the stream) are all it reads.
    let mut spec = call("StreamingInputCall", &[]);
    spec.half_close = false;
    spec.cancel = Cancel::AtOnce;
    cases.push(Case {
        name: "cancel_after_begin",
        calls: vec![spec],
        server: vec![
            format!("call 1 {SVC}StreamingInputCall [] deadline=true"),
            "cancelled 1 Cancelled".into(),
            closed.into(),
        ],
        client: lines(&["status 0 Cancelled \"cancelled by the client\" []", closed]),
    });

    let first = pb::StreamingOutputCallRequest {
        response_parameters: sizes(&[31415]),
        payload: zeros(27182),
        ..Default::default()
    };
    let mut spec = call("FullDuplexCall", &[&first]);
    spec.half_close = false;
    spec.cancel = Cancel::AfterFirstMessage;
    cases.push(Case {
        name: "cancel_after_first_response",
        calls: vec![spec],
        server: vec![
            format!("call 1 {SVC}FullDuplexCall [] deadline=true"),
            format!("message 1 {}", first.text()),
            "cancelled 1 Cancelled".into(),
            closed.into(),
        ],
        client: vec![
            "headers 0 []".into(),
            format!("message 0 {}", output(31415)),
            "status 0 Cancelled \"cancelled by the client\" []".into(),
            closed.into(),
        ],
    });

    let duplex = pb::StreamingOutputCallRequest {
        response_parameters: sizes(&[314159]),
        payload: zeros(271828),
        ..Default::default()
    };
    let mut unary = call("UnaryCall", &[&large_request()]);
    unary.metadata = echo_metadata();
    let mut full = call("FullDuplexCall", &[&duplex]);
    full.metadata = echo_metadata();
    let initial = format!("[{ECHO_INITIAL}={INITIAL_VALUE}]");
    let trailing = format!("[{ECHO_TRAILING}=0xababab]");
    cases.push(Case {
        name: "custom_metadata",
        calls: vec![unary, full],
        server: vec![
            format!("call 1 {SVC}UnaryCall {ECHOED} deadline=true"),
            format!("message 1 {}", large_request().text()),
            "half-close 1".into(),
            format!("call 3 {SVC}FullDuplexCall {ECHOED} deadline=true"),
            format!("message 3 {}", duplex.text()),
            "half-close 3".into(),
            closed.into(),
        ],
        client: vec![
            format!("headers 0 {initial}"),
            format!(
                "message 0 {}",
                render(&pb::SimpleResponse {
                    payload: zeros(314159),
                    ..Default::default()
                })
            ),
            format!("status 0 Ok \"\" {trailing}"),
            format!("headers 1 {initial}"),
            format!("message 1 {}", output(314159)),
            format!("status 1 Ok \"\" {trailing}"),
            closed.into(),
        ],
    });

    // grpcio's servicer returns a (default) response message with its
    // error status on UnaryCall; the streaming call ends Trailers-Only.
    for (name, message, duplex) in [
        ("status_code_and_message", "test status message", true),
        ("special_status_message", SPECIAL_MESSAGE, false),
    ] {
        let unary = pb::SimpleRequest {
            response_status: echo_status(message),
            ..Default::default()
        };
        let full = pb::StreamingOutputCallRequest {
            response_status: echo_status(message),
            ..Default::default()
        };
        let mut calls = vec![call("UnaryCall", &[&unary])];
        let mut server = vec![
            format!("call 1 {SVC}UnaryCall [] deadline=true"),
            format!("message 1 {}", unary.text()),
            "half-close 1".into(),
        ];
        let mut client = vec![
            "headers 0 []".to_string(),
            format!("message 0 {}", render(&pb::SimpleResponse::default())),
            format!("status 0 Unknown {message:?} []"),
        ];
        if duplex {
            calls.push(call("FullDuplexCall", &[&full]));
            server.extend([
                format!("call 3 {SVC}FullDuplexCall [] deadline=true"),
                format!("message 3 {}", full.text()),
                "half-close 3".into(),
            ]);
            client.push(format!("status 1 Unknown {message:?} []"));
        }
        server.push(closed.into());
        client.push(closed.into());
        cases.push(Case {
            name,
            calls,
            server,
            client,
        });
    }

    // The generated servicer's default for an unimplemented method, and
    // grpcio's own answer for a service it does not know.
    for (name, path, message) in [
        (
            "unimplemented_method",
            "/grpc.testing.TestService/UnimplementedCall",
            "Method not implemented!",
        ),
        (
            "unimplemented_service",
            "/grpc.testing.UnimplementedService/UnimplementedCall",
            "Method not found!",
        ),
    ] {
        let mut spec = call("", &[&empty]);
        spec.path = path;
        cases.push(Case {
            name,
            calls: vec![spec],
            server: vec![
                format!("call 1 {path} [] deadline=true"),
                format!("message 1 {}", empty.text()),
                "half-close 1".into(),
                closed.into(),
            ],
            client: vec![
                format!("status 0 Unimplemented {message:?} []"),
                closed.into(),
            ],
        });
    }

    let compressed = |value| pb::SimpleRequest {
        response_compressed: Some(pb::BoolValue { value }),
        ..large_request()
    };
    let response = render(&pb::SimpleResponse {
        payload: zeros(314159),
        ..Default::default()
    });
    cases.push(Case {
        name: "server_compressed_unary",
        calls: vec![
            call("UnaryCall", &[&compressed(true)]),
            call("UnaryCall", &[&compressed(false)]),
        ],
        server: vec![
            format!("call 1 {SVC}UnaryCall [] deadline=true"),
            format!("message 1 {}", compressed(true).text()),
            "half-close 1".into(),
            format!("call 3 {SVC}UnaryCall [] deadline=true"),
            format!("message 3 {}", compressed(false).text()),
            "half-close 3".into(),
            closed.into(),
        ],
        client: vec![
            "headers 0 []".into(),
            format!("message 0 {response}"),
            format!("status 0 {ok}"),
            "headers 1 []".into(),
            format!("message 1 {response}"),
            format!("status 1 {ok}"),
            closed.into(),
        ],
    });

    let params = |size, value| pb::ResponseParameters {
        size,
        compressed: Some(pb::BoolValue { value }),
        ..Default::default()
    };
    cases.push(simple(
        "server_compressed_streaming",
        "StreamingOutputCall",
        &pb::StreamingOutputCallRequest {
            response_parameters: vec![params(31415, true), params(92653, false)],
            ..Default::default()
        },
        &[output(31415), output(92653)],
    ));
    cases
}

/// Recordings whose server compresses responses (gzip): without the
/// `compression` feature our client cannot read them, and their client side
/// is skipped.
const GZIP_RESPONSES: &[(&str, &str)] = &[
    ("grpcio", "server_streaming"),
    ("grpcio", "ping_pong"),
    ("grpcio", "cancel_after_first_response"),
    ("grpcio", "server_compressed_unary"),
    ("grpcio", "server_compressed_streaming"),
];

fn run_case(peer: &str, case: &Case) -> Result<Duration, String> {
    let started = Instant::now();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/replay")
        .join(peer)
        .join(format!("{}.txt", case.name));
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let chunks = parse(&text);
    let mut errors = Vec::new();
    for (side, expected) in [("server", &case.server), ("client", &case.client)] {
        if side == "client"
            && !cfg!(feature = "compression")
            && GZIP_RESPONSES.contains(&(peer, case.name))
        {
            eprintln!(
                "replay {peer} {}: client side skipped: its responses are gzip-compressed \
                 and the compression feature is off",
                case.name
            );
            continue;
        }
        for mode in [Mode::Whole, Mode::AsRecorded, Mode::Bytewise] {
            let got = match side {
                "server" => replay_server(&chunks, mode),
                _ => replay_client(&chunks, &case.calls, mode),
            };
            if &got != expected {
                errors.push(format!(
                    "{side} side, {mode:?}:\n  expected:\n    {}\n  got:\n    {}",
                    expected.join("\n    "),
                    got.join("\n    ")
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(started.elapsed())
    } else {
        Err(errors.join("\n"))
    }
}

fn run_peer(peer: &str, cases: Vec<Case>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/replay")
        .join(peer);
    // Every recording has its expectations, and the other way round.
    let mut recorded: Vec<String> = std::fs::read_dir(&dir)
        .expect("recordings")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".txt").map(str::to_string)
        })
        .collect();
    recorded.sort();
    let mut named: Vec<String> = cases.iter().map(|c| c.name.to_string()).collect();
    named.sort();
    let mut failures = Vec::new();
    if recorded != named {
        failures.push(format!(
            "recordings in {}: {recorded:?}\ncases with expectations: {named:?}",
            dir.display()
        ));
    }
    for case in &cases {
        match run_case(peer, case) {
            Ok(took) => eprintln!("replay {peer} {}: ok in {took:.1?}", case.name),
            Err(why) => failures.push(format!("{peer} {}:\n{why}", case.name)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn replay_grpcio() {
    run_peer("grpcio", grpcio_cases());
}

fn case<'a>(cases: &'a mut [Case], name: &str) -> &'a mut Case {
    cases.iter_mut().find(|c| c.name == name).expect("a case")
}

/// The cases as grpclib's client (`tests/interop/grpclib_client.py`) and
/// server (`tests/interop/grpclib_server.py`) play them.
fn grpclib_cases() -> Vec<Case> {
    // grpclib has no compression, and its client and server do not agree
    // on unimplemented_service (its server answers an unknown service
    // without a content-type, its client then reports UNKNOWN).
    let skip = [
        "client_compressed_unary",
        "server_compressed_unary",
        "client_compressed_streaming",
        "server_compressed_streaming",
        "unimplemented_service",
    ];
    let mut cases: Vec<Case> = grpcio_cases()
        .into_iter()
        .filter(|c| !skip.contains(&c.name))
        .collect();
    let ok = "Ok \"\" []";
    let closed = "closed Some(TransportClosed)";
    let empty = pb::Empty {};

    // grpclib's 1 ms deadline passes before its call reaches the wire, as
    // grpcio's does: the same (empty) expectations.

    // grpclib's cancel resets the stream with NO_ERROR, which our server
    // reports as INTERNAL (the PROTOCOL-HTTP2.md mapping of that code); its
    // client then checks with an EmptyCall on the same connection.
    let still_serving = |first: usize| {
        [
            format!("headers {first} []"),
            format!("message {first} {}", empty.text()),
            format!("status {first} {ok}"),
            closed.to_string(),
        ]
    };
    let server_tail = [
        "cancelled 1 Internal".to_string(),
        format!("call 3 {SVC}EmptyCall [] deadline=true"),
        format!("message 3 {}", empty.text()),
        "half-close 3".into(),
        closed.into(),
    ];
    {
        let c = case(&mut cases, "cancel_after_begin");
        c.calls[0].cancel = Cancel::AfterOpen;
        c.calls.push(call("EmptyCall", &[&empty]));
        c.server.truncate(1);
        c.server.extend(server_tail.clone());
        c.client.pop();
        c.client.extend(still_serving(1));
    }
    {
        let c = case(&mut cases, "cancel_after_first_response");
        c.calls.push(call("EmptyCall", &[&empty]));
        c.server.truncate(2);
        c.server.extend(server_tail);
        c.client.pop();
        c.client.extend(still_serving(1));
    }

    // grpclib answers an error status Trailers-Only, on unary calls too.
    for name in ["status_code_and_message", "special_status_message"] {
        case(&mut cases, name).client.drain(..2);
    }

    // grpclib_server.py's own message.
    case(&mut cases, "unimplemented_method").client[0] =
        "status 0 Unimplemented \"UnimplementedCall is never implemented\" []".into();
    cases
}

#[test]
fn replay_grpclib() {
    run_peer("grpclib", grpclib_cases());
}
