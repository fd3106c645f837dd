//! GOAWAY frames (RFC 9113 §6.8).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FRAME_HEADER_LEN, FrameError, FrameHeader, GoAway, StreamId, kind};
use crate::error::ErrorCode;

/// Last-Stream-ID and Error Code.
const FIXED_LEN: usize = 8;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<GoAway, FrameError> {
    if !header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "GOAWAY frame on a stream other than 0 (RFC 9113 §6.8)",
        ));
    }
    let Some((&[a, b, c, d, e, f, g, h], _)) = payload.split_first_chunk::<FIXED_LEN>() else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "GOAWAY payload shorter than 8 bytes (RFC 9113 §6.8)",
        ));
    };
    Ok(GoAway {
        last_stream_id: StreamId::from(u32::from_be_bytes([a, b, c, d])),
        code: ErrorCode(u32::from_be_bytes([e, f, g, h])),
        debug_data: payload.slice(FIXED_LEN..),
    })
}

impl GoAway {
    /// Appends the whole frame to `dst`. The debug data must fit in the
    /// peer's SETTINGS_MAX_FRAME_SIZE (less 8 bytes).
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = FIXED_LEN + self.debug_data.len();
        let head = FrameHeader {
            length: u32::try_from(len).unwrap_or(u32::MAX),
            kind: kind::GOAWAY,
            flags: 0,
            stream_id: StreamId::ZERO,
        };
        dst.reserve(FRAME_HEADER_LEN + len);
        head.encode(dst);
        dst.put_u32(self.last_stream_id.0 & 0x7fff_ffff);
        dst.put_u32(self.code.0);
        dst.put_slice(&self.debug_data);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_fields() {
        let payload = Bytes::from_static(b"\x80\0\0\x05\0\0\0\x0bslow down");
        let g = parse(
            header(kind::GOAWAY, 0xff, 0, payload.len()),
            payload.clone(),
        )
        .unwrap();
        assert_eq!(g.last_stream_id, StreamId(5));
        assert_eq!(g.code, ErrorCode::ENHANCE_YOUR_CALM);
        assert_eq!(&g.debug_data[..], b"slow down");
        assert_eq!(g.debug_data.as_ptr(), payload[8..].as_ptr());

        let g = parse(
            header(kind::GOAWAY, 0, 0, 8),
            Bytes::from_static(b"\0\0\0\0\0\0\0\0"),
        )
        .unwrap();
        assert_eq!(g.last_stream_id, StreamId::ZERO);
        assert_eq!(g.code, ErrorCode::NO_ERROR);
        assert!(g.debug_data.is_empty());
    }

    #[test]
    fn non_zero_stream_is_connection_protocol_error() {
        let e = parse(header(kind::GOAWAY, 0, 3, 8), Bytes::from(vec![0; 8])).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn short_payload_is_connection_frame_size_error() {
        for len in 0..8 {
            let e = parse(header(kind::GOAWAY, 0, 0, len), Bytes::from(vec![0; len])).unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, None);
            assert!(e.reason.contains("§6.8"));
        }
    }

    #[test]
    fn encode_bytes() {
        let g = GoAway {
            last_stream_id: StreamId(7),
            code: ErrorCode::PROTOCOL_ERROR,
            debug_data: Bytes::from_static(b"x"),
        };
        let mut buf = BytesMut::new();
        g.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x09\x07\0\0\0\0\0\0\0\0\x07\0\0\0\x01x");
    }

    #[test]
    fn round_trip() {
        for debug in [&b""[..], b"debug data"] {
            let g = GoAway {
                last_stream_id: StreamId(0x7fff_ffff),
                code: ErrorCode(0x1234),
                debug_data: Bytes::copy_from_slice(debug),
            };
            let mut buf = BytesMut::new();
            g.encode(&mut buf);
            let (h, p) = split(buf);
            assert_eq!(parse(h, p).unwrap(), g);
        }
    }
}
