//! HTTP/2 field rules (RFC 9113 §8.2, §8.3). STUB: API fixed; bodies being written.

use crate::error::StreamError;
use crate::hpack::Field;

/// What a header block is, which decides the pseudo-headers it may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// The first HEADERS a server receives on a stream.
    Request,
    /// A HEADERS a client receives before any final response (may be 1xx).
    Response,
    /// A HEADERS after the initial headers: trailers (no pseudo-headers).
    Trailers,
}

/// What the checks learned from a valid block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockInfo {
    /// The `content-length` value, if present (RFC 9113 §8.1.1).
    pub content_length: Option<u64>,
    /// For a response: the `:status` code.
    pub status: Option<u16>,
}

/// Checks a decoded block against RFC 9113 §8.2-8.3; a violation makes the
/// message malformed: a stream error of type PROTOCOL_ERROR (§8.1.1).
pub fn check(fields: &[Field], kind: BlockKind) -> Result<BlockInfo, StreamError> {
    let _ = (fields, kind);
    todo!()
}
