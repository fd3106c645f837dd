//! Handling of received frames (RFC 9113 §5.1, §6), one function per frame
//! type. Each rejection names the rule it enforces.

use bytes::{Bytes, BytesMut};

use super::connection::{ConnErr, Connection, PendingBlock, Res, Role, SHUTDOWN_PING, Shutdown};
use super::event::{Event, HeadersKind, ResetBy};
use super::fields::BlockKind;
use super::stream::{Input, RecvPhase, State, Stream};
use crate::error::ErrorCode;
use crate::frame::{
    Continuation, Data, Frame, GoAway, Headers, Origin, Ping, PrioritySpec, PushPromise, RstStream,
    Settings, StreamId, WindowUpdate,
};
use crate::hpack::{DecodeError, Field};

const PROTOCOL: ErrorCode = ErrorCode::PROTOCOL_ERROR;

impl Connection {
    pub(crate) fn on_frame(&mut self, frame: Frame) -> Res {
        // §3.4: the first frame from the peer is its SETTINGS.
        if !self.got_peer_settings && !matches!(frame, Frame::Settings(Settings { ack: false, .. }))
        {
            return Err(ConnErr::new(
                PROTOCOL,
                "the connection preface must start with a SETTINGS frame (RFC 9113 §3.4)",
            ));
        }
        // §4.3, §6.10: a header block is one uninterrupted run of frames.
        if let Some(pending) = &self.pending_block {
            match &frame {
                Frame::Continuation(c) if c.stream_id == pending.stream_id => {}
                _ => {
                    return Err(ConnErr::new(
                        PROTOCOL,
                        "header block interrupted by another frame (RFC 9113 §6.10)",
                    ));
                }
            }
        }
        match frame {
            Frame::Data(f) => self.on_data(f),
            Frame::Headers(f) => self.on_headers(f),
            Frame::Priority(f) => {
                // Deprecated (§5.3.2); allowed in any state, even idle. Ignored.
                let _ = f;
                Ok(())
            }
            Frame::RstStream(f) => self.on_rst_stream(f),
            Frame::Settings(f) => self.on_settings(f),
            Frame::PushPromise(f) => self.on_push_promise(f),
            Frame::Ping(f) => self.on_ping(f),
            Frame::GoAway(f) => self.on_goaway(f),
            Frame::WindowUpdate(f) => self.on_window_update(f),
            Frame::Continuation(f) => self.on_continuation(f),
            Frame::Unknown(_) => self.spend_empty("unknown-type frames"),
        }
    }

    fn spend_empty(&mut self, _what: &'static str) -> Res {
        if self
            .empty_budget
            .spend(self.config.empty_frame_rate, self.now)
        {
            Ok(())
        } else {
            Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "flood of frames that carry nothing (empty_frame_rate)",
            ))
        }
    }

    // ---------------------------------------------------------------- DATA

    fn on_data(&mut self, f: Data) -> Res {
        let id = f.stream_id;
        // §6.9: every flow-controlled frame counts against the connection
        // window, whatever the stream's state.
        if self.recv_conn.receive(f.flow_len).is_err() {
            return Err(ConnErr::new(
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA exceeds the connection flow-control window (RFC 9113 §6.9.1)",
            ));
        }
        let Some(stream) = self.streams.get_mut(&id.0) else {
            // Not live: the credit goes straight back.
            self.recv_conn.release(u64::from(f.flow_len));
            self.queue_conn_window_update();
            if self.is_idle(id) {
                return Err(ConnErr::new(
                    PROTOCOL,
                    "DATA on an idle stream (RFC 9113 §5.1)",
                ));
            }
            if self.ignores_frames_on(id) {
                return Ok(());
            }
            return self.stream_error(
                id,
                ErrorCode::STREAM_CLOSED,
                "DATA on a closed stream (RFC 9113 §6.1)",
            );
        };
        if !stream.state.can_recv() {
            self.recv_conn.release(u64::from(f.flow_len));
            self.queue_conn_window_update();
            return self.stream_error(
                id,
                ErrorCode::STREAM_CLOSED,
                "DATA on a half-closed (remote) stream (RFC 9113 §5.1, §6.1)",
            );
        }
        if stream.recv_window.receive(f.flow_len).is_err() {
            self.recv_conn.release(u64::from(f.flow_len));
            self.queue_conn_window_update();
            return self.stream_error(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                "DATA exceeds the stream flow-control window (RFC 9113 §6.9.1)",
            );
        }
        // Padding is never handed to the application: credit it back now.
        let padding = f.flow_len as usize - f.payload.len();
        if stream.recv_phase != RecvPhase::Body {
            return self.stream_error(
                id,
                PROTOCOL,
                "DATA before the message's headers (RFC 9113 §8.1)",
            );
        }
        stream.data_received += f.payload.len() as u64;
        if let Some(expected) = stream.content_length {
            let short_at_end =
                f.end_stream && stream.data_received < expected && self.role == Role::Server;
            if stream.data_received > expected || short_at_end {
                return self.stream_error(
                    id,
                    PROTOCOL,
                    "DATA length does not match content-length (RFC 9113 §8.1.1)",
                );
            }
        }
        let next = stream
            .state
            .next(Input::Recv { end: f.end_stream })
            .unwrap_or(State::Closed);
        stream.state = next;
        if padding > 0 {
            self.release(id, padding);
        }
        if f.payload.is_empty() && !f.end_stream {
            // Nothing to report; a flood of these is abuse (CVE-2019-9518).
            self.spend_empty("empty DATA frames")?;
        } else {
            self.event_data_bytes += f.payload.len();
            let origin = self.origin_of(&f.payload);
            self.events.push_back(Event::Data {
                stream_id: id,
                data: f.payload,
                end_stream: f.end_stream,
                origin,
            });
        }
        if next == State::Closed {
            self.finish_if_sent(id);
        }
        Ok(())
    }

    /// What `payload` keeps alive: the chunk being decoded, if it is a
    /// slice of it; otherwise it is a copy the decoder gathered (the decoder
    /// keeps no slice of an earlier chunk), which pins only itself. An
    /// empty payload (END_STREAM alone) keeps nothing.
    #[inline]
    fn origin_of(&self, payload: &bytes::Bytes) -> Origin {
        let (start, chunk) = self.recv_chunk;
        let at = payload.as_ptr() as usize;
        if payload.is_empty() {
            Origin::default()
        } else if at >= start && at - start < chunk.pinned_len() {
            chunk
        } else {
            Origin::own(payload.len())
        }
    }

    /// A stream whose remote side just ended: drop it if our side is done too.
    fn finish_if_sent(&mut self, id: StreamId) {
        if self
            .streams
            .get(&id.0)
            .is_some_and(|s| s.state == State::Closed)
        {
            self.remove_stream(id, false);
        }
    }

    // ---------------------------------------------------- HEADERS blocks

    fn on_headers(&mut self, f: Headers) -> Res {
        if f.end_headers {
            self.on_header_block(f.stream_id, f.fragment, f.end_stream, f.priority)
        } else {
            self.start_block(f.stream_id, &f.fragment, f.end_stream, f.priority)
        }
    }

    fn start_block(
        &mut self,
        stream_id: StreamId,
        fragment: &[u8],
        end_stream: bool,
        priority: Option<PrioritySpec>,
    ) -> Res {
        self.check_block_size(fragment.len())?;
        let mut buf = BytesMut::with_capacity(fragment.len() * 2);
        buf.extend_from_slice(fragment);
        self.pending_block = Some(Box::new(PendingBlock {
            stream_id,
            end_stream,
            priority,
            buf,
            frames: 1,
        }));
        Ok(())
    }

    fn check_block_size(&self, len: usize) -> Res {
        if len > self.config.max_header_block_size as usize {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "header block larger than max_header_block_size (RFC 9113 §10.5.1)",
            ));
        }
        Ok(())
    }

    fn on_continuation(&mut self, f: Continuation) -> Res {
        let Some(pending) = self.pending_block.as_mut() else {
            return Err(ConnErr::new(
                PROTOCOL,
                "CONTINUATION without a preceding HEADERS (RFC 9113 §6.10)",
            ));
        };
        pending.frames += 1;
        let frames = pending.frames;
        let total = pending.buf.len() + f.fragment.len();
        if frames > self.config.max_continuation_frames {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many CONTINUATION frames in one header block (max_continuation_frames)",
            ));
        }
        self.check_block_size(total)?;
        if f.fragment.is_empty() && !f.end_headers {
            self.spend_empty("empty CONTINUATION frames")?;
        }
        let Some(pending) = self.pending_block.as_mut() else {
            return Ok(());
        };
        pending.buf.extend_from_slice(&f.fragment);
        if !f.end_headers {
            return Ok(());
        }
        let Some(p) = self.pending_block.take() else {
            return Ok(());
        };
        self.on_header_block(p.stream_id, p.buf.freeze(), p.end_stream, p.priority)
    }

    /// A complete header block. It is always decoded first, whatever happens
    /// to the stream, so the HPACK context stays in sync (§4.3).
    fn on_header_block(
        &mut self,
        id: StreamId,
        block: Bytes,
        end_stream: bool,
        priority: Option<PrioritySpec>,
    ) -> Res {
        let (fields, decoded) = self.hpack_dec.decode_pooled(&block, &mut self.spare_fields);
        let replayed = self.hpack_dec.replayed();
        let decoded = match decoded {
            Ok(()) => Ok(fields),
            Err(DecodeError::Compression { reason }) => {
                return Err(ConnErr::new(ErrorCode::COMPRESSION_ERROR, reason));
            }
            Err(DecodeError::ListTooLarge { .. }) => Err(()),
        };
        if self.streams.contains_key(&id.0) {
            return self.on_stream_headers(id, decoded, end_stream, replayed);
        }
        // No live stream: a new one, or a frame on a closed or idle one.
        let opens_new = !self.is_local_id(id) && id.0 > self.last_peer_id;
        if !opens_new {
            if self.is_idle(id) {
                return Err(ConnErr::new(
                    PROTOCOL,
                    "HEADERS on an idle stream the peer may not open (RFC 9113 §5.1.1)",
                ));
            }
            if self.ignores_frames_on(id) {
                return Ok(());
            }
            if self.closed.contains(id.0) {
                return Err(ConnErr::new(
                    ErrorCode::STREAM_CLOSED,
                    "HEADERS on a closed stream (RFC 9113 §5.1)",
                ));
            }
            return Err(ConnErr::new(
                PROTOCOL,
                "stream identifier not greater than the previous one (RFC 9113 §5.1.1)",
            ));
        }
        if self.role == Role::Client {
            return Err(ConnErr::new(
                PROTOCOL,
                "server-initiated stream, but push is disabled (RFC 9113 §5.1.1, §8.4)",
            ));
        }
        self.last_peer_id = id.0;
        if priority.is_some_and(|p| p.dependency == id) {
            return self.stream_error(id, PROTOCOL, "stream depends on itself (RFC 9113 §5.3.1)");
        }
        if self.goaway_sent.is_some_and(|last| id > last) {
            // After our final GOAWAY, new streams are not processed (§6.8).
            return self.stream_error(
                id,
                ErrorCode::REFUSED_STREAM,
                "stream opened after GOAWAY (RFC 9113 §6.8)",
            );
        }
        let Ok(fields) = decoded else {
            return self.refuse_large_request(id, end_stream);
        };
        let info = match self.check_memo.check(&fields, BlockKind::Request, replayed) {
            Ok(info) => info,
            Err(e) => return self.stream_error(id, e.code, e.reason),
        };
        if self.peer_open >= self.config.max_concurrent_streams {
            return self.stream_error(
                id,
                ErrorCode::REFUSED_STREAM,
                "SETTINGS_MAX_CONCURRENT_STREAMS exceeded (RFC 9113 §5.1.2)",
            );
        }
        if end_stream && info.content_length.is_some_and(|n| n > 0) {
            return self.stream_error(
                id,
                PROTOCOL,
                "request ends before its content-length (RFC 9113 §8.1.1)",
            );
        }
        let mut stream = Stream::new(
            id,
            State::opened(false, end_stream),
            self.peer.initial_window_size,
            self.local_initial_window,
            self.config.stream_window,
        );
        stream.recv_phase = RecvPhase::Body;
        stream.content_length = info.content_length;
        self.streams.insert(id.0, stream);
        self.peer_open += 1;
        self.events.push_back(Event::Headers {
            stream_id: id,
            kind: HeadersKind::Request,
            fields,
            end_stream,
        });
        Ok(())
    }

    /// A request whose header list is over our limit: answer 431 and close
    /// the stream (RFC 9113 §10.5.1, RFC 6585 §5). The application never sees it.
    /// Each answer is charged to `error_answer_rate`: the block was decoded
    /// in full (§4.3) for nothing, so a peer repeating it is cut off.
    fn refuse_large_request(&mut self, id: StreamId, request_ended: bool) -> Res {
        self.spend_error_answer()?;
        let fields = [Field::new(&b":status"[..], &b"431"[..])];
        self.write_header_block(id, &fields, None, true);
        if !request_ended {
            // §8.1: ask the client to stop sending the request body.
            RstStream {
                stream_id: id,
                code: ErrorCode::NO_ERROR,
            }
            .encode(&mut self.out);
        }
        self.remember_closed(id, true);
        Ok(())
    }

    /// HEADERS on a live stream: a response (client), or trailers.
    fn on_stream_headers(
        &mut self,
        id: StreamId,
        decoded: Result<Vec<Field>, ()>,
        end_stream: bool,
        replayed: Option<u64>,
    ) -> Res {
        let role = self.role;
        let check_memo = &mut self.check_memo;
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return Ok(());
        };
        if let Err(v) = stream.state.next(Input::Recv { end: end_stream }) {
            return self.stream_error(id, v.code, v.reason);
        }
        let Ok(fields) = decoded else {
            return self.stream_error(
                id,
                PROTOCOL,
                "header list larger than SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2)",
            );
        };
        let kind = match (role, stream.recv_phase) {
            (Role::Client, RecvPhase::Initial) => {
                let info = match check_memo.check(&fields, BlockKind::Response, replayed) {
                    Ok(info) => info,
                    Err(e) => return self.stream_error(id, e.code, e.reason),
                };
                let status = info.status.unwrap_or(0);
                if (100..200).contains(&status) {
                    if end_stream {
                        return self.stream_error(
                            id,
                            PROTOCOL,
                            "1xx response with END_STREAM (RFC 9113 §8.1)",
                        );
                    }
                    HeadersKind::Informational { status }
                } else {
                    stream.recv_phase = RecvPhase::Body;
                    stream.content_length = info.content_length;
                    HeadersKind::Response { status }
                }
            }
            (_, RecvPhase::Body) => {
                if !end_stream {
                    return self.stream_error(
                        id,
                        PROTOCOL,
                        "trailers without END_STREAM (RFC 9113 §8.1)",
                    );
                }
                if let Err(e) = check_memo.check(&fields, BlockKind::Trailers, replayed) {
                    return self.stream_error(id, e.code, e.reason);
                }
                if role == Role::Server
                    && stream
                        .content_length
                        .is_some_and(|n| n != stream.data_received)
                {
                    return self.stream_error(
                        id,
                        PROTOCOL,
                        "DATA length does not match content-length (RFC 9113 §8.1.1)",
                    );
                }
                HeadersKind::Trailers
            }
            (Role::Server, RecvPhase::Initial) => {
                // A server's stream record starts in the Body phase.
                return self.stream_error(id, PROTOCOL, "unexpected HEADERS (RFC 9113 §8.1)");
            }
        };
        let next = stream
            .state
            .next(Input::Recv { end: end_stream })
            .unwrap_or(State::Closed);
        stream.state = next;
        self.events.push_back(Event::Headers {
            stream_id: id,
            kind,
            fields,
            end_stream,
        });
        self.finish_if_sent(id);
        Ok(())
    }

    fn on_push_promise(&mut self, f: PushPromise) -> Res {
        // We advertise SETTINGS_ENABLE_PUSH = 0, and clients never push: a
        // connection error, so its header block need not be decoded.
        let _ = f;
        Err(ConnErr::new(
            PROTOCOL,
            "PUSH_PROMISE received, but push is disabled (RFC 9113 §6.6, §8.4)",
        ))
    }

    // ------------------------------------------------------ RST_STREAM

    fn on_rst_stream(&mut self, f: RstStream) -> Res {
        let id = f.stream_id;
        if self.is_idle(id) {
            return Err(ConnErr::new(
                PROTOCOL,
                "RST_STREAM on an idle stream (RFC 9113 §6.4)",
            ));
        }
        if !self.streams.contains_key(&id.0) {
            // Closed: ignored (§5.1).
            return Ok(());
        }
        if !self
            .remote_reset_budget
            .spend(self.config.remote_reset_rate, self.now)
        {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "too many streams reset by the peer (remote_reset_rate, CVE-2023-44487)",
            ));
        }
        self.events.push_back(Event::Reset {
            stream_id: id,
            code: f.code,
            by: ResetBy::Remote,
        });
        self.remove_stream(id, false);
        Ok(())
    }

    // ---------------------------------------------------------- SETTINGS

    fn on_settings(&mut self, f: Settings) -> Res {
        if f.ack {
            if self.settings_ack_deadline.take().is_some() {
                self.apply_local_settings();
            }
            return Ok(());
        }
        if !self
            .settings_budget
            .spend(self.config.settings_rate, self.now)
        {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "SETTINGS flood (settings_rate)",
            ));
        }
        if self.role == Role::Client && f.enable_push == Some(true) {
            return Err(ConnErr::new(
                PROTOCOL,
                "server sent SETTINGS_ENABLE_PUSH = 1 (RFC 9113 §6.5.2)",
            ));
        }
        if let Some(size) = f.initial_window_size {
            let delta = i64::from(size) - i64::from(self.peer.initial_window_size);
            for s in self.streams.values_mut() {
                if s.send_window.adjust(delta).is_err() {
                    return Err(ConnErr::new(
                        ErrorCode::FLOW_CONTROL_ERROR,
                        "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream window (RFC 9113 §6.9.2)",
                    ));
                }
            }
            self.peer.initial_window_size = size;
            if delta > 0 {
                self.schedule_all();
            }
        }
        if let Some(n) = f.max_concurrent_streams {
            self.peer.max_concurrent_streams = n;
        }
        if let Some(n) = f.max_frame_size {
            self.peer.max_frame_size = n;
        }
        if let Some(n) = f.max_header_list_size {
            self.peer.max_header_list_size = n;
        }
        if let Some(n) = f.header_table_size {
            self.hpack_enc.set_max_table_size(n);
        }
        Settings {
            ack: true,
            ..Settings::default()
        }
        .encode(&mut self.out);
        self.pending_settings_acks += 1;
        if self.pending_settings_acks > self.config.max_pending_settings_acks {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "SETTINGS ACKs pile up unread (max_pending_settings_acks)",
            ));
        }
        if !self.got_peer_settings {
            self.got_peer_settings = true;
            self.handshake_deadline = None;
        }
        self.events.push_back(Event::PeerSettings(f));
        Ok(())
    }

    // ------------------------------------------------------------- PING

    fn on_ping(&mut self, f: Ping) -> Res {
        if f.ack {
            if f.payload == SHUTDOWN_PING
                && matches!(self.shutdown, Some(Shutdown::AwaitingPing { .. }))
            {
                self.send_final_goaway();
            } else if self.pings_in_flight > 0 {
                self.pings_in_flight -= 1;
                self.events.push_back(Event::PingAck { payload: f.payload });
            }
            return Ok(());
        }
        // Only PINGs with no HEADERS or DATA of ours since the previous one
        // count: a peer probing bandwidth pings once per batch of data it
        // receives, a flood pings for nothing.
        if core::mem::take(&mut self.sent_since_ping) {
            // Free: it follows data we sent.
        } else if !self.ping_budget.spend(self.config.ping_rate, self.now) {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "PING flood (ping_rate, CVE-2019-9512)",
            ));
        }
        Ping {
            ack: true,
            payload: f.payload,
        }
        .encode(&mut self.out);
        self.pending_ping_acks += 1;
        if self.pending_ping_acks > self.config.max_pending_ping_acks {
            return Err(ConnErr::new(
                ErrorCode::ENHANCE_YOUR_CALM,
                "PING ACKs pile up unread (max_pending_ping_acks, CVE-2019-9512)",
            ));
        }
        Ok(())
    }

    // ----------------------------------------------------------- GOAWAY

    fn on_goaway(&mut self, f: GoAway) -> Res {
        if let Some(prev) = self.goaway_received
            && f.last_stream_id > prev
        {
            return Err(ConnErr::new(
                PROTOCOL,
                "GOAWAY raised its last stream identifier (RFC 9113 §6.8)",
            ));
        }
        // The GoAway event comes first; then each refused stream's Reset;
        // `Closed` (if nothing is left) always last.
        self.events.push_back(Event::GoAway {
            last_stream_id: f.last_stream_id,
            code: f.code,
            debug_data: f.debug_data.clone(),
        });
        // Our streams above last_stream_id were never processed: refused,
        // safe to retry (§6.8, §8.7).
        let refused: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| id > f.last_stream_id.0 && self.is_local_id(StreamId(id)))
            .collect();
        for &id in &refused {
            self.events.push_back(Event::Reset {
                stream_id: StreamId(id),
                code: ErrorCode::REFUSED_STREAM,
                by: ResetBy::Remote,
            });
        }
        if f.code != ErrorCode::NO_ERROR {
            // The peer ends the connection with an error (§5.4.1).
            let error = crate::error::ConnectionError::Remote {
                code: f.code,
                debug_data: f.debug_data,
            };
            self.goaway_received = Some(f.last_stream_id);
            self.streams.clear();
            self.ready.clear();
            self.queued_data = 0;
            self.error = Some(Box::new(error.clone()));
            self.emit_closed(Some(error));
            return Ok(());
        }
        self.goaway_received = Some(f.last_stream_id);
        for id in refused {
            self.remove_stream(StreamId(id), false);
        }
        self.check_drained();
        Ok(())
    }

    // ---------------------------------------------------- WINDOW_UPDATE

    fn on_window_update(&mut self, f: WindowUpdate) -> Res {
        let id = f.stream_id;
        if id.is_zero() {
            if self.send_conn.increase(f.increment).is_err() {
                return Err(ConnErr::new(
                    ErrorCode::FLOW_CONTROL_ERROR,
                    "connection window above 2^31-1 (RFC 9113 §6.9.1)",
                ));
            }
            return Ok(());
        }
        if self.is_idle(id) {
            return Err(ConnErr::new(
                PROTOCOL,
                "WINDOW_UPDATE on an idle stream (RFC 9113 §5.1)",
            ));
        }
        let Some(stream) = self.streams.get_mut(&id.0) else {
            return Ok(()); // closed: ignored (§5.1)
        };
        if stream.send_window.increase(f.increment).is_err() {
            return self.stream_error(
                id,
                ErrorCode::FLOW_CONTROL_ERROR,
                "stream window above 2^31-1 (RFC 9113 §6.9.1)",
            );
        }
        self.schedule(id);
        Ok(())
    }
}
