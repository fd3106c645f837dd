//! Helpers shared by the gRPC call-layer tests: the four RPC kinds, event
//! lookups on a [`Pair`], end-of-test invariants, and a raw HTTP/2 peer
//! (our own `h2::Connection`) facing one of our gRPC endpoints.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::frame::StreamId;
use grpc_sansio::grpc::{CallId, Status};
use grpc_sansio::h2::{self, Role};
use grpc_sansio::hpack::Field;
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

/// The four RPC kinds of gRPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidi,
}

pub const KINDS: [Kind; 4] = [
    Kind::Unary,
    Kind::ServerStreaming,
    Kind::ClientStreaming,
    Kind::Bidi,
];
pub const SPLITS: [usize; 2] = [usize::MAX, 1];

impl Kind {
    /// How many request messages a call of this kind sends in the tests.
    pub fn requests(self) -> usize {
        match self {
            Kind::Unary | Kind::ServerStreaming => 1,
            Kind::ClientStreaming | Kind::Bidi => 3,
        }
    }
    /// How many response messages.
    pub fn responses(self) -> usize {
        match self {
            Kind::Unary | Kind::ClientStreaming => 1,
            Kind::ServerStreaming | Kind::Bidi => 3,
        }
    }
    pub fn path(self) -> String {
        format!("/test.Svc/{self:?}")
    }
}

/// A message body that names its call, direction and index.
pub fn msg(tag: &str, i: usize) -> Bytes {
    let mut v = format!("{tag}-{i}:").into_bytes();
    v.extend((0..i * 37).map(|j| (j % 251) as u8));
    Bytes::from(v)
}

pub fn pair_split(split: usize) -> Pair {
    let mut p = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    p.split = split;
    p
}

pub fn pair_with(c: client::Config, s: server::Config, split: usize) -> Pair {
    let mut p = Pair::new(c, s, Instant::now());
    p.split = split;
    p
}

pub fn stream_of(s: CallId) -> StreamId {
    StreamId(u32::try_from(s.0).unwrap())
}

/// Takes the server's `Call` event for the next new call.
#[track_caller]
pub fn take_server_call(p: &mut Pair) -> CallId {
    let pos = p
        .server_events
        .iter()
        .position(|e| matches!(e, server::Event::Call { .. }));
    match pos.and_then(|i| p.server_events.remove(i)) {
        Some(server::Event::Call { call, .. }) => call,
        _ => panic!("no server Call event in {:?}", p.server_events),
    }
}

/// The client events of one call, removed from the queue.
pub fn client_events_of(p: &mut Pair, c: CallId) -> Vec<client::Event> {
    let (mine, rest): (VecDeque<_>, VecDeque<_>) = p
        .client_events
        .drain(..)
        .partition(|e| client_call(e) == Some(c));
    p.client_events = rest;
    mine.into()
}

/// The server events of one call, removed from the queue.
pub fn server_events_of(p: &mut Pair, s: CallId) -> Vec<server::Event> {
    let (mine, rest): (VecDeque<_>, VecDeque<_>) = p
        .server_events
        .drain(..)
        .partition(|e| server_call(e) == Some(s));
    p.server_events = rest;
    mine.into()
}

pub fn client_call(e: &client::Event) -> Option<CallId> {
    match e {
        client::Event::Headers { call, .. }
        | client::Event::Message { call, .. }
        | client::Event::Status { call, .. }
        | client::Event::Writable { call } => Some(*call),
        _ => None,
    }
}

pub fn server_call(e: &server::Event) -> Option<CallId> {
    match e {
        server::Event::Call { call, .. }
        | server::Event::Message { call, .. }
        | server::Event::HalfClose { call }
        | server::Event::Cancelled { call, .. }
        | server::Event::Writable { call } => Some(*call),
        _ => None,
    }
}

/// Messages among events of one call.
pub fn client_messages(evs: &[client::Event]) -> Vec<Bytes> {
    evs.iter()
        .filter_map(|e| match e {
            client::Event::Message { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

pub fn server_messages(evs: &[server::Event]) -> Vec<Bytes> {
    evs.iter()
        .filter_map(|e| match e {
            server::Event::Message { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// The one Status of a call's client events; checks it is unique and last.
#[track_caller]
pub fn the_status(evs: &[client::Event]) -> (Status, grpc_sansio::grpc::Metadata) {
    let n = evs
        .iter()
        .filter(|e| matches!(e, client::Event::Status { .. }))
        .count();
    assert_eq!(n, 1, "expected exactly one Status: {evs:?}");
    match evs.last() {
        Some(client::Event::Status {
            status, trailers, ..
        }) => (status.clone(), trailers.clone()),
        _ => panic!("Status is not the last event of the call: {evs:?}"),
    }
}

/// The one Status of call `c` (consumes its events).
#[track_caller]
pub fn status_of(p: &mut Pair, c: CallId) -> Status {
    let evs = client_events_of(p, c);
    the_status(&evs).0
}

/// The `Cancelled` status the server reported for `s`, if any; at most one.
#[track_caller]
pub fn server_cancelled(evs: &[server::Event]) -> Option<Status> {
    let v: Vec<_> = evs
        .iter()
        .filter_map(|e| match e {
            server::Event::Cancelled { status, .. } => Some(status.clone()),
            _ => None,
        })
        .collect();
    assert!(v.len() <= 1, "more than one Cancelled: {evs:?}");
    if !v.is_empty() {
        assert!(
            matches!(evs.last(), Some(server::Event::Cancelled { .. })),
            "Cancelled not last: {evs:?}"
        );
    }
    v.into_iter().next()
}

/// Both sides idle: no calls, no streams.
#[track_caller]
pub fn assert_idle(p: &mut Pair) {
    assert_eq!(p.client.active_calls(), 0, "client calls left");
    assert_eq!(p.server.active_calls(), 0, "server calls left");
    assert_eq!(p.client.h2().active_streams(), 0, "client streams left");
    assert_eq!(p.server.h2().active_streams(), 0, "server streams left");
}

pub fn field(name: &str, value: &str) -> Field {
    Field::new(
        Bytes::copy_from_slice(name.as_bytes()),
        Bytes::copy_from_slice(value.as_bytes()),
    )
}

/// A valid gRPC request header block for `path`.
pub fn grpc_request(path: &str) -> Vec<Field> {
    vec![
        field(":method", "POST"),
        field(":scheme", "http"),
        field(":path", path),
        field(":authority", "localhost"),
        field("content-type", "application/grpc"),
        field("te", "trailers"),
    ]
}

/// A raw HTTP/2 client (ours, h2 only) facing our gRPC server.
pub struct RawClient {
    pub peer: h2::Connection,
    pub server: server::Connection,
    pub now: Instant,
    pub split: usize,
    pub peer_events: Vec<h2::Event>,
    pub server_events: Vec<server::Event>,
}

/// A raw HTTP/2 server (ours, h2 only) facing our gRPC client.
pub struct RawServer {
    pub peer: h2::Connection,
    pub client: client::Connection,
    pub now: Instant,
    pub split: usize,
    pub peer_events: Vec<h2::Event>,
    pub client_events: Vec<client::Event>,
}

fn deliver(t: h2::Transmit, split: usize, mut recv: impl FnMut(Bytes)) {
    for chunk in t {
        let mut off = 0;
        while off < chunk.len() {
            let end = off.saturating_add(split.max(1)).min(chunk.len());
            recv(chunk.slice(off..end));
            off = end;
        }
    }
}

impl RawClient {
    pub fn new(config: server::Config, split: usize) -> RawClient {
        let now = Instant::now();
        let mut r = RawClient {
            peer: h2::Connection::new(Role::Client, h2::Config::default(), now),
            server: server::Connection::new(config, now),
            now,
            split,
            peer_events: Vec::new(),
            server_events: Vec::new(),
        };
        r.drive();
        r
    }

    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.peer.poll_transmit() {
                moved = true;
                let (server, now) = (&mut self.server, self.now);
                deliver(t, self.split, |b| {
                    let _ = server.recv(b, now);
                });
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                let (peer, now) = (&mut self.peer, self.now);
                deliver(t, self.split, |b| {
                    let _ = peer.recv(b, now);
                });
            }
            while let Some(e) = self.peer.poll_event() {
                moved = true;
                if !matches!(e, h2::Event::PeerSettings(_)) {
                    self.peer_events.push(e);
                }
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                self.server_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("raw client pair did not settle");
    }

    /// The response header blocks the peer received on `id`, in order,
    /// with their end_stream flag.
    pub fn responses(&self, id: StreamId) -> Vec<(Vec<Field>, bool)> {
        self.peer_events
            .iter()
            .filter_map(|e| match e {
                h2::Event::Headers {
                    stream_id,
                    fields,
                    end_stream,
                    ..
                } if *stream_id == id => Some((fields.clone(), *end_stream)),
                _ => None,
            })
            .collect()
    }
}

impl RawServer {
    pub fn new(config: client::Config, split: usize) -> RawServer {
        let now = Instant::now();
        let mut r = RawServer {
            peer: h2::Connection::new(Role::Server, h2::Config::default(), now),
            client: client::Connection::new(config, now),
            now,
            split,
            peer_events: Vec::new(),
            client_events: Vec::new(),
        };
        r.drive();
        r
    }

    pub fn drive(&mut self) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(t) = self.peer.poll_transmit() {
                moved = true;
                let (client, now) = (&mut self.client, self.now);
                deliver(t, self.split, |b| {
                    let _ = client.recv(b, now);
                });
            }
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                let (peer, now) = (&mut self.peer, self.now);
                deliver(t, self.split, |b| {
                    let _ = peer.recv(b, now);
                });
            }
            while let Some(e) = self.peer.poll_event() {
                moved = true;
                if !matches!(e, h2::Event::PeerSettings(_)) {
                    self.peer_events.push(e);
                }
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                self.client_events.push(e);
            }
            if !moved {
                return;
            }
        }
        panic!("raw server pair did not settle");
    }

    /// Starts a call and returns it with the stream the peer saw it on.
    pub fn call(&mut self, path: &str) -> (CallId, StreamId) {
        let c = self
            .client
            .start_call(client::Request::new(path.to_owned()), self.now)
            .unwrap();
        self.drive();
        let sid = self
            .peer_events
            .iter()
            .rev()
            .find_map(|e| match e {
                h2::Event::Headers { stream_id, .. } => Some(*stream_id),
                _ => None,
            })
            .expect("request headers reached the peer");
        (c, sid)
    }

    /// The one Status of call `c`.
    #[track_caller]
    pub fn status(&self, c: CallId) -> Status {
        let evs: Vec<_> = self
            .client_events
            .iter()
            .filter(|e| client_call(e) == Some(c))
            .cloned()
            .collect();
        the_status(&evs).0
    }
}
