//! DATA frames (RFC 9113 §6.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    Data, FRAME_HEADER_LEN, FrameError, FrameHeader, StreamId, flags, kind, strip_padding,
};
use crate::error::ErrorCode;

#[inline]
pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Data, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "DATA frame on stream 0 (RFC 9113 §6.1)",
        ));
    }
    // Flow control counts the whole payload, Pad Length and padding
    // included (§6.9.1).
    let flow_len = header.length;
    let payload = strip_padding(&header, payload, 0)?;
    Ok(Data {
        stream_id: header.stream_id,
        payload,
        end_stream: header.flags & flags::END_STREAM != 0,
        flow_len,
    })
}

impl Data {
    /// Appends the whole frame to `dst`, unpadded. The payload must fit in
    /// the peer's SETTINGS_MAX_FRAME_SIZE.
    pub fn encode(&self, dst: &mut BytesMut) {
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        dst.reserve(FRAME_HEADER_LEN + self.payload.len());
        dst.put_slice(&Data::head(self.stream_id, len, self.end_stream));
        dst.put_slice(&self.payload);
    }

    /// The 9-byte header of a DATA frame carrying `len` bytes, unpadded:
    /// write it, then send the payload as it is (zero-copy sends). `len`
    /// must fit in the peer's SETTINGS_MAX_FRAME_SIZE.
    pub fn head(stream_id: StreamId, len: u32, end_stream: bool) -> [u8; FRAME_HEADER_LEN] {
        FrameHeader {
            length: len,
            kind: kind::DATA,
            flags: if end_stream { flags::END_STREAM } else { 0 },
            stream_id,
        }
        .to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_plain() {
        let payload = Bytes::from_static(b"hello");
        let d = parse(header(kind::DATA, flags::END_STREAM, 3, 5), payload.clone()).unwrap();
        assert_eq!(d.stream_id, StreamId(3));
        assert_eq!(&d.payload[..], b"hello");
        assert!(d.end_stream);
        assert_eq!(d.flow_len, 5);
        // Zero copy: the payload is a slice of the input.
        assert_eq!(d.payload.as_ptr(), payload.as_ptr());
    }

    #[test]
    fn parse_padded_counts_padding_in_flow_len() {
        let payload = Bytes::from_static(b"\x03hi\0\0\0");
        let d = parse(header(kind::DATA, flags::PADDED, 1, 6), payload.clone()).unwrap();
        assert_eq!(&d.payload[..], b"hi");
        assert!(!d.end_stream);
        assert_eq!(d.flow_len, 6);
        assert_eq!(d.payload.as_ptr(), payload[1..].as_ptr());
    }

    #[test]
    fn parse_padded_empty_data() {
        let d = parse(
            header(kind::DATA, flags::PADDED, 1, 3),
            Bytes::from_static(b"\x02\0\0"),
        )
        .unwrap();
        assert!(d.payload.is_empty());
        assert_eq!(d.flow_len, 3);
    }

    #[test]
    fn unknown_flags_ignored() {
        let d = parse(header(kind::DATA, 0xf6, 1, 1), Bytes::from_static(b"x")).unwrap();
        assert_eq!(&d.payload[..], b"x");
        assert!(!d.end_stream);
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(header(kind::DATA, 0, 0, 1), Bytes::from_static(b"x")).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("§6.1"));
    }

    #[test]
    fn too_much_padding_is_protocol_error() {
        let e = parse(
            header(kind::DATA, flags::PADDED, 1, 3),
            Bytes::from_static(b"\x03\0\0"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn padded_without_pad_length_is_frame_size_error() {
        let e = parse(header(kind::DATA, flags::PADDED, 1, 0), Bytes::new()).unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn head_bytes() {
        assert_eq!(
            Data::head(StreamId(1), 0x01_0203, true),
            [0x01, 0x02, 0x03, kind::DATA, flags::END_STREAM, 0, 0, 0, 1]
        );
        assert_eq!(
            Data::head(StreamId(0x7fff_ffff), 0, false),
            [0, 0, 0, kind::DATA, 0, 0x7f, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn encode_bytes() {
        let d = Data {
            stream_id: StreamId(5),
            payload: Bytes::from_static(b"abc"),
            end_stream: false,
            flow_len: 3,
        };
        let mut buf = BytesMut::new();
        d.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x03\0\0\0\0\0\x05abc");
    }

    #[test]
    fn round_trip() {
        for end_stream in [false, true] {
            let d = Data {
                stream_id: StreamId(7),
                payload: Bytes::from(vec![0xab; 300]),
                end_stream,
                flow_len: 300,
            };
            let mut buf = BytesMut::new();
            d.encode(&mut buf);
            let (h, p) = split(buf);
            assert_eq!(parse(h, p).unwrap(), d);
        }
    }
}
