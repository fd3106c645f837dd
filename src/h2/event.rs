//! What the connection tells the application, and what it hands the socket.

use bytes::Bytes;
use smallvec::SmallVec;

use crate::error::{ConnectionError, ErrorCode};
use crate::frame::{Origin, Settings, StreamId};
use crate::hpack::Field;

/// What a received header block is (RFC 9113 §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadersKind {
    /// A request's headers (server role): the stream is new.
    Request,
    /// An interim 1xx response (client role); more headers follow.
    Informational {
        /// The 1xx status.
        status: u16,
    },
    /// A final response's headers (client role).
    Response {
        /// The status code.
        status: u16,
    },
    /// Trailers: a header block after the initial one; it ends the stream.
    Trailers,
}

/// Who ended a stream with RST_STREAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResetBy {
    /// The peer sent RST_STREAM, or refused the stream through GOAWAY.
    Remote,
    /// We reset the stream because the peer broke a stream-level rule.
    Local {
        /// The rule that was broken, with its RFC section.
        reason: &'static str,
    },
}

/// Something that happened on the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A complete, validated header block.
    Headers {
        /// The stream.
        stream_id: StreamId,
        /// What the block is.
        kind: HeadersKind,
        /// The fields, pseudo-headers first, in received order.
        fields: Vec<Field>,
        /// The peer will send nothing more on this stream.
        end_stream: bool,
    },
    /// Data received on a stream (a slice of the received bytes).
    Data {
        /// The stream.
        stream_id: StreamId,
        /// The data; may be empty when it only carries `end_stream`.
        data: Bytes,
        /// The peer will send nothing more on this stream.
        end_stream: bool,
        /// The received chunk `data` is a slice of: keeping `data` keeps
        /// [`Origin::pinned_len`] bytes alive. An application that keeps
        /// small payloads for long copies them (the gRPC endpoints do).
        origin: Origin,
    },
    /// The stream ended abnormally; nothing more will happen on it.
    Reset {
        /// The stream.
        stream_id: StreamId,
        /// The RST_STREAM code (REFUSED_STREAM for streams a GOAWAY refused).
        code: ErrorCode,
        /// Who reset it.
        by: ResetBy,
    },
    /// A stream whose send buffer was full can take data again.
    Writable {
        /// The stream.
        stream_id: StreamId,
    },
    /// The peer's SETTINGS were applied (and acknowledged).
    PeerSettings(Settings),
    /// The peer acknowledged a PING we sent.
    PingAck {
        /// The payload we sent.
        payload: [u8; 8],
    },
    /// The peer sent GOAWAY: streams above `last_stream_id` that we opened
    /// were refused (each gets a [`Event::Reset`] with REFUSED_STREAM, safe
    /// to retry), and no new stream may be opened.
    GoAway {
        /// The last of our streams the peer may process.
        last_stream_id: StreamId,
        /// The peer's code.
        code: ErrorCode,
        /// The peer's debug data.
        debug_data: Bytes,
    },
    /// The connection is over; the last event. `None` after a clean
    /// graceful shutdown.
    Closed {
        /// Why it ended, if not cleanly.
        error: Option<ConnectionError>,
    },
}

/// Bytes to write to the socket, in order: a few chunks suitable for one
/// vectored write. DATA payloads are the application's own `Bytes`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transmit {
    pub(crate) chunks: SmallVec<[Bytes; 8]>,
}

impl Transmit {
    /// The chunks, in order.
    pub fn chunks(&self) -> &[Bytes] {
        &self.chunks
    }
    /// Total bytes.
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.chunks.iter().all(Bytes::is_empty)
    }
    /// All chunks joined into one buffer (a copy; for tests and simple adapters).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        for c in &self.chunks {
            v.extend_from_slice(c);
        }
        v
    }
}

impl IntoIterator for Transmit {
    type Item = Bytes;
    type IntoIter = smallvec::IntoIter<[Bytes; 8]>;
    fn into_iter(self) -> Self::IntoIter {
        self.chunks.into_iter()
    }
}

/// Why a command could not be carried out. Nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closed or closing: no new work is accepted.
    Closed,
    /// A GOAWAY was sent or received: no new stream may be opened.
    GoingAway,
    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS is reached; retry after a
    /// stream ends.
    StreamLimit,
    /// Stream identifiers are used up (§5.1.1): open a new connection.
    StreamIdsExhausted,
    /// No such stream, or it is closed.
    UnknownStream,
    /// The stream's state forbids this (e.g. data after END_STREAM, data
    /// before headers, a second response).
    InvalidState,
    /// Only a client may do this (open streams).
    WrongRole,
    /// The stream's send buffer is full; wait for [`Event::Writable`].
    Blocked,
    /// The header block would exceed the peer's SETTINGS_MAX_HEADER_LIST_SIZE,
    /// or a field breaks RFC 9113 §8.2.
    InvalidHeaders,
    /// Too many PINGs awaiting their ACK.
    TooManyPings,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for SendError {}
