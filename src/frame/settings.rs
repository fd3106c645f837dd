//! SETTINGS frames (RFC 9113 §6.5).

use bytes::{BufMut, Bytes, BytesMut};

use super::{
    DEFAULT_MAX_FRAME_SIZE, FRAME_HEADER_LEN, FrameError, FrameHeader, MAX_MAX_FRAME_SIZE,
    MAX_WINDOW_SIZE, Settings, StreamId, flags, kind,
};
use crate::error::ErrorCode;

/// Setting identifiers (RFC 9113 §6.5.2, RFC 8441 §3).
mod id {
    pub(super) const HEADER_TABLE_SIZE: u16 = 0x1;
    pub(super) const ENABLE_PUSH: u16 = 0x2;
    pub(super) const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub(super) const INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub(super) const MAX_FRAME_SIZE: u16 = 0x5;
    pub(super) const MAX_HEADER_LIST_SIZE: u16 = 0x6;
    pub(super) const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;
}

/// One setting on the wire: 16-bit identifier, 32-bit value.
const ENTRY_LEN: usize = 6;

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Settings, FrameError> {
    if !header.stream_id.is_zero() {
        return Err(FrameError::connection(
            ErrorCode::PROTOCOL_ERROR,
            "SETTINGS frame on a stream other than 0 (RFC 9113 §6.5)",
        ));
    }
    let ack = header.flags & flags::ACK != 0;
    if ack {
        if !payload.is_empty() {
            return Err(FrameError::connection(
                ErrorCode::FRAME_SIZE_ERROR,
                "SETTINGS ACK with a non-empty payload (RFC 9113 §6.5)",
            ));
        }
        return Ok(Settings {
            ack: true,
            ..Settings::default()
        });
    }
    if payload.len() % ENTRY_LEN != 0 {
        return Err(FrameError::connection(
            ErrorCode::FRAME_SIZE_ERROR,
            "SETTINGS payload length is not a multiple of 6 (RFC 9113 §6.5)",
        ));
    }
    let mut s = Settings::default();
    for entry in payload.chunks_exact(ENTRY_LEN) {
        let &[i0, i1, v0, v1, v2, v3] = entry else {
            // chunks_exact yields ENTRY_LEN bytes only.
            continue;
        };
        let value = u32::from_be_bytes([v0, v1, v2, v3]);
        // A repeated setting: the last value wins (§6.5.3 processes them
        // in order).
        match u16::from_be_bytes([i0, i1]) {
            id::HEADER_TABLE_SIZE => s.header_table_size = Some(value),
            id::ENABLE_PUSH => {
                s.enable_push = Some(bool_setting(
                    value,
                    "SETTINGS_ENABLE_PUSH is neither 0 nor 1 (RFC 9113 §6.5.2)",
                )?)
            }
            id::MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
            id::INITIAL_WINDOW_SIZE => {
                if value > MAX_WINDOW_SIZE {
                    return Err(FrameError::connection(
                        ErrorCode::FLOW_CONTROL_ERROR,
                        "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 (RFC 9113 §6.5.2)",
                    ));
                }
                s.initial_window_size = Some(value);
            }
            id::MAX_FRAME_SIZE => {
                if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) {
                    return Err(FrameError::connection(
                        ErrorCode::PROTOCOL_ERROR,
                        "SETTINGS_MAX_FRAME_SIZE outside 2^14 ..= 2^24-1 (RFC 9113 §6.5.2)",
                    ));
                }
                s.max_frame_size = Some(value);
            }
            id::MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
            id::ENABLE_CONNECT_PROTOCOL => {
                s.enable_connect_protocol = Some(bool_setting(
                    value,
                    "SETTINGS_ENABLE_CONNECT_PROTOCOL is neither 0 nor 1 (RFC 8441 §3)",
                )?)
            }
            // Unknown settings are ignored (§6.5.2).
            _ => {}
        }
    }
    Ok(s)
}

fn bool_setting(value: u32, reason: &'static str) -> Result<bool, FrameError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FrameError::connection(ErrorCode::PROTOCOL_ERROR, reason)),
    }
}

impl Settings {
    /// The parameters to write, in identifier order.
    fn entries(&self) -> impl Iterator<Item = (u16, u32)> {
        [
            (id::HEADER_TABLE_SIZE, self.header_table_size),
            (id::ENABLE_PUSH, self.enable_push.map(u32::from)),
            (id::MAX_CONCURRENT_STREAMS, self.max_concurrent_streams),
            (id::INITIAL_WINDOW_SIZE, self.initial_window_size),
            (id::MAX_FRAME_SIZE, self.max_frame_size),
            (id::MAX_HEADER_LIST_SIZE, self.max_header_list_size),
            (
                id::ENABLE_CONNECT_PROTOCOL,
                self.enable_connect_protocol.map(u32::from),
            ),
        ]
        .into_iter()
        .filter_map(|(id, v)| v.map(|v| (id, v)))
    }

    /// Appends the whole frame to `dst`: the `Some` parameters in
    /// identifier order, or an empty payload for an ACK.
    pub fn encode(&self, dst: &mut BytesMut) {
        if self.ack {
            FrameHeader {
                length: 0,
                kind: kind::SETTINGS,
                flags: flags::ACK,
                stream_id: StreamId::ZERO,
            }
            .encode(dst);
            return;
        }
        let len = self.entries().count() * ENTRY_LEN;
        dst.reserve(FRAME_HEADER_LEN + len);
        FrameHeader {
            // At most 7 entries.
            length: len as u32,
            kind: kind::SETTINGS,
            flags: 0,
            stream_id: StreamId::ZERO,
        }
        .encode(dst);
        for (id, value) in self.entries() {
            dst.put_u16(id);
            dst.put_u32(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::{header, split};
    use super::*;

    fn entries(list: &[(u16, u32)]) -> Bytes {
        let mut b = BytesMut::new();
        for &(id, v) in list {
            b.put_u16(id);
            b.put_u32(v);
        }
        b.freeze()
    }

    fn parse_entries(list: &[(u16, u32)]) -> Result<Settings, FrameError> {
        let p = entries(list);
        parse(header(kind::SETTINGS, 0, 0, p.len()), p)
    }

    fn all() -> Settings {
        Settings {
            ack: false,
            header_table_size: Some(4096),
            enable_push: Some(false),
            max_concurrent_streams: Some(100),
            initial_window_size: Some(MAX_WINDOW_SIZE),
            max_frame_size: Some(MAX_MAX_FRAME_SIZE),
            max_header_list_size: Some(16 << 10),
            enable_connect_protocol: Some(true),
        }
    }

    #[test]
    fn parse_all_settings() {
        let s = parse_entries(&[
            (1, 4096),
            (2, 0),
            (3, 100),
            (4, MAX_WINDOW_SIZE),
            (5, MAX_MAX_FRAME_SIZE),
            (6, 16 << 10),
            (8, 1),
        ])
        .unwrap();
        assert_eq!(s, all());
    }

    #[test]
    fn parse_empty() {
        assert_eq!(parse_entries(&[]).unwrap(), Settings::default());
    }

    #[test]
    fn parse_ack() {
        let s = parse(
            header(kind::SETTINGS, flags::ACK | 0xf0, 0, 0),
            Bytes::new(),
        )
        .unwrap();
        assert_eq!(
            s,
            Settings {
                ack: true,
                ..Settings::default()
            }
        );
    }

    #[test]
    fn unknown_ids_ignored_and_last_value_wins() {
        let s = parse_entries(&[
            (1, 10),
            (0x7, 5),
            (0xffff, 9),
            (0, 3),
            (1, 20),
            (2, 1),
            (2, 0),
        ])
        .unwrap();
        assert_eq!(
            s,
            Settings {
                header_table_size: Some(20),
                enable_push: Some(false),
                ..Settings::default()
            }
        );
    }

    #[test]
    fn boundary_values_accepted() {
        let s = parse_entries(&[(4, 0), (5, DEFAULT_MAX_FRAME_SIZE), (8, 0), (2, 1)]).unwrap();
        assert_eq!(s.initial_window_size, Some(0));
        assert_eq!(s.max_frame_size, Some(DEFAULT_MAX_FRAME_SIZE));
        assert_eq!(s.enable_connect_protocol, Some(false));
        assert_eq!(s.enable_push, Some(true));
    }

    fn assert_conn(e: FrameError, code: ErrorCode) {
        assert_eq!(e.code, code);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("RFC"));
    }

    #[test]
    fn non_zero_stream_is_protocol_error() {
        let e = parse(header(kind::SETTINGS, 0, 1, 0), Bytes::new()).unwrap_err();
        assert_conn(e, ErrorCode::PROTOCOL_ERROR);
        let e = parse(header(kind::SETTINGS, flags::ACK, 1, 0), Bytes::new()).unwrap_err();
        assert_conn(e, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn ack_with_payload_is_frame_size_error() {
        let p = entries(&[(1, 0)]);
        let e = parse(header(kind::SETTINGS, flags::ACK, 0, p.len()), p).unwrap_err();
        assert_conn(e, ErrorCode::FRAME_SIZE_ERROR);
        let e = parse(
            header(kind::SETTINGS, flags::ACK, 0, 1),
            Bytes::from_static(b"\0"),
        )
        .unwrap_err();
        assert_conn(e, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn length_not_multiple_of_6_is_frame_size_error() {
        for len in [1usize, 5, 7, 11] {
            let e =
                parse(header(kind::SETTINGS, 0, 0, len), Bytes::from(vec![0; len])).unwrap_err();
            assert_conn(e, ErrorCode::FRAME_SIZE_ERROR);
        }
    }

    #[test]
    fn bad_enable_push_is_protocol_error() {
        let e = parse_entries(&[(2, 2)]).unwrap_err();
        assert_conn(e, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn bad_initial_window_size_is_flow_control_error() {
        let e = parse_entries(&[(4, MAX_WINDOW_SIZE + 1)]).unwrap_err();
        assert_conn(e, ErrorCode::FLOW_CONTROL_ERROR);
        let e = parse_entries(&[(4, u32::MAX)]).unwrap_err();
        assert_conn(e, ErrorCode::FLOW_CONTROL_ERROR);
    }

    #[test]
    fn bad_max_frame_size_is_protocol_error() {
        for v in [
            0,
            DEFAULT_MAX_FRAME_SIZE - 1,
            MAX_MAX_FRAME_SIZE + 1,
            u32::MAX,
        ] {
            let e = parse_entries(&[(5, v)]).unwrap_err();
            assert_conn(e, ErrorCode::PROTOCOL_ERROR);
        }
    }

    #[test]
    fn bad_enable_connect_protocol_is_protocol_error() {
        let e = parse_entries(&[(8, 2)]).unwrap_err();
        assert_conn(e, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn encode_writes_some_fields_in_id_order() {
        let s = Settings {
            max_frame_size: Some(0x4000),
            enable_push: Some(false),
            ..Settings::default()
        };
        let mut buf = BytesMut::new();
        s.encode(&mut buf);
        assert_eq!(
            &buf[..],
            b"\0\0\x0c\x04\0\0\0\0\0\0\x02\0\0\0\0\0\x05\0\0\x40\0"
        );
    }

    #[test]
    fn encode_ack_is_empty() {
        let s = Settings {
            ack: true,
            header_table_size: Some(1),
            ..Settings::default()
        };
        let mut buf = BytesMut::new();
        s.encode(&mut buf);
        assert_eq!(&buf[..], b"\0\0\0\x04\x01\0\0\0\0");
    }

    #[test]
    fn round_trip() {
        let ack = Settings {
            ack: true,
            ..Settings::default()
        };
        for s in [all(), Settings::default(), ack] {
            let mut buf = BytesMut::new();
            s.encode(&mut buf);
            let (h, p) = split(buf);
            assert_eq!(parse(h, p).unwrap(), s);
        }
    }
}
