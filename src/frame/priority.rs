//! PRIORITY frames (RFC 9113 §6.3) and the priority fields they share with
//! HEADERS (§5.3.2 of RFC 7540, kept in RFC 9113 for compatibility).

use bytes::{BufMut, Bytes, BytesMut};

use super::{FrameError, FrameHeader, Priority, PrioritySpec, StreamId, kind};
use crate::error::ErrorCode;

/// Length of the priority fields: exclusive bit, stream dependency, weight.
pub(crate) const PRIORITY_SPEC_LEN: usize = 5;

impl PrioritySpec {
    /// Reads the 5 priority bytes; the caller has checked the length.
    pub(crate) fn from_bytes(b: [u8; PRIORITY_SPEC_LEN]) -> PrioritySpec {
        let dep = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        PrioritySpec {
            dependency: StreamId(dep & 0x7fff_ffff),
            exclusive: dep & 0x8000_0000 != 0,
            weight: b[4],
        }
    }

    /// The 5 priority bytes.
    pub(crate) fn to_bytes(self) -> [u8; PRIORITY_SPEC_LEN] {
        let mut dep = self.dependency.0 & 0x7fff_ffff;
        if self.exclusive {
            dep |= 0x8000_0000;
        }
        let d = dep.to_be_bytes();
        [d[0], d[1], d[2], d[3], self.weight]
    }
}

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Priority, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "PRIORITY frame on stream 0 (RFC 9113 §6.3)",
        ));
    }
    let Ok(b) = <[u8; PRIORITY_SPEC_LEN]>::try_from(&payload[..]) else {
        return Err(FrameError::stream(
            header.stream_id,
            ErrorCode::FRAME_SIZE_ERROR,
            "PRIORITY payload length is not 5 (RFC 9113 §6.3)",
        ));
    };
    let spec = PrioritySpec::from_bytes(b);
    if spec.dependency == header.stream_id {
        return Err(FrameError::stream(
            header.stream_id,
            ErrorCode::PROTOCOL_ERROR,
            "stream depends on itself (RFC 9113 §5.3.1)",
        ));
    }
    Ok(Priority {
        stream_id: header.stream_id,
        spec,
    })
}

impl Priority {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let head = FrameHeader {
            length: PRIORITY_SPEC_LEN as u32,
            kind: kind::PRIORITY,
            flags: 0,
            stream_id: self.stream_id,
        };
        head.encode(dst);
        dst.put_slice(&self.spec.to_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_fields() {
        let p = parse(
            header(kind::PRIORITY, 0xff, 5, 5),
            Bytes::from_static(b"\x80\0\0\x03\xff"),
        )
        .unwrap();
        assert_eq!(p.stream_id, StreamId(5));
        assert_eq!(
            p.spec,
            PrioritySpec {
                dependency: StreamId(3),
                exclusive: true,
                weight: 255,
            }
        );
        let p = parse(
            header(kind::PRIORITY, 0, 5, 5),
            Bytes::from_static(b"\0\0\0\0\0"),
        )
        .unwrap();
        assert!(!p.spec.exclusive);
        assert_eq!(p.spec.dependency, StreamId::ZERO);
        assert_eq!(p.spec.weight, 0);
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(
            header(kind::PRIORITY, 0, 0, 5),
            Bytes::from_static(b"\0\0\0\x01\0"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn wrong_length_is_stream_frame_size_error() {
        for len in [0usize, 4, 6] {
            let payload = Bytes::from(vec![0u8; len]);
            let e = parse(header(kind::PRIORITY, 0, 7, len), payload).unwrap_err();
            assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
            assert_eq!(e.stream_id, Some(StreamId(7)));
            assert!(e.reason.contains("§6.3"));
        }
    }

    #[test]
    fn self_dependency_is_stream_protocol_error() {
        let e = parse(
            header(kind::PRIORITY, 0, 7, 5),
            Bytes::from_static(b"\x80\0\0\x07\x10"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, Some(StreamId(7)));
    }

    #[test]
    fn encode_bytes() {
        let p = Priority {
            stream_id: StreamId(1),
            spec: PrioritySpec {
                dependency: StreamId(0x7fff_ffff),
                exclusive: false,
                weight: 15,
            },
        };
        let mut buf = BytesMut::new();
        p.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x05\x02\0\0\0\0\x01\x7f\xff\xff\xff\x0f");
    }

    #[test]
    fn round_trip() {
        for exclusive in [false, true] {
            let p = Priority {
                stream_id: StreamId(9),
                spec: PrioritySpec {
                    dependency: StreamId(3),
                    exclusive,
                    weight: 200,
                },
            };
            let mut buf = BytesMut::new();
            p.encode(&mut buf);
            let (h, pl) = split(buf);
            assert_eq!(parse(h, pl).unwrap(), p);
        }
    }
}
