//! PUSH_PROMISE frames (RFC 9113 §6.6).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{
    FRAME_HEADER_LEN, FrameError, FrameHeader, PushPromise, StreamId, flags, kind, strip_padding,
};
use crate::error::ErrorCode;

/// The Promised Stream ID field.
const PROMISED_ID_LEN: usize = 4;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<PushPromise, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "PUSH_PROMISE frame on stream 0 (RFC 9113 §6.6)",
        ));
    }
    let mut fragment = strip_padding(&header, payload, PROMISED_ID_LEN)?;
    // strip_padding checked there are at least PROMISED_ID_LEN bytes.
    let promised_id = StreamId::from(fragment.get_u32());
    Ok(PushPromise {
        stream_id: header.stream_id,
        promised_id,
        fragment,
        end_headers: header.flags & flags::END_HEADERS != 0,
    })
}

impl PushPromise {
    /// Appends the whole frame to `dst`, unpadded. The fragment must fit in
    /// the peer's SETTINGS_MAX_FRAME_SIZE (less 4 bytes).
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = PROMISED_ID_LEN + self.fragment.len();
        let head = FrameHeader {
            length: u32::try_from(len).unwrap_or(u32::MAX),
            kind: kind::PUSH_PROMISE,
            flags: if self.end_headers {
                flags::END_HEADERS
            } else {
                0
            },
            stream_id: self.stream_id,
        };
        dst.reserve(FRAME_HEADER_LEN + len);
        head.encode(dst);
        dst.put_u32(self.promised_id.0 & 0x7fff_ffff);
        dst.put_slice(&self.fragment);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_plain() {
        let payload = Bytes::from_static(b"\x80\0\0\x02\x82\x84");
        let p = parse(
            header(kind::PUSH_PROMISE, flags::END_HEADERS, 1, 6),
            payload.clone(),
        )
        .unwrap();
        assert_eq!(p.stream_id, StreamId(1));
        assert_eq!(p.promised_id, StreamId(2));
        assert_eq!(&p.fragment[..], b"\x82\x84");
        assert_eq!(p.fragment.as_ptr(), payload[4..].as_ptr());
        assert!(p.end_headers);
    }

    #[test]
    fn parse_padded() {
        let p = parse(
            header(kind::PUSH_PROMISE, flags::PADDED | 0xf0, 3, 8),
            Bytes::from_static(b"\x04\0\0\0\x04ab\0"),
        )
        .unwrap_err();
        // Pad Length 4 with only 3 bytes after the promised id.
        assert_eq!(p.code, ErrorCode::PROTOCOL_ERROR);
        let p = parse(
            header(kind::PUSH_PROMISE, flags::PADDED | 0xf0, 3, 9),
            Bytes::from_static(b"\x02\0\0\0\x04ab\0\0"),
        )
        .unwrap();
        assert_eq!(p.promised_id, StreamId(4));
        assert_eq!(&p.fragment[..], b"ab");
        assert!(!p.end_headers);
    }

    #[test]
    fn padding_filling_the_rest_leaves_empty_fragment() {
        let p = parse(
            header(kind::PUSH_PROMISE, flags::PADDED, 3, 7),
            Bytes::from_static(b"\x02\0\0\0\x04\0\0"),
        )
        .unwrap();
        assert!(p.fragment.is_empty());
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(
            header(kind::PUSH_PROMISE, 0, 0, 4),
            Bytes::from_static(b"\0\0\0\x02"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("§6.6"));
    }

    #[test]
    fn too_short_is_frame_size_error() {
        for len in 0..4 {
            let e = parse(
                header(kind::PUSH_PROMISE, 0, 1, len),
                Bytes::from(vec![0; len]),
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, None);
        }
        let e = parse(
            header(kind::PUSH_PROMISE, flags::PADDED, 1, 4),
            Bytes::from_static(b"\0\0\0\x02"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn padding_over_promised_id_is_protocol_error() {
        let e = parse(
            header(kind::PUSH_PROMISE, flags::PADDED, 1, 5),
            Bytes::from_static(b"\x01\0\0\0\x02"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn encode_bytes() {
        let p = PushPromise {
            stream_id: StreamId(1),
            promised_id: StreamId(2),
            fragment: Bytes::from_static(b"x"),
            end_headers: true,
        };
        let mut buf = BytesMut::new();
        p.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x05\x05\x04\0\0\0\x01\0\0\0\x02x");
    }

    #[test]
    fn round_trip() {
        for end_headers in [false, true] {
            let p = PushPromise {
                stream_id: StreamId(3),
                promised_id: StreamId(0x7fff_fffe),
                fragment: Bytes::from_static(b"block"),
                end_headers,
            };
            let mut buf = BytesMut::new();
            p.encode(&mut buf);
            let (h, pl) = split(buf);
            assert_eq!(parse(h, pl).unwrap(), p);
        }
    }
}
