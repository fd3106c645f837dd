//! The gRPC client endpoint: calls over one HTTP/2 connection
//! (grpc/grpc `doc/PROTOCOL-HTTP2.md`).
//!
//! Every call started with [`Connection::start_call`] ends with exactly one
//! [`Event::Status`], whatever happens: a normal end, a Trailers-Only
//! response, a reset, a deadline, a GOAWAY or the connection's end.

use std::borrow::Cow;
use std::collections::{BTreeSet, VecDeque};
use std::time::Instant;

use bytes::Bytes;

use crate::error::{ConnectionError, ErrorCode};
use crate::frame::{Origin, StreamId};
use crate::grpc::call::{self, CallId, FieldBuf, Inbound};
use crate::grpc::compression::{self, Encoding};
use crate::grpc::{Code, Metadata, Status, timeout};
use crate::h2::{self, HeadersKind, ResetBy, SendError};
use crate::hpack::{BlockName, Field};
use crate::small_map::SmallMap;

/// Live calls kept without a tree: a connection usually has a few.
const LIVE_CALLS_INLINE: usize = 4;

/// Client configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// The HTTP/2 settings and limits.
    pub h2: h2::Config,
    /// `:authority` of every request (host and port of the server).
    /// Default `localhost`.
    pub authority: String,
    /// `:scheme`: `http` (default) or `https` when the adapter adds TLS.
    pub scheme: &'static str,
    /// `user-agent`. Default `grpc-rust-sansio/<version>`.
    pub user_agent: String,
    /// Largest message accepted (after decompression). Default 4 MiB;
    /// larger ones end the call with RESOURCE_EXHAUSTED.
    pub max_receive_message_size: usize,
    /// Most memory the connection keeps for response messages not yet
    /// complete, across all its calls, counted as what they keep alive: the
    /// whole received buffer behind a slice, the gathering buffer of
    /// copied pieces. Default 64 MiB. The call whose bytes take the
    /// connection past it ends with RESOURCE_EXHAUSTED.
    ///
    /// Each call is bounded by `max_receive_message_size` already; this
    /// bounds their sum, which is otherwise that limit times the streams
    /// open at once (400 MiB at the defaults), against a server that sends
    /// many calls' messages slowly or a byte at a time. It is a ceiling, not
    /// flow control: legitimate traffic that interleaves many large
    /// messages needs room (200 mixed interop calls, 100 at a time, hold up
    /// to 16-32 MiB of partial messages), so lower it only together with
    /// `h2.max_concurrent_streams` or the message size limit.
    pub max_buffered_bytes: usize,
    /// Calls waiting for a stream because the server's
    /// SETTINGS_MAX_CONCURRENT_STREAMS is reached. Default 1000; past it
    /// `start_call` fails with RESOURCE_EXHAUSTED.
    pub max_queued_calls: usize,
    /// Messages (and their bytes) a queued call may buffer before it has a
    /// stream. Default 1 MiB per call.
    pub max_queued_call_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            h2: h2::Config::default(),
            authority: "localhost".into(),
            scheme: "http",
            user_agent: concat!("grpc-rust-sansio/", env!("CARGO_PKG_VERSION")).into(),
            max_receive_message_size: 4 << 20,
            max_buffered_bytes: 64 << 20,
            max_queued_calls: 1000,
            max_queued_call_bytes: 1 << 20,
        }
    }
}

/// What a call asks for: method path, metadata, deadline, encoding.
#[derive(Clone, Debug)]
pub struct Request {
    /// `/package.Service/Method`. A `&'static str` (what generated stubs
    /// hold) is kept without a copy; a `String` is taken as is.
    pub path: Cow<'static, str>,
    /// Custom metadata sent with the request headers.
    pub metadata: Metadata,
    /// When the call must be over; sent as `grpc-timeout`.
    pub deadline: Option<Instant>,
    /// How request messages are compressed (must be supported here).
    pub encoding: Encoding,
}

impl Request {
    /// A request for `path` with no metadata, deadline or compression.
    pub fn new(path: impl Into<Cow<'static, str>>) -> Request {
        Request {
            path: path.into(),
            metadata: Metadata::new(),
            deadline: None,
            encoding: Encoding::Identity,
        }
    }
}

/// What happened to a call or the connection.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The response headers (initial metadata) of a call.
    Headers {
        /// The call.
        call: CallId,
        /// Custom metadata from the response headers.
        metadata: Metadata,
    },
    /// A response message.
    Message {
        /// The call.
        call: CallId,
        /// The message, decompressed.
        data: Bytes,
    },
    /// The call is over: exactly one per call, always the last of its events.
    Status {
        /// The call.
        call: CallId,
        /// Its status.
        status: Status,
        /// Trailing metadata.
        trailers: Metadata,
    },
    /// A call whose send buffer was full can take messages again.
    Writable {
        /// The call.
        call: CallId,
    },
    /// The server sent GOAWAY: no new call will be accepted on this
    /// connection; calls it did not admit end with UNAVAILABLE.
    GoAway {
        /// The server's code.
        code: ErrorCode,
    },
    /// The connection is over (after every call's status).
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
    /// The call already half-closed.
    HalfClosed,
    /// The call's send buffer is full: wait for [`Event::Writable`].
    Blocked,
}

/// What valid replayed response blocks said, each with its replay stamp
/// (the same stamp, the same fields).
#[derive(Debug, Default)]
struct KnownBlocks {
    /// Response headers (not Trailers-Only): the fields that are metadata
    /// (see `Metadata::ascii_mask`) and the `grpc-encoding`, if any.
    response: Option<(u64, u32, Option<Encoding>)>,
    /// Trailers with a status that has no message or details: its code
    /// and the fields that are metadata.
    trailers: Option<(u64, Code, u32)>,
}

#[derive(Debug)]
struct Call {
    stream: Option<StreamId>,
    request: Option<Request>,
    deadline: Option<Instant>,
    inbound: Inbound,
    encoding: Encoding,
    /// Messages waiting for the stream, or for room in its send buffer
    /// (a queued call that just got its stream).
    pending: VecDeque<(Bytes, Bytes)>,
    pending_bytes: usize,
    half_closed: bool,
    /// END_STREAM was handed to HTTP/2 (it can be refused while the
    /// stream's send buffer is full; it then waits for Writable).
    end_sent: bool,
    got_headers: bool,
    /// `send_message` answered `CallError::Blocked` and no
    /// [`Event::Writable`] has followed yet: one is owed once the waiting
    /// messages are handed to the stream, whichever way that happens.
    owes_writable: bool,
}

/// A gRPC client connection, without I/O. Drive it like
/// [`h2::Connection`]: `recv`, `poll_event`, `poll_transmit`,
/// `poll_timeout`, `handle_timeout`.
#[derive(Debug)]
pub struct Connection {
    h2: h2::Connection,
    config: Config,
    now: Instant,
    next_call: u64,
    /// Live calls; a few in a sorted vector (see `SmallMap`).
    calls: SmallMap<CallId, Call, LIVE_CALLS_INLINE>,
    by_stream: SmallMap<StreamId, CallId, LIVE_CALLS_INLINE>,
    queued: VecDeque<CallId>,
    deadlines: BTreeSet<(Instant, CallId)>,
    events: VecDeque<Event>,
    /// The Compressed-Flag of each `Event::Message` in `events`, in order.
    message_flags: VecDeque<bool>,
    /// The flag of the message `poll_event` returned last.
    last_compressed: bool,
    closed: bool,
    /// The server's first SETTINGS arrived: until then its concurrency
    /// limit is unknown and calls wait in the queue.
    peer_settings: bool,
    /// Message prefixes are cut from here.
    prefixes: call::PrefixArena,
    /// `:authority` and `user-agent` of every request, encoded once.
    authority: Bytes,
    user_agent: Bytes,
    /// The `:path` of the last call opened, shared with the next call of
    /// the same method.
    last_path: Bytes,
    /// The header block of a request to `last_path` with no metadata,
    /// deadline or encoding, once built, and its name for the encoder's
    /// memo (a new number whenever it is rebuilt).
    plain_request: Option<(u64, FieldBuf)>,
    /// Plain request blocks built so far (their names).
    plain_requests_built: u64,
    /// What the last replayed response headers and trailers said, to
    /// handle the next replay of either without looking at its fields.
    known: KnownBlocks,
}

impl Connection {
    /// A new client connection; the preface and SETTINGS are queued.
    pub fn new(config: Config, now: Instant) -> Connection {
        let h2 = h2::Connection::new(h2::Role::Client, config.h2.clone(), now);
        let authority = Bytes::copy_from_slice(config.authority.as_bytes());
        let user_agent = Bytes::copy_from_slice(config.user_agent.as_bytes());
        Connection {
            h2,
            authority,
            user_agent,
            last_path: Bytes::new(),
            plain_request: None,
            plain_requests_built: 0,
            known: KnownBlocks::default(),
            prefixes: call::PrefixArena::default(),
            config,
            now,
            next_call: 0,
            calls: SmallMap::default(),
            by_stream: SmallMap::default(),
            queued: VecDeque::new(),
            deadlines: BTreeSet::new(),
            events: VecDeque::new(),
            message_flags: VecDeque::new(),
            last_compressed: false,
            closed: false,
            peer_settings: false,
        }
    }

    /// Starts a call. It gets a stream at once, or waits in a bounded queue
    /// while the server's concurrency limit is reached. A call that cannot
    /// start fails here with its status (UNAVAILABLE when the connection is
    /// going away, RESOURCE_EXHAUSTED when the queue is full, INTERNAL for a
    /// bad path or encoding).
    pub fn start_call(&mut self, request: Request, now: Instant) -> Result<CallId, Status> {
        self.now = now;
        if self.closed {
            return Err(Status::unavailable("connection closed"));
        }
        if !request.path.starts_with('/') {
            return Err(Status::internal("method path must start with '/'"));
        }
        if !request.encoding.is_supported() {
            return Err(Status::internal(format!(
                "encoding {} not supported here",
                request.encoding.name()
            )));
        }
        if self.queued.len() >= self.config.max_queued_calls {
            return Err(Status::resource_exhausted(
                "too many calls waiting for a stream",
            ));
        }
        let id = CallId(self.next_call);
        self.next_call += 1;
        let deadline = request.deadline;
        let call = Call {
            stream: None,
            encoding: request.encoding,
            request: Some(request),
            deadline,
            inbound: Inbound::new(self.config.max_receive_message_size),
            pending: VecDeque::new(),
            pending_bytes: 0,
            half_closed: false,
            end_sent: false,
            got_headers: false,
            owes_writable: false,
        };
        self.calls.insert(id, call);
        if let Some(d) = deadline {
            self.deadlines.insert((d, id));
        }
        self.queued.push_back(id);
        self.open_queued();
        if let Some(status) = self.take_failed_start(id) {
            return Err(status);
        }
        Ok(id)
    }

    /// A start that failed synchronously leaves its status as the last event.
    fn take_failed_start(&mut self, id: CallId) -> Option<Status> {
        if self.calls.contains_key(&id) {
            return None;
        }
        match self.events.back() {
            Some(Event::Status { call, .. }) if *call == id => match self.events.pop_back() {
                Some(Event::Status { status, .. }) => Some(status),
                _ => None,
            },
            _ => None,
        }
    }

    /// Gives queued calls a stream while the server allows.
    #[inline]
    fn open_queued(&mut self) {
        // Streams opened before the server's SETTINGS could exceed its
        // MAX_CONCURRENT_STREAMS and be refused (UNAVAILABLE); like grpc-go,
        // wait for the server's preface first.
        if self.peer_settings && !self.queued.is_empty() {
            self.open_queued_calls();
        }
    }

    fn open_queued_calls(&mut self) {
        while let Some(&id) = self.queued.front() {
            let Some(call) = self.calls.get_mut(&id) else {
                self.queued.pop_front();
                continue;
            };
            let Some(request) = call.request.as_ref() else {
                self.queued.pop_front();
                continue;
            };
            if call.deadline.is_some_and(|d| d <= self.now) {
                self.queued.pop_front();
                self.finish(
                    id,
                    Status::deadline_exceeded("deadline passed before the call started"),
                    Metadata::new(),
                );
                continue;
            }
            if self.last_path[..] != *request.path.as_bytes() {
                self.last_path = Bytes::copy_from_slice(request.path.as_bytes());
                self.plain_request = None;
            }
            let own = RequestBytes {
                path: &self.last_path,
                authority: &self.authority,
                user_agent: &self.user_agent,
            };
            // A request with nothing of its own but the path (no metadata,
            // deadline or encoding) has the same header block as the last
            // such request to the same path: kept, not rebuilt.
            let plain = request.metadata.is_empty()
                && request.deadline.is_none()
                && request.encoding == Encoding::Identity;
            let built;
            let (name, fields): (_, &[Field]) = if plain {
                let (name, fields) = self.plain_request.get_or_insert_with(|| {
                    self.plain_requests_built += 1;
                    let fields = request_fields(&self.config, &own, request, self.now);
                    (self.plain_requests_built, fields)
                });
                (Some(BlockName::Owned(*name)), fields)
            } else {
                built = request_fields(&self.config, &own, request, self.now);
                (None, &built)
            };
            // The request never ends on its HEADERS frame, even when the
            // call was half-closed before its stream opened: gRPC's request
            // stream ends with a DATA frame carrying END_STREAM
            // (PROTOCOL-HTTP2.md, "Request"), and grpc-go's server before
            // its fix of issue 2867 never sees the end of a request that
            // ends on HEADERS.
            match self.h2.open_named_stream(name, fields, false) {
                Ok(stream) => {
                    self.queued.pop_front();
                    call.stream = Some(stream);
                    call.request = None;
                    let waiting = !call.pending.is_empty() || call.half_closed;
                    self.by_stream.insert(stream, id);
                    // As much as the stream's send buffer takes, then the
                    // empty DATA frame with END_STREAM if the call was
                    // half-closed; the rest follows on Writable. A call
                    // refused while it waited for its stream is told it
                    // may send again once all of it went (otherwise the
                    // HTTP/2 layer's Writable tells it later).
                    if waiting && self.flush(id) {
                        self.writable_if_owed(id);
                    }
                }
                Err(SendError::StreamLimit) => return,
                Err(SendError::InvalidHeaders) => {
                    self.queued.pop_front();
                    self.finish(
                        id,
                        Status::internal("request headers exceed the server's header list limit"),
                        Metadata::new(),
                    );
                }
                Err(SendError::GoingAway | SendError::StreamIdsExhausted) => {
                    self.queued.pop_front();
                    self.finish(
                        id,
                        Status::unavailable("connection is going away"),
                        Metadata::new(),
                    );
                }
                Err(_) => {
                    self.queued.pop_front();
                    self.finish(
                        id,
                        Status::unavailable("connection closed"),
                        Metadata::new(),
                    );
                }
            }
        }
    }

    /// Sends one request message, compressed with the call's
    /// [`Request::encoding`].
    pub fn send_message(&mut self, id: CallId, data: Bytes) -> Result<(), CallError> {
        self.send_message_with(id, data, true)
    }

    /// Sends one request message with the Compressed-Flag clear, even on a
    /// call whose [`Request::encoding`] compresses: gRPC decides
    /// compression per message (PROTOCOL-HTTP2.md, Compressed-Flag;
    /// compression.md), e.g. for data that would not shrink.
    pub fn send_message_uncompressed(&mut self, id: CallId, data: Bytes) -> Result<(), CallError> {
        self.send_message_with(id, data, false)
    }

    fn send_message_with(
        &mut self,
        id: CallId,
        data: Bytes,
        compress: bool,
    ) -> Result<(), CallError> {
        let limit = self.config.max_queued_call_bytes;
        let call = self.calls.get_mut(&id).ok_or(CallError::UnknownCall)?;
        if call.half_closed {
            return Err(CallError::HalfClosed);
        }
        let encoding = if compress {
            call.encoding
        } else {
            Encoding::Identity
        };
        let (head, body) = match call::frame_message(data, encoding, &mut self.prefixes) {
            Ok(parts) => parts,
            Err(status) => {
                self.cancel_with(id, status);
                return Ok(());
            }
        };
        match call.stream {
            None => {
                if call.pending_bytes >= limit {
                    call.owes_writable = true;
                    return Err(CallError::Blocked);
                }
                call.pending_bytes += head.len() + body.len();
                call.pending.push_back((head, body));
                Ok(())
            }
            // Earlier messages still wait for room: keep the order.
            Some(_) if !call.pending.is_empty() => {
                call.owes_writable = true;
                Err(CallError::Blocked)
            }
            Some(stream) => match self.h2.send_data_parts(stream, [head, body], false) {
                Ok(()) => Ok(()),
                Err(SendError::Blocked) => {
                    call.owes_writable = true;
                    Err(CallError::Blocked)
                }
                // The stream ended under us; its status event is coming.
                Err(_) => Ok(()),
            },
        }
    }

    /// Hands waiting messages, then a waiting END_STREAM, to the stream as
    /// far as its send buffer allows. Returns whether nothing is left.
    fn flush(&mut self, id: CallId) -> bool {
        let Some(call) = self.calls.get_mut(&id) else {
            return true;
        };
        let Some(stream) = call.stream else {
            return false;
        };
        while let Some((head, body)) = call.pending.front().cloned() {
            let last = call.half_closed && call.pending.len() == 1;
            let n = head.len() + body.len();
            match self.h2.send_data_parts(stream, [head, body], last) {
                Ok(()) => {
                    call.pending.pop_front();
                    call.pending_bytes -= n;
                    call.end_sent |= last;
                }
                Err(SendError::Blocked) => return false,
                Err(_) => {
                    // The stream ended under us; its status event is coming.
                    call.pending.clear();
                    call.pending_bytes = 0;
                    call.end_sent = true;
                    return true;
                }
            }
        }
        if call.half_closed && !call.end_sent {
            match self.h2.send_data(stream, Bytes::new(), true) {
                Err(SendError::Blocked) => return false,
                _ => call.end_sent = true,
            }
        }
        true
    }

    /// [`Event::Writable`] for `id` if a refused send is owed one.
    fn writable_if_owed(&mut self, id: CallId) {
        if let Some(call) = self.calls.get_mut(&id)
            && core::mem::take(&mut call.owes_writable)
        {
            self.events.push_back(Event::Writable { call: id });
        }
    }

    /// Half-closes: no more request messages.
    pub fn half_close(&mut self, id: CallId) -> Result<(), CallError> {
        let call = self.calls.get_mut(&id).ok_or(CallError::UnknownCall)?;
        if call.half_closed {
            return Err(CallError::HalfClosed);
        }
        call.half_closed = true;
        if call.stream.is_some() {
            self.flush(id);
        }
        Ok(())
    }

    /// Cancels the call (RST_STREAM CANCEL); its status is CANCELLED.
    pub fn cancel(&mut self, id: CallId) -> Result<(), CallError> {
        if !self.calls.contains_key(&id) {
            return Err(CallError::UnknownCall);
        }
        self.cancel_with(id, Status::cancelled("cancelled by the client"));
        Ok(())
    }

    fn cancel_with(&mut self, id: CallId, status: Status) {
        if let Some(stream) = self.calls.get(&id).and_then(|c| c.stream) {
            let _ = self.h2.reset_stream(stream, ErrorCode::CANCEL);
        }
        self.finish(id, status, Metadata::new());
    }

    /// Ends a call with its one status event and forgets it.
    fn finish(&mut self, id: CallId, status: Status, trailers: Metadata) {
        let Some((stream, deadline)) = self.calls.remove_with(&id, |c| (c.stream, c.deadline))
        else {
            return;
        };
        if let Some(stream) = stream {
            self.by_stream.remove(&stream);
        }
        if let Some(d) = deadline {
            self.deadlines.remove(&(d, id));
        }
        self.events.push_back(Event::Status {
            call: id,
            status,
            trailers,
        });
    }

    /// Starts a graceful shutdown: GOAWAY, running calls finish.
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

    /// Whether the response message of the [`Event::Message`] that
    /// [`poll_event`](Self::poll_event) returned last had its
    /// Compressed-Flag set (PROTOCOL-HTTP2.md), i.e. came compressed; its
    /// `data` is decompressed either way.
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
                    // Streams may have freed up: waiting calls go first.
                    self.open_queued();
                    return self.events.pop_front();
                }
            }
        }
    }

    /// The next bytes to write.
    pub fn poll_transmit(&mut self) -> Option<h2::Transmit> {
        self.open_queued();
        self.h2.poll_transmit()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = self.deadlines.first().map(|(d, _)| *d);
        [self.h2.poll_timeout(), first].into_iter().flatten().min()
    }

    /// Fires expired timers: connection timers and call deadlines
    /// (DEADLINE_EXCEEDED, RST_STREAM CANCEL).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.h2.handle_timeout(now);
        while let Some(&(d, id)) = self.deadlines.first() {
            if d > now {
                break;
            }
            self.deadlines.pop_first();
            self.queued.retain(|q| *q != id);
            self.cancel_with(id, Status::deadline_exceeded("deadline exceeded"));
        }
        self.open_queued();
    }

    /// Whether the connection is over.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Calls started and not yet ended.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// Gives back memory kept for reuse (see [`h2::Connection::shrink`]):
    /// also the call tables' nodes when no call is open, the message-prefix
    /// arena, the kept request header block and the capacity of empty
    /// queues. Call it when the connection goes quiet.
    pub fn shrink(&mut self) {
        if self.calls.is_empty() {
            self.calls = SmallMap::default();
            self.by_stream = SmallMap::default();
            self.deadlines = BTreeSet::new();
        }
        self.plain_request = None;
        self.known = KnownBlocks::default();
        self.prefixes = call::PrefixArena::default();
        self.queued.shrink_to_fit();
        self.events.shrink_to_fit();
        self.message_flags.shrink_to_fit();
        self.h2.shrink();
    }

    /// Bytes held by the connection and its calls (see
    /// [`h2::Connection::held_bytes`]), partial messages included.
    pub fn held_bytes(&self) -> usize {
        const ENTRY: usize = 2 * core::mem::size_of::<usize>();
        self.h2.held_bytes()
            + self
                .calls
                .values()
                .map(|c| {
                    c.inbound.held_bytes() + c.pending_bytes + core::mem::size_of::<Call>() + ENTRY
                })
                .sum::<usize>()
            + self.calls.spare_bytes()
            + self.by_stream.len() * (2 * core::mem::size_of::<u64>() + ENTRY)
            + self.by_stream.spare_bytes()
            + self.queued.capacity() * core::mem::size_of::<CallId>()
            + self.deadlines.len() * (core::mem::size_of::<(Instant, CallId)>() + ENTRY)
            + self.events.capacity() * core::mem::size_of::<Event>()
    }

    /// The HTTP/2 connection underneath (for PINGs and statistics).
    pub fn h2(&mut self) -> &mut h2::Connection {
        &mut self.h2
    }

    /// Calls whose stream the application reset through [`h2`](Self::h2)
    /// (the HTTP/2 layer reports no event for its own resets): each ends
    /// once with CANCELLED instead of lingering.
    fn drop_orphans(&mut self) {
        if self.closed || self.by_stream.is_empty() {
            return;
        }
        let orphans: Vec<CallId> = self
            .by_stream
            .iter()
            .filter(|(stream, _)| self.h2.send_window(**stream).is_none())
            .map(|(_, id)| *id)
            .collect();
        for id in orphans {
            self.finish(
                id,
                Status::cancelled("stream reset by the client application"),
                Metadata::new(),
            );
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
                if let Some(&id) = self.by_stream.get(&stream_id) {
                    match kind {
                        HeadersKind::Informational { .. } => {}
                        HeadersKind::Response { status } => {
                            self.on_response(id, status, &fields, end_stream, replay)
                        }
                        HeadersKind::Trailers => self.on_trailers(id, &fields, replay),
                        HeadersKind::Request => {}
                    }
                }
                self.h2.recycle_replayed(fields, replay);
            }
            h2::Event::Data {
                stream_id,
                data,
                end_stream,
                origin,
            } => {
                let Some(&id) = self.by_stream.get(&stream_id) else {
                    return;
                };
                self.on_data(id, data, end_stream, origin);
            }
            h2::Event::Reset {
                stream_id,
                code,
                by,
                ..
            } => {
                let Some(&id) = self.by_stream.get(&stream_id) else {
                    return;
                };
                let status = match by {
                    ResetBy::Remote => Status::new(
                        Code::from_h2_reset(code),
                        format!(
                            "the server reset the stream (RST_STREAM with {code}, RFC 9113 §6.4)"
                        ),
                    ),
                    ResetBy::Local { reason } => {
                        Status::internal(format!("server broke HTTP/2: {reason}"))
                    }
                };
                self.finish(id, status, Metadata::new());
            }
            h2::Event::Writable { stream_id } => {
                if let Some(&call) = self.by_stream.get(&stream_id)
                    && self.flush(call)
                {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.owes_writable = false;
                    }
                    self.events.push_back(Event::Writable { call });
                }
            }
            h2::Event::GoAway { code, .. } => {
                // Queued calls will never get a stream here.
                let queued: Vec<_> = self.queued.drain(..).collect();
                for id in queued {
                    self.finish(
                        id,
                        Status::unavailable("connection going away (GOAWAY)"),
                        Metadata::new(),
                    );
                }
                self.events.push_back(Event::GoAway { code });
            }
            h2::Event::Closed { error } => {
                let ids: Vec<_> = self.calls.keys().copied().collect();
                let reason = match &error {
                    Some(e) => format!("connection closed: {e}"),
                    None => "connection closed".to_string(),
                };
                for id in ids {
                    self.finish(id, Status::unavailable(reason.clone()), Metadata::new());
                }
                self.queued.clear();
                self.closed = true;
                self.events.push_back(Event::Closed { error });
            }
            h2::Event::PeerSettings(_) => self.peer_settings = true,
            h2::Event::PingAck { .. } => {}
        }
    }

    fn on_response(
        &mut self,
        id: CallId,
        http_status: u16,
        fields: &[Field],
        end_stream: bool,
        replay: Option<u64>,
    ) {
        if let Some((stamp, mask, encoding)) = self.known.response
            && replay == Some(stamp)
            && !end_stream
        {
            // The same fields as the headers `known.response` was learnt from.
            if let Some(c) = self.calls.get_mut(&id) {
                if let Some(e) = encoding {
                    c.inbound.encoding = e;
                }
                c.got_headers = true;
            }
            let metadata = Metadata::from_mask(fields, mask);
            self.events.push_back(Event::Headers { call: id, metadata });
            return;
        }
        let content_type_ok =
            call::field(fields, b"content-type").is_some_and(|v| call::is_grpc_content_type(v));
        if http_status != 200 || !content_type_ok {
            // http-grpc-status-mapping.md: a grpc-status wins; otherwise the
            // HTTP status says what happened.
            let status = if call::field(fields, b"grpc-status").is_some() {
                call::status_from_fields(fields)
            } else if http_status != 200 {
                Status::from_http_status(http_status)
            } else {
                Status::unknown("response content-type is not application/grpc")
            };
            self.cancel_with(id, status);
            return;
        }
        let metadata = Metadata::from_fields(fields);
        if end_stream {
            // Trailers-Only.
            let status = call::status_from_fields(fields);
            self.end_by_server(id, status, metadata.unwrap_or_default());
            return;
        }
        let Ok(metadata) = metadata else {
            self.cancel_with(id, Status::internal("malformed response metadata"));
            return;
        };
        let mut encoding = None;
        if let Some(enc) = call::field(fields, b"grpc-encoding") {
            match Encoding::from_name(enc) {
                Some(e) if e.is_supported() => {
                    encoding = Some(e);
                    if let Some(c) = self.calls.get_mut(&id) {
                        c.inbound.encoding = e;
                    }
                }
                _ => {
                    self.cancel_with(
                        id,
                        Status::internal("response uses an unsupported grpc-encoding"),
                    );
                    return;
                }
            }
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.got_headers = true;
        }
        if let Some(stamp) = replay
            && let Some(mask) = Metadata::ascii_mask(fields)
        {
            self.known.response = Some((stamp, mask, encoding));
        }
        self.events.push_back(Event::Headers { call: id, metadata });
    }

    fn on_data(&mut self, id: CallId, data: Bytes, end_stream: bool, origin: Origin) {
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
                Err(status) => {
                    self.cancel_with(id, status);
                    return;
                }
            }
        }
        if (call.inbound.held > 0 || !call.inbound.is_empty())
            && call
                .inbound
                .settle(self.h2.more_data_from(origin))
                .is_some()
        {
            // Part of a message waits: the connection's total is checked.
            let limit = self.config.max_buffered_bytes;
            let total: usize = self.calls.values().map(|c| c.inbound.held).sum();
            if total > limit {
                self.cancel_with(id, call::over_buffered_limit(limit));
                return;
            }
        }
        if end_stream {
            // PROTOCOL-HTTP2.md: a response always ends with trailers.
            self.cancel_with(
                id,
                Status::internal("server ended the stream without trailers"),
            );
        }
    }

    fn on_trailers(&mut self, id: CallId, fields: &[Field], replay: Option<u64>) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if let Err(status) = call.inbound.finish() {
            self.end_by_server(id, status, Metadata::new());
            return;
        }
        if let Some((stamp, code, mask)) = self.known.trailers
            && replay == Some(stamp)
        {
            // The same fields as the trailers `known.trailers` was learnt from.
            let status = Status {
                code,
                message: String::new(),
                details: None,
            };
            self.end_by_server(id, status, Metadata::from_mask(fields, mask));
            return;
        }
        let status = call::status_from_fields(fields);
        let trailers = Metadata::from_fields(fields).unwrap_or_default();
        if let Some(stamp) = replay
            && status.message.is_empty()
            && status.details.is_none()
            && let Some(mask) = Metadata::ascii_mask(fields)
        {
            self.known.trailers = Some((stamp, status.code, mask));
        }
        self.end_by_server(id, status, trailers);
    }

    /// The server ended the call (trailers or Trailers-Only). Our side may
    /// still be open (the server ended first): free the stream, or it would
    /// stay open and count against the server's concurrency limit.
    fn end_by_server(&mut self, id: CallId, status: Status, trailers: Metadata) {
        if let Some(call) = self.calls.get(&id)
            && let Some(stream) = call.stream
            && !call.end_sent
        {
            let _ = self.h2.reset_stream(stream, ErrorCode::CANCEL);
        }
        self.finish(id, status, trailers);
    }
}

/// Request header values the connection keeps encoded (cheap to clone).
struct RequestBytes<'a> {
    path: &'a Bytes,
    authority: &'a Bytes,
    user_agent: &'a Bytes,
}

/// The request header block (PROTOCOL-HTTP2.md, Requests).
fn request_fields(
    config: &Config,
    own: &RequestBytes<'_>,
    request: &Request,
    now: Instant,
) -> FieldBuf {
    let mut f = FieldBuf::new();
    f.push(Field::new(&b":method"[..], &b"POST"[..]));
    f.push(Field::new(
        &b":scheme"[..],
        Bytes::from_static(config.scheme.as_bytes()),
    ));
    f.push(Field::new(&b":path"[..], own.path.clone()));
    f.push(Field::new(&b":authority"[..], own.authority.clone()));
    f.push(Field::new(&b"te"[..], &b"trailers"[..]));
    f.push(Field::new(&b"content-type"[..], call::CONTENT_TYPE));
    f.push(Field::new(&b"user-agent"[..], own.user_agent.clone()));
    f.push(Field::new(
        &b"grpc-accept-encoding"[..],
        Bytes::from_static(compression::accept_encoding_value().as_bytes()),
    ));
    if request.encoding != Encoding::Identity {
        f.push(Field::new(
            &b"grpc-encoding"[..],
            Bytes::from_static(request.encoding.name().as_bytes()),
        ));
    }
    if let Some(deadline) = request.deadline {
        let left = deadline.saturating_duration_since(now);
        f.push(Field::new(
            &b"grpc-timeout"[..],
            Bytes::copy_from_slice(&timeout::format(left)),
        ));
    }
    f.extend(request.metadata.to_fields());
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server;
    use crate::testing::Pair;

    /// Responses and trailers from replayed blocks, handled from what the
    /// first of them said, look exactly like those handled by reading the
    /// blocks.
    #[test]
    fn calls_ended_by_known_blocks() {
        let now = Instant::now();
        let mut p = Pair::new(Config::default(), server::Config::default(), now);
        p.drive();
        let mut seen = Vec::new();
        for i in 0..6 {
            let c = p.client.start_call(Request::new("/a.B/C"), p.now).unwrap();
            p.client.half_close(c).unwrap();
            p.drive();
            while let Some(ev) = p.server_events.pop_front() {
                if let server::Event::Call { call, .. } = ev {
                    let mut headers = Metadata::new();
                    headers.append("x-h", "1").unwrap();
                    p.server.send_headers(call, &headers).unwrap();
                    p.server
                        .send_message(call, Bytes::from_static(b"hi"))
                        .unwrap();
                    let mut trailers = Metadata::new();
                    trailers
                        .append("x-t", if i < 4 { "2" } else { "3" })
                        .unwrap();
                    let status = if i == 5 {
                        Status::new(Code::NotFound, "")
                    } else {
                        Status::ok()
                    };
                    p.server.finish(call, status, &trailers).unwrap();
                }
            }
            p.drive();
            let events: Vec<Event> = p.client_events.drain(..).collect();
            let mut call = Vec::new();
            for ev in events {
                match ev {
                    Event::Headers { call: id, metadata } if id == c => {
                        call.push(format!("{metadata:?}"))
                    }
                    Event::Message { call: id, data } if id == c => call.push(format!("{data:?}")),
                    Event::Status {
                        call: id,
                        status,
                        trailers,
                    } if id == c => call.push(format!("{status:?} {trailers:?}")),
                    _ => {}
                }
            }
            seen.push(call);
        }
        assert!(p.client.known.response.is_some() && p.client.known.trailers.is_some());
        for s in &seen[1..4] {
            assert_eq!(s, &seen[0]);
        }
        assert_eq!(seen[0].len(), 3);
        assert!(seen[0][0].contains("x-h"));
        assert!(seen[3][2].contains("Ok") && seen[3][2].contains("\"2\""));
        assert!(seen[4][2].contains("Ok") && seen[4][2].contains("\"3\""));
        assert!(seen[5][2].contains("NotFound") && seen[5][2].contains("\"3\""));
    }
}
