//! Custom metadata (PROTOCOL-HTTP2.md, "Requests"):
//!
//! ```text
//! Custom-Metadata → Binary-Header / ASCII-Header
//! Binary-Header   → {Header-Name "-bin" } {base64 encoded value}
//! ASCII-Header    → Header-Name ASCII-Value
//! Header-Name     → 1*( %x30-39 / %x61-7A / "_" / "-" / "." ) ; 0-9 a-z _ - .
//! ASCII-Value     → 1*( %x20-%x7E ) ; space and printable ASCII
//! ```
//!
//! [`Metadata`] is an ordered multimap. Binary values are held decoded;
//! on the wire they are base64 with the standard alphabet, sent unpadded,
//! accepted padded or not, and split on `,` (spaces around each part
//! trimmed) before decoding (the spec
//! allows duplicates to be joined with `,`).
//!
//! # Reserved names
//!
//! Headers the gRPC runtime itself manages are not metadata: they are
//! rejected by the inserting methods ([`MetadataError::Reserved`]) and
//! skipped by [`Metadata::from_fields`]. They are: pseudo-headers (`:`…),
//! `content-type`, `te`, `grpc-timeout`, `grpc-encoding`,
//! `grpc-accept-encoding`, `grpc-message-type`, `grpc-status`,
//! `grpc-message` and `grpc-status-details-bin` (the last three belong to
//! [`Status`](super::Status)).
//!
//! `user-agent` is *not* reserved: servers see the client's user agent in
//! the request metadata, and because what [`Metadata::from_fields`] returns
//! can always be inserted again (the spec asks that echoing received
//! metadata never fails), applications may set it too; the call layer
//! decides how it combines with its own. Other `grpc-` names (for example
//! `grpc-trace-bin`, `grpc-previous-rpc-attempts`) pass through: the spec
//! reserves them for gRPC's future use, and gRPC uses several of them as
//! metadata.
//!
//! # Received values outside the gRPC grammar
//!
//! The spec says implementations "must not error due to receiving an
//! invalid ASCII-Value that's a valid field-value in HTTP" and may throw
//! it away; [`Metadata::from_fields`] drops such entries, and likewise
//! entries whose name is a valid HTTP field name but not a gRPC
//! Header-Name. A `-bin` value that is not valid base64 is an error
//! ([`MetadataError::InvalidBase64`]).

use core::fmt;

use bytes::Bytes;
use smallvec::SmallVec;

use super::base64;
use crate::hpack::Field;

/// Names that are never metadata (see the module docs).
const RESERVED: [&str; 9] = [
    "content-type",
    "te",
    "grpc-timeout",
    "grpc-encoding",
    "grpc-accept-encoding",
    "grpc-message-type",
    "grpc-status",
    "grpc-message",
    "grpc-status-details-bin",
];

/// Why a metadata key or value was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataError {
    /// The key is empty or has a byte outside `0-9 a-z _ - .`.
    InvalidKey,
    /// The key is one the runtime manages (see the module docs).
    Reserved,
    /// An ASCII method was used with a `-bin` key, or a binary method with
    /// a key not ending in `-bin`.
    WrongKind,
    /// An ASCII value has a byte outside `0x20..=0x7E`, or leading or
    /// trailing spaces (which HTTP/2 treats as malformed, RFC 9113 §8.2.1).
    InvalidValue,
    /// A received binary value is not valid base64.
    InvalidBase64,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MetadataError::InvalidKey => "invalid metadata key",
            MetadataError::Reserved => "reserved metadata key",
            MetadataError::WrongKind => "binary keys end in -bin, ASCII keys do not",
            MetadataError::InvalidValue => "invalid ASCII metadata value",
            MetadataError::InvalidBase64 => "binary metadata value is not valid base64",
        })
    }
}

impl std::error::Error for MetadataError {}

/// A value as [`Metadata::iter`] yields it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataValue<'a> {
    /// An ASCII value.
    Ascii(&'a str),
    /// A binary value (key ends in `-bin`), decoded.
    Binary(&'a Bytes),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// Valid Header-Name, so ASCII.
    key: Bytes,
    /// ASCII value (0x20..=0x7E), or decoded binary value for `-bin` keys.
    value: Bytes,
}

impl Entry {
    fn key(&self) -> &str {
        core::str::from_utf8(&self.key).unwrap_or_default()
    }
    fn is_bin(&self) -> bool {
        self.key.ends_with(b"-bin")
    }
    fn ascii(&self) -> &str {
        core::str::from_utf8(&self.value).unwrap_or_default()
    }
}

/// Custom metadata: an ordered list of (key, value) entries, keys may
/// repeat. See the module docs for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    /// One entry inline: a request's usual only entry is `user-agent`,
    /// which then costs no allocation.
    entries: SmallVec<[Entry; 1]>,
}

fn valid_key(key: &[u8]) -> bool {
    !key.is_empty()
        && key
            .iter()
            .all(|&b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.'))
}

fn is_reserved(key: &[u8]) -> bool {
    key.first() == Some(&b':') || RESERVED.iter().any(|r| r.as_bytes() == key)
}

fn valid_ascii_value(v: &[u8]) -> bool {
    v.iter().all(|b| (0x20..=0x7e).contains(b))
        && v.first() != Some(&b' ')
        && v.last() != Some(&b' ')
}

fn check_key(key: &str, bin: bool) -> Result<Bytes, MetadataError> {
    let k = key.as_bytes();
    if is_reserved(k) {
        return Err(MetadataError::Reserved);
    }
    if !valid_key(k) {
        return Err(MetadataError::InvalidKey);
    }
    if k.ends_with(b"-bin") != bin {
        return Err(MetadataError::WrongKind);
    }
    Ok(Bytes::copy_from_slice(k))
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an ASCII entry, keeping existing ones with the same key.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let key = check_key(key, false)?;
        if !valid_ascii_value(value.as_bytes()) {
            return Err(MetadataError::InvalidValue);
        }
        self.entries.push(Entry {
            key,
            value: Bytes::copy_from_slice(value.as_bytes()),
        });
        Ok(())
    }

    /// Sets an ASCII entry, removing existing ones with the same key.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        // Validate before removing, so a refused insert changes nothing.
        check_key(key, false)?;
        if !valid_ascii_value(value.as_bytes()) {
            return Err(MetadataError::InvalidValue);
        }
        self.remove(key);
        self.append(key, value)
    }

    /// Adds a binary entry (key must end in `-bin`), keeping existing ones.
    pub fn append_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), MetadataError> {
        let key = check_key(key, true)?;
        self.entries.push(Entry {
            key,
            value: value.into(),
        });
        Ok(())
    }

    /// Sets a binary entry (key must end in `-bin`), removing existing
    /// ones with the same key.
    pub fn insert_bin(&mut self, key: &str, value: impl Into<Bytes>) -> Result<(), MetadataError> {
        check_key(key, true)?;
        self.remove(key);
        self.append_bin(key, value)
    }

    /// The first ASCII value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| !e.is_bin() && e.key() == key)
            .map(Entry::ascii)
    }

    /// All ASCII values for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |e| !e.is_bin() && e.key() == key)
            .map(Entry::ascii)
    }

    /// The first binary value for `key`.
    pub fn get_bin(&self, key: &str) -> Option<&Bytes> {
        self.entries
            .iter()
            .find(|e| e.is_bin() && e.key() == key)
            .map(|e| &e.value)
    }

    /// All binary values for `key`, in order.
    pub fn get_all_bin<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Bytes> + 'a {
        self.entries
            .iter()
            .filter(move |e| e.is_bin() && e.key() == key)
            .map(|e| &e.value)
    }

    /// Removes every entry with `key`; returns how many there were.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| e.key() != key);
        before - self.entries.len()
    }

    /// All entries, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetadataValue<'_>)> + '_ {
        self.entries.iter().map(|e| {
            let v = if e.is_bin() {
                MetadataValue::Binary(&e.value)
            } else {
                MetadataValue::Ascii(e.ascii())
            };
            (e.key(), v)
        })
    }

    /// The size the entries count for against a header list limit, as the
    /// spec suggests computing it: name + value + 32 per entry, binary
    /// values at their (unpadded) base64 length.
    pub fn wire_size(&self) -> usize {
        self.entries
            .iter()
            .map(|e| {
                let v = if e.is_bin() {
                    base64::encoded_len(e.value.len())
                } else {
                    e.value.len()
                };
                e.key.len() + v + 32
            })
            .sum()
    }

    /// The entries as header fields, binary values base64-encoded without
    /// padding. ASCII values are not copied.
    pub fn to_fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.entries.iter().map(|e| {
            let value = if e.is_bin() {
                Bytes::from(base64::encode(&e.value))
            } else {
                e.value.clone()
            };
            Field::new(e.key.clone(), value)
        })
    }

    /// Which of `fields` (at most 32) [`from_fields`](Self::from_fields)
    /// takes as they are, as a bit mask by index; `None` if it would take
    /// a field otherwise (a `-bin` value, decoded) or there are too many.
    /// With the mask, [`from_mask`](Self::from_mask) builds the same
    /// metadata from the same fields without checking them again.
    pub(crate) fn ascii_mask(fields: &[Field]) -> Option<u32> {
        if fields.len() > 32 {
            return None;
        }
        let mut mask = 0;
        for (i, f) in fields.iter().enumerate() {
            if is_reserved(&f.name) || !valid_key(&f.name) {
                continue;
            }
            if f.name.ends_with(b"-bin") {
                return None;
            }
            if valid_ascii_value(&f.value) {
                mask |= 1 << i;
            }
        }
        Some(mask)
    }

    /// The metadata of the fields `mask` picks (see
    /// [`ascii_mask`](Self::ascii_mask)), taken without checks.
    #[inline]
    pub(crate) fn from_mask(fields: &[Field], mask: u32) -> Metadata {
        let mut md = Metadata::new();
        let mut rest = mask;
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            if let Some(f) = fields.get(i) {
                md.entries.push(Entry {
                    key: f.name.clone(),
                    value: f.value.clone(),
                });
            }
        }
        md
    }

    /// The custom metadata among received header fields: reserved names
    /// are skipped, entries outside the gRPC grammar are dropped, and `-bin`
    /// values are split on `,` and base64-decoded (see the module docs).
    /// ASCII values are not copied.
    pub fn from_fields(fields: &[Field]) -> Result<Metadata, MetadataError> {
        let mut md = Metadata::new();
        for f in fields {
            if is_reserved(&f.name) || !valid_key(&f.name) {
                continue;
            }
            if f.name.ends_with(b"-bin") {
                for part in f.value.split(|&b| b == b',') {
                    let part = part.trim_ascii();
                    let value = base64::decode(part).map_err(|_| MetadataError::InvalidBase64)?;
                    md.entries.push(Entry {
                        key: f.name.clone(),
                        value: Bytes::from(value),
                    });
                }
            } else if valid_ascii_value(&f.value) {
                md.entries.push(Entry {
                    key: f.name.clone(),
                    value: f.value.clone(),
                });
            }
        }
        Ok(md)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &[u8])]) -> Vec<Field> {
        pairs
            .iter()
            .map(|(n, v)| {
                Field::new(
                    Bytes::copy_from_slice(n.as_bytes()),
                    Bytes::copy_from_slice(v),
                )
            })
            .collect()
    }

    #[test]
    fn insert_append_get_remove() {
        let mut md = Metadata::new();
        assert!(md.is_empty());
        md.append("x-a", "1").unwrap();
        md.append("x-b", "2").unwrap();
        md.append("x-a", "3").unwrap();
        assert_eq!(md.len(), 3);
        assert_eq!(md.get("x-a"), Some("1"));
        assert_eq!(md.get_all("x-a").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(md.get("x-missing"), None);
        md.insert("x-a", "4").unwrap();
        assert_eq!(md.get_all("x-a").collect::<Vec<_>>(), ["4"]);
        assert_eq!(md.len(), 2);
        assert_eq!(md.remove("x-b"), 1);
        assert_eq!(md.remove("x-b"), 0);
        assert_eq!(md.len(), 1);
    }

    #[test]
    fn binary_entries() {
        let mut md = Metadata::new();
        md.append_bin("trace-bin", Bytes::from_static(&[0, 1, 2, 0xff]))
            .unwrap();
        md.append_bin("trace-bin", Bytes::from_static(b"")).unwrap();
        assert_eq!(md.get_bin("trace-bin").unwrap().as_ref(), [0, 1, 2, 0xff]);
        assert_eq!(md.get_all_bin("trace-bin").count(), 2);
        // ASCII getters do not see binary entries and vice versa.
        assert_eq!(md.get("trace-bin"), None);
        md.insert_bin("trace-bin", Bytes::from_static(b"z"))
            .unwrap();
        assert_eq!(md.get_all_bin("trace-bin").count(), 1);
        md.append("x", "y").unwrap();
        assert_eq!(md.get_bin("x"), None);
        let all: Vec<_> = md.iter().collect();
        assert_eq!(
            all,
            [
                (
                    "trace-bin",
                    MetadataValue::Binary(&Bytes::from_static(b"z"))
                ),
                ("x", MetadataValue::Ascii("y")),
            ]
        );
    }

    #[test]
    fn key_validation() {
        let mut md = Metadata::new();
        for ok in [
            "a",
            "0",
            "x-y_z.w",
            "authorization",
            "user-agent",
            "grpc-trace-bin0",
        ] {
            md.append(ok, "v").unwrap();
        }
        for bad in ["", "A", "x-Y", "x y", "x:y", "é", "x\n", "x/y", "x~"] {
            assert_eq!(
                md.append(bad, "v"),
                Err(MetadataError::InvalidKey),
                "{bad:?}"
            );
            assert_eq!(
                md.append_bin(bad, Bytes::new()),
                Err(MetadataError::InvalidKey)
            );
        }
        for reserved in RESERVED
            .iter()
            .copied()
            .chain([":path", ":status", ":authority"])
        {
            assert_eq!(
                md.append(reserved, "v"),
                Err(MetadataError::Reserved),
                "{reserved}"
            );
            assert_eq!(md.insert(reserved, "v"), Err(MetadataError::Reserved));
            assert_eq!(
                md.insert_bin(reserved, Bytes::new()),
                Err(MetadataError::Reserved)
            );
        }
        assert_eq!(md.append("x-bin", "v"), Err(MetadataError::WrongKind));
        assert_eq!(
            md.append_bin("x", Bytes::new()),
            Err(MetadataError::WrongKind)
        );
        assert_eq!(md.insert("x-bin", "v"), Err(MetadataError::WrongKind));
        assert_eq!(
            md.insert_bin("x", Bytes::new()),
            Err(MetadataError::WrongKind)
        );
        // -bin alone is a valid binary key.
        md.append_bin("-bin", Bytes::new()).unwrap();
    }

    #[test]
    fn value_validation() {
        let mut md = Metadata::new();
        md.append("k", "").unwrap();
        md.append("k", "a b ~!\"").unwrap();
        for bad in ["\t", "a\nb", "é", "\x7f", " lead", "trail ", "\0"] {
            assert_eq!(
                md.append("k", bad),
                Err(MetadataError::InvalidValue),
                "{bad:?}"
            );
        }
        md.insert("k", "keep").unwrap();
        // A refused insert leaves existing entries alone.
        assert_eq!(md.insert("k", "bad\n"), Err(MetadataError::InvalidValue));
        assert_eq!(md.get("k"), Some("keep"));
    }

    #[test]
    fn to_fields_encodes_binary_unpadded() {
        let mut md = Metadata::new();
        md.append("x-a", "plain").unwrap();
        md.append_bin("x-b-bin", Bytes::from_static(b"f")).unwrap();
        md.append_bin("x-b-bin", Bytes::from_static(b"foobar"))
            .unwrap();
        let f: Vec<Field> = md.to_fields().collect();
        assert_eq!(
            f,
            fields(&[
                ("x-a", b"plain"),
                ("x-b-bin", b"Zg"),
                ("x-b-bin", b"Zm9vYmFy")
            ])
        );
        assert_eq!(md.wire_size(), (3 + 5 + 32) + (7 + 2 + 32) + (7 + 8 + 32));
        assert_eq!(
            md.wire_size(),
            f.iter().map(Field::hpack_size).sum::<usize>()
        );
        assert_eq!(Metadata::new().wire_size(), 0);
    }

    #[test]
    fn from_mask_is_from_fields() {
        let f = fields(&[
            (":path", b"/a/b"),
            ("content-type", b"application/grpc"),
            ("user-agent", b"x/1"),
            ("x-bad", b" lead"),
            ("X-Upper", b"v"),
            ("x-b", b"2"),
        ]);
        let mask = Metadata::ascii_mask(&f).unwrap();
        assert_eq!(mask, 0b100100);
        assert_eq!(
            Metadata::from_mask(&f, mask),
            Metadata::from_fields(&f).unwrap()
        );
        let bin = fields(&[("x-a", b"1"), ("x-c-bin", b"AAA")]);
        assert_eq!(Metadata::ascii_mask(&bin), None);
    }

    #[test]
    fn from_fields_skips_reserved_and_decodes() {
        let f = fields(&[
            (":status", b"200"),
            ("content-type", b"application/grpc"),
            ("te", b"trailers"),
            ("grpc-status", b"0"),
            ("grpc-message", b"ok"),
            ("grpc-status-details-bin", b"Zg"),
            ("grpc-timeout", b"1S"),
            ("grpc-encoding", b"gzip"),
            ("grpc-accept-encoding", b"gzip"),
            ("grpc-message-type", b"t"),
            ("user-agent", b"grpc-rust/0.1"),
            ("x-a", b"1"),
            ("x-bin", b"Zg=="),
            ("x-bin", b"Zm8,Zm9v , Zg=="),
            ("x-a", b"2"),
            ("grpc-trace-bin", b""),
        ]);
        let md = Metadata::from_fields(&f).unwrap();
        let keys: Vec<&str> = md.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "user-agent",
                "x-a",
                "x-bin",
                "x-bin",
                "x-bin",
                "x-bin",
                "x-a",
                "grpc-trace-bin"
            ]
        );
        assert_eq!(md.get("user-agent"), Some("grpc-rust/0.1"));
        assert_eq!(md.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        let bins: Vec<&[u8]> = md.get_all_bin("x-bin").map(|b| b.as_ref()).collect();
        assert_eq!(bins, [&b"f"[..], b"fo", b"foo", b"f"]);
        assert_eq!(md.get_bin("grpc-trace-bin").unwrap().len(), 0);
    }

    #[test]
    fn from_fields_drops_out_of_grammar_entries() {
        let f = fields(&[
            ("x-a", b"caf\xc3\xa9"),
            ("x-b", b"tab\there"),
            ("x!", b"v"),
            ("x~", b"v"),
            ("ok", b"v"),
        ]);
        let md = Metadata::from_fields(&f).unwrap();
        assert_eq!(md.len(), 1);
        assert_eq!(md.get("ok"), Some("v"));
    }

    #[test]
    fn from_fields_rejects_bad_base64() {
        for bad in [&b"Z"[..], b"Zg=", b"!!!!", b"Zg==,Z", b"Zm9v\x00"] {
            let f = fields(&[("x-bin", bad)]);
            assert_eq!(Metadata::from_fields(&f), Err(MetadataError::InvalidBase64));
        }
    }

    #[test]
    fn received_metadata_can_be_echoed() {
        let f = fields(&[
            ("user-agent", b"ua"),
            ("x-a", b"v"),
            ("x-bin", b"AAEC/w"),
            ("grpc-previous-rpc-attempts", b"1"),
        ]);
        let md = Metadata::from_fields(&f).unwrap();
        let mut echo = Metadata::new();
        for (k, v) in md.iter() {
            match v {
                MetadataValue::Ascii(s) => echo.append(k, s).unwrap(),
                MetadataValue::Binary(b) => echo.append_bin(k, b.clone()).unwrap(),
            }
        }
        assert_eq!(echo, md);
        let wire: Vec<Field> = echo.to_fields().collect();
        assert_eq!(wire, f);
        assert_eq!(Metadata::from_fields(&wire).unwrap(), md);
    }

    #[test]
    fn ascii_values_are_not_copied() {
        let value = Bytes::from_static(b"shared");
        let f = vec![Field::new(Bytes::from_static(b"k"), value.clone())];
        let md = Metadata::from_fields(&f).unwrap();
        let out: Vec<Field> = md.to_fields().collect();
        assert_eq!(out[0].value.as_ptr(), value.as_ptr());
        assert_eq!(md.get("k").unwrap().as_ptr(), value.as_ptr());
    }
}
