//! CONTINUATION frames (RFC 9113 §6.10).

use bytes::{BufMut, Bytes, BytesMut};

use super::{Continuation, FrameError, FrameHeader, flags, kind};
use crate::error::ErrorCode;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Continuation, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "CONTINUATION frame on stream 0 (RFC 9113 §6.10)",
        ));
    }
    Ok(Continuation {
        stream_id: header.stream_id,
        fragment: payload,
        end_headers: header.flags & flags::END_HEADERS != 0,
    })
}

impl Continuation {
    /// Appends the whole frame to `dst`. The fragment must fit in the
    /// peer's SETTINGS_MAX_FRAME_SIZE.
    pub fn encode(&self, dst: &mut BytesMut) {
        let head = FrameHeader {
            length: u32::try_from(self.fragment.len()).unwrap_or(u32::MAX),
            kind: kind::CONTINUATION,
            flags: if self.end_headers {
                flags::END_HEADERS
            } else {
                0
            },
            stream_id: self.stream_id,
        };
        dst.reserve(super::FRAME_HEADER_LEN + self.fragment.len());
        head.encode(dst);
        dst.put_slice(&self.fragment);
    }
}

#[cfg(test)]
mod tests {
    use super::super::StreamId;
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_fragment() {
        let payload = Bytes::from_static(b"\x82\x86");
        let c = parse(
            header(kind::CONTINUATION, flags::END_HEADERS | 0xf0, 9, 2),
            payload.clone(),
        )
        .unwrap();
        assert_eq!(c.stream_id, StreamId(9));
        assert_eq!(c.fragment, payload);
        assert_eq!(c.fragment.as_ptr(), payload.as_ptr());
        assert!(c.end_headers);
        let c = parse(header(kind::CONTINUATION, 0, 9, 0), Bytes::new()).unwrap();
        assert!(!c.end_headers);
        assert!(c.fragment.is_empty());
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(header(kind::CONTINUATION, 0, 0, 0), Bytes::new()).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("§6.10"));
    }

    #[test]
    fn encode_bytes() {
        let c = Continuation {
            stream_id: StreamId(3),
            fragment: Bytes::from_static(b"ab"),
            end_headers: true,
        };
        let mut buf = BytesMut::new();
        c.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x02\x09\x04\0\0\0\x03ab");
    }

    #[test]
    fn round_trip() {
        for end_headers in [false, true] {
            let c = Continuation {
                stream_id: StreamId(11),
                fragment: Bytes::from_static(b"block"),
                end_headers,
            };
            let mut buf = BytesMut::new();
            c.encode(&mut buf);
            let (h, p) = split(buf);
            assert_eq!(parse(h, p).unwrap(), c);
        }
    }
}
