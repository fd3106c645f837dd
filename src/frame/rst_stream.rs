//! RST_STREAM frames (RFC 9113 §6.4).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameError, FrameHeader, RstStream, kind};
use crate::error::ErrorCode;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<RstStream, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "RST_STREAM frame on stream 0 (RFC 9113 §6.4)",
        ));
    }
    let Ok(b) = <[u8; 4]>::try_from(&payload[..]) else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "RST_STREAM payload length is not 4 (RFC 9113 §6.4)",
        ));
    };
    Ok(RstStream {
        stream_id: header.stream_id,
        code: ErrorCode(u32::from_be_bytes(b)),
    })
}

impl RstStream {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let head = FrameHeader {
            length: 4,
            kind: kind::RST_STREAM,
            flags: 0,
            stream_id: self.stream_id,
        };
        head.encode(dst);
        dst.put_u32(self.code.0);
    }
}

#[cfg(test)]
mod tests {
    use super::super::StreamId;
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_code() {
        let r = parse(
            header(kind::RST_STREAM, 0xff, 3, 4),
            Bytes::from_static(b"\0\0\0\x08"),
        )
        .unwrap();
        assert_eq!(r.stream_id, StreamId(3));
        assert_eq!(r.code, ErrorCode::CANCEL);
        // Unknown codes are kept as they are.
        let r = parse(
            header(kind::RST_STREAM, 0, 3, 4),
            Bytes::from_static(b"\xde\xad\xbe\xef"),
        )
        .unwrap();
        assert_eq!(r.code, ErrorCode(0xdead_beef));
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(
            header(kind::RST_STREAM, 0, 0, 4),
            Bytes::from_static(b"\0\0\0\0"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn wrong_length_is_connection_frame_size_error() {
        for len in [0usize, 3, 5] {
            let e = parse(
                header(kind::RST_STREAM, 0, 1, len),
                Bytes::from(vec![0; len]),
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, None);
            assert!(e.reason.contains("§6.4"));
        }
    }

    #[test]
    fn encode_bytes() {
        let r = RstStream {
            stream_id: StreamId(1),
            code: ErrorCode::REFUSED_STREAM,
        };
        let mut buf = BytesMut::new();
        r.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x04\x03\0\0\0\0\x01\0\0\0\x07");
    }

    #[test]
    fn round_trip() {
        let r = RstStream {
            stream_id: StreamId(0x7fff_ffff),
            code: ErrorCode::INTERNAL_ERROR,
        };
        let mut buf = BytesMut::new();
        r.encode(&mut buf);
        let (h, p) = split(buf);
        assert_eq!(parse(h, p).unwrap(), r);
    }
}
