//! Validating pre-pass: parses one representation (RFC 7541 §6) and checks
//! everything `httlib-hpack` would otherwise trip over, before it sees the
//! bytes.
//!
//! `httlib-hpack` 0.1.3 may panic (or misbehave) on hostile input:
//!
//! * `decode_integer` tests `buf.is_empty()` on the whole buffer rather than
//!   on the bytes left, so a truncated integer (`[0x1f]`, `[0x7f]`) indexes
//!   past the end;
//! * `decode_string` reads `buf[0]` without a length check, so a literal
//!   whose value string is missing indexes past the end;
//! * its Huffman decoder accepts some bad padding (e.g. zero bits).
//!
//! Here every integer is checked complete and short (§5.1), every string
//! length within the block and every Huffman string fully valid (§5.2), and
//! every index within the static and dynamic tables (§2.3.3). A
//! representation that passes is exactly `len` bytes that `httlib-hpack`
//! decodes without panicking.

use super::huffman;
use super::table::{STATIC_LEN, SizeTable};

/// Continuation octets allowed after an integer prefix. `httlib-hpack` stops
/// at 5 octets in all; 4 continuation octets carry 28 bits, plenty for any
/// index, length or table size, and can't overflow a `u32`.
const MAX_CONTINUATION: usize = 4;

/// How a literal field affects the dynamic table (RFC 7541 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Indexing {
    /// §6.2.1: added to the dynamic table.
    Incremental,
    /// §6.2.2: not added.
    Without,
    /// §6.2.3: not added, and must never be indexed downstream.
    Never,
}

/// A validated representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// §6.1: a field from the table, at a valid index.
    Indexed {
        /// HPACK index (static or dynamic).
        index: usize,
    },
    /// §6.2: a literal field.
    Literal {
        /// Table effect.
        indexing: Indexing,
        /// Index of the name in the table; `0` when the name is a literal.
        name_index: usize,
    },
    /// §6.3: a dynamic table size update.
    SizeUpdate {
        /// New maximum size (not yet checked against the limit).
        size: u32,
    },
}

/// One representation: what it is, its byte length, and its field's decoded
/// name and value lengths (zero for a size update).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Repr {
    pub(crate) kind: Kind,
    pub(crate) len: usize,
    pub(crate) name_len: usize,
    pub(crate) value_len: usize,
}

type Result<T> = core::result::Result<T, &'static str>;

/// Parses and validates the representation at the start of `buf`.
pub(crate) fn parse(buf: &[u8], table: &SizeTable) -> Result<Repr> {
    let first = *buf.first().ok_or("RFC 7541 §6: empty representation")?;
    if first & 0x80 != 0 {
        let (index, len) = integer(buf, 0, 7)?;
        let index = index as usize;
        if index == 0 {
            return Err("RFC 7541 §6.1: indexed field with index 0");
        }
        let (name_len, value_len) = entry(table, index)?;
        return Ok(Repr {
            kind: Kind::Indexed { index },
            len,
            name_len,
            value_len,
        });
    }
    if first & 0xe0 == 0x20 {
        let (size, len) = integer(buf, 0, 5)?;
        return Ok(Repr {
            kind: Kind::SizeUpdate { size },
            len,
            name_len: 0,
            value_len: 0,
        });
    }
    let (indexing, prefix) = if first & 0x40 != 0 {
        (Indexing::Incremental, 6)
    } else if first & 0x10 != 0 {
        (Indexing::Never, 4)
    } else {
        (Indexing::Without, 4)
    };
    let (name_index, mut pos) = integer(buf, 0, prefix)?;
    let name_index = name_index as usize;
    let name_len = if name_index == 0 {
        let (name_len, end) = string(buf, pos)?;
        pos = end;
        name_len
    } else {
        entry(table, name_index)?.0
    };
    let (value_len, end) = string(buf, pos)?;
    Ok(Repr {
        kind: Kind::Literal {
            indexing,
            name_index,
        },
        len: end,
        name_len,
        value_len,
    })
}

/// `(name_len, value_len)` of a table entry, or the §2.3.3 error.
fn entry(table: &SizeTable, index: usize) -> Result<(usize, usize)> {
    table.lookup(index).ok_or(if index > STATIC_LEN {
        "RFC 7541 §2.3.3: index past the end of the dynamic table"
    } else {
        "RFC 7541 §2.3.3: invalid index"
    })
}

/// Decodes the integer with an N-bit prefix at `pos` (RFC 7541 §5.1):
/// returns the value and the position after it.
pub(crate) fn integer(buf: &[u8], pos: usize, prefix: u8) -> Result<(u32, usize)> {
    const TRUNCATED: &str = "RFC 7541 §5.1: truncated integer";
    let first = *buf.get(pos).ok_or(TRUNCATED)?;
    let mask = (1u32 << prefix) - 1;
    let mut value = u32::from(first) & mask;
    let mut pos = pos + 1;
    if value < mask {
        return Ok((value, pos));
    }
    for i in 0..MAX_CONTINUATION {
        let byte = *buf.get(pos).ok_or(TRUNCATED)?;
        pos += 1;
        // At most 7 + 4 * 7 = 35 bits would be needed, but the shift is at
        // most 21 and the sum at most 2^28 + 2^8: no overflow.
        value += u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Err("RFC 7541 §5.1: integer encoding too long")
}

/// Validates the string literal at `pos` (RFC 7541 §5.2): returns its
/// decoded length and the position after it.
fn string(buf: &[u8], pos: usize) -> Result<(usize, usize)> {
    let first = *buf
        .get(pos)
        .ok_or("RFC 7541 §5.2: missing string literal")?;
    let (len, start) = integer(buf, pos, 7)?;
    let end = start
        .checked_add(len as usize)
        .filter(|&end| end <= buf.len())
        .ok_or("RFC 7541 §5.2: string literal runs past the end of the block")?;
    let data = buf
        .get(start..end)
        .ok_or("RFC 7541 §5.2: string literal out of range")?;
    let decoded = if first & 0x80 != 0 {
        huffman::decoded_len(data)?
    } else {
        data.len()
    };
    Ok((decoded, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> SizeTable {
        SizeTable::new(4096)
    }

    #[test]
    fn rfc_c1_integers() {
        // C.1.1: 10 with a 5-bit prefix.
        assert_eq!(integer(&[0b0000_1010], 0, 5), Ok((10, 1)));
        // C.1.2: 1337 with a 5-bit prefix.
        assert_eq!(
            integer(&[0b0001_1111, 0b1001_1010, 0b0000_1010], 0, 5),
            Ok((1337, 3))
        );
        // C.1.3: 42 starting at an octet boundary (8-bit prefix).
        assert_eq!(integer(&[0b0010_1010], 0, 8), Ok((42, 1)));
    }

    #[test]
    fn integer_limits() {
        assert!(integer(&[0x1f], 0, 5).is_err());
        assert!(integer(&[0x7f, 0x80], 0, 7).is_err());
        assert_eq!(
            integer(&[0x7f, 0xff, 0xff, 0xff, 0x7f], 0, 7),
            Ok((127 + (1 << 28) - 1, 5))
        );
        assert!(integer(&[0x7f, 0xff, 0xff, 0xff, 0xff, 0x00], 0, 7).is_err());
    }

    #[test]
    fn representations() {
        let r = parse(&[0x82], &t()).unwrap();
        assert_eq!(
            r,
            Repr {
                kind: Kind::Indexed { index: 2 },
                len: 1,
                name_len: 7,
                value_len: 3
            }
        );
        assert!(parse(&[0x80], &t()).is_err());
        assert!(parse(&[0xbe], &t()).is_err()); // 62: empty dynamic table
        // Literal with indexed name 4 (:path), value "/a", plus trailing bytes.
        let r = parse(&[0x44, 0x02, b'/', b'a', 0x82], &t()).unwrap();
        assert_eq!(r.len, 4);
        assert_eq!((r.name_len, r.value_len), (5, 2));
        // Missing value string.
        assert!(parse(&[0x44], &t()).is_err());
        // Value length past the end.
        assert!(parse(&[0x04, 0x03, b'a'], &t()).is_err());
        // Literal name, length past the end.
        assert!(parse(&[0x00, 0x05, b'a'], &t()).is_err());
        let r = parse(&[0x3f, 0xe1, 0x1f], &t()).unwrap();
        assert_eq!(r.kind, Kind::SizeUpdate { size: 4096 });
    }
}

#[cfg(test)]
mod httlib_behaviour {
    //! What the guard protects against: `httlib-hpack` fed directly.

    fn raw(block: &[u8]) -> std::thread::Result<bool> {
        let mut buf = block.to_vec();
        std::panic::catch_unwind(move || {
            let mut out = Vec::new();
            httlib_hpack::Decoder::default()
                .decode(&mut buf, &mut out)
                .is_ok()
        })
    }

    #[test]
    fn truncated_integer_panics() {
        assert!(raw(&[0x1f]).is_err());
        assert!(raw(&[0x7f]).is_err());
    }

    #[test]
    fn missing_string_panics() {
        assert!(raw(&[0x44]).is_err());
    }

    #[test]
    fn zero_padding_is_accepted() {
        // 'a' followed by 000: invalid per RFC 7541 §5.2, yet accepted.
        assert!(matches!(raw(&[0x04, 0x81, 0b0001_1000]), Ok(true)));
    }
}
