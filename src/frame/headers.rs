//! HEADERS frames (RFC 9113 §6.2).

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::priority::PRIORITY_SPEC_LEN;
use super::{
    FRAME_HEADER_LEN, FrameError, FrameHeader, Headers, PrioritySpec, flags, kind, strip_padding,
};
use crate::error::ErrorCode;

#[inline]
pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Headers, FrameError> {
    if header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "HEADERS frame on stream 0 (RFC 9113 §6.2)",
        ));
    }
    let has_priority = header.flags & flags::PRIORITY != 0;
    // With PRIORITY, the 5 priority bytes follow the Pad Length field and
    // are mandatory: padding may only cover what comes after them.
    let min_rest = if has_priority { PRIORITY_SPEC_LEN } else { 0 };
    let mut fragment = strip_padding(&header, payload, min_rest)?;
    let priority = if has_priority {
        let mut b = [0u8; PRIORITY_SPEC_LEN];
        // strip_padding checked there are at least PRIORITY_SPEC_LEN bytes.
        fragment.copy_to_slice(&mut b);
        // A self-dependency is not rejected here (see `Headers::priority`).
        Some(PrioritySpec::from_bytes(b))
    } else {
        None
    };
    Ok(Headers {
        stream_id: header.stream_id,
        fragment,
        end_stream: header.flags & flags::END_STREAM != 0,
        end_headers: header.flags & flags::END_HEADERS != 0,
        priority,
    })
}

impl Headers {
    /// Appends the whole frame to `dst`, unpadded; the priority fields are
    /// written iff `priority` is `Some`. The fragment (plus 5 bytes with
    /// priority) must fit in the peer's SETTINGS_MAX_FRAME_SIZE.
    pub fn encode(&self, dst: &mut BytesMut) {
        let prio_len = if self.priority.is_some() {
            PRIORITY_SPEC_LEN
        } else {
            0
        };
        let len = prio_len + self.fragment.len();
        let mut f = 0;
        if self.end_stream {
            f |= flags::END_STREAM;
        }
        if self.end_headers {
            f |= flags::END_HEADERS;
        }
        if self.priority.is_some() {
            f |= flags::PRIORITY;
        }
        let head = FrameHeader {
            length: u32::try_from(len).unwrap_or(u32::MAX),
            kind: kind::HEADERS,
            flags: f,
            stream_id: self.stream_id,
        };
        dst.reserve(FRAME_HEADER_LEN + len);
        head.encode(dst);
        if let Some(spec) = self.priority {
            dst.put_slice(&spec.to_bytes());
        }
        dst.put_slice(&self.fragment);
    }
}

#[cfg(test)]
mod tests {
    use super::super::StreamId;
    use super::super::test_util::{header, split};
    use super::*;

    #[test]
    fn parse_plain() {
        let payload = Bytes::from_static(b"\x82\x84");
        let h = parse(
            header(kind::HEADERS, flags::END_HEADERS | flags::END_STREAM, 1, 2),
            payload.clone(),
        )
        .unwrap();
        assert_eq!(h.stream_id, StreamId(1));
        assert_eq!(h.fragment, payload);
        assert_eq!(h.fragment.as_ptr(), payload.as_ptr());
        assert!(h.end_stream);
        assert!(h.end_headers);
        assert_eq!(h.priority, None);
    }

    #[test]
    fn parse_padded_with_priority() {
        // Pad Length 2, E + dependency 3, weight 16, fragment "ab", 2 pad.
        let payload = Bytes::from_static(b"\x02\x80\0\0\x03\x10ab\0\0");
        let h = parse(
            header(kind::HEADERS, flags::PADDED | flags::PRIORITY, 5, 10),
            payload.clone(),
        )
        .unwrap();
        assert_eq!(&h.fragment[..], b"ab");
        assert_eq!(h.fragment.as_ptr(), payload[6..].as_ptr());
        assert!(!h.end_stream);
        assert!(!h.end_headers);
        assert_eq!(
            h.priority,
            Some(PrioritySpec {
                dependency: StreamId(3),
                exclusive: true,
                weight: 16,
            })
        );
    }

    #[test]
    fn parse_priority_unpadded() {
        let h = parse(
            header(kind::HEADERS, flags::PRIORITY, 5, 6),
            Bytes::from_static(b"\0\0\0\x01\xffx"),
        )
        .unwrap();
        assert_eq!(&h.fragment[..], b"x");
        let p = h.priority.unwrap();
        assert_eq!(p.dependency, StreamId(1));
        assert!(!p.exclusive);
        assert_eq!(p.weight, 255);
    }

    #[test]
    fn padding_filling_the_rest_leaves_empty_fragment() {
        let h = parse(
            header(kind::HEADERS, flags::PADDED | flags::PRIORITY, 5, 8),
            Bytes::from_static(b"\x02\0\0\0\x01\x10\0\0"),
        )
        .unwrap();
        assert!(h.fragment.is_empty());
        assert!(h.priority.is_some());
    }

    #[test]
    fn self_dependency_is_not_rejected() {
        let h = parse(
            header(kind::HEADERS, flags::PRIORITY, 5, 5),
            Bytes::from_static(b"\0\0\0\x05\x10"),
        )
        .unwrap();
        assert_eq!(h.priority.unwrap().dependency, StreamId(5));
    }

    #[test]
    fn unknown_flags_ignored() {
        let h = parse(header(kind::HEADERS, 0xd2, 1, 1), Bytes::from_static(b"x")).unwrap();
        assert_eq!(&h.fragment[..], b"x");
        assert!(!h.end_stream && !h.end_headers && h.priority.is_none());
    }

    #[test]
    fn stream_zero_is_connection_protocol_error() {
        let e = parse(header(kind::HEADERS, 0, 0, 1), Bytes::from_static(b"x")).unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("§6.2"));
    }

    #[test]
    fn padding_over_priority_fields_is_protocol_error() {
        // Pad Length 1 with only the five priority bytes after it.
        let e = parse(
            header(kind::HEADERS, flags::PADDED | flags::PRIORITY, 5, 6),
            Bytes::from_static(b"\x01\0\0\0\x01\x10"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn too_much_padding_is_protocol_error() {
        let e = parse(
            header(kind::HEADERS, flags::PADDED, 5, 3),
            Bytes::from_static(b"\x03ab"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
        assert_eq!(e.stream_id, None);
    }

    #[test]
    fn too_short_for_priority_is_frame_size_error() {
        let e = parse(
            header(kind::HEADERS, flags::PRIORITY, 5, 4),
            Bytes::from_static(b"\0\0\0\x01"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        assert_eq!(e.stream_id, None);
        let e = parse(
            header(kind::HEADERS, flags::PADDED | flags::PRIORITY, 5, 5),
            Bytes::from_static(b"\0\0\0\0\x01"),
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        let e = parse(header(kind::HEADERS, flags::PADDED, 5, 0), Bytes::new()).unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn encode_bytes() {
        let h = Headers {
            stream_id: StreamId(1),
            fragment: Bytes::from_static(b"\x82"),
            end_stream: true,
            end_headers: true,
            priority: None,
        };
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x01\x01\x05\0\0\0\x01\x82");

        let h = Headers {
            priority: Some(PrioritySpec {
                dependency: StreamId(3),
                exclusive: true,
                weight: 7,
            }),
            end_stream: false,
            ..h
        };
        let mut buf = BytesMut::new();
        h.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\x06\x01\x24\0\0\0\x01\x80\0\0\x03\x07\x82");
    }

    #[test]
    fn round_trip() {
        let spec = PrioritySpec {
            dependency: StreamId(1),
            exclusive: false,
            weight: 0,
        };
        for priority in [None, Some(spec)] {
            for (end_stream, end_headers) in [(false, false), (true, false), (false, true)] {
                let h = Headers {
                    stream_id: StreamId(3),
                    fragment: Bytes::from_static(b"fragment"),
                    end_stream,
                    end_headers,
                    priority,
                };
                let mut buf = BytesMut::new();
                h.encode(&mut buf);
                let (fh, p) = split(buf);
                assert_eq!(parse(fh, p).unwrap(), h);
            }
        }
    }
}
