//! The connection: state, the four driving verbs, timers, and how it ends.
//!
//! Frame handling lives in `recv.rs`, commands and the send scheduler in
//! `send.rs`; this file holds what both share.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use super::budget::Budget;
use super::closed::{ClosedStream, ClosedStreams};
use super::config::{ReleaseMode, SharedConfig};
use super::event::{Event, ResetBy};
use super::fields::CheckMemo;
use super::flow::{RecvWindow, SendWindow};
use super::stream::{Input, State, Stream};
use crate::error::{ConnectionError, ErrorCode};
use crate::frame::{
    self, DEFAULT_INITIAL_WINDOW_SIZE, DEFAULT_MAX_FRAME_SIZE, FrameDecoder, GoAway, Origin,
    PrioritySpec, RstStream, Settings, StreamId, WindowUpdate,
};
use crate::hpack::{self, Field};
use crate::small_map::SmallMap;

/// Which end of the connection this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends the preface, opens odd-numbered streams.
    Client,
    /// Expects the preface, accepts streams.
    Server,
}

/// A connection error found while handling input, before it is turned into
/// a GOAWAY and a [`ConnectionError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnErr {
    pub(crate) code: ErrorCode,
    pub(crate) reason: &'static str,
}

impl ConnErr {
    pub(crate) const fn new(code: ErrorCode, reason: &'static str) -> Self {
        ConnErr { code, reason }
    }
}

pub(crate) type Res = Result<(), ConnErr>;

/// The peer's SETTINGS in force (RFC 9113 §6.5.2 initial values).
#[derive(Clone, Copy, Debug)]
pub(crate) struct PeerSettings {
    pub(crate) max_concurrent_streams: u32,
    pub(crate) initial_window_size: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) max_header_list_size: u32,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            max_concurrent_streams: u32::MAX,
            initial_window_size: DEFAULT_INITIAL_WINDOW_SIZE,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: u32::MAX,
        }
    }
}

/// A header block being reassembled from HEADERS + CONTINUATION (§4.3).
#[derive(Debug)]
pub(crate) struct PendingBlock {
    pub(crate) stream_id: StreamId,
    pub(crate) end_stream: bool,
    pub(crate) priority: Option<PrioritySpec>,
    pub(crate) buf: BytesMut,
    pub(crate) frames: u32,
}

/// Graceful shutdown progress (§6.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shutdown {
    /// First GOAWAY(2^31-1) and a PING sent; waiting for the ACK.
    /// (`None`: the timeout does not fit the clock; wait for the ACK.)
    AwaitingPing { deadline: Option<Instant> },
    /// Final GOAWAY sent; draining the streams it admitted.
    Draining,
}

/// Live streams kept without a tree: a gRPC connection usually has a few.
const LIVE_STREAMS_INLINE: usize = 4;

/// The PING payload of the graceful-shutdown round trip.
pub(crate) const SHUTDOWN_PING: [u8; 8] = *b"shutdown";

/// An HTTP/2 connection, client or server (RFC 9113), without I/O.
///
/// Drive it with [`recv`](Self::recv), [`poll_event`](Self::poll_event),
/// [`poll_transmit`](Self::poll_transmit), [`poll_timeout`](Self::poll_timeout)
/// and [`handle_timeout`](Self::handle_timeout); act with the commands
/// ([`open_stream`](Self::open_stream), [`send_headers`](Self::send_headers),
/// [`send_data`](Self::send_data), [`reset_stream`](Self::reset_stream), …).
#[derive(Debug)]
pub struct Connection {
    pub(crate) role: Role,
    pub(crate) config: SharedConfig,
    pub(crate) now: Instant,

    pub(crate) decoder: FrameDecoder,
    pub(crate) hpack_dec: hpack::Decoder,
    pub(crate) hpack_enc: hpack::Encoder,
    pub(crate) block_buf: BytesMut,
    pub(crate) pending_block: Option<Box<PendingBlock>>,
    /// Emptied field vectors handed back with
    /// [`recycle_fields`](Self::recycle_fields), reused for the next
    /// decoded header blocks (a few, of modest capacity; some still hold
    /// the fields of a replayed block, see `hpack::FieldPool`).
    pub(crate) spare_fields: hpack::FieldPool,
    /// Check results of replayed header blocks.
    pub(crate) check_memo: CheckMemo,

    pub(crate) peer: PeerSettings,
    pub(crate) got_peer_settings: bool,
    pub(crate) handshake_deadline: Option<Instant>,
    pub(crate) settings_ack_deadline: Option<Instant>,
    /// Our SETTINGS_INITIAL_WINDOW_SIZE in force (the default until acked).
    pub(crate) local_initial_window: u32,

    /// Live streams; a few inline (see `SmallMap`).
    pub(crate) streams: SmallMap<u32, Stream, LIVE_STREAMS_INLINE>,
    pub(crate) closed: ClosedStreams,
    pub(crate) next_local_id: u32,
    pub(crate) last_peer_id: u32,
    pub(crate) local_open: u32,
    pub(crate) peer_open: u32,

    pub(crate) send_conn: SendWindow,
    pub(crate) recv_conn: RecvWindow,
    pub(crate) ready: VecDeque<u32>,
    pub(crate) queued_data: usize,

    pub(crate) out: BytesMut,
    pub(crate) pending_ping_acks: u32,
    pub(crate) pending_settings_acks: u32,
    pub(crate) pings_in_flight: u32,
    /// We sent HEADERS or DATA since the peer's last PING: its next PING
    /// is not charged to `ping_rate` (a PING answering our data, as
    /// grpc-go's and grpc C-core's bandwidth probes do; C-core's "ping
    /// strikes" follow the same rule).
    pub(crate) sent_since_ping: bool,

    pub(crate) goaway_sent: Option<StreamId>,
    pub(crate) goaway_received: Option<StreamId>,
    pub(crate) shutdown: Option<Shutdown>,

    pub(crate) events: VecDeque<Event>,
    /// DATA bytes in `events`, not yet handed to the application.
    pub(crate) event_data_bytes: usize,
    /// The chunk `recv` is decoding: where it starts in memory, and its
    /// origin (what DATA payloads sliced from it pin).
    pub(crate) recv_chunk: (usize, Origin),
    /// The origin number of the next chunk `recv` takes.
    next_chunk: u32,
    pub(crate) error: Option<Box<ConnectionError>>,
    pub(crate) closed_emitted: bool,

    pub(crate) settings_budget: Budget,
    pub(crate) ping_budget: Budget,
    pub(crate) empty_budget: Budget,
    /// Spent by every answer to the peer's errors (`error_answer_rate`).
    pub(crate) error_answer_budget: Budget,
    pub(crate) remote_reset_budget: Budget,
}

impl Connection {
    /// A new connection. The client preface (client role), our SETTINGS and
    /// the connection WINDOW_UPDATE are queued for [`poll_transmit`](Self::poll_transmit).
    ///
    /// `config` is a [`Config`](super::Config), or a [`SharedConfig`] that many
    /// connections share (each then holds a pointer to it, not a copy).
    pub fn new(role: Role, config: impl Into<SharedConfig>, now: Instant) -> Connection {
        let config = config.into();
        let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        if role == Role::Server {
            decoder.expect_preface();
        }
        let mut conn = Connection {
            role,
            now,
            decoder,
            // Until our SETTINGS is acknowledged the peer may use the
            // default table size (RFC 7541 §4.2 with RFC 9113 §6.5.3).
            hpack_dec: hpack::Decoder::new(
                config.header_table_size.max(4096),
                config.max_header_list_size as usize,
            ),
            hpack_enc: hpack::Encoder::new(),
            block_buf: BytesMut::new(),
            pending_block: None,
            spare_fields: hpack::FieldPool::default(),
            check_memo: CheckMemo::default(),
            peer: PeerSettings::default(),
            got_peer_settings: false,
            handshake_deadline: now.checked_add(config.handshake_timeout),
            settings_ack_deadline: now.checked_add(config.settings_timeout),
            local_initial_window: DEFAULT_INITIAL_WINDOW_SIZE,
            streams: SmallMap::default(),
            closed: ClosedStreams::default(),
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_peer_id: 0,
            local_open: 0,
            peer_open: 0,
            send_conn: SendWindow::new(DEFAULT_INITIAL_WINDOW_SIZE),
            recv_conn: RecvWindow::new(DEFAULT_INITIAL_WINDOW_SIZE, config.connection_window),
            ready: VecDeque::new(),
            queued_data: 0,
            out: BytesMut::with_capacity(1024),
            pending_ping_acks: 0,
            pending_settings_acks: 0,
            pings_in_flight: 0,
            sent_since_ping: false,
            goaway_sent: None,
            goaway_received: None,
            shutdown: None,
            events: VecDeque::new(),
            event_data_bytes: 0,
            recv_chunk: (0, Origin::default()),
            next_chunk: 1,
            error: None,
            closed_emitted: false,
            settings_budget: Budget::default(),
            ping_budget: Budget::default(),
            empty_budget: Budget::default(),
            error_answer_budget: Budget::default(),
            remote_reset_budget: Budget::default(),
            config,
        };
        if role == Role::Client {
            conn.out.extend_from_slice(frame::PREFACE);
        }
        let settings = conn.local_settings();
        settings.encode(&mut conn.out);
        let extra = conn.config.connection_window - DEFAULT_INITIAL_WINDOW_SIZE;
        if extra > 0 {
            // Raise the connection window at once: SETTINGS cannot (§6.9.2).
            conn.recv_conn =
                RecvWindow::new(conn.config.connection_window, conn.config.connection_window);
            WindowUpdate {
                stream_id: StreamId::ZERO,
                increment: extra,
            }
            .encode(&mut conn.out);
        }
        conn
    }

    /// The SETTINGS we advertise (RFC 9113 §6.5.2).
    fn local_settings(&self) -> Settings {
        let c = &self.config;
        Settings {
            ack: false,
            header_table_size: (c.header_table_size != 4096).then_some(c.header_table_size),
            enable_push: Some(false),
            max_concurrent_streams: Some(c.max_concurrent_streams),
            initial_window_size: (c.initial_window_size != DEFAULT_INITIAL_WINDOW_SIZE)
                .then_some(c.initial_window_size),
            max_frame_size: (c.max_frame_size != DEFAULT_MAX_FRAME_SIZE)
                .then_some(c.max_frame_size),
            max_header_list_size: Some(c.max_header_list_size),
            enable_connect_protocol: None,
        }
    }

    /// This connection's role.
    pub fn role(&self) -> Role {
        self.role
    }

    // ------------------------------------------------------------------
    // The driving verbs
    // ------------------------------------------------------------------

    /// Feeds bytes received from the peer, split anywhere.
    ///
    /// Returns the connection error if this input (or an earlier one) ended
    /// the connection; the GOAWAY is then queued and [`Event::Closed`] follows.
    /// Stream errors do not surface here: they become RST_STREAM and
    /// [`Event::Reset`].
    pub fn recv(&mut self, data: Bytes, now: Instant) -> Result<(), ConnectionError> {
        if let Some(e) = &self.error {
            return Err((**e).clone());
        }
        if self.closed_emitted {
            return Ok(());
        }
        self.now = now;
        self.recv_chunk = (
            data.as_ptr() as usize,
            Origin::shared(self.next_chunk, data.len()),
        );
        self.next_chunk = self.next_chunk.checked_add(1).unwrap_or(1);
        self.decoder.push(data);
        loop {
            let result = match self.decoder.decode() {
                Ok(Some(frame)) => self.on_frame(frame),
                Ok(None) => {
                    // What DATA payloads pin is told by `origin_of`, which
                    // relies on this.
                    debug_assert!(self.decoder.holds_no_chunk());
                    break;
                }
                Err(e) => match e.stream_id {
                    Some(id) => self.stream_error(id, e.code, e.reason),
                    None => Err(ConnErr::new(e.code, e.reason)),
                },
            };
            let result = result.and_then(|()| self.check_output_bound());
            if let Err(e) = result {
                return Err(self.fail(e));
            }
            if self.closed_emitted {
                break;
            }
        }
        Ok(())
    }

    /// Tells the connection that the transport delivered end-of-file.
    pub fn recv_eof(&mut self, now: Instant) {
        self.now = now;
        if self.closed_emitted {
            return;
        }
        let clean = self.streams.is_empty()
            && (self.goaway_sent.is_some() || self.goaway_received.is_some());
        let error = (!clean).then_some(ConnectionError::TransportClosed);
        self.error = error.clone().map(Box::new);
        self.emit_closed(error);
    }

    /// The next event, if any. With [`ReleaseMode::OnDelivery`], handing out
    /// a DATA event gives its flow-control credit back to the peer.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if let Event::Data {
            stream_id, data, ..
        } = &event
        {
            self.event_data_bytes -= data.len();
            if self.config.release_mode == ReleaseMode::OnDelivery {
                self.release(*stream_id, data.len());
            }
        }
        Some(event)
    }

    /// The received chunks behind the DATA payloads still queued in events,
    /// each counted once (payloads of one chunk are consecutive).
    fn event_pins(&self) -> usize {
        let mut last = None;
        let mut pinned = 0;
        for e in &self.events {
            if let Event::Data { origin, .. } = e
                && (!origin.is_shared() || last != Some(origin.seq))
            {
                pinned += origin.pinned_len();
                last = Some(origin.seq);
            }
        }
        pinned
    }

    /// Whether more DATA payloads from `origin`'s chunk wait in the event
    /// queue (looking a few events ahead: payloads of one chunk are
    /// consecutive, other streams' headers may sit between them).
    pub(crate) fn more_data_from(&self, origin: Origin) -> bool {
        origin.is_shared()
            && self.events.iter().take(4).any(|e| {
                matches!(e, Event::Data { origin: o, .. } if o.is_shared() && o.seq == origin.seq)
            })
    }

    /// Hands back the `fields` of a consumed [`Event::Headers`], so that a
    /// later header block is decoded into its storage instead of a new
    /// allocation. Optional; a few vectors of modest capacity are kept
    /// (and counted in [`held_bytes`](Self::held_bytes)), others dropped.
    pub fn recycle_fields(&mut self, fields: Vec<Field>) {
        let replay = self.hpack_dec.replay_stamp_of(&fields);
        self.spare_fields.give(fields, replay);
    }

    /// If `fields` are those of a replayed header block, exactly as the
    /// replay handed them out: the block's stamp. Blocks with the same
    /// stamp have the same fields, so what is learnt from one holds for
    /// the others.
    pub(crate) fn replay_stamp_of(&self, fields: &[Field]) -> Option<u64> {
        self.hpack_dec.replay_stamp_of(fields)
    }

    /// [`recycle_fields`](Self::recycle_fields) with the stamp
    /// [`replay_stamp_of`](Self::replay_stamp_of) gave for these fields,
    /// no header block decoded since.
    pub(crate) fn recycle_replayed(&mut self, fields: Vec<Field>, replay: Option<u64>) {
        debug_assert_eq!(replay, self.hpack_dec.replay_stamp_of(&fields));
        self.spare_fields.give(fields, replay);
    }

    /// The next moment [`handle_timeout`](Self::handle_timeout) must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed_emitted {
            return None;
        }
        let shutdown = match self.shutdown {
            Some(Shutdown::AwaitingPing { deadline }) => deadline,
            _ => None,
        };
        [
            self.handshake_deadline,
            self.settings_ack_deadline,
            shutdown,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Fires the timers that expired at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.closed_emitted {
            return;
        }
        if self.handshake_deadline.is_some_and(|d| d <= now) {
            self.fail_timeout(
                "the peer's preface and SETTINGS (RFC 9113 §3.4)",
                ErrorCode::PROTOCOL_ERROR,
            );
            return;
        }
        if self.settings_ack_deadline.is_some_and(|d| d <= now) {
            self.fail_timeout(
                "SETTINGS ACK (RFC 9113 §6.5.3)",
                ErrorCode::SETTINGS_TIMEOUT,
            );
            return;
        }
        if let Some(Shutdown::AwaitingPing {
            deadline: Some(deadline),
        }) = self.shutdown
            && deadline <= now
        {
            self.send_final_goaway();
        }
    }

    /// Whether the connection is over (after [`Event::Closed`]); write out
    /// what [`poll_transmit`](Self::poll_transmit) still gives, then close
    /// the transport.
    pub fn is_closed(&self) -> bool {
        self.closed_emitted
    }

    /// The error that ended the connection, if any.
    pub fn error(&self) -> Option<&ConnectionError> {
        self.error.as_deref()
    }

    /// Bytes this connection holds on behalf of the peer and the application:
    /// input waiting for the rest of a frame, a header block in reassembly,
    /// HPACK tables, queued output, queued DATA, received DATA waiting in
    /// events, and the bookkeeping that grows with what the peer does: the
    /// records of open and recently closed streams, the scheduler's queue
    /// and the event queue (each counted at its in-memory size plus the
    /// map's per-entry overhead).
    pub fn held_bytes(&self) -> usize {
        // A B-tree map entry costs about its key and value plus a share of
        // node overhead; two words is a fair upper estimate of the share.
        const MAP_ENTRY_OVERHEAD: usize = 2 * core::mem::size_of::<usize>();
        let streams = self.streams.len()
            * (core::mem::size_of::<u32>() + core::mem::size_of::<Stream>() + MAP_ENTRY_OVERHEAD)
            + self.streams.spare_bytes();
        let closed = self.closed.held_bytes();
        let spare_fields = self.spare_fields.held_bytes();
        let queues = self.ready.capacity() * core::mem::size_of::<u32>()
            + self.events.capacity() * core::mem::size_of::<Event>();
        self.decoder.buffered_len()
            + self.event_pins()
            + self.pending_block.as_ref().map_or(0, |b| b.buf.capacity())
            + self.hpack_dec.held_bytes()
            + self.hpack_enc.held_bytes()
            + self.out.capacity()
            + self.block_buf.capacity()
            + spare_fields
            + self.queued_data
            + streams
            + closed
            + queues
    }

    /// Gives back memory kept for reuse: the capacity of empty queues and
    /// buffers, the node of an empty stream table, the spare field vectors
    /// and the remembered header blocks. Nothing observable changes; the next burst of traffic
    /// allocates again. Call it when the connection goes quiet (the
    /// adapters do after 50 ms without a read): an idle connection then
    /// holds little more than its HPACK tables.
    pub fn shrink(&mut self) {
        if self.streams.is_empty() {
            self.streams = SmallMap::default();
        }
        self.spare_fields = hpack::FieldPool::default();
        self.closed.shrink();
        if self.out.is_empty() {
            self.out = BytesMut::new();
        }
        if self.block_buf.is_empty() {
            self.block_buf = BytesMut::new();
        }
        self.ready.shrink_to_fit();
        self.events.shrink_to_fit();
        self.decoder.shrink();
        self.hpack_dec.shrink();
        self.hpack_enc.shrink();
        self.check_memo.release();
    }

    /// Streams currently open or half-closed.
    pub fn active_streams(&self) -> usize {
        self.streams.len()
    }

    // ------------------------------------------------------------------
    // Shared helpers
    // ------------------------------------------------------------------

    pub(crate) fn is_local_id(&self, id: StreamId) -> bool {
        match self.role {
            Role::Client => id.is_client_initiated(),
            Role::Server => id.is_server_initiated(),
        }
    }

    /// Whether `id` is in the idle state (§5.1): never opened by either side.
    pub(crate) fn is_idle(&self, id: StreamId) -> bool {
        if self.is_local_id(id) {
            id.0 >= self.next_local_id
        } else {
            id.0 > self.last_peer_id
        }
    }

    /// Remembers a closed stream, forgetting the oldest past the limit.
    pub(crate) fn remember_closed(&mut self, id: StreamId, reset_by_us: bool) {
        let rec = ClosedStream {
            reset_by_us,
            at: self.now,
        };
        self.closed
            .insert(id.0, rec, self.config.max_closed_streams_remembered);
    }

    /// Whether frames on this closed stream are to be ignored: we reset it
    /// recently (§5.1 "closed").
    pub(crate) fn ignores_frames_on(&self, id: StreamId) -> bool {
        self.closed.get(id.0).is_some_and(|c| {
            c.reset_by_us
                && self.now.saturating_duration_since(c.at) < self.config.reset_stream_duration
        })
    }

    /// Drops a stream that reached "closed", returning its flow-control
    /// credit to the connection.
    pub(crate) fn remove_stream(&mut self, id: StreamId, reset_by_us: bool) {
        let removed = self.streams.remove_with(&id.0, |stream| {
            debug_assert!(stream.state == State::Closed || stream.state.next(Input::Reset).is_ok());
            (stream.recv_window.unreleased(), stream.queued_bytes)
        });
        let Some((held, queued_bytes)) = removed else {
            return;
        };
        self.recv_conn.release(held);
        self.queue_conn_window_update();
        self.queued_data -= queued_bytes;
        if self.is_local_id(id) {
            self.local_open -= 1;
        } else {
            self.peer_open -= 1;
        }
        self.remember_closed(id, reset_by_us);
        self.check_drained();
    }

    /// Gives `n` bytes of credit back for a stream and the connection.
    pub(crate) fn release(&mut self, id: StreamId, n: usize) {
        let Some(stream) = self.streams.get_mut(&id.0) else {
            // Its credit went back when the stream was removed.
            return;
        };
        let n = stream.recv_window.release(n as u64);
        let policy = self.config.window_update_policy;
        if stream.state.can_recv()
            && let Some(inc) = stream.recv_window.take_update(policy)
        {
            WindowUpdate {
                stream_id: id,
                increment: inc,
            }
            .encode(&mut self.out);
        }
        self.recv_conn.release(n);
        self.queue_conn_window_update();
    }

    pub(crate) fn queue_conn_window_update(&mut self) {
        if let Some(inc) = self.recv_conn.take_update(self.config.window_update_policy) {
            WindowUpdate {
                stream_id: StreamId::ZERO,
                increment: inc,
            }
            .encode(&mut self.out);
        }
    }

    /// A stream error (§5.4.2): RST_STREAM and an event; the connection goes
    /// on. On an idle stream no RST_STREAM may be sent (§6.4), so the error
    /// becomes a connection error with the same code.
    pub(crate) fn stream_error(
        &mut self,
        id: StreamId,
        code: ErrorCode,
        reason: &'static str,
    ) -> Res {
        if id.is_zero() || self.is_idle(id) {
            return Err(ConnErr::new(code, reason));
        }
        self.spend_error_answer()?;
        RstStream {
            stream_id: id,
            code,
        }
        .encode(&mut self.out);
        if self.streams.contains_key(&id.0) {
            self.events.push_back(Event::Reset {
                stream_id: id,
                code,
                by: ResetBy::Local { reason },
            });
            self.remove_stream(id, true);
        } else {
            self.remember_closed(id, true);
        }
        Ok(())
    }

    /// Charges one answer to the peer's error (a reset stream, a refused
    /// request) to `error_answer_rate`; past the budget, the connection
    /// error that ends the connection.
    pub(crate) fn spend_error_answer(&mut self) -> Res {
        if self
            .error_answer_budget
            .spend(self.config.error_answer_rate, self.now)
        {
            Ok(())
        } else {
            Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many requests answered with an error for the peer's faults \
                 (error_answer_rate, RFC 9113 §10.5)",
            ))
        }
    }

    /// For the gRPC layer: charges an answer it gives to a request the peer
    /// got wrong (HTTP 405/415, an unsupported encoding, a malformed
    /// `:path`...) to the same budget as the resets above. `false` when the
    /// budget is spent: the connection is then ended with
    /// GOAWAY(ENHANCE_YOUR_CALM) and no answer may be sent.
    pub(crate) fn charge_error_answer(&mut self) -> bool {
        if self.closed_emitted {
            return false;
        }
        match self.spend_error_answer() {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Ends the connection with a connection error (§5.4.1).
    pub(crate) fn fail(&mut self, e: ConnErr) -> ConnectionError {
        let error = ConnectionError::Protocol {
            code: e.code,
            reason: e.reason,
        };
        self.terminate(e.code, e.reason.as_bytes(), error.clone());
        error
    }

    fn fail_timeout(&mut self, what: &'static str, code: ErrorCode) {
        let error = ConnectionError::Timeout { what, code };
        self.terminate(code, what.as_bytes(), error);
    }

    /// Queues the final GOAWAY, drops every stream and emits `Closed`.
    pub(crate) fn terminate(&mut self, code: ErrorCode, debug: &[u8], error: ConnectionError) {
        self.terminate_with(code, debug, Some(error));
    }

    /// [`terminate`](Self::terminate), with no error for a clean close.
    pub(crate) fn terminate_with(
        &mut self,
        code: ErrorCode,
        debug: &[u8],
        error: Option<ConnectionError>,
    ) {
        if self.closed_emitted {
            return;
        }
        // Whatever was scheduled is dropped: only the GOAWAY goes out after
        // the control frames already queued.
        GoAway {
            last_stream_id: StreamId(self.last_peer_id),
            code,
            debug_data: Bytes::copy_from_slice(debug),
        }
        .encode(&mut self.out);
        self.goaway_sent = Some(StreamId(self.last_peer_id));
        // Input still buffered is never read now: let it go.
        self.decoder = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        self.streams.clear();
        self.ready.clear();
        self.queued_data = 0;
        self.pending_block = None;
        self.error = error.clone().map(Box::new);
        self.emit_closed(error);
    }

    pub(crate) fn emit_closed(&mut self, error: Option<ConnectionError>) {
        if !self.closed_emitted {
            self.closed_emitted = true;
            self.handshake_deadline = None;
            self.settings_ack_deadline = None;
            self.events.push_back(Event::Closed { error });
        }
    }

    /// After a GOAWAY either way, the connection ends once no stream is left.
    pub(crate) fn check_drained(&mut self) {
        if self.closed_emitted || !self.streams.is_empty() {
            return;
        }
        let final_goaway_sent = matches!(self.shutdown, Some(Shutdown::Draining))
            || (self.goaway_sent.is_some() && self.shutdown.is_none());
        if final_goaway_sent || self.goaway_received.is_some() {
            self.emit_closed(None);
        }
    }

    /// Too much output queued that the peer provoked and does not read.
    fn check_output_bound(&mut self) -> Res {
        if self.out.len() > self.config.max_pending_control_bytes {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "peer provokes more output than it reads (max_pending_control_bytes)",
            ));
        }
        Ok(())
    }

    /// The second GOAWAY of a graceful shutdown (§6.8): names the last
    /// stream we accept.
    pub(crate) fn send_final_goaway(&mut self) {
        let last = StreamId(self.last_peer_id);
        GoAway {
            last_stream_id: last,
            code: ErrorCode::NO_ERROR,
            debug_data: Bytes::new(),
        }
        .encode(&mut self.out);
        self.goaway_sent = Some(last);
        self.shutdown = Some(Shutdown::Draining);
        self.check_drained();
    }

    /// Applies our SETTINGS once acknowledged (§6.5.3).
    pub(crate) fn apply_local_settings(&mut self) {
        let c = &self.config;
        self.decoder.set_max_frame_size(c.max_frame_size);
        self.hpack_dec.set_max_table_size(c.header_table_size);
        let delta = i64::from(c.initial_window_size) - i64::from(self.local_initial_window);
        self.local_initial_window = c.initial_window_size;
        if delta != 0 {
            let target = c.stream_window.max(c.initial_window_size);
            let policy = c.window_update_policy;
            for s in self.streams.values_mut() {
                s.recv_window.adjust(delta, target);
                if s.state.can_recv()
                    && let Some(inc) = s.recv_window.take_update(policy)
                {
                    WindowUpdate {
                        stream_id: s.id,
                        increment: inc,
                    }
                    .encode(&mut self.out);
                }
            }
        }
    }
}
