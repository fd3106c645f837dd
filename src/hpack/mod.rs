//! Header blocks (RFC 7541) over `httlib-hpack`, behind a validating pre-pass.
//!
//! STUB: the API is fixed; bodies are being written.

use bytes::{Bytes, BytesMut};

/// One header field: name and value as received or to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (lowercase in HTTP/2).
    pub name: Bytes,
    /// Field value.
    pub value: Bytes,
    /// Never-indexed (RFC 7541 §6.2.3): must not be compressed by intermediaries.
    pub sensitive: bool,
}

impl Field {
    /// A field from static strings.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Field {
        Field { name: name.into(), value: value.into(), sensitive: false }
    }
    /// The size the field counts for in SETTINGS_MAX_HEADER_LIST_SIZE and the
    /// dynamic table: name + value + 32 (RFC 9113 §6.5.2, RFC 7541 §4.1).
    pub fn hpack_size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

/// Why a header block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The block is not valid HPACK: a connection error of type
    /// COMPRESSION_ERROR (RFC 9113 §4.3).
    Compression {
        /// The rule that was broken, with its RFC 7541 section.
        reason: &'static str,
    },
    /// The decoded header list exceeds the limit. The block was still fully
    /// processed, so the decoding context stays in sync; only the stream fails.
    ListTooLarge {
        /// The configured limit (bytes, counted as in RFC 9113 §6.5.2).
        limit: usize,
    },
}

/// Decodes header blocks, never handing `httlib-hpack` bytes it could panic on.
#[derive(Debug)]
pub struct Decoder {
    _p: (),
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` and that
    /// rejects header lists over `max_list_size` bytes.
    pub fn new(max_table_size: u32, max_list_size: usize) -> Self {
        let _ = (max_table_size, max_list_size);
        todo!()
    }
    /// Sets the SETTINGS_HEADER_TABLE_SIZE in force (after our SETTINGS is acked).
    pub fn set_max_table_size(&mut self, size: u32) {
        let _ = size;
        todo!()
    }
    /// Sets the header list size limit.
    pub fn set_max_list_size(&mut self, size: usize) {
        let _ = size;
        todo!()
    }
    /// Decodes one complete header block.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, DecodeError> {
        let _ = block;
        todo!()
    }
    /// Bytes held by the dynamic table (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        todo!()
    }
}

/// Encodes header blocks.
#[derive(Debug)]
pub struct Encoder {
    _p: (),
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder for a peer that allows the default 4096-byte table.
    pub fn new() -> Self {
        todo!()
    }
    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE.
    pub fn set_max_table_size(&mut self, peer_max: u32) {
        let _ = peer_max;
        todo!()
    }
    /// Appends the encoded block for `fields` to `dst`.
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = &'a Field>, dst: &mut BytesMut) {
        let _ = (fields.into_iter(), dst);
        todo!()
    }
    /// Bytes held by the dynamic table (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        todo!()
    }
}
