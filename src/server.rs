//! The gRPC server endpoint: incoming calls over one HTTP/2 connection
//! (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
//!
//! A valid request becomes [`Event::Call`]; the application answers with
//! [`Connection::send_headers`] (optional), [`Connection::send_message`] and
//! one [`Connection::finish`]. A call that ends without `finish` (client
//! cancel, deadline, protocol error) is reported once as
//! [`Event::Cancelled`].
//!
//! Requests that are not gRPC are answered here and never reach the
//! application: a method other than POST gets HTTP 405, a content-type
//! other than `application/grpc…` HTTP 415 (PROTOCOL-HTTP2.md). A missing
//! `te: trailers` is tolerated, as grpc-go does; a `te` with another value
//! is already malformed HTTP/2 (RFC 9113 §8.2.2) and reset by the core.

use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::error::{ConnectionError, ErrorCode};
use crate::frame::{Origin, StreamId};
use crate::grpc::call::{self, CallId, FieldBuf, Inbound};
use crate::grpc::compression::{self, Encoding};
use crate::grpc::{Code, Metadata, MethodPath, RecentPaths, Status, timeout};
use crate::h2::{self, HeadersKind, ResetBy, SendError};
use crate::hpack::Field;
use crate::small_map::SmallMap;

/// Live calls kept without a tree: a connection usually has a few.
const LIVE_CALLS_INLINE: usize = 4;

/// Server configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The HTTP/2 settings and limits.
    pub h2: h2::Config,
    /// Largest request message accepted (after decompression). Default
    /// 4 MiB; larger ones end the call with RESOURCE_EXHAUSTED.
    pub max_receive_message_size: usize,
    /// Most memory the connection keeps for request messages not yet
    /// complete, across all its calls, counted as what they keep alive: the
    /// whole received buffer behind a slice, the gathering buffer of
    /// copied pieces. Default 64 MiB. The call whose bytes take the
    /// connection past it ends with RESOURCE_EXHAUSTED.
    ///
    /// Each call is bounded by `max_receive_message_size` already; this
    /// bounds their sum, which is otherwise that limit times the streams
    /// open at once (400 MiB at the defaults), against a client that sends
    /// many calls' messages slowly or a byte at a time. It is a ceiling, not
    /// flow control: legitimate traffic that interleaves many large
    /// messages needs room (200 mixed interop calls, 100 at a time, hold up
    /// to 16-32 MiB of partial messages), so lower it only together with
    /// `h2.max_concurrent_streams` or the message size limit.
    pub max_buffered_bytes: usize,
    /// How responses are compressed when the client accepts it (per
    /// `grpc-accept-encoding`). Default identity.
    pub response_encoding: Encoding,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            h2: h2::Config::default(),
            max_receive_message_size: 4 << 20,
            max_buffered_bytes: 64 << 20,
            response_encoding: Encoding::Identity,
        }
    }
}

/// A [`Config`] checked once and shared by the connections made from it
/// (each holds a pointer to its HTTP/2 part, not a copy; see
/// [`h2::SharedConfig`]). Cloning it is cheap: a server makes one and hands
/// a clone to each connection. A plain `Config` converts into it.
#[derive(Clone, Debug)]
pub struct SharedConfig {
    h2: h2::SharedConfig,
    max_receive_message_size: usize,
    max_buffered_bytes: usize,
    response_encoding: Encoding,
}

impl From<Config> for SharedConfig {
    fn from(config: Config) -> Self {
        SharedConfig {
            h2: config.h2.into(),
            max_receive_message_size: config.max_receive_message_size,
            max_buffered_bytes: config.max_buffered_bytes,
            response_encoding: config.response_encoding,
        }
    }
}

/// What happened on the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A new call.
    Call {
        /// The call.
        call: CallId,
        /// `/package.Service/Method`.
        path: MethodPath,
        /// `:authority` of the request, or its `host` field when it has
        /// no `:authority` (RFC 9113 §8.3.1; a request where both are
        /// present and differ is malformed and never gets here).
        authority: Option<Bytes>,
        /// Custom metadata of the request.
        metadata: Metadata,
        /// When the call must be over (from `grpc-timeout`); the core
        /// enforces it.
        deadline: Option<Instant>,
    },
    /// A request message.
    Message {
        /// The call.
        call: CallId,
        /// The message, decompressed.
        data: Bytes,
    },
    /// The client sent its last message.
    HalfClose {
        /// The call.
        call: CallId,
    },
    /// The call ended before the application finished it: the client
    /// cancelled (CANCELLED), the deadline passed (DEADLINE_EXCEEDED, and
    /// that status was sent), a request message was too large or malformed
    /// (its status was sent), or the connection broke. Stop working on it.
    Cancelled {
        /// The call.
        call: CallId,
        /// Why.
        status: Status,
    },
    /// A call whose send buffer was full can take messages again.
    Writable {
        /// The call.
        call: CallId,
    },
    /// The client sent GOAWAY: it opens no new calls; running ones go on.
    GoAway {
        /// The client's code.
        code: ErrorCode,
    },
    /// The connection is over.
    Closed {
        /// Why, if not cleanly.
        error: Option<ConnectionError>,
    },
}

/// Why a call command was not carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No such call, or it already ended.
    UnknownCall,
    /// Headers were already sent.
    HeadersSent,
    /// The call's send buffer is full: wait for [`Event::Writable`].
    Blocked,
    /// The metadata would exceed the client's header list limit.
    HeadersTooLarge,
}

#[derive(Debug)]
struct Call {
    stream: StreamId,
    deadline: Option<Instant>,
    inbound: Inbound,
    encoding: Encoding,
    headers_sent: bool,
}

/// What `end_call` needs of a call record it drops.
struct Ended {
    stream: StreamId,
    deadline: Option<Instant>,
    headers_sent: bool,
}

/// A gRPC server connection, without I/O.
#[derive(Debug)]
pub struct Connection {
    h2: h2::Connection,
    /// [`Config::max_receive_message_size`] (the rest of the config lives
    /// in `h2`, or is not needed after `new`).
    max_receive_message_size: usize,
    /// [`Config::max_buffered_bytes`].
    max_buffered_bytes: usize,
    /// [`Config::response_encoding`].
    response_encoding: Encoding,
    now: Instant,
    /// Live calls; a few in a sorted vector (see `SmallMap`).
    calls: SmallMap<CallId, Call, LIVE_CALLS_INLINE>,
    deadlines: BTreeSet<(Instant, CallId)>,
    events: VecDeque<Event>,
    /// The Compressed-Flag of each `Event::Message` in `events`, in order.
    message_flags: VecDeque<bool>,
    /// The flag of the message `poll_event` returned last.
    last_compressed: bool,
    closed: bool,
    /// Message prefixes are cut from here.
    prefixes: call::PrefixArena,
    /// Paths of recent requests, handed out again without allocating.
    recent_paths: RecentPaths,
    /// What the last valid replayed request block without a deadline
    /// said, to open the next call from the same block without looking
    /// at its fields again.
    known_request: Option<KnownRequest>,
}

/// What a valid request block says (see `Connection::known_request`).
#[derive(Debug)]
struct KnownRequest {
    /// The block's replay stamp: the same stamp, the same fields.
    stamp: u64,
    path: MethodPath,
    /// The index of the `:authority` field, else of `host`.
    authority_at: Option<usize>,
    /// The fields that are metadata (see `Metadata::ascii_mask`).
    metadata: u32,
    /// The `grpc-encoding` of request messages.
    inbound_encoding: Encoding,
    /// The encoding of response messages.
    encoding: Encoding,
}

impl Connection {
    /// A new server connection; our SETTINGS are queued.
    ///
    /// `config` is a [`Config`], or a [`SharedConfig`] that many connections
    /// share.
    pub fn new(config: impl Into<SharedConfig>, now: Instant) -> Connection {
        let SharedConfig {
            h2,
            max_receive_message_size,
            max_buffered_bytes,
            response_encoding,
        } = config.into();
        Connection {
            h2: h2::Connection::new(h2::Role::Server, h2, now),
            max_receive_message_size,
            max_buffered_bytes,
            response_encoding,
            now,
            calls: SmallMap::default(),
            deadlines: BTreeSet::new(),
            events: VecDeque::new(),
            message_flags: VecDeque::new(),
            last_compressed: false,
            closed: false,
            prefixes: call::PrefixArena::default(),
            recent_paths: RecentPaths::default(),
            known_request: None,
        }
    }

    fn call_id(stream: StreamId) -> CallId {
        CallId(u64::from(stream.0))
    }

    /// Sends the response headers (initial metadata). Optional: the first
    /// message or `finish` sends them when needed.
    pub fn send_headers(&mut self, id: CallId, metadata: &Metadata) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::UnknownCall)?;
        if call.headers_sent {
            return Err(CallError::HeadersSent);
        }
        if call.encoding == Encoding::Identity && metadata.is_empty() {
            return send_plain_headers(&mut self.h2, call);
        }
        let f = response_headers(call.encoding, metadata);
        match self.h2.send_headers(call.stream, &f, false) {
            Ok(()) => {
                call.headers_sent = true;
                Ok(())
            }
            Err(SendError::InvalidHeaders) => Err(CallError::HeadersTooLarge),
            Err(_) => Err(CallError::UnknownCall),
        }
    }

    /// Sends one response message (and the headers first if not yet sent),
    /// compressed with the call's response encoding (see
    /// [`Config::response_encoding`]).
    pub fn send_message(&mut self, id: CallId, data: Bytes) -> Result<(), CallError> {
        self.send_message_with(id, data, true)
    }

    /// Sends one response message with the Compressed-Flag clear, even on a
    /// call whose responses are compressed: gRPC decides compression per
    /// message (PROTOCOL-HTTP2.md, Compressed-Flag; compression.md), e.g.
    /// for data that would not shrink.
    pub fn send_message_uncompressed(&mut self, id: CallId, data: Bytes) -> Result<(), CallError> {
        self.send_message_with(id, data, false)
    }

    fn send_message_with(
        &mut self,
        id: CallId,
        data: Bytes,
        compress: bool,
    ) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::UnknownCall)?;
        if !call.headers_sent {
            if call.encoding != Encoding::Identity {
                self.send_headers(id, &Metadata::new())?;
            } else {
                // What send_headers sends for no metadata, without looking
                // the call up again.
                send_plain_headers(&mut self.h2, call)?;
            }
        }
        let Some(call) = self.calls.get(&id) else {
            return Err(CallError::UnknownCall);
        };
        let encoding = if compress {
            call.encoding
        } else {
            Encoding::Identity
        };
        let (head, body) = match call::frame_message(data, encoding, &mut self.prefixes) {
            Ok(parts) => parts,
            Err(status) => {
                let _ = self.end_call(id, status.clone(), &Metadata::new());
                self.events.push_back(Event::Cancelled { call: id, status });
                return Ok(());
            }
        };
        match self.h2.send_data_parts(call.stream, [head, body], false) {
            Ok(()) => Ok(()),
            Err(SendError::Blocked) => Err(CallError::Blocked),
            Err(_) => Err(CallError::UnknownCall),
        }
    }

    /// Ends the call with its status and trailing metadata: trailers after
    /// the response, or a Trailers-Only response if nothing was sent yet.
    ///
    /// After `finish`, nothing more is reported about the call: events of it
    /// still queued (e.g. messages that came with the request, before a
    /// `reject`) are dropped.
    pub fn finish(
        &mut self,
        id: CallId,
        status: Status,
        trailers: &Metadata,
    ) -> Result<(), CallError> {
        self.drop_queued(id);
        self.end_call(id, status, trailers)
    }

    /// Drops the queued messages, half-close and writable events of a call
    /// (with the flags of its messages).
    fn drop_queued(&mut self, id: CallId) {
        if self.events.is_empty() {
            // No events, so no flags of queued messages either.
            return;
        }
        // The flags belong to the queued messages in order; drop those of
        // the call's messages in place (keeping the queue's storage).
        let mut messages = self.events.iter().filter_map(|e| match e {
            Event::Message { call, .. } => Some(*call),
            _ => None,
        });
        self.message_flags
            .retain(|_| messages.next().is_none_or(|call| call != id));
        self.events.retain(|e| match e {
            Event::Message { call, .. } | Event::HalfClose { call } | Event::Writable { call } => {
                *call != id
            }
            _ => true,
        });
    }

    /// Sends the call's status (trailers or Trailers-Only) and forgets it.
    fn end_call(
        &mut self,
        id: CallId,
        status: Status,
        trailers: &Metadata,
    ) -> Result<(), CallError> {
        let call = self
            .calls
            .remove_with(&id, |c| Ended {
                stream: c.stream,
                deadline: c.deadline,
                headers_sent: c.headers_sent,
            })
            .ok_or(CallError::UnknownCall)?;
        if let Some(d) = call.deadline {
            self.deadlines.remove(&(d, id));
        }
        let mut f = FieldBuf::new();
        let plain_ok = call.headers_sent
            && status.code == Code::Ok
            && status.message.is_empty()
            && status.details.is_none()
            && trailers.is_empty();
        let sent = if plain_ok {
            self.h2.send_static_headers(call.stream, &OK_TRAILERS, true)
        } else {
            if !call.headers_sent {
                // Trailers-Only (PROTOCOL-HTTP2.md).
                f.push(Field::new(&b":status"[..], &b"200"[..]));
                f.push(Field::new(&b"content-type"[..], call::CONTENT_TYPE));
            }
            call::push_status_fields(&mut f, &status, trailers);
            self.h2.send_headers(call.stream, &f, true)
        };
        match sent {
            Ok(()) => Ok(()),
            Err(SendError::InvalidHeaders) => {
                // Trailers too large for the client: send the status alone.
                f.clear();
                if !call.headers_sent {
                    f.push(Field::new(&b":status"[..], &b"200"[..]));
                    f.push(Field::new(&b"content-type"[..], call::CONTENT_TYPE));
                }
                call::push_status_fields(
                    &mut f,
                    &Status::internal("trailers too large"),
                    &Metadata::new(),
                );
                let _ = self.h2.send_headers(call.stream, &f, true);
                Err(CallError::HeadersTooLarge)
            }
            Err(_) => Err(CallError::UnknownCall),
        }
    }

    /// Answers a call with a status and nothing else (Trailers-Only).
    pub fn reject(&mut self, id: CallId, status: Status) -> Result<(), CallError> {
        self.finish(id, status, &Metadata::new())
    }

    /// Abandons a call without a status: RST_STREAM(CANCEL), which the
    /// client reports as CANCELLED (PROTOCOL-HTTP2.md). Nothing more is
    /// reported about the call.
    pub fn cancel(&mut self, id: CallId) -> Result<(), CallError> {
        let call = self.calls.remove(&id).ok_or(CallError::UnknownCall)?;
        if let Some(d) = call.deadline {
            self.deadlines.remove(&(d, id));
        }
        self.drop_queued(id);
        let _ = self.h2.reset_stream(call.stream, ErrorCode::CANCEL);
        Ok(())
    }

    /// Graceful shutdown: the two-step GOAWAY; calls in flight finish.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now;
        self.h2.shutdown(now);
    }

    // ------------------------------------------------------------------
    // Driving
    // ------------------------------------------------------------------

    /// Feeds received bytes.
    pub fn recv(&mut self, data: Bytes, now: Instant) -> Result<(), ConnectionError> {
        self.now = now;
        // Events are taken from the HTTP/2 layer only as the application
        // polls: flow-control credit returns as messages are consumed.
        self.h2.recv(data, now)
    }

    /// The transport ended.
    pub fn recv_eof(&mut self, now: Instant) {
        self.now = now;
        self.h2.recv_eof(now);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.next_event();
        if let Some(Event::Message { .. }) = event {
            self.last_compressed = self.message_flags.pop_front().unwrap_or(false);
        }
        event
    }

    /// Whether the request message of the [`Event::Message`] that
    /// [`poll_event`](Self::poll_event) returned last had its
    /// Compressed-Flag set (PROTOCOL-HTTP2.md), i.e. came compressed; its
    /// `data` is decompressed either way. For servers that must check how
    /// a client sent (the interop tests' `expect_compressed`).
    pub fn last_message_compressed(&self) -> bool {
        self.last_compressed
    }

    fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            match self.h2.poll_event() {
                Some(ev) => self.on_h2_event(ev),
                None => {
                    self.drop_orphans();
                    return self.events.pop_front();
                }
            }
        }
    }

    /// The next bytes to write.
    pub fn poll_transmit(&mut self) -> Option<h2::Transmit> {
        self.h2.poll_transmit()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.deadlines.first().map(|(d, _)| *d);
        [self.h2.poll_timeout(), first].into_iter().flatten().min()
    }

    /// Fires expired timers: connection timers and call deadlines (the
    /// call is finished with DEADLINE_EXCEEDED and reported as cancelled).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.h2.handle_timeout(now);
        while let Some(&(d, id)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.deadlines.pop_first();
            let status = Status::deadline_exceeded("deadline exceeded");
            let _ = self.end_call(id, status.clone(), &Metadata::new());
            self.events.push_back(Event::Cancelled { call: id, status });
        }
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Gives back memory kept for reuse (see [`h2::Connection::shrink`]):
    /// also the call table's node when no call is open, the message-prefix
    /// arena, the recent request paths and the capacity of empty event
    /// queues. Call it when the connection goes quiet.
    pub fn shrink(&mut self) {
        if self.calls.is_empty() {
            self.calls = SmallMap::default();
            self.deadlines = BTreeSet::new();
        }
        self.recent_paths = RecentPaths::default();
        self.known_request = None;
        self.prefixes = call::PrefixArena::default();
        self.events.shrink_to_fit();
        self.message_flags.shrink_to_fit();
        self.h2.shrink();
    }

    /// Bytes held by the connection and its calls (see
    /// [`h2::Connection::held_bytes`]): partial messages, call records,
    /// deadlines, queued events and recent request paths included.
    pub fn held_bytes(&self) -> usize {
        const ENTRY: usize = 2 * core::mem::size_of::<usize>();
        self.h2.held_bytes()
            + self
                .calls
                .values()
                .map(|c| c.inbound.held_bytes() + core::mem::size_of::<Call>() + ENTRY)
                .sum::<usize>()
            + self.calls.spare_bytes()
            + self.deadlines.len() * (core::mem::size_of::<(Instant, CallId)>() + ENTRY)
            + self.events.capacity() * core::mem::size_of::<Event>()
            + self.recent_paths.held_bytes()
            + self.known_request.as_ref().map_or(0, |k| k.path.len())
    }

    /// The HTTP/2 connection underneath.
    pub fn h2(&mut self) -> &mut h2::Connection {
        &mut self.h2
    }

    /// Calls whose stream the application reset through [`h2`](Self::h2)
    /// (the HTTP/2 layer reports no event for its own resets): without this
    /// they would stay in `active_calls`, and their deadline would later
    /// report a second ending. Each is reported once as cancelled.
    fn drop_orphans(&mut self) {
        if self.closed || self.calls.is_empty() {
            return;
        }
        let orphans: Vec<CallId> = self
            .calls
            .iter()
            .filter(|(_, c)| self.h2.send_window(c.stream).is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in orphans {
            if let Some(call) = self.calls.remove(&id)
                && let Some(d) = call.deadline
            {
                self.deadlines.remove(&(d, id));
            }
            self.events.push_back(Event::Cancelled {
                call: id,
                status: Status::cancelled("stream reset by the server application"),
            });
        }
    }

    /// Ends a call the application did not finish, with a status sent to
    /// the client, and tells the application. The client's fault (a
    /// message over the limit, one that does not decompress, a cut
    /// message), so the answer is charged to `error_answer_rate`.
    fn abort(&mut self, id: CallId, status: Status) {
        if self.calls.contains_key(&id) {
            if !self.h2.charge_error_answer() {
                // The connection is over: its Closed event ends the call.
                return;
            }
            let _ = self.end_call(id, status.clone(), &Metadata::new());
            self.events.push_back(Event::Cancelled { call: id, status });
        }
    }

    fn on_h2_event(&mut self, ev: h2::Event) {
        match ev {
            h2::Event::Headers {
                stream_id,
                kind,
                fields,
                end_stream,
            } => {
                let replay = self.h2.replay_stamp_of(&fields);
                if kind == HeadersKind::Request {
                    self.on_request(stream_id, &fields, end_stream, replay);
                } else if end_stream {
                    // Trailers from a client: gRPC defines none; they end the request.
                    self.on_data(stream_id, Bytes::new(), true, Origin::default());
                }
                self.h2.recycle_replayed(fields, replay);
            }
            h2::Event::Data {
                stream_id,
                data,
                end_stream,
                origin,
            } => self.on_data(stream_id, data, end_stream, origin),
            h2::Event::Reset {
                stream_id,
                code,
                by,
            } => {
                let id = Self::call_id(stream_id);
                if let Some(call) = self.calls.remove(&id) {
                    if let Some(d) = call.deadline {
                        self.deadlines.remove(&(d, id));
                    }
                    let status = match by {
                        ResetBy::Remote if code == ErrorCode::CANCEL => {
                            Status::cancelled("cancelled by the client")
                        }
                        ResetBy::Remote => Status::new(
                            Code::from_h2_reset(code),
                            format!(
                                "the client reset the stream (RST_STREAM with {code}, RFC 9113 §6.4)"
                            ),
                        ),
                        ResetBy::Local { reason } => {
                            Status::internal(format!("client broke HTTP/2: {reason}"))
                        }
                    };
                    self.events.push_back(Event::Cancelled { call: id, status });
                }
            }
            h2::Event::Writable { stream_id } => {
                let id = Self::call_id(stream_id);
                if self.calls.contains_key(&id) {
                    self.events.push_back(Event::Writable { call: id });
                }
            }
            h2::Event::Closed { error } => {
                let reason = match &error {
                    Some(e) => format!("connection closed: {e}"),
                    None => "connection closed".to_string(),
                };
                let ids: Vec<_> = self.calls.keys().copied().collect();
                for id in ids {
                    self.calls.remove(&id);
                    self.events.push_back(Event::Cancelled {
                        call: id,
                        status: Status::unavailable(reason.clone()),
                    });
                }
                self.deadlines.clear();
                self.closed = true;
                self.events.push_back(Event::Closed { error });
            }
            h2::Event::GoAway { code, .. } => self.events.push_back(Event::GoAway { code }),
            h2::Event::PeerSettings(_) | h2::Event::PingAck { .. } => {}
        }
    }

    /// Validates a request (PROTOCOL-HTTP2.md, Requests) and opens the call.
    fn on_request(
        &mut self,
        stream: StreamId,
        fields: &[Field],
        end_stream: bool,
        replay: Option<u64>,
    ) {
        if let Some(k) = &self.known_request
            && replay == Some(k.stamp)
        {
            // The same fields as the request `k` was learnt from.
            let id = Self::call_id(stream);
            let mut inbound = Inbound::new(self.max_receive_message_size);
            inbound.encoding = k.inbound_encoding;
            let path = k.path.clone();
            let authority = k.authority_at.and_then(|i| fields.get(i));
            let authority = authority.map(|f| f.value.clone());
            let metadata = Metadata::from_mask(fields, k.metadata);
            let call = Call {
                stream,
                deadline: None,
                inbound,
                encoding: k.encoding,
                headers_sent: false,
            };
            self.calls.insert(id, call);
            self.events.push_back(Event::Call {
                call: id,
                path,
                authority,
                metadata,
                deadline: None,
            });
            if end_stream {
                self.events.push_back(Event::HalfClose { call: id });
            }
            return;
        }
        // Requests we cannot serve as sent: each answer is charged to
        // `error_answer_rate`, so repeating them ends the connection.
        let http_error = |this: &mut Self, status: &'static [u8]| {
            if this.h2.charge_error_answer() {
                let f = [Field::new(&b":status"[..], status)];
                let _ = this.h2.send_headers(stream, &f, true);
            }
        };
        let known = RequestFields::find(fields);
        if known.method.map(|m| m.as_ref()) != Some(b"POST") {
            return http_error(self, b"405");
        }
        if !known
            .content_type
            .is_some_and(|v| call::is_grpc_content_type(v))
        {
            return http_error(self, b"415");
        }
        let id = Self::call_id(stream);
        let mut call = Call {
            stream,
            deadline: None,
            inbound: Inbound::new(self.max_receive_message_size),
            encoding: Encoding::Identity,
            headers_sent: false,
        };
        // The status for a request we can parse but not serve.
        let refusal = (|| {
            let path = known
                .path
                .and_then(|p| std::str::from_utf8(p).ok())
                .filter(|p| p.starts_with('/'))
                .ok_or_else(|| Status::unimplemented("malformed :path"))?;
            let path = self.recent_paths.get(path);
            if let Some(t) = known.timeout {
                let d = timeout::parse(t).map_err(|e| {
                    Status::internal(format!("malformed {e} (PROTOCOL-HTTP2.md, Timeout)"))
                })?;
                // A timeout the clock cannot represent is no deadline at all.
                call.deadline = self.now.checked_add(d);
            }
            if let Some(enc) = known.encoding {
                match Encoding::from_name(enc) {
                    Some(e) if e.is_supported() => call.inbound.encoding = e,
                    _ => {
                        return Err(Status::unimplemented(format!(
                            "grpc-encoding {} is not supported; supported: {}",
                            String::from_utf8_lossy(enc),
                            compression::accept_encoding_value()
                        )));
                    }
                }
            }
            let accepted = known
                .accept_encoding
                .map(|v| compression::parse_accept_encoding(v))
                .unwrap_or_default();
            let want = self.response_encoding;
            if want != Encoding::Identity && want.is_supported() && accepted.contains(&want) {
                call.encoding = want;
            }
            let metadata = Metadata::from_fields(fields)
                .map_err(|e| Status::internal(format!("malformed request metadata: {e}")))?;
            Ok((path, metadata))
        })();
        let deadline = call.deadline;
        let encodings = (call.inbound.encoding, call.encoding);
        self.calls.insert(id, call);
        let (path, metadata) = match refusal {
            Ok(v) => v,
            Err(status) => {
                if !self.h2.charge_error_answer() {
                    // The connection is over, and the application never
                    // heard of this call.
                    self.calls.remove(&id);
                    return;
                }
                if status.code == Code::Unimplemented && status.message.starts_with("grpc-encoding")
                {
                    self.reject_encoding(id, status);
                } else {
                    let _ = self.reject(id, status);
                }
                return;
            }
        };
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        // A replayed block with no deadline (which depends on the time):
        // remembered, so the next replay of it is not looked at again.
        if let Some(stamp) = replay
            && known.timeout.is_none()
            && let Some(mask) = Metadata::ascii_mask(fields)
        {
            self.known_request = Some(KnownRequest {
                stamp,
                path: path.clone(),
                authority_at: fields
                    .iter()
                    .position(|f| f.name[..] == *b":authority")
                    .or_else(|| fields.iter().position(|f| f.name[..] == *b"host")),
                metadata: mask,
                inbound_encoding: encodings.0,
                encoding: encodings.1,
            });
        }
        self.events.push_back(Event::Call {
            call: id,
            path,
            // Without :authority, `host` names it (RFC 9113 §8.3.1); when
            // both are there the HTTP/2 layer made sure they agree.
            authority: known.authority.or(known.host).cloned(),
            metadata,
            deadline,
        });
        if end_stream {
            self.events.push_back(Event::HalfClose { call: id });
        }
    }

    /// UNIMPLEMENTED for an unsupported request encoding, with the list of
    /// supported ones in `grpc-accept-encoding` (compression.md).
    fn reject_encoding(&mut self, id: CallId, status: Status) {
        let Some(call) = self.calls.remove(&id) else {
            return;
        };
        let mut f: FieldBuf = smallvec::smallvec![
            Field::new(&b":status"[..], &b"200"[..]),
            Field::new(&b"content-type"[..], call::CONTENT_TYPE),
            Field::new(
                &b"grpc-accept-encoding"[..],
                Bytes::from_static(compression::accept_encoding_value().as_bytes()),
            ),
        ];
        call::push_status_fields(&mut f, &status, &Metadata::new());
        let _ = self.h2.send_headers(call.stream, &f, true);
    }

    fn on_data(&mut self, stream: StreamId, data: Bytes, end_stream: bool, origin: Origin) {
        let id = Self::call_id(stream);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.inbound.push(data, origin);
        loop {
            match call.inbound.next_message() {
                Ok(Some(m)) => {
                    self.message_flags.push_back(call.inbound.last_compressed);
                    self.events.push_back(Event::Message { call: id, data: m });
                }
                Ok(None) => break,
                Err(status) => return self.abort(id, status),
            }
        }
        let mut call = call;
        if (call.inbound.held > 0 || !call.inbound.is_empty())
            && call
                .inbound
                .settle(self.h2.more_data_from(origin))
                .is_some()
        {
            // Part of a message waits: the connection's total is checked.
            let total: usize = self.calls.values().map(|c| c.inbound.held).sum();
            if total > self.max_buffered_bytes {
                return self.abort(id, call::over_buffered_limit(self.max_buffered_bytes));
            }
            call = match self.calls.get_mut(&id) {
                Some(c) => c,
                None => return,
            };
        }
        if end_stream {
            if let Err(status) = call.inbound.finish() {
                return self.abort(id, status);
            }
            self.events.push_back(Event::HalfClose { call: id });
        }
    }
}

/// Sends the response headers of a call with identity responses and no
/// metadata (`PLAIN_RESPONSE_HEADERS`).
fn send_plain_headers(h2: &mut h2::Connection, call: &mut Call) -> Result<(), CallError> {
    match h2.send_static_headers(call.stream, &PLAIN_RESPONSE_HEADERS, false) {
        Ok(()) => {
            call.headers_sent = true;
            Ok(())
        }
        Err(SendError::InvalidHeaders) => Err(CallError::HeadersTooLarge),
        Err(_) => Err(CallError::UnknownCall),
    }
}

/// The response headers (PROTOCOL-HTTP2.md, Responses).
fn response_headers(encoding: Encoding, metadata: &Metadata) -> FieldBuf {
    let mut f = FieldBuf::new();
    f.push(Field::new(&b":status"[..], &b"200"[..]));
    f.push(Field::new(&b"content-type"[..], call::CONTENT_TYPE));
    if encoding != Encoding::Identity {
        f.push(Field::new(
            &b"grpc-encoding"[..],
            Bytes::from_static(encoding.name().as_bytes()),
        ));
    }
    f.push(Field::new(
        &b"grpc-accept-encoding"[..],
        Bytes::from_static(compression::accept_encoding_value().as_bytes()),
    ));
    f.extend(metadata.to_fields());
    f
}

/// A field from static strings, in a constant.
const fn static_field(name: &'static [u8], value: &'static [u8]) -> Field {
    Field {
        name: Bytes::from_static(name),
        value: Bytes::from_static(value),
        sensitive: false,
    }
}

/// The response headers of a call with identity responses and no
/// metadata: what `send_headers` would build for it, built once.
static PLAIN_RESPONSE_HEADERS: [Field; 3] = [
    static_field(b":status", b"200"),
    static_field(b"content-type", call::CONTENT_TYPE),
    static_field(
        b"grpc-accept-encoding",
        compression::accept_encoding_value().as_bytes(),
    ),
];

/// The trailers of an OK status without message, details or metadata:
/// what `push_status_fields` would build for it, built once.
static OK_TRAILERS: [Field; 1] = [static_field(b"grpc-status", b"0")];

/// The request fields the server reads, each the first of its name (as
/// [`call::field`] finds it), gathered in one pass over the block.
#[derive(Default)]
struct RequestFields<'a> {
    method: Option<&'a Bytes>,
    path: Option<&'a Bytes>,
    authority: Option<&'a Bytes>,
    host: Option<&'a Bytes>,
    content_type: Option<&'a Bytes>,
    timeout: Option<&'a Bytes>,
    encoding: Option<&'a Bytes>,
    accept_encoding: Option<&'a Bytes>,
}

impl<'a> RequestFields<'a> {
    fn find(fields: &'a [Field]) -> Self {
        let mut r = RequestFields::default();
        for f in fields {
            let slot = match &f.name[..] {
                b":method" => &mut r.method,
                b":path" => &mut r.path,
                b":authority" => &mut r.authority,
                b"host" => &mut r.host,
                b"content-type" => &mut r.content_type,
                b"grpc-timeout" => &mut r.timeout,
                b"grpc-encoding" => &mut r.encoding,
                b"grpc-accept-encoding" => &mut r.accept_encoding,
                _ => continue,
            };
            slot.get_or_insert(&f.value);
        }
        r
    }
}

/// Forced shutdown: the end of a graceful shutdown's grace period.
impl Connection {
    /// Ends the connection at once, saying so: every call still open ends
    /// with `status` (adapters use UNAVAILABLE "server is shutting down"),
    /// then a final GOAWAY(NO_ERROR) names the last stream processed and the
    /// connection closes ([`Event::Closed`]).
    ///
    /// A call whose stream has no response data waiting gets `status` in
    /// its trailers (Trailers-Only if nothing was sent yet); a call whose
    /// response data still waits (behind flow control, say) cannot take
    /// trailers now, so its data is dropped and the stream reset with
    /// RST_STREAM(CANCEL), which the client reports as CANCELLED. The
    /// application gets [`Event::Cancelled`] with `status` for each call.
    /// [`poll_transmit`](Self::poll_transmit) then gives the remaining
    /// bytes: the trailers and resets, the GOAWAY last; write what the
    /// socket takes within a short bound and close it.
    pub fn force_close(&mut self, status: Status, now: Instant) {
        self.now = now;
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(stream) = self.calls.get(&id).map(|c| c.stream) else {
                continue;
            };
            // Trailers queued behind data would be dropped with the
            // stream by the close below: only what is written now stays.
            let waiting = self
                .h2
                .streams
                .get(&stream.0)
                .is_some_and(|s| s.queued_bytes > 0);
            self.drop_queued(id);
            let ended = !waiting && self.end_call(id, status.clone(), &Metadata::new()).is_ok();
            if !ended {
                if let Some(call) = self.calls.remove(&id)
                    && let Some(d) = call.deadline
                {
                    self.deadlines.remove(&(d, id));
                }
                let _ = self.h2.reset_stream(stream, ErrorCode::CANCEL);
            }
            self.events.push_back(Event::Cancelled {
                call: id,
                status: status.clone(),
            });
        }
        self.h2.close(ErrorCode::NO_ERROR, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client;

    /// Calls from a replayed request block, opened from what the first
    /// one said, look exactly like calls opened by reading the block.
    #[test]
    fn calls_from_a_known_request_block() {
        use crate::testing::Pair;
        let now = Instant::now();
        let mut p = Pair::new(client::Config::default(), Config::default(), now);
        p.drive();
        let mut calls = Vec::new();
        for i in 0..6 {
            let mut req = client::Request::new(if i < 4 { "/a.B/C" } else { "/a.B/D" });
            req.metadata.append("x-a", "1").unwrap();
            if i == 5 {
                req.metadata.append("x-b", "2").unwrap();
            }
            let c = p.client.start_call(req, p.now).unwrap();
            p.client.half_close(c).unwrap();
            p.drive();
            let mut call = None;
            while let Some(ev) = p.server_events.pop_front() {
                if let Event::Call {
                    call: id,
                    path,
                    authority,
                    metadata,
                    deadline,
                } = ev
                {
                    call = Some((path, authority, metadata, deadline));
                    p.server.finish(id, Status::ok(), &Metadata::new()).unwrap();
                }
            }
            calls.push(call.unwrap());
            p.drive();
        }
        assert!(p.server.known_request.is_some());
        for c in &calls[1..4] {
            assert_eq!(c, &calls[0]);
        }
        assert_eq!(calls[0].0, "/a.B/C");
        assert_eq!(calls[4].0, "/a.B/D");
        assert_eq!(calls[0].1.as_deref(), Some(&b"localhost"[..]));
        assert_eq!(calls[3].2.get("x-a"), Some("1"));
        assert!(calls[3].2.get("user-agent").is_some());
        assert_eq!(calls[5].2.get("x-b"), Some("2"));
        assert_eq!(calls[4].2.get("x-b"), None);
    }

    /// The authority of a call: `:authority`, else `host` (RFC 9113
    /// §8.3.1), read the same from a fresh block and from a replayed one.
    #[test]
    fn host_names_the_authority_when_there_is_no_authority_pseudo_header() {
        use crate::frame::{self, FrameHeader, StreamId, flags, kind};
        let raw = |k: u8, fl: u8, id: u32, payload: &[u8]| {
            let mut v = FrameHeader {
                length: payload.len() as u32,
                kind: k,
                flags: fl,
                stream_id: StreamId(id),
            }
            .to_bytes()
            .to_vec();
            v.extend_from_slice(payload);
            v
        };
        let now = Instant::now();
        let mut s = Connection::new(Config::default(), now);
        let mut enc = crate::hpack::Encoder::new();
        let mut b = frame::PREFACE.to_vec();
        b.extend(raw(kind::SETTINGS, 0, 0, &[]));
        let fields = [
            Field::new(&b":method"[..], &b"POST"[..]),
            Field::new(&b":scheme"[..], &b"http"[..]),
            Field::new(&b":path"[..], &b"/a.B/C"[..]),
            Field::new(&b"host"[..], &b"svc.example:50051"[..]),
            Field::new(&b"content-type"[..], &b"application/grpc"[..]),
        ];
        // The third block, a replay of the second, takes the fast path.
        for id in [1, 3, 5] {
            let mut block = bytes::BytesMut::new();
            enc.encode(fields.iter(), &mut block);
            let fl = flags::END_HEADERS | flags::END_STREAM;
            b.extend(raw(kind::HEADERS, fl, id, &block));
        }
        s.recv(Bytes::from(b), now).unwrap();
        let mut authorities = Vec::new();
        while let Some(ev) = s.poll_event() {
            if let Event::Call { authority, .. } = ev {
                authorities.push(authority);
            }
        }
        let want = Some(Bytes::from_static(b"svc.example:50051"));
        assert_eq!(authorities, [want.clone(), want.clone(), want]);
        assert!(s.known_request.is_some(), "the blocks were replayed");
    }

    #[test]
    fn prebuilt_blocks_are_what_the_builders_build() {
        let md = Metadata::new();
        assert_eq!(
            &response_headers(Encoding::Identity, &md)[..],
            &PLAIN_RESPONSE_HEADERS[..]
        );
        let mut f = FieldBuf::new();
        call::push_status_fields(&mut f, &Status::ok(), &md);
        assert_eq!(&f[..], &OK_TRAILERS[..]);
    }
}
