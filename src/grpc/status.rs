//! gRPC status: [`Code`], [`Status`], `grpc-status` parsing, `grpc-message`
//! percent-encoding, and the mappings from HTTP status codes and HTTP/2
//! RST_STREAM error codes.
//!
//! References (grpc/grpc repository):
//! * `doc/statuscodes.md` — the 17 codes and their numbers;
//! * `doc/PROTOCOL-HTTP2.md` — `Status` (`grpc-status 1*DIGIT`),
//!   `Status-Message` (`grpc-message`, UTF-8 then percent-encoded), and the
//!   RST_STREAM → gRPC code table ("Errors");
//! * `doc/http-grpc-status-mapping.md` — the HTTP status → gRPC code table,
//!   used only when a response carries no `grpc-status`.

use core::fmt;

use bytes::Bytes;

use crate::error::ErrorCode;

/// A gRPC status code (`doc/statuscodes.md`).
///
/// The numeric values are those of the spec. Values outside `0..=16`
/// received from a peer become [`Code::Unknown`] ([`Code::from_i32`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
pub enum Code {
    /// `OK` (0): not an error; returned on success.
    Ok = 0,
    /// `CANCELLED` (1): the operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// `UNKNOWN` (2): unknown error.
    Unknown = 2,
    /// `INVALID_ARGUMENT` (3): the client specified an invalid argument.
    InvalidArgument = 3,
    /// `DEADLINE_EXCEEDED` (4): the deadline expired before the operation
    /// could complete.
    DeadlineExceeded = 4,
    /// `NOT_FOUND` (5): some requested entity was not found.
    NotFound = 5,
    /// `ALREADY_EXISTS` (6): the entity a client tried to create exists.
    AlreadyExists = 6,
    /// `PERMISSION_DENIED` (7): the caller may not execute the operation.
    PermissionDenied = 7,
    /// `RESOURCE_EXHAUSTED` (8): some resource has been exhausted.
    ResourceExhausted = 8,
    /// `FAILED_PRECONDITION` (9): the system is not in a state required for
    /// the operation.
    FailedPrecondition = 9,
    /// `ABORTED` (10): the operation was aborted, typically due to a
    /// concurrency issue.
    Aborted = 10,
    /// `OUT_OF_RANGE` (11): the operation was attempted past the valid range.
    OutOfRange = 11,
    /// `UNIMPLEMENTED` (12): the operation is not implemented or supported.
    Unimplemented = 12,
    /// `INTERNAL` (13): internal error; an invariant was broken.
    Internal = 13,
    /// `UNAVAILABLE` (14): the service is currently unavailable; retrying
    /// may help.
    Unavailable = 14,
    /// `DATA_LOSS` (15): unrecoverable data loss or corruption.
    DataLoss = 15,
    /// `UNAUTHENTICATED` (16): no valid authentication credentials.
    Unauthenticated = 16,
}

/// All codes, in numeric order.
const ALL: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

/// `grpc-status` header values, indexed by code number.
const WIRE: [&str; 17] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16",
];

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 17] = ALL;

    /// The code with this number; any number outside `0..=16` is
    /// [`Code::Unknown`], as `doc/statuscodes.md` requires of receivers.
    pub fn from_i32(v: i32) -> Code {
        usize::try_from(v)
            .ok()
            .and_then(|i| ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// The code's number.
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The canonical upper-case name, e.g. `"DEADLINE_EXCEEDED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The `grpc-status` header value for this code: its decimal number
    /// without leading zeros (PROTOCOL-HTTP2.md, "Status").
    pub fn header_value(self) -> &'static str {
        WIRE[self as usize]
    }

    /// Parses a received `grpc-status` value (PROTOCOL-HTTP2.md:
    /// `Status → "grpc-status" 1*DIGIT`).
    ///
    /// Strict: only ASCII digits are accepted (no sign, no whitespace, not
    /// empty). Leading zeros, which senders must not produce, are tolerated
    /// since they do not change the number. Anything malformed, too large,
    /// or a number that is not a known code yields [`Code::Unknown`].
    pub fn from_header_value(v: &[u8]) -> Code {
        if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
            return Code::Unknown;
        }
        let mut n: i32 = 0;
        for &d in v {
            n = match n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i32::from(d - b'0')))
            {
                Some(n) => n,
                None => return Code::Unknown,
            };
        }
        Code::from_i32(n)
    }

    /// The code for a response that carried no `grpc-status` but this HTTP
    /// status (`doc/http-grpc-status-mapping.md`): 400 and 431 → `INTERNAL`,
    /// 401 → `UNAUTHENTICATED`, 403 → `PERMISSION_DENIED`,
    /// 404 → `UNIMPLEMENTED`, 429/502/503/504 → `UNAVAILABLE`, everything
    /// else (200 included) → `UNKNOWN`.
    ///
    /// Clients only; servers must not use this table in reverse.
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 | 431 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502..=504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }

    /// The code for a stream reset by the peer with this HTTP/2 error code
    /// (PROTOCOL-HTTP2.md, "Errors"):
    ///
    /// | HTTP/2 code | gRPC code |
    /// |---|---|
    /// | `REFUSED_STREAM` | `UNAVAILABLE` (nothing was processed; retry is safe) |
    /// | `CANCEL` | `CANCELLED` |
    /// | `ENHANCE_YOUR_CALM` | `RESOURCE_EXHAUSTED` |
    /// | `INADEQUATE_SECURITY` | `PERMISSION_DENIED` |
    /// | all others | `INTERNAL` |
    ///
    /// The spec gives no mapping for `STREAM_CLOSED` (there is no open
    /// stream to report to) and none for `HTTP_1_1_REQUIRED`; should one
    /// reach a call anyway it is `INTERNAL`, like unknown codes, which
    /// RFC 9113 §7 allows to be treated as `INTERNAL_ERROR`.
    pub fn from_h2_reset(code: ErrorCode) -> Code {
        match code {
            ErrorCode::REFUSED_STREAM => Code::Unavailable,
            ErrorCode::CANCEL => Code::Cancelled,
            ErrorCode::ENHANCE_YOUR_CALM => Code::ResourceExhausted,
            ErrorCode::INADEQUATE_SECURITY => Code::PermissionDenied,
            _ => Code::Internal,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<i32> for Code {
    fn from(v: i32) -> Code {
        Code::from_i32(v)
    }
}

impl From<Code> for i32 {
    fn from(c: Code) -> i32 {
        c.as_i32()
    }
}

/// The outcome of a call: a [`Code`], a message, and optional details.
///
/// On the wire these are the trailers `grpc-status`, `grpc-message`
/// (see [`encode_message`] / [`decode_message`]) and
/// `grpc-status-details-bin` (typically a serialized `google.rpc.Status`;
/// kept here as opaque bytes, already base64-decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The status code.
    pub code: Code,
    /// A human-readable message (may be empty).
    pub message: String,
    /// The `grpc-status-details-bin` payload, if any.
    pub details: Option<Bytes>,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with this code and message and no details.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// A status with this code, message and `grpc-status-details-bin`
    /// payload.
    pub fn with_details(code: Code, message: impl Into<String>, details: Bytes) -> Status {
        Status {
            code,
            message: message.into(),
            details: Some(details),
        }
    }

    /// `OK` with an empty message.
    pub fn ok() -> Status {
        Status::new(Code::Ok, "")
    }

    /// Whether the code is [`Code::Ok`].
    pub fn is_ok(&self) -> bool {
        self.code == Code::Ok
    }

    constructors! {
        /// A `CANCELLED` status.
        cancelled => Cancelled;
        /// An `UNKNOWN` status.
        unknown => Unknown;
        /// An `INVALID_ARGUMENT` status.
        invalid_argument => InvalidArgument;
        /// A `DEADLINE_EXCEEDED` status.
        deadline_exceeded => DeadlineExceeded;
        /// A `NOT_FOUND` status.
        not_found => NotFound;
        /// An `ALREADY_EXISTS` status.
        already_exists => AlreadyExists;
        /// A `PERMISSION_DENIED` status.
        permission_denied => PermissionDenied;
        /// A `RESOURCE_EXHAUSTED` status.
        resource_exhausted => ResourceExhausted;
        /// A `FAILED_PRECONDITION` status.
        failed_precondition => FailedPrecondition;
        /// An `ABORTED` status.
        aborted => Aborted;
        /// An `OUT_OF_RANGE` status.
        out_of_range => OutOfRange;
        /// An `UNIMPLEMENTED` status.
        unimplemented => Unimplemented;
        /// An `INTERNAL` status.
        internal => Internal;
        /// An `UNAVAILABLE` status.
        unavailable => Unavailable;
        /// A `DATA_LOSS` status.
        data_loss => DataLoss;
        /// An `UNAUTHENTICATED` status.
        unauthenticated => Unauthenticated;
    }

    /// The status a client synthesizes for a response without
    /// `grpc-status` (PROTOCOL-HTTP2.md, "Responses": implementations must
    /// synthesize a Status and Status-Message), coded per
    /// [`Code::from_http_status`].
    pub fn from_http_status(status: u16) -> Status {
        Status::new(
            Code::from_http_status(status),
            format!("received HTTP status {status} without grpc-status"),
        )
    }

    /// The status for a stream the peer reset with `code`, coded per
    /// [`Code::from_h2_reset`].
    pub fn from_h2_reset(code: ErrorCode) -> Status {
        Status::new(
            Code::from_h2_reset(code),
            format!("the peer reset the stream (RST_STREAM with {code}, RFC 9113 §6.4)"),
        )
    }

    /// The message in its `grpc-message` wire form ([`encode_message`]).
    pub fn encoded_message(&self) -> String {
        encode_message(&self.message)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for Status {}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes a status message for `grpc-message`
/// (PROTOCOL-HTTP2.md, "Status-Message"): the message is taken as UTF-8;
/// bytes `0x20..=0x7E` other than `%` pass through, every other byte
/// (including `%` and each byte of a multi-byte character) becomes `%XX`
/// with upper-case hex digits.
pub fn encode_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes a received `grpc-message` value, leniently as PROTOCOL-HTTP2.md
/// requires ("implementations MUST NOT error or throw away the message"):
/// each valid `%XX` (either case of hex digit) becomes its byte, a `%` not
/// followed by two hex digits is kept literally, other bytes are kept as
/// they are, and the result is read as UTF-8 with invalid sequences
/// replaced by U+FFFD.
pub fn decode_message(value: &[u8]) -> String {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'%' {
            let hi = value.get(i + 1).copied().and_then(hex_value);
            let lo = value.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_statuses_name_the_code() {
        assert_eq!(
            Status::from_h2_reset(ErrorCode::REFUSED_STREAM).message,
            "the peer reset the stream (RST_STREAM with REFUSED_STREAM, RFC 9113 §6.4)"
        );
        assert_eq!(
            Status::from_h2_reset(ErrorCode(0xff)).message,
            "the peer reset the stream (RST_STREAM with unknown error code 0xff, RFC 9113 §6.4)"
        );
    }

    #[test]
    fn numbers_and_names() {
        let names = [
            "OK",
            "CANCELLED",
            "UNKNOWN",
            "INVALID_ARGUMENT",
            "DEADLINE_EXCEEDED",
            "NOT_FOUND",
            "ALREADY_EXISTS",
            "PERMISSION_DENIED",
            "RESOURCE_EXHAUSTED",
            "FAILED_PRECONDITION",
            "ABORTED",
            "OUT_OF_RANGE",
            "UNIMPLEMENTED",
            "INTERNAL",
            "UNAVAILABLE",
            "DATA_LOSS",
            "UNAUTHENTICATED",
        ];
        for (i, name) in names.iter().enumerate() {
            let n = i32::try_from(i).unwrap();
            let c = Code::from_i32(n);
            assert_eq!(c.as_i32(), n);
            assert_eq!(i32::from(c), n);
            assert_eq!(c.to_string(), *name);
            assert_eq!(c.header_value(), n.to_string());
            assert_eq!(Code::from_header_value(c.header_value().as_bytes()), c);
            assert_eq!(Code::ALL[i], c);
        }
    }

    #[test]
    fn unknown_numbers_are_unknown() {
        for n in [17, 18, 100, -1, i32::MIN, i32::MAX] {
            assert_eq!(Code::from_i32(n), Code::Unknown);
            assert_eq!(Code::from(n), Code::Unknown);
        }
    }

    #[test]
    fn header_value_parsing_is_strict() {
        assert_eq!(Code::from_header_value(b"0"), Code::Ok);
        assert_eq!(Code::from_header_value(b"14"), Code::Unavailable);
        assert_eq!(Code::from_header_value(b"004"), Code::DeadlineExceeded);
        for bad in [
            &b""[..],
            b" 0",
            b"0 ",
            b"+1",
            b"-1",
            b"1a",
            b"0x1",
            b"17",
            b"99999999999999999999999",
            b"\xff",
            b"\x00",
        ] {
            assert_eq!(Code::from_header_value(bad), Code::Unknown, "{bad:?}");
        }
    }

    #[test]
    fn http_status_mapping() {
        let table = [
            (400, Code::Internal),
            (401, Code::Unauthenticated),
            (403, Code::PermissionDenied),
            (404, Code::Unimplemented),
            (429, Code::Unavailable),
            (431, Code::Internal),
            (502, Code::Unavailable),
            (503, Code::Unavailable),
            (504, Code::Unavailable),
            (200, Code::Unknown),
            (100, Code::Unknown),
            (500, Code::Unknown),
            (505, Code::Unknown),
            (415, Code::Unknown),
            (0, Code::Unknown),
            (u16::MAX, Code::Unknown),
        ];
        for (http, code) in table {
            assert_eq!(Code::from_http_status(http), code, "{http}");
            assert_eq!(Status::from_http_status(http).code, code);
        }
        assert!(Status::from_http_status(404).message.contains("404"));
    }

    #[test]
    fn h2_reset_mapping() {
        let table = [
            (ErrorCode::NO_ERROR, Code::Internal),
            (ErrorCode::PROTOCOL_ERROR, Code::Internal),
            (ErrorCode::INTERNAL_ERROR, Code::Internal),
            (ErrorCode::FLOW_CONTROL_ERROR, Code::Internal),
            (ErrorCode::SETTINGS_TIMEOUT, Code::Internal),
            (ErrorCode::STREAM_CLOSED, Code::Internal),
            (ErrorCode::FRAME_SIZE_ERROR, Code::Internal),
            (ErrorCode::REFUSED_STREAM, Code::Unavailable),
            (ErrorCode::CANCEL, Code::Cancelled),
            (ErrorCode::COMPRESSION_ERROR, Code::Internal),
            (ErrorCode::CONNECT_ERROR, Code::Internal),
            (ErrorCode::ENHANCE_YOUR_CALM, Code::ResourceExhausted),
            (ErrorCode::INADEQUATE_SECURITY, Code::PermissionDenied),
            (ErrorCode::HTTP_1_1_REQUIRED, Code::Internal),
            (ErrorCode(0xe), Code::Internal),
            (ErrorCode(u32::MAX), Code::Internal),
        ];
        for (h2, code) in table {
            assert_eq!(Code::from_h2_reset(h2), code, "{h2}");
            assert_eq!(Status::from_h2_reset(h2).code, code);
        }
        assert!(
            Status::from_h2_reset(ErrorCode::CANCEL)
                .message
                .contains("CANCEL")
        );
    }

    #[test]
    fn constructors_and_display() {
        assert!(Status::ok().is_ok());
        assert_eq!(Status::ok().to_string(), "OK");
        let s = Status::deadline_exceeded("too slow");
        assert_eq!(s.code, Code::DeadlineExceeded);
        assert_eq!(s.to_string(), "DEADLINE_EXCEEDED: too slow");
        assert!(!s.is_ok());
        assert_eq!(Status::internal("x").code, Code::Internal);
        assert_eq!(Status::unauthenticated("x").code, Code::Unauthenticated);
        assert_eq!(Status::cancelled("x").code, Code::Cancelled);
        let d = Status::with_details(Code::Aborted, "m", Bytes::from_static(b"\x08\x0a"));
        assert_eq!(d.details.as_deref(), Some(&b"\x08\x0a"[..]));
        assert_eq!(Status::new(Code::NotFound, "a").details, None);
    }

    #[test]
    fn message_encoding() {
        assert_eq!(encode_message(""), "");
        assert_eq!(encode_message("plain text ~!"), "plain text ~!");
        assert_eq!(encode_message("100%"), "100%25");
        assert_eq!(encode_message("a\nb\tc\x7f"), "a%0Ab%09c%7F");
        assert_eq!(encode_message("é"), "%C3%A9");
        assert_eq!(encode_message("日本"), "%E6%97%A5%E6%9C%AC");
        assert_eq!(
            Status::internal("50% done\r\n").encoded_message(),
            "50%25 done%0D%0A"
        );
    }

    #[test]
    fn message_decoding() {
        assert_eq!(decode_message(b"plain"), "plain");
        assert_eq!(decode_message(b"100%25"), "100%");
        assert_eq!(decode_message(b"%c3%a9%C3%A9"), "éé");
        // Broken escapes stay literal.
        assert_eq!(decode_message(b"%"), "%");
        assert_eq!(decode_message(b"%4"), "%4");
        assert_eq!(decode_message(b"%zz%41"), "%zzA");
        assert_eq!(decode_message(b"a%%41"), "a%A");
        // Invalid UTF-8 becomes U+FFFD, the rest is kept.
        assert_eq!(decode_message(b"a%FFb"), "a\u{fffd}b");
        assert_eq!(decode_message(b"%C3"), "\u{fffd}");
        assert_eq!(decode_message(b"x\xffy"), "x\u{fffd}y");
    }

    #[test]
    fn message_round_trip() {
        let samples = [
            "",
            "%",
            "%%25",
            "hello, world",
            "tab\there",
            "\u{0}\u{1f}\u{7f}\u{80}\u{10ffff}",
            "mixed é 日本 🎉 100%",
        ];
        for s in samples {
            let enc = encode_message(s);
            assert!(enc.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            assert_eq!(decode_message(enc.as_bytes()), s);
        }
        // Every single char in a range, and every byte pair through decoding.
        for c in (0u32..0x800).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(decode_message(encode_message(&s).as_bytes()), s);
        }
        for a in 0..=255u8 {
            for b in [0u8, b'%', b'4', b'A', 0xff] {
                let _ = decode_message(&[a, b, b'%', a]);
            }
        }
    }
}
