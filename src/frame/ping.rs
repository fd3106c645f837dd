//! PING frames (RFC 9113 §6.7).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameError, FrameHeader, Ping, StreamId, flags, kind};
use crate::error::ErrorCode;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Ping, FrameError> {
    if !header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "PING frame on a stream other than 0 (RFC 9113 §6.7)",
        ));
    }
    let Ok(payload) = <[u8; 8]>::try_from(&payload[..]) else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "PING payload length is not 8 (RFC 9113 §6.7)",
        ));
    };
    Ok(Ping {
        ack: header.flags & flags::ACK != 0,
        payload,
    })
}

impl Ping {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let head = FrameHeader {
            length: 8,
            kind: kind::PING,
            flags: if self.ack { flags::ACK } else { 0 },
            stream_id: StreamId::ZERO,
        };
        head.encode(dst);
        dst.put_slice(&self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_payload_and_ack() {
        let p = parse(header(kind::PING, 0, 0, 8), Bytes::from_static(b"12345678")).unwrap();
        assert!(!p.ack);
        assert_eq!(&p.payload, b"12345678");
        let p = parse(
            header(kind::PING, 0xff, 0, 8),
            Bytes::from_static(b"abcdefgh"),
        )
        .unwrap();
        assert!(p.ack);
        assert_eq!(&p.payload, b"abcdefgh");
    }

    #[test]
    fn non_zero_stream_is_connection_protocol_error() {
        let e = parse(header(kind::PING, 0, 1, 8), Bytes::from_static(b"12345678")).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn wrong_length_is_connection_frame_size_error() {
        for len in [0usize, 7, 9] {
            let e = parse(header(kind::PING, 0, 0, len), Bytes::from(vec![0; len])).unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, None);
            assert_eq!(e.reason, "PING payload length is not 8 (RFC 9113 §6.7)");
        }
    }

    #[test]
    fn encode_bytes() {
        let p = Ping {
            ack: true,
            payload: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
        };
        let mut buf = BytesMut::new();
        p.encode(&mut buf);
        assert_eq!(
            &buf[..],
            b"\0\0\x08\x06\x01\0\0\0\0\x01\x02\x03\x04\x05\x06\x07\x08"
        );
    }

    #[test]
    fn round_trip() {
        for ack in [false, true] {
            let p = Ping {
                ack,
                payload: *b"pingpong",
            };
            let mut buf = BytesMut::new();
            p.encode(&mut buf);
            let (h, pl) = split(buf);
            assert_eq!(parse(h, pl).unwrap(), p);
        }
    }
}
