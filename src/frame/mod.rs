//! HTTP/2 frames (RFC 9113 §4, §6): types, parsing from `Bytes`, encoding.
//!
//! One file per frame type, each with its parse, encode and tests. Parsing
//! checks what the frame layer alone can check (lengths, stream-id zero or
//! not, padding, fixed-size payloads, setting ranges); rules that depend on
//! stream or connection state live in `crate::h2`.
//!
//! Payloads (DATA, header-block fragments, GOAWAY debug data) are
//! [`Bytes`] slices of the payload given to [`parse`], never copied.
//! [`FrameDecoder`] passes a slice of the pushed chunk when a frame lies
//! within one chunk, and copies only frames that straddle chunks.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::ErrorCode;

mod continuation;
mod data;
mod decoder;
mod goaway;
mod headers;
mod origin;
mod ping;
mod priority;
mod push_promise;
mod rst_stream;
mod settings;
mod window_update;

pub use decoder::FrameDecoder;
pub use origin::Origin;

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length of the fixed frame header (RFC 9113 §4.1).
pub const FRAME_HEADER_LEN: usize = 9;
/// The initial and smallest allowed SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 1 << 14;
/// The largest allowed SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// The largest flow-control window (RFC 9113 §6.9.1).
pub const MAX_WINDOW_SIZE: u32 = (1 << 31) - 1;
/// The initial flow-control window (RFC 9113 §6.9.2).
pub const DEFAULT_INITIAL_WINDOW_SIZE: u32 = 65_535;

/// Frame type codes (RFC 9113 §6).
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags (RFC 9113 §6). Flags a frame type does not define are ignored.
pub mod flags {
    /// END_STREAM on DATA and HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// ACK on SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED on DATA, HEADERS and PUSH_PROMISE.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY on HEADERS.
    pub const PRIORITY: u8 = 0x20;
}

/// A 31-bit stream identifier (RFC 9113 §5.1.1). The reserved bit is
/// always cleared on parse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u32);

impl StreamId {
    /// Stream 0: the connection itself.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream identifier.
    pub const MAX: StreamId = StreamId((1 << 31) - 1);

    /// Whether this is stream 0.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// Odd ids are opened by clients (RFC 9113 §5.1.1).
    pub fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }
    /// Even non-zero ids are opened by servers (RFC 9113 §5.1.1).
    pub fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 % 2 == 0
    }
}

impl From<u32> for StreamId {
    fn from(v: u32) -> Self {
        StreamId(v & 0x7fff_ffff)
    }
}

/// The 9-byte frame header (RFC 9113 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type (see [`kind`]).
    pub kind: u8,
    /// Flags (see [`flags`]).
    pub flags: u8,
    /// Stream identifier, reserved bit cleared.
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// Parses the fixed header. The reserved bit is ignored (§4.1).
    pub fn parse(b: &[u8; FRAME_HEADER_LEN]) -> FrameHeader {
        FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: b[3],
            flags: b[4],
            stream_id: StreamId(u32::from_be_bytes([b[5], b[6], b[7], b[8]]) & 0x7fff_ffff),
        }
    }

    /// The header as its 9 wire bytes. `length` must fit in 24 bits.
    pub fn to_bytes(&self) -> [u8; FRAME_HEADER_LEN] {
        debug_assert!(self.length <= MAX_MAX_FRAME_SIZE);
        let l = self.length.to_be_bytes();
        let s = (self.stream_id.0 & 0x7fff_ffff).to_be_bytes();
        [
            l[1], l[2], l[3], self.kind, self.flags, s[0], s[1], s[2], s[3],
        ]
    }

    /// Appends the 9 wire bytes to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        dst.put_slice(&self.to_bytes());
    }
}

/// A parsed frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// DATA (§6.1).
    Data(Data),
    /// HEADERS (§6.2).
    Headers(Headers),
    /// PRIORITY (§6.3), deprecated but still parsed.
    Priority(Priority),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS (§6.5).
    Settings(Settings),
    /// PUSH_PROMISE (§6.6).
    PushPromise(PushPromise),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (§6.10).
    Continuation(Continuation),
    /// A frame of a type this endpoint does not know; its payload is
    /// discarded (§4.1, §5.5).
    Unknown(Unknown),
}

/// DATA (RFC 9113 §6.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Data {
    /// Never zero (a zero id is rejected on parse).
    pub stream_id: StreamId,
    /// The data, padding removed: a slice of the received bytes.
    ///
    /// [`FrameDecoder`] hands a long unpadded DATA
    /// frame whose bytes arrive in several chunks out as several `Data`,
    /// each a piece of the payload (so it is never copied): only the last
    /// carries END_STREAM, and their `flow_len`s add up to the frame's.
    pub payload: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// The whole frame payload length, padding included: what counts
    /// against flow control (§6.9.1); a piece's own length for a piece.
    pub flow_len: u32,
}

/// Priority fields of HEADERS and PRIORITY (RFC 9113 §5.3.2, §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrioritySpec {
    /// Stream dependency.
    pub dependency: StreamId,
    /// Exclusive flag.
    pub exclusive: bool,
    /// Weight as sent (0-255, meaning 1-256).
    pub weight: u8,
}

/// HEADERS (RFC 9113 §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headers {
    /// Never zero (a zero id is rejected on parse).
    pub stream_id: StreamId,
    /// The header block fragment, padding and priority removed.
    pub fragment: Bytes,
    /// END_STREAM flag.
    pub end_stream: bool,
    /// END_HEADERS flag.
    pub end_headers: bool,
    /// Priority fields, when the PRIORITY flag is set. A self-dependency
    /// is not rejected here: the block must still reach the HPACK decoder,
    /// so the connection checks it (§5.3.1).
    pub priority: Option<PrioritySpec>,
}

/// PRIORITY (RFC 9113 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// Never zero.
    pub stream_id: StreamId,
    /// The priority fields; never a self-dependency (rejected on parse).
    pub spec: PrioritySpec,
}

/// RST_STREAM (RFC 9113 §6.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// Never zero.
    pub stream_id: StreamId,
    /// Why the stream ends.
    pub code: ErrorCode,
}

/// SETTINGS (RFC 9113 §6.5). Each field holds the last value the frame
/// carried for that parameter; unknown parameters are ignored (§6.5.2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// ACK flag; an ACK carries no parameters.
    pub ack: bool,
    /// SETTINGS_HEADER_TABLE_SIZE (0x1).
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH (0x2), 0 or 1 (checked on parse).
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4), at most 2^31-1 (checked on parse).
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE (0x5), 2^14 ..= 2^24-1 (checked on parse).
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6).
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (0x8, RFC 8441), 0 or 1.
    pub enable_connect_protocol: Option<bool>,
}

/// PUSH_PROMISE (RFC 9113 §6.6). Parsed only to be rejected: this crate
/// disables server push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushPromise {
    /// The associated stream; never zero.
    pub stream_id: StreamId,
    /// The promised stream.
    pub promised_id: StreamId,
    /// The header block fragment, padding removed.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
}

/// PING (RFC 9113 §6.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK flag.
    pub ack: bool,
    /// Opaque data.
    pub payload: [u8; 8],
}

/// GOAWAY (RFC 9113 §6.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GoAway {
    /// The last peer-initiated stream that was or may be processed.
    pub last_stream_id: StreamId,
    /// Why the connection closes.
    pub code: ErrorCode,
    /// Opaque debug data.
    pub debug_data: Bytes,
}

/// WINDOW_UPDATE (RFC 9113 §6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// Zero for the connection window.
    pub stream_id: StreamId,
    /// 1 ..= 2^31-1 (zero is rejected on parse).
    pub increment: u32,
}

/// CONTINUATION (RFC 9113 §6.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Continuation {
    /// Never zero.
    pub stream_id: StreamId,
    /// The header block fragment.
    pub fragment: Bytes,
    /// END_HEADERS flag.
    pub end_headers: bool,
}

/// A frame of unknown type (§5.5): only its header is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// The frame header.
    pub header: FrameHeader,
}

/// A frame that cannot be accepted as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameError {
    /// The code to send.
    pub code: ErrorCode,
    /// `Some(id)`: a stream error on that stream (§5.4.2), the frame is
    /// consumed and the connection goes on. `None`: a connection error
    /// (§5.4.1).
    pub stream_id: Option<StreamId>,
    /// The rule that was broken, with its RFC section.
    pub reason: &'static str,
}

impl FrameError {
    pub(crate) const fn connection(code: ErrorCode, reason: &'static str) -> Self {
        FrameError {
            code,
            stream_id: None,
            reason,
        }
    }

    pub(crate) const fn stream(id: StreamId, code: ErrorCode, reason: &'static str) -> Self {
        FrameError {
            code,
            stream_id: Some(id),
            reason,
        }
    }
}

/// Parses one frame whose header and complete payload have been read.
/// `payload.len()` must equal `header.length`.
#[inline]
pub fn parse(header: FrameHeader, payload: Bytes) -> Result<Frame, FrameError> {
    debug_assert_eq!(payload.len(), header.length as usize);
    match header.kind {
        kind::DATA => data::parse(header, payload).map(Frame::Data),
        kind::HEADERS => headers::parse(header, payload).map(Frame::Headers),
        kind::PRIORITY => priority::parse(header, payload).map(Frame::Priority),
        kind::RST_STREAM => rst_stream::parse(header, payload).map(Frame::RstStream),
        kind::SETTINGS => settings::parse(header, payload).map(Frame::Settings),
        kind::PUSH_PROMISE => push_promise::parse(header, payload).map(Frame::PushPromise),
        kind::PING => ping::parse(header, payload).map(Frame::Ping),
        kind::GOAWAY => goaway::parse(header, payload).map(Frame::GoAway),
        kind::WINDOW_UPDATE => window_update::parse(header, payload).map(Frame::WindowUpdate),
        kind::CONTINUATION => continuation::parse(header, payload).map(Frame::Continuation),
        _ => Ok(Frame::Unknown(Unknown { header })),
    }
}

/// Whether `held` bytes kept as slices of buffers totalling `pinned`
/// bytes keep too much alive, so that they are better copied out: more
/// than four times what is held, and more than 4 KiB beyond it (copying a
/// small chunk saves nothing). The compaction rule of the message
/// deframers' partial messages: a peer that sends small pieces inside large
/// reads costs a copy of those pieces, and zero-copy stays zero-copy for
/// bulk data.
pub(crate) fn pins_too_much(held: usize, pinned: usize) -> bool {
    pinned > held.saturating_mul(4).saturating_add(4096)
}

/// Strips padding (§6.1, §6.2, §6.6): returns the payload without the Pad
/// Length field and the padding. `min_rest` is the number of mandatory bytes
/// that must follow the Pad Length field (priority fields, promised id); they
/// are left at the front of the returned bytes, and are checked for whether
/// the frame is padded or not.
///
/// Errors (all connection errors):
/// - too short for the Pad Length field or the mandatory bytes:
///   FRAME_SIZE_ERROR (§4.2);
/// - padding longer than what follows the Pad Length field and the
///   mandatory bytes: PROTOCOL_ERROR (§6.1, §6.2, §6.6). Padding exactly as
///   long as that leaves an empty data / fragment, which is allowed.
#[inline]
pub(crate) fn strip_padding(
    header: &FrameHeader,
    mut payload: Bytes,
    min_rest: usize,
) -> Result<Bytes, FrameError> {
    if header.flags & flags::PADDED == 0 {
        if payload.len() < min_rest {
            return Err(FrameError::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                "frame too short for its mandatory fields (RFC 9113 §4.2, §6.2, §6.6)",
            ));
        }
        return Ok(payload);
    }
    let Some(&pad_len) = payload.first() else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "padded frame too short for its Pad Length field (RFC 9113 §4.2, §6.1)",
        ));
    };
    let pad_len = pad_len as usize;
    // What follows the Pad Length field: mandatory fields, data, padding.
    let Some(room) = (payload.len() - 1).checked_sub(min_rest) else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "padded frame too short for its mandatory fields (RFC 9113 §4.2, §6.2, §6.6)",
        ));
    };
    if pad_len > room {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "padding as long as the frame payload or longer (RFC 9113 §6.1, §6.2, §6.6)",
        ));
    }
    let end = payload.len() - pad_len;
    payload.truncate(end);
    Ok(payload.slice(1..))
}

impl Frame {
    /// The stream this frame belongs to (zero for connection frames).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::Settings(_) => StreamId::ZERO,
            Frame::PushPromise(f) => f.stream_id,
            Frame::Ping(_) => StreamId::ZERO,
            Frame::GoAway(_) => StreamId::ZERO,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.header.stream_id,
        }
    }

    /// Appends the whole frame (header and payload) to `dst`. DATA payloads
    /// are copied here; the connection sends them zero-copy with
    /// [`Data::head`] instead.
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::Data(f) => f.encode(dst),
            Frame::Headers(f) => f.encode(dst),
            Frame::Priority(f) => f.encode(dst),
            Frame::RstStream(f) => f.encode(dst),
            Frame::Settings(f) => f.encode(dst),
            Frame::PushPromise(f) => f.encode(dst),
            Frame::Ping(f) => f.encode(dst),
            Frame::GoAway(f) => f.encode(dst),
            Frame::WindowUpdate(f) => f.encode(dst),
            Frame::Continuation(f) => f.encode(dst),
            Frame::Unknown(f) => {
                let mut h = f.header;
                h.length = 0;
                h.encode(dst);
            }
        }
    }
}

/// Helpers shared by the per-frame unit tests.
#[cfg(test)]
pub(crate) mod test_util {
    use bytes::{Bytes, BytesMut};

    use super::{FRAME_HEADER_LEN, FrameHeader, StreamId};

    /// A header for `len` payload bytes.
    pub(crate) fn header(kind: u8, flags: u8, stream: u32, len: usize) -> FrameHeader {
        FrameHeader {
            length: u32::try_from(len).unwrap(),
            kind,
            flags,
            stream_id: StreamId(stream),
        }
    }

    /// Splits one encoded frame into its parsed header and its payload,
    /// checking that the header's length matches the bytes written.
    pub(crate) fn split(mut buf: BytesMut) -> (FrameHeader, Bytes) {
        assert!(buf.len() >= FRAME_HEADER_LEN);
        let head = buf.split_to(FRAME_HEADER_LEN);
        let header = FrameHeader::parse(head[..].try_into().unwrap());
        assert_eq!(header.length as usize, buf.len());
        (header, buf.freeze())
    }

    /// Header plus payload as wire bytes.
    pub(crate) fn wire(header: FrameHeader, payload: &[u8]) -> Vec<u8> {
        let mut v = header.to_bytes().to_vec();
        v.extend_from_slice(payload);
        v
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::test_util::header;
    use super::*;

    #[test]
    fn strip_padding_unpadded() {
        let h = header(kind::DATA, 0, 1, 3);
        let out = strip_padding(&h, Bytes::from_static(b"abc"), 0).unwrap();
        assert_eq!(&out[..], b"abc");
        let e = strip_padding(&h, Bytes::from_static(b"abc"), 4).unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn strip_padding_padded() {
        let h = header(kind::DATA, flags::PADDED, 1, 6);
        let out = strip_padding(&h, Bytes::from_static(b"\x02abc\0\0"), 0).unwrap();
        assert_eq!(&out[..], b"abc");
        // Padding filling everything after the Pad Length field: empty data.
        let out = strip_padding(&h, Bytes::from_static(b"\x05\0\0\0\0\0"), 0).unwrap();
        assert!(out.is_empty());
        // One byte more than that is an error.
        let e = strip_padding(&h, Bytes::from_static(b"\x06\0\0\0\0\0"), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        let e = strip_padding(&h, Bytes::from_static(b"\xff"), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn strip_padding_mandatory_fields() {
        let h = header(kind::HEADERS, flags::PADDED, 1, 7);
        // Pad Length 1, five mandatory bytes, one padding byte.
        let out = strip_padding(&h, Bytes::from_static(b"\x0112345\0"), 5).unwrap();
        assert_eq!(&out[..], b"12345");
        let e = strip_padding(&h, Bytes::from_static(b"\x0212345\0"), 5).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        let e = strip_padding(&h, Bytes::from_static(b"\x001234"), 5).unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        let e = strip_padding(&h, Bytes::new(), 0).unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn stream_id_from_clears_reserved_bit() {
        assert_eq!(StreamId::from(0x8000_0001), StreamId(1));
    }

    #[test]
    fn frame_header_round_trip() {
        let h = header(kind::GOAWAY, 0xff, 0x7fff_ffff, MAX_MAX_FRAME_SIZE as usize);
        assert_eq!(FrameHeader::parse(&h.to_bytes()), h);
        let mut b = h.to_bytes();
        b[5] |= 0x80;
        assert_eq!(FrameHeader::parse(&b), h);
    }

    #[test]
    fn unknown_frame_is_kept_as_header() {
        let h = header(0xee, 0x3, 5, 3);
        let f = parse(h, Bytes::from_static(b"xyz")).unwrap();
        assert_eq!(f, Frame::Unknown(Unknown { header: h }));
        assert_eq!(f.stream_id(), StreamId(5));
    }
}
