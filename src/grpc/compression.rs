//! TEMPORARY identity-only stand-in; replaced by the compression module.
#![allow(missing_docs)]
use bytes::Bytes;
use smallvec::SmallVec;

use super::Code;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
}
impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }
    pub fn from_name(v: &[u8]) -> Option<Encoding> {
        match v.trim_ascii() {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            _ => None,
        }
    }
    pub fn is_supported(self) -> bool {
        self == Encoding::Identity
    }
}
pub fn accept_encoding_value() -> &'static str {
    "identity"
}
pub fn parse_accept_encoding(value: &[u8]) -> SmallVec<[Encoding; 3]> {
    value
        .split(|b| *b == b',')
        .filter_map(Encoding::from_name)
        .collect()
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionError {
    Unsupported,
    TooLarge { limit: usize },
    Corrupt,
}
impl CompressionError {
    pub fn code(&self) -> Code {
        match self {
            CompressionError::Unsupported => Code::Unimplemented,
            CompressionError::TooLarge { .. } => Code::ResourceExhausted,
            CompressionError::Corrupt => Code::Internal,
        }
    }
}
pub fn compress(enc: Encoding, input: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
    match enc {
        Encoding::Identity => {
            dst.extend_from_slice(input);
            Ok(())
        }
        _ => Err(CompressionError::Unsupported),
    }
}
pub fn decompress(enc: Encoding, input: &[u8], limit: usize) -> Result<Bytes, CompressionError> {
    match enc {
        Encoding::Identity if input.len() <= limit => Ok(Bytes::copy_from_slice(input)),
        Encoding::Identity => Err(CompressionError::TooLarge { limit }),
        _ => Err(CompressionError::Unsupported),
    }
}
