//! HTTP/2 field rules (RFC 9113 §8.2, §8.3).
//!
//! A header block that breaks these rules makes the message malformed
//! (RFC 9113 §8.1.1): a stream error of type PROTOCOL_ERROR.

use crate::error::{ErrorCode, StreamError};
use crate::hpack::Field;

/// What a header block is, which decides the pseudo-headers it may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// The first HEADERS a server receives on a stream.
    Request,
    /// A HEADERS a client receives before any final response (may be 1xx).
    Response,
    /// A HEADERS after the initial headers: trailers (no pseudo-headers).
    Trailers,
}

/// What the checks learned from a valid block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockInfo {
    /// The `content-length` value, if present (RFC 9113 §8.1.1).
    pub content_length: Option<u64>,
    /// For a response: the `:status` code.
    pub status: Option<u16>,
}

fn malformed(reason: &'static str) -> StreamError {
    StreamError {
        code: ErrorCode::PROTOCOL_ERROR,
        reason,
    }
}

/// The pseudo-headers of RFC 9113 §8.3 and RFC 8441 §4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pseudo {
    Method,
    Scheme,
    Authority,
    Path,
    Protocol,
    Status,
}

impl Pseudo {
    fn from_name(name: &[u8]) -> Option<Pseudo> {
        Some(match name {
            b":method" => Pseudo::Method,
            b":scheme" => Pseudo::Scheme,
            b":authority" => Pseudo::Authority,
            b":path" => Pseudo::Path,
            b":protocol" => Pseudo::Protocol,
            b":status" => Pseudo::Status,
            _ => return None,
        })
    }
}

/// Pseudo-header values seen so far (each at most once).
#[derive(Default)]
struct Pseudos<'a> {
    method: Option<&'a [u8]>,
    scheme: Option<&'a [u8]>,
    authority: Option<&'a [u8]>,
    path: Option<&'a [u8]>,
    protocol: Option<&'a [u8]>,
    status: Option<&'a [u8]>,
}

impl<'a> Pseudos<'a> {
    fn slot(&mut self, p: Pseudo) -> &mut Option<&'a [u8]> {
        match p {
            Pseudo::Method => &mut self.method,
            Pseudo::Scheme => &mut self.scheme,
            Pseudo::Authority => &mut self.authority,
            Pseudo::Path => &mut self.path,
            Pseudo::Protocol => &mut self.protocol,
            Pseudo::Status => &mut self.status,
        }
    }
}

/// Checks a decoded block against RFC 9113 §8.2-8.3; a violation makes the
/// message malformed: a stream error of type PROTOCOL_ERROR (§8.1.1).
///
/// * names and values: §8.2.1;
/// * connection-specific fields, `te`: §8.2.2;
/// * pseudo-headers: §8.3, with `:protocol` from RFC 8441 §4 and CONNECT
///   from §8.5;
/// * `content-length`: a valid integer, identical if repeated (RFC 9110 §8.6);
/// * `host` in a request: §8.3.1 says a request whose `host` and
///   `:authority` differ SHOULD be treated as malformed, and we do (the
///   two would name different targets, and the layers that read one or the
///   other would disagree). Hosts compare without regard to ASCII case
///   (RFC 3986 §3.2.2); several `host` fields must agree too. A `host`
///   without `:authority` is accepted: §8.3.1 allows either to carry the
///   authority.
pub fn check(fields: &[Field], kind: BlockKind) -> Result<BlockInfo, StreamError> {
    let mut pseudos = Pseudos::default();
    let mut host: Option<&[u8]> = None;
    let mut regular_seen = false;
    let mut info = BlockInfo::default();
    for field in fields {
        let (name, value) = (&field.name[..], &field.value[..]);
        check_value(value)?;
        if let Some(rest) = name.strip_prefix(b":") {
            check_name(rest)?;
            if kind == BlockKind::Trailers {
                return Err(malformed("RFC 9113 §8.1: pseudo-header in trailers"));
            }
            if regular_seen {
                return Err(malformed(
                    "RFC 9113 §8.3: pseudo-header after a regular field",
                ));
            }
            let p =
                Pseudo::from_name(name).ok_or(malformed("RFC 9113 §8.3: unknown pseudo-header"))?;
            match (kind, p) {
                (BlockKind::Request, Pseudo::Status) => {
                    return Err(malformed("RFC 9113 §8.3.2: :status in a request"));
                }
                (BlockKind::Response, p) if p != Pseudo::Status => {
                    return Err(malformed(
                        "RFC 9113 §8.3.1: request pseudo-header in a response",
                    ));
                }
                _ => {}
            }
            let slot = pseudos.slot(p);
            if slot.is_some() {
                return Err(malformed("RFC 9113 §8.3: duplicate pseudo-header"));
            }
            *slot = Some(value);
            continue;
        }
        check_name(name)?;
        regular_seen = true;
        match name {
            b"connection" | b"keep-alive" | b"proxy-connection" | b"transfer-encoding"
            | b"upgrade" => {
                return Err(malformed("RFC 9113 §8.2.2: connection-specific field"));
            }
            b"te" if !value.eq_ignore_ascii_case(b"trailers") => {
                return Err(malformed("RFC 9113 §8.2.2: te other than \"trailers\""));
            }
            b"content-length" => {
                let n = parse_content_length(value)?;
                if info.content_length.is_some_and(|m| m != n) {
                    return Err(malformed("RFC 9110 §8.6: differing content-length values"));
                }
                info.content_length = Some(n);
            }
            b"host" if kind == BlockKind::Request => {
                // Pseudo-headers come first, so :authority is known here.
                if pseudos
                    .authority
                    .or(host)
                    .is_some_and(|a| !a.eq_ignore_ascii_case(value))
                {
                    return Err(malformed(
                        "RFC 9113 §8.3.1: host and :authority (or two host fields) differ",
                    ));
                }
                host = Some(value);
            }
            _ => {}
        }
    }
    match kind {
        BlockKind::Request => check_request(&pseudos)?,
        BlockKind::Response => info.status = Some(parse_status(pseudos.status)?),
        BlockKind::Trailers => {}
    }
    Ok(info)
}

/// A replayed block's stamp, its kind, and what [`check`] found.
type CheckedBlock = (u64, BlockKind, BlockInfo);

/// The results of [`check`] for the last few replayed header blocks (see
/// `hpack::Decoder::replayed`): a replay has exactly the fields of the
/// block it repeats, so its check has the same result. The entries live
/// on the heap from the first replay checked until [`release`](Self::release).
#[derive(Debug, Default)]
pub(crate) struct CheckMemo {
    entries: Option<Box<[Option<CheckedBlock>; 4]>>,
    next: usize,
}

impl CheckMemo {
    /// [`check`], answered from memory for a replayed block (`replayed`
    /// is its stamp) checked before as the same kind.
    pub(crate) fn check(
        &mut self,
        fields: &[Field],
        kind: BlockKind,
        replayed: Option<u64>,
    ) -> Result<BlockInfo, StreamError> {
        let Some(stamp) = replayed else {
            return check(fields, kind);
        };
        let entries = self.entries.get_or_insert_with(Default::default);
        let known = entries.iter().flatten();
        if let Some(&(_, _, info)) = known.into_iter().find(|e| e.0 == stamp && e.1 == kind) {
            return Ok(info);
        }
        let info = check(fields, kind)?;
        entries[self.next] = Some((stamp, kind, info));
        self.next = (self.next + 1) % entries.len();
        Ok(info)
    }

    /// Forgets every result and gives the memory back. (Stamps are never
    /// reused, so forgetting is only ever a lost shortcut.)
    pub(crate) fn release(&mut self) {
        self.entries = None;
        self.next = 0;
    }
}

/// The request pseudo-header combinations (RFC 9113 §8.3.1, §8.5; RFC 8441 §4).
fn check_request(p: &Pseudos<'_>) -> Result<(), StreamError> {
    let method = p
        .method
        .ok_or(malformed("RFC 9113 §8.3.1: missing :method"))?;
    let connect = method == b"CONNECT";
    if p.protocol.is_some() && !connect {
        return Err(malformed("RFC 8441 §4: :protocol without CONNECT"));
    }
    if connect && p.protocol.is_none() {
        // Plain CONNECT: only :method and :authority (§8.5).
        if p.scheme.is_some() || p.path.is_some() {
            return Err(malformed("RFC 9113 §8.5: CONNECT with :scheme or :path"));
        }
        if p.authority.is_none() {
            return Err(malformed("RFC 9113 §8.5: CONNECT without :authority"));
        }
        return Ok(());
    }
    // Any other request, and extended CONNECT (RFC 8441 §4).
    if p.scheme.is_none() {
        return Err(malformed("RFC 9113 §8.3.1: missing :scheme"));
    }
    match p.path {
        None => Err(malformed("RFC 9113 §8.3.1: missing :path")),
        Some([]) => Err(malformed("RFC 9113 §8.3.1: empty :path")),
        Some(_) => Ok(()),
    }
}

/// `:status`: present, three digits, 100-599 (RFC 9113 §8.3.2, RFC 9110 §15).
fn parse_status(status: Option<&[u8]>) -> Result<u16, StreamError> {
    let status = status.ok_or(malformed("RFC 9113 §8.3.2: missing :status"))?;
    let &[a, b, c] = status else {
        return Err(malformed("RFC 9113 §8.3.2: :status is not three digits"));
    };
    if ![a, b, c].iter().all(u8::is_ascii_digit) {
        return Err(malformed("RFC 9113 §8.3.2: :status is not three digits"));
    }
    let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    if !(100..=599).contains(&code) {
        return Err(malformed("RFC 9110 §15: :status outside 100-599"));
    }
    Ok(code)
}

/// A field name after any leading ':' of a pseudo-header (RFC 9113 §8.2.1):
/// non-empty, no controls, SP, uppercase, DEL or non-ASCII, no colon.
/// Bytes a field name may not contain (RFC 9113 §8.2.1): controls, SP,
/// DEL, non-ASCII, uppercase, and `:` (a leading one is stripped before).
const BAD_NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = b <= 0x20
            || b >= 0x7f
            || (b >= b'A' as usize && b <= b'Z' as usize)
            || b == b':' as usize;
        b += 1;
    }
    t
};

/// Bytes a field value may not contain anywhere: NUL, CR, LF.
const BAD_VALUE_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    t[0] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

fn check_name(name: &[u8]) -> Result<(), StreamError> {
    if name.is_empty() {
        return Err(malformed("RFC 9113 §8.2.1: empty field name"));
    }
    // One table lookup per byte on the common path; the precise reason
    // only when a bad byte is there.
    if !name.iter().any(|&b| BAD_NAME_BYTE[usize::from(b)]) {
        return Ok(());
    }
    for &b in name {
        match b {
            0x00..=0x20 | 0x7f..=0xff => {
                return Err(malformed(
                    "RFC 9113 §8.2.1: invalid character in field name",
                ));
            }
            b'A'..=b'Z' => {
                return Err(malformed(
                    "RFC 9113 §8.2.1: uppercase character in field name",
                ));
            }
            b':' => return Err(malformed("RFC 9113 §8.2.1: colon inside a field name")),
            _ => {}
        }
    }
    Ok(())
}

/// A field value (RFC 9113 §8.2.1): no NUL, CR or LF; no leading or
/// trailing SP or HTAB.
fn check_value(value: &[u8]) -> Result<(), StreamError> {
    if value.iter().any(|&b| BAD_VALUE_BYTE[usize::from(b)]) {
        return Err(malformed("RFC 9113 §8.2.1: NUL, CR or LF in field value"));
    }
    let ws = |b: &u8| matches!(b, b' ' | b'\t');
    if value.first().is_some_and(ws) || value.last().is_some_and(ws) {
        return Err(malformed(
            "RFC 9113 §8.2.1: field value starts or ends with whitespace",
        ));
    }
    Ok(())
}

/// `content-length` = 1*DIGIT, or a comma-separated list of one repeated
/// value (RFC 9110 §8.6); must fit a `u64`.
fn parse_content_length(value: &[u8]) -> Result<u64, StreamError> {
    const BAD: &str = "RFC 9110 §8.6: invalid content-length";
    let mut result = None;
    for element in value.split(|&b| b == b',') {
        let element = element.trim_ascii();
        if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
            return Err(malformed(BAD));
        }
        let mut n: u64 = 0;
        for &d in element {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or(malformed(BAD))?;
        }
        if result.is_some_and(|m| m != n) {
            return Err(malformed("RFC 9110 §8.6: differing content-length values"));
        }
        result = Some(n);
    }
    result.ok_or(malformed(BAD))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &'static str, value: &'static str) -> Field {
        Field::new(name, value)
    }

    fn grpc_request() -> Vec<Field> {
        vec![
            f(":method", "POST"),
            f(":scheme", "https"),
            f(":path", "/helloworld.Greeter/SayHello"),
            f(":authority", "example.com"),
            f("content-type", "application/grpc"),
            f("te", "trailers"),
            f("grpc-timeout", "1S"),
        ]
    }

    fn grpc_response() -> Vec<Field> {
        vec![f(":status", "200"), f("content-type", "application/grpc")]
    }

    fn grpc_trailers() -> Vec<Field> {
        vec![f("grpc-status", "0"), f("grpc-message", "")]
    }

    #[track_caller]
    fn rejects(fields: &[Field], kind: BlockKind, section: &str) {
        let err = check(fields, kind).expect_err("should be malformed");
        assert_eq!(err.code, ErrorCode::PROTOCOL_ERROR);
        assert!(
            err.reason.contains(section),
            "{} lacks {section}",
            err.reason
        );
    }

    fn with(mut base: Vec<Field>, extra: Field) -> Vec<Field> {
        base.push(extra);
        base
    }

    #[test]
    fn check_memo_answers_per_stamp_and_kind() {
        let mut memo = CheckMemo::default();
        let response = grpc_response();
        let info = check(&response, BlockKind::Response).unwrap();
        assert_eq!(
            memo.check(&response, BlockKind::Response, Some(7)),
            Ok(info)
        );
        // The same stamp as trailers is checked afresh (and fails).
        assert!(memo.check(&response, BlockKind::Trailers, Some(7)).is_err());
        // Remembered: the stamp vouches for the fields.
        assert_eq!(memo.check(&[], BlockKind::Response, Some(7)), Ok(info));
        // Failures are not remembered.
        assert!(memo.check(&response, BlockKind::Trailers, Some(7)).is_err());
        // Without a stamp, always checked.
        assert!(memo.check(&[], BlockKind::Response, None).is_err());
    }

    #[test]
    fn valid_grpc_blocks() {
        assert_eq!(
            check(&grpc_request(), BlockKind::Request),
            Ok(BlockInfo::default())
        );
        assert_eq!(
            check(&grpc_response(), BlockKind::Response),
            Ok(BlockInfo {
                content_length: None,
                status: Some(200)
            })
        );
        assert_eq!(
            check(&grpc_trailers(), BlockKind::Trailers),
            Ok(BlockInfo::default())
        );
        // Trailers-only response.
        let t = [f(":status", "200"), f("grpc-status", "12")];
        assert_eq!(check(&t, BlockKind::Response).unwrap().status, Some(200));
        // 1xx.
        assert_eq!(
            check(&[f(":status", "100")], BlockKind::Response)
                .unwrap()
                .status,
            Some(100)
        );
        // Empty trailers.
        assert!(check(&[], BlockKind::Trailers).is_ok());
    }

    #[test]
    fn field_names() {
        let kind = BlockKind::Trailers;
        for name in [
            "",
            "Grpc-status",
            "a b",
            "a\0",
            "a\x7f",
            "a\u{e9}",
            "a:b",
            "a\t",
        ] {
            let field = Field::new(name.as_bytes().to_vec(), "v");
            rejects(&[field], kind, "§8.2.1");
        }
        assert!(check(&[f("x-ok_name.1!#$%&'*+-^`|~", "v")], kind).is_ok());
        // Pseudo-header names: one leading colon only.
        rejects(&[f("::method", "GET")], BlockKind::Request, "§8.2.1");
        rejects(&[f(":Method", "GET")], BlockKind::Request, "§8.2.1");
        rejects(&[f(":", "GET")], BlockKind::Request, "§8.2.1");
    }

    #[test]
    fn field_values() {
        let kind = BlockKind::Trailers;
        for value in ["a\0b", "a\rb", "a\nb", " a", "a ", "\ta", "a\t", " "] {
            rejects(&[f("x", value)], kind, "§8.2.1");
        }
        assert!(check(&[f("x", "a b\tc"), f("y", ""), f("z", "\u{e9}")], kind).is_ok());
        let mut r = grpc_request();
        r[2] = f(":path", "/a\n");
        rejects(&r, BlockKind::Request, "§8.2.1");
    }

    #[test]
    fn pseudo_header_placement() {
        let mut r = grpc_request();
        r.swap(3, 4); // :authority after content-type
        rejects(&r, BlockKind::Request, "§8.3");
        rejects(
            &with(grpc_request(), f(":foo", "x")),
            BlockKind::Request,
            "§8.3",
        );
        let mut r = grpc_request();
        r.insert(1, f(":method", "GET"));
        rejects(&r, BlockKind::Request, "§8.3");
        rejects(
            &with(grpc_trailers(), f(":status", "200")),
            BlockKind::Trailers,
            "§8.1",
        );
        let mut r = grpc_request();
        r.insert(0, f(":status", "200"));
        rejects(&r, BlockKind::Request, "§8.3.2");
        let mut r = grpc_response();
        r.insert(0, f(":path", "/"));
        rejects(&r, BlockKind::Response, "§8.3.1");
        let mut r = grpc_response();
        r.insert(0, f(":status", "200"));
        rejects(&r, BlockKind::Response, "§8.3");
    }

    #[test]
    fn request_pseudo_headers() {
        let without = |name: &str| -> Vec<Field> {
            grpc_request()
                .into_iter()
                .filter(|x| &x.name[..] != name.as_bytes())
                .collect()
        };
        rejects(&without(":method"), BlockKind::Request, "§8.3.1");
        rejects(&without(":scheme"), BlockKind::Request, "§8.3.1");
        rejects(&without(":path"), BlockKind::Request, "§8.3.1");
        assert!(check(&without(":authority"), BlockKind::Request).is_ok());
        let mut r = grpc_request();
        r[2] = f(":path", "");
        rejects(&r, BlockKind::Request, "§8.3.1");
        // host and :authority that differ: malformed (§8.3.1 SHOULD);
        // the same host, in any case, is fine.
        rejects(
            &with(grpc_request(), f("host", "other.example")),
            BlockKind::Request,
            "§8.3.1",
        );
        let same = f("host", "Example.COM");
        assert!(check(&with(grpc_request(), same), BlockKind::Request).is_ok());
    }

    #[test]
    fn connect_requests() {
        let ok = [f(":method", "CONNECT"), f(":authority", "example.com:443")];
        assert!(check(&ok, BlockKind::Request).is_ok());
        rejects(&[f(":method", "CONNECT")], BlockKind::Request, "§8.5");
        let r = [
            f(":method", "CONNECT"),
            f(":authority", "a:1"),
            f(":path", "/"),
        ];
        rejects(&r, BlockKind::Request, "§8.5");
        let r = [
            f(":method", "CONNECT"),
            f(":authority", "a:1"),
            f(":scheme", "https"),
        ];
        rejects(&r, BlockKind::Request, "§8.5");
        // Extended CONNECT (RFC 8441).
        let ws = [
            f(":method", "CONNECT"),
            f(":protocol", "websocket"),
            f(":scheme", "https"),
            f(":path", "/chat"),
            f(":authority", "example.com"),
        ];
        assert!(check(&ws, BlockKind::Request).is_ok());
        rejects(&ws[..3], BlockKind::Request, "§8.3.1");
        let mut r = ws.to_vec();
        r[0] = f(":method", "GET");
        rejects(&r, BlockKind::Request, "RFC 8441");
    }

    #[test]
    fn response_status() {
        rejects(&[f("content-type", "x")], BlockKind::Response, "§8.3.2");
        for bad in ["", "20", "2000", "20a", "+20", "099", "600", "999", " 200"] {
            let err = check(&[f(":status", bad)], BlockKind::Response).unwrap_err();
            assert_eq!(err.code, ErrorCode::PROTOCOL_ERROR, "{bad}");
        }
        assert_eq!(
            check(&[f(":status", "599")], BlockKind::Response)
                .unwrap()
                .status,
            Some(599)
        );
    }

    #[test]
    fn connection_specific_fields() {
        for name in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            rejects(
                &with(grpc_request(), f(name, "x")),
                BlockKind::Request,
                "§8.2.2",
            );
            rejects(&[f(name, "x")], BlockKind::Trailers, "§8.2.2");
        }
        let mut r = grpc_request();
        r[5] = f("te", "gzip");
        rejects(&r, BlockKind::Request, "§8.2.2");
        r[5] = f("te", "trailers, gzip");
        rejects(&r, BlockKind::Request, "§8.2.2");
        r[5] = f("te", "TRAILERS");
        assert!(check(&r, BlockKind::Request).is_ok());
    }

    #[test]
    fn content_length() {
        let cl = |v: &'static str| check(&[f("content-length", v)], BlockKind::Trailers);
        assert_eq!(cl("0").unwrap().content_length, Some(0));
        assert_eq!(cl("42").unwrap().content_length, Some(42));
        assert_eq!(cl("42,42").unwrap().content_length, Some(42));
        assert_eq!(cl("42, 42 ,42").unwrap().content_length, Some(42));
        assert_eq!(
            cl("18446744073709551615").unwrap().content_length,
            Some(u64::MAX)
        );
        for bad in [
            "", "-1", "+1", "1.0", "0x10", "42,43", "42,", ",42", "42,,42", "1 2",
        ] {
            let err = check(&[f("content-length", bad)], BlockKind::Trailers).unwrap_err();
            assert!(err.reason.contains("§8.6"), "{bad}: {}", err.reason);
        }
        let err = cl("18446744073709551616").unwrap_err();
        assert!(err.reason.contains("§8.6"));
        let two = [f("content-length", "5"), f("content-length", "5")];
        assert_eq!(
            check(&two, BlockKind::Trailers).unwrap().content_length,
            Some(5)
        );
        let two = [f("content-length", "5"), f("content-length", "6")];
        rejects(&two, BlockKind::Trailers, "§8.6");
        let r = with(grpc_response(), f("content-length", "10"));
        assert_eq!(
            check(&r, BlockKind::Response),
            Ok(BlockInfo {
                content_length: Some(10),
                status: Some(200)
            })
        );
    }
}
