//! WINDOW_UPDATE frames (RFC 9113 §6.9).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameError, FrameHeader, WindowUpdate, kind};
use crate::error::ErrorCode;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<WindowUpdate, FrameError> {
    let Ok(b) = <[u8; 4]>::try_from(&payload[..]) else {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "WINDOW_UPDATE payload length is not 4 (RFC 9113 §6.9)",
        ));
    };
    // The reserved bit is ignored.
    let increment = u32::from_be_bytes(b) & 0x7fff_ffff;
    if increment == 0 {
        const REASON: &str = "WINDOW_UPDATE with a zero increment (RFC 9113 §6.9)";
        return Err(if header.stream_id.is_zero() {
            FrameError::connection(ErrorCode::PROTOCOL_ERROR, REASON)
        } else {
            FrameError::stream(header.stream_id, ErrorCode::PROTOCOL_ERROR, REASON)
        });
    }
    Ok(WindowUpdate {
        stream_id: header.stream_id,
        increment,
    })
}

impl WindowUpdate {
    /// Appends the whole frame to `dst`. `increment` must be 1 ..= 2^31-1.
    pub fn encode(&self, dst: &mut BytesMut) {
        debug_assert!(self.increment != 0 && self.increment <= super::MAX_WINDOW_SIZE);
        let head = FrameHeader {
            length: 4,
            kind: kind::WINDOW_UPDATE,
            flags: 0,
            stream_id: self.stream_id,
        };
        head.encode(dst);
        dst.put_u32(self.increment & 0x7fff_ffff);
    }
}

#[cfg(test)]
mod tests {
    use super::super::StreamId;
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_increment() {
        let w = parse(
            header(kind::WINDOW_UPDATE, 0xff, 0, 4),
            Bytes::from_static(b"\0\x01\0\0"),
        )
        .unwrap();
        assert_eq!(w.stream_id, StreamId::ZERO);
        assert_eq!(w.increment, 65_536);
        // Reserved bit ignored.
        let w = parse(
            header(kind::WINDOW_UPDATE, 0, 3, 4),
            Bytes::from_static(b"\xff\xff\xff\xff"),
        )
        .unwrap();
        assert_eq!(w.stream_id, StreamId(3));
        assert_eq!(w.increment, 0x7fff_ffff);
    }

    #[test]
    fn wrong_length_is_connection_frame_size_error() {
        for (stream, len) in [(0, 0usize), (0, 3), (1, 5), (1, 8)] {
            let e = parse(
                header(kind::WINDOW_UPDATE, 0, stream, len),
                Bytes::from(vec![1; len]),
            )
            .unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, None);
            assert!(e.reason.contains("§6.9"));
        }
    }

    #[test]
    fn zero_increment_on_connection_is_connection_error() {
        let e = parse(
            header(kind::WINDOW_UPDATE, 0, 0, 4),
            Bytes::from_static(b"\0\0\0\0"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn zero_increment_on_stream_is_stream_error() {
        // Only the reserved bit set: still a zero increment.
        let e = parse(
            header(kind::WINDOW_UPDATE, 0, 5, 4),
            Bytes::from_static(b"\x80\0\0\0"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, Some(StreamId(5)));
    }

    #[test]
    fn encode_bytes() {
        let w = WindowUpdate {
            stream_id: StreamId(1),
            increment: 0x0102_0304,
        };
        let mut buf = BytesMut::new();
        w.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x04\x08\0\0\0\0\x01\x01\x02\x03\x04");
    }

    #[test]
    fn round_trip() {
        for (stream, increment) in [(0, 1), (7, 0x7fff_ffff)] {
            let w = WindowUpdate {
                stream_id: StreamId(stream),
                increment,
            };
            let mut buf = BytesMut::new();
            w.encode(&mut buf);
            let (h, p) = split(buf);
            assert_eq!(parse(h, p).unwrap(), w);
        }
    }
}
