//! Commands and the send scheduler: what the application asks for, and how
//! it reaches the wire within flow control (RFC 9113 §5.2, §6.9).

use std::time::Instant;

use bytes::{BufMut, Bytes};

use super::connection::{Connection, Role, SHUTDOWN_PING, Shutdown};
use super::event::{Event, SendError, Transmit};
use super::stream::{Input, State, Stream, Trailers};
use crate::error::{ConnectionError, ErrorCode};
use crate::frame::{
    Data, FRAME_HEADER_LEN, FrameHeader, GoAway, Ping, RstStream, StreamId, flags, kind,
};
use crate::hpack::{BlockName, Field};

/// Largest number of bytes one `poll_transmit` hands out.
const TRANSMIT_BUDGET: usize = 256 << 10;
/// Most chunks in one `Transmit` (well under any IOV_MAX).
const TRANSMIT_CHUNKS: usize = 64;
/// Payloads up to this size are copied next to their frame header instead of
/// becoming a chunk of their own: fewer, larger chunks for small messages.
const COPY_BELOW: usize = 512;

impl Connection {
    fn check_open(&self) -> Result<(), SendError> {
        if self.closed_emitted {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    fn check_header_list(&self, fields: &[Field]) -> Result<(), SendError> {
        let size: usize = fields.iter().map(Field::hpack_size).sum();
        if size > self.peer.max_header_list_size as usize {
            return Err(SendError::InvalidHeaders);
        }
        Ok(())
    }

    /// Client: opens a stream with its request headers (§5.1 idle → open).
    /// `end_stream` makes it half-closed (local) at once.
    pub fn open_stream(
        &mut self,
        fields: &[Field],
        end_stream: bool,
    ) -> Result<StreamId, SendError> {
        self.open_named_stream(None, fields, end_stream)
    }

    /// Like [`open_stream`](Self::open_stream), with the header block
    /// named for the encoder's memo (see [`BlockName`]).
    pub(crate) fn open_named_stream(
        &mut self,
        name: Option<BlockName>,
        fields: &[Field],
        end_stream: bool,
    ) -> Result<StreamId, SendError> {
        self.check_open()?;
        if self.role != Role::Client {
            return Err(SendError::WrongRole);
        }
        if self.goaway_sent.is_some() || self.goaway_received.is_some() {
            return Err(SendError::GoingAway);
        }
        if self.local_open >= self.peer.max_concurrent_streams {
            return Err(SendError::StreamLimit);
        }
        if self.next_local_id > StreamId::MAX.0 {
            return Err(SendError::StreamIdsExhausted);
        }
        self.check_header_list(fields)?;
        let id = StreamId(self.next_local_id);
        self.next_local_id += 2;
        let mut stream = Stream::new(
            id,
            State::opened(true, end_stream),
            self.peer.initial_window_size,
            self.local_initial_window,
            self.config.stream_window,
        );
        stream.headers_sent = true;
        self.streams.insert(id.0, stream);
        self.local_open += 1;
        self.write_header_block(id, fields, name, end_stream);
        Ok(id)
    }

    /// Sends a header block on a live stream: the response headers (server),
    /// or trailers, which end the stream (`end_stream` must then be true).
    /// Trailers wait behind the data already queued.
    pub fn send_headers(
        &mut self,
        id: StreamId,
        fields: &[Field],
        end_stream: bool,
    ) -> Result<(), SendError> {
        self.send_block(id, fields, None, end_stream)
    }

    /// Like [`send_headers`](Self::send_headers) for a block kept in a
    /// `static`: named by it for the encoder's memo (see [`BlockName`]),
    /// and queued as trailers without a copy.
    pub(crate) fn send_static_headers(
        &mut self,
        id: StreamId,
        fields: &'static [Field],
        end_stream: bool,
    ) -> Result<(), SendError> {
        self.send_block(id, fields, Some(fields), end_stream)
    }

    /// `send_headers`, with `fixed` the same fields when they are static.
    fn send_block(
        &mut self,
        id: StreamId,
        fields: &[Field],
        fixed: Option<&'static [Field]>,
        end_stream: bool,
    ) -> Result<(), SendError> {
        let name = fixed.map(BlockName::of_static);
        self.check_open()?;
        self.check_header_list(fields)?;
        let stream = self
            .streams
            .get_mut(&id.0)
            .ok_or(SendError::UnknownStream)?;
        if !stream.state.can_send() || stream.end_queued {
            return Err(SendError::InvalidState);
        }
        if !stream.headers_sent {
            stream.headers_sent = true;
            self.write_header_block(id, fields, name, end_stream);
            if end_stream {
                self.after_local_end(id);
            } else {
                self.schedule(id);
            }
            return Ok(());
        }
        if !end_stream {
            return Err(SendError::InvalidState);
        }
        stream.end_queued = true;
        if stream.queued_bytes == 0 {
            self.write_header_block(id, fields, name, true);
            self.after_local_end(id);
        } else if let Some(fixed) = fixed {
            stream.trailers = Some(Trailers::Static(fixed));
        } else {
            // Kept in a recycled field vector, not in the stream record:
            // records move on every map insert and remove.
            let mut queued = self.spare_fields.take(None);
            queued.extend_from_slice(fields);
            stream.trailers = Some(Trailers::Owned(queued));
        }
        Ok(())
    }

    /// Queues data on a stream; it goes out as flow control allows.
    /// `end_stream` ends our side once the data is sent. Answers
    /// [`SendError::Blocked`] while the stream's buffer is full; an
    /// [`Event::Writable`] follows when it drains.
    pub fn send_data(
        &mut self,
        id: StreamId,
        data: Bytes,
        end_stream: bool,
    ) -> Result<(), SendError> {
        self.send_data_parts(id, [data], end_stream)
    }

    /// Like [`send_data`](Self::send_data) with several pieces queued at
    /// once, all or none (e.g. a message prefix and its payload).
    pub fn send_data_parts(
        &mut self,
        id: StreamId,
        parts: impl IntoIterator<Item = Bytes>,
        end_stream: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let limit = self.config.max_send_buffer;
        let stream = self
            .streams
            .get_mut(&id.0)
            .ok_or(SendError::UnknownStream)?;
        if !stream.state.can_send() || stream.end_queued || !stream.headers_sent {
            return Err(SendError::InvalidState);
        }
        if stream.queued_bytes >= limit {
            stream.blocked = true;
            return Err(SendError::Blocked);
        }
        for data in parts {
            let n = data.len();
            if n > 0 {
                stream.send_queue.push_back(data);
                stream.queued_bytes += n;
                self.queued_data += n;
            }
        }
        stream.end_queued = end_stream;
        self.schedule(id);
        Ok(())
    }

    /// Bytes that could be sent on the stream right now (the smaller of the
    /// stream and connection windows), `None` for an unknown stream.
    pub fn send_window(&self, id: StreamId) -> Option<u32> {
        let s = self.streams.get(&id.0)?;
        Some(s.send_window.available().min(self.send_conn.available()))
    }

    /// Resets a stream (§6.4): RST_STREAM with `code`, queued data dropped.
    /// Frames the peer already sent on it are ignored.
    pub fn reset_stream(&mut self, id: StreamId, code: ErrorCode) -> Result<(), SendError> {
        self.check_open()?;
        if !self.streams.contains_key(&id.0) {
            return Err(SendError::UnknownStream);
        }
        RstStream {
            stream_id: id,
            code,
        }
        .encode(&mut self.out);
        self.remove_stream(id, true);
        Ok(())
    }

    /// With [`ReleaseMode::Manual`](super::ReleaseMode::Manual): the
    /// application is done with `n` received bytes of this stream; the
    /// credit goes back to the peer. Releases for ended streams are ignored
    /// (their credit went back when they ended).
    pub fn release_capacity(&mut self, id: StreamId, n: usize) {
        self.release(id, n);
    }

    /// Sends a PING (§6.7); its ACK arrives as [`Event::PingAck`].
    pub fn send_ping(&mut self, payload: [u8; 8]) -> Result<(), SendError> {
        self.check_open()?;
        if self.pings_in_flight >= 16 {
            return Err(SendError::TooManyPings);
        }
        self.pings_in_flight += 1;
        Ping {
            ack: false,
            payload,
        }
        .encode(&mut self.out);
        Ok(())
    }

    /// Graceful shutdown (§6.8). A server first sends GOAWAY(2^31-1) and a
    /// PING, and after the PING's ACK (or `shutdown_ping_timeout`) the final
    /// GOAWAY naming the last stream it accepts; a client sends one GOAWAY.
    /// Open streams finish; then [`Event::Closed`] with no error.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now;
        if self.closed_emitted || self.shutdown.is_some() {
            return;
        }
        match self.role {
            Role::Server => {
                GoAway {
                    last_stream_id: StreamId::MAX,
                    code: ErrorCode::NO_ERROR,
                    debug_data: Bytes::new(),
                }
                .encode(&mut self.out);
                self.goaway_sent = Some(StreamId::MAX);
                Ping {
                    ack: false,
                    payload: SHUTDOWN_PING,
                }
                .encode(&mut self.out);
                // A timeout too large for the clock means: wait for the ACK.
                let deadline = now.checked_add(self.config.shutdown_ping_timeout);
                self.shutdown = Some(Shutdown::AwaitingPing { deadline });
            }
            Role::Client => self.send_final_goaway(),
        }
    }

    /// Closes at once (§5.4.1, §6.8): GOAWAY with `code`, every stream
    /// dropped. [`Event::Closed`] carries [`ConnectionError::Local`], or no
    /// error for `NO_ERROR` (a clean close, as a server's forced shutdown).
    pub fn close(&mut self, code: ErrorCode, now: Instant) {
        self.now = now;
        let error = (code != ErrorCode::NO_ERROR).then_some(ConnectionError::Local { code });
        self.terminate_with(code, b"", error);
    }

    // ------------------------------------------------------------------
    // Header blocks and the scheduler
    // ------------------------------------------------------------------

    /// Encodes a header block and queues it as HEADERS + CONTINUATIONs of at
    /// most the peer's SETTINGS_MAX_FRAME_SIZE (§4.2, §6.10).
    pub(crate) fn write_header_block(
        &mut self,
        id: StreamId,
        fields: &[Field],
        name: Option<BlockName>,
        end_stream: bool,
    ) {
        self.sent_since_ping = true;
        let max = self.peer.max_frame_size as usize;
        if let Some(wire) = self.hpack_enc.remembered(name, fields)
            && wire.len() <= max
        {
            // A remembered block that fits one frame: written straight out.
            let mut fl = flags::END_HEADERS;
            if end_stream {
                fl |= flags::END_STREAM;
            }
            FrameHeader {
                length: wire.len() as u32,
                kind: kind::HEADERS,
                flags: fl,
                stream_id: id,
            }
            .encode(&mut self.out);
            self.out.put_slice(wire);
            return;
        }
        self.block_buf.clear();
        self.hpack_enc
            .encode_new_block(name, fields, &mut self.block_buf);
        let block = &self.block_buf[..];
        let mut first = true;
        let mut rest = block;
        loop {
            let n = rest.len().min(max);
            let (chunk, tail) = rest.split_at(n);
            let end_headers = tail.is_empty();
            let mut fl = if end_headers { flags::END_HEADERS } else { 0 };
            let kind = if first {
                if end_stream {
                    fl |= flags::END_STREAM;
                }
                kind::HEADERS
            } else {
                kind::CONTINUATION
            };
            FrameHeader {
                length: n as u32,
                kind,
                flags: fl,
                stream_id: id,
            }
            .encode(&mut self.out);
            self.out.put_slice(chunk);
            first = false;
            rest = tail;
            if end_headers {
                break;
            }
        }
    }

    /// Our side of the stream just ended (END_STREAM written).
    fn after_local_end(&mut self, id: StreamId) {
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return;
        };
        stream.end_queued = true;
        stream.state = stream
            .state
            .next(Input::Send { end: true })
            .unwrap_or(State::Closed);
        if stream.state == State::Closed {
            self.remove_stream(id, false);
        }
    }

    pub(crate) fn schedule(&mut self, id: StreamId) {
        if let Some(s) = self.streams.get_mut(&id.0)
            && !s.scheduled
            && s.has_pending_send()
        {
            s.scheduled = true;
            self.ready.push_back(id.0);
        }
    }

    pub(crate) fn schedule_all(&mut self) {
        let ids: Vec<u32> = self.streams.keys().copied().collect();
        for id in ids {
            self.schedule(StreamId(id));
        }
    }

    /// The next bytes to write, if any: queued control frames, then DATA
    /// from the streams in round-robin order within flow control.
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pending_ping_acks = 0;
        self.pending_settings_acks = 0;
        if (self.closed_emitted || self.ready.is_empty()) && self.out.is_empty() {
            // Nothing scheduled and nothing written.
            return None;
        }
        self.build_transmit()
    }

    /// `poll_transmit` when there may be something to send.
    fn build_transmit(&mut self) -> Option<Transmit> {
        // Built where it is returned, not moved there at the end.
        let mut result = Some(Transmit::default());
        let t = result.as_mut()?;
        let mut budget = TRANSMIT_BUDGET;
        if !self.closed_emitted {
            let mut rounds = self.ready.len();
            while budget > 0 && t.chunks.len() < TRANSMIT_CHUNKS - 2 && rounds > 0 {
                let Some(id) = self.ready.pop_front() else {
                    break;
                };
                rounds -= 1;
                let more = self.send_one_frame(StreamId(id), t, &mut budget);
                if more {
                    self.ready.push_back(id);
                    rounds += 1;
                } else if let Some(s) = self.streams.get_mut(&id) {
                    s.scheduled = false;
                }
                if self.send_conn.available() == 0 {
                    break;
                }
            }
        }
        if !self.out.is_empty() {
            t.chunks.push(self.out.split().freeze());
        }
        if t.chunks.is_empty() {
            return None;
        }
        result
    }

    /// Writes one DATA frame (and trailers after it, if due) for a stream.
    /// Returns whether the stream should stay scheduled.
    fn send_one_frame(&mut self, id: StreamId, t: &mut Transmit, budget: &mut usize) -> bool {
        let max_frame = self.peer.max_frame_size as usize;
        let conn_avail = self.send_conn.available() as usize;
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return false;
        };
        if !stream.has_pending_send() {
            return false;
        }
        if stream.queued_bytes > 0 {
            if stream.send_window.available() == 0 {
                // Blocked by its own window; a WINDOW_UPDATE reschedules it.
                return false;
            }
            if conn_avail == 0 || *budget == 0 {
                // Blocked by the connection window or this transmit's
                // budget: keep its place in the queue.
                return true;
            }
        }
        // The first DATA frame of a transmit may be as long as the peer
        // allows (its payload goes out as the caller's `Bytes`, not a copy):
        // a peer that asks for long frames gets a message in one frame, and
        // can take it without gathering it from pieces.
        let cap = if *budget == TRANSMIT_BUDGET {
            usize::MAX
        } else {
            *budget
        };
        let room = (stream.send_window.available() as usize)
            .min(conn_avail)
            .min(max_frame)
            .min(cap);
        let len = stream.queued_bytes.min(room);
        let end = stream.end_queued && stream.queued_bytes == len && stream.trailers.is_none();
        let head = Data::head(id, len as u32, end);
        self.out.put_slice(&head);
        self.sent_since_ping = true;
        let mut left = len;
        while left > 0 {
            let Some(front) = stream.send_queue.front_mut() else {
                break;
            };
            let piece = if front.len() <= left {
                stream.send_queue.pop_front().unwrap_or_default()
            } else {
                front.split_to(left)
            };
            left -= piece.len();
            if piece.len() < COPY_BELOW {
                self.out.put_slice(&piece);
            } else {
                if !self.out.is_empty() {
                    t.chunks.push(self.out.split().freeze());
                }
                t.chunks.push(piece);
            }
        }
        stream.queued_bytes -= len;
        stream.send_window.consume(len as u32);
        self.send_conn.consume(len as u32);
        self.queued_data -= len;
        *budget = budget.saturating_sub(len + FRAME_HEADER_LEN);
        if stream.blocked && stream.queued_bytes < self.config.max_send_buffer {
            stream.blocked = false;
            self.events.push_back(Event::Writable { stream_id: id });
        }
        if stream.queued_bytes == 0 && stream.end_queued {
            match stream.trailers.take() {
                Some(Trailers::Owned(trailers)) => {
                    self.write_header_block(id, &trailers, None, true);
                    self.recycle_fields(trailers);
                }
                Some(Trailers::Static(trailers)) => {
                    let name = BlockName::of_static(trailers);
                    self.write_header_block(id, trailers, Some(name), true);
                }
                None => {}
            }
            self.after_local_end(id);
            return false;
        }
        stream.has_pending_send() && stream.send_window.available() > 0
    }
}
