//! Stream states (RFC 9113 §5.1, Figure 2) as one table, and the per-stream
//! record the connection keeps.

use bytes::Bytes;

use super::flow::{RecvWindow, SendWindow};
use crate::deque::SmallDeque;
use crate::error::ErrorCode;
use crate::frame::StreamId;
use crate::hpack::Field;

/// A stream's state (RFC 9113 §5.1). The reserved states are absent: this
/// crate disables server push, so no stream is ever reserved; idle streams
/// have no record, and closed ones are dropped (their ids are remembered in
/// a bounded list, see `Closed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    HalfClosedLocal,
    HalfClosedRemote,
    Closed,
}

/// What happens to a stream: one edge of Figure 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// We send a HEADERS, DATA or trailers frame; `end` is END_STREAM.
    Send { end: bool },
    /// We receive a HEADERS, DATA or trailers frame; `end` is END_STREAM.
    Recv { end: bool },
    /// Either side sends RST_STREAM.
    Reset,
}

/// An input that Figure 2 does not allow in a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) code: ErrorCode,
    pub(crate) reason: &'static str,
}

impl State {
    /// The state a new stream enters on its first HEADERS (§5.1, "idle").
    pub(crate) fn opened(local: bool, end: bool) -> State {
        match (local, end) {
            (_, false) => State::Open,
            (true, true) => State::HalfClosedLocal,
            (false, true) => State::HalfClosedRemote,
        }
    }

    /// One edge of RFC 9113 Figure 2.
    pub(crate) fn next(self, input: Input) -> Result<State, Violation> {
        use Input::*;
        use State::*;
        match (self, input) {
            // §5.1 "open": either side may send frames; END_STREAM half-closes.
            (Open, Send { end: false }) | (Open, Recv { end: false }) => Ok(Open),
            (Open, Send { end: true }) => Ok(HalfClosedLocal),
            (Open, Recv { end: true }) => Ok(HalfClosedRemote),
            // §5.1 "half-closed (local)": we send nothing more but
            // WINDOW_UPDATE, PRIORITY and RST_STREAM; the peer's END_STREAM closes.
            (HalfClosedLocal, Recv { end: false }) => Ok(HalfClosedLocal),
            (HalfClosedLocal, Recv { end: true }) => Ok(Closed),
            (HalfClosedLocal, Send { .. }) => Err(Violation {
                code: ErrorCode::INTERNAL_ERROR,
                reason: "send on a half-closed (local) stream (RFC 9113 §5.1)",
            }),
            // §5.1 "half-closed (remote)": the peer may send only
            // WINDOW_UPDATE, PRIORITY and RST_STREAM; anything else is a
            // stream error of type STREAM_CLOSED.
            (HalfClosedRemote, Send { end: false }) => Ok(HalfClosedRemote),
            (HalfClosedRemote, Send { end: true }) => Ok(Closed),
            (HalfClosedRemote, Recv { .. }) => Err(Violation {
                code: ErrorCode::STREAM_CLOSED,
                reason: "frame on a half-closed (remote) stream (RFC 9113 §5.1)",
            }),
            // RST_STREAM from either side closes from any state (§5.1, §6.4).
            (_, Reset) => Ok(Closed),
            // §5.1 "closed": only PRIORITY may arrive; DATA and HEADERS are
            // STREAM_CLOSED.
            (Closed, Recv { .. }) => Err(Violation {
                code: ErrorCode::STREAM_CLOSED,
                reason: "frame on a closed stream (RFC 9113 §5.1)",
            }),
            (Closed, Send { .. }) => Err(Violation {
                code: ErrorCode::INTERNAL_ERROR,
                reason: "send on a closed stream (RFC 9113 §5.1)",
            }),
        }
    }

    pub(crate) fn can_recv(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    pub(crate) fn can_send(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }
}

/// Which header block the peer may send next on a stream (§8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvPhase {
    /// Nothing received yet (request or response headers expected).
    Initial,
    /// Final headers received: DATA, then trailers.
    Body,
}

/// Trailers waiting behind queued data.
#[derive(Debug)]
pub(crate) enum Trailers {
    /// Fields the application passed, kept in a recycled field vector.
    Owned(Vec<Field>),
    /// Fields in a `static`, kept by reference (and named by it, see
    /// `hpack::BlockName`).
    Static(&'static [Field]),
}

/// Everything the connection keeps for a live stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: StreamId,
    pub(crate) state: State,
    // receiving
    pub(crate) recv_phase: RecvPhase,
    pub(crate) recv_window: RecvWindow,
    pub(crate) content_length: Option<u64>,
    pub(crate) data_received: u64,
    // sending
    pub(crate) send_window: SendWindow,
    pub(crate) headers_sent: bool,
    /// Data waiting for flow control; two pieces inline (a message's
    /// prefix and payload).
    pub(crate) send_queue: SmallDeque<Bytes, 2>,
    pub(crate) queued_bytes: usize,
    /// END_STREAM is queued behind the data (as a flag or as trailers).
    pub(crate) end_queued: bool,
    /// Trailers waiting behind queued data.
    pub(crate) trailers: Option<Trailers>,
    /// `send_data` refused data: a Writable event is owed.
    pub(crate) blocked: bool,
    /// In the connection's ready queue.
    pub(crate) scheduled: bool,
}

impl Stream {
    pub(crate) fn new(
        id: StreamId,
        state: State,
        send_window: u32,
        recv_window: u32,
        recv_target: u32,
    ) -> Self {
        Stream {
            id,
            state,
            recv_phase: RecvPhase::Initial,
            recv_window: RecvWindow::new(recv_window, recv_target),
            content_length: None,
            data_received: 0,
            send_window: SendWindow::new(send_window),
            headers_sent: false,
            send_queue: SmallDeque::default(),
            queued_bytes: 0,
            end_queued: false,
            trailers: None,
            blocked: false,
            scheduled: false,
        }
    }

    /// Whether the scheduler has something to put on the wire for it.
    pub(crate) fn has_pending_send(&self) -> bool {
        self.headers_sent && self.state.can_send() && (self.queued_bytes > 0 || self.end_queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Input::*;
    use State::*;

    /// Figure 2, edge by edge.
    #[test]
    fn figure_2() {
        assert_eq!(State::opened(true, false), Open);
        assert_eq!(State::opened(true, true), HalfClosedLocal);
        assert_eq!(State::opened(false, true), HalfClosedRemote);
        assert_eq!(Open.next(Send { end: true }), Ok(HalfClosedLocal));
        assert_eq!(Open.next(Recv { end: true }), Ok(HalfClosedRemote));
        assert_eq!(Open.next(Reset), Ok(Closed));
        assert_eq!(HalfClosedLocal.next(Recv { end: true }), Ok(Closed));
        assert_eq!(HalfClosedLocal.next(Reset), Ok(Closed));
        assert_eq!(HalfClosedRemote.next(Send { end: true }), Ok(Closed));
        assert_eq!(HalfClosedRemote.next(Reset), Ok(Closed));
        assert_eq!(
            HalfClosedRemote.next(Recv { end: false }).unwrap_err().code,
            ErrorCode::STREAM_CLOSED
        );
        assert_eq!(
            Closed.next(Recv { end: true }).unwrap_err().code,
            ErrorCode::STREAM_CLOSED
        );
        assert!(HalfClosedLocal.next(Send { end: false }).is_err());
    }
}
