//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B): validation and sizing.
//!
//! The code of Appendix B is a *canonical* Huffman code: each symbol's code
//! follows from the code lengths alone (shorter codes first, then by symbol
//! value, consecutive numbers within one length). So only the 257 lengths
//! are written down here; the codes are derived at compile time, and the
//! tests check the result against codes quoted in the RFC (and the Kraft
//! sum, which must be exactly 1 for a complete prefix code).

/// Code length in bits of each symbol 0..=255 and of EOS (256), from
/// RFC 7541 Appendix B.
const LENGTHS: [u8; 257] = [
    // 0..=31: control characters
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //
    // 32..=63: ' ' ! " # $ % & ' ( ) * + , - . / 0-9 : ; < = > ?
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, //
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, //
    // 64..=95: @ A-Z [ \ ] ^ _
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, //
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, //
    // 96..=127: ` a-z { | } ~ DEL
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, //
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, //
    // 128..=255
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, //
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, //
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, //
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, //
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, //
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, //
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, //
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, //
    // 256: EOS
    30,
];

/// The EOS symbol (RFC 7541 §5.2).
const EOS: u16 = 256;
/// The longest code (EOS and a few control characters).
const MAX_LEN: usize = 30;

/// The canonical code derived from [`LENGTHS`].
struct Canonical {
    /// Number of codes of each length.
    count: [u32; MAX_LEN + 1],
    /// Smallest code of each length.
    first: [u32; MAX_LEN + 1],
    /// Index in `sorted` of the first symbol of each length.
    offset: [u16; MAX_LEN + 1],
    /// Symbols ordered by (length, symbol).
    sorted: [u16; 257],
    /// The code of each symbol, right-aligned (used by the test encoder).
    #[cfg_attr(not(test), allow(dead_code))]
    codes: [u32; 257],
}

const fn build() -> Canonical {
    let mut count = [0u32; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut first = [0u32; MAX_LEN + 1];
    let mut offset = [0u16; MAX_LEN + 1];
    let mut len = 1;
    while len <= MAX_LEN {
        first[len] = (first[len - 1] + count[len - 1]) << 1;
        offset[len] = offset[len - 1] + count[len - 1] as u16;
        len += 1;
    }
    let mut sorted = [0u16; 257];
    let mut codes = [0u32; 257];
    let mut next = [0u16; MAX_LEN + 1];
    let mut s = 0;
    while s < 257 {
        let l = LENGTHS[s] as usize;
        let rank = next[l];
        next[l] += 1;
        sorted[(offset[l] + rank) as usize] = s as u16;
        codes[s] = first[l] + rank as u32;
        s += 1;
    }
    Canonical {
        count,
        first,
        offset,
        sorted,
        codes,
    }
}

static CODE: Canonical = build();

/// Validates a Huffman-encoded string literal and returns its decoded length.
///
/// RFC 7541 §5.2: the EOS symbol inside the string, padding longer than
/// 7 bits, and padding that is not the most significant bits of EOS (all
/// ones) are decoding errors.
pub(crate) fn decoded_len(src: &[u8]) -> Result<usize, &'static str> {
    let mut code: u32 = 0;
    let mut len: usize = 0;
    let mut out: usize = 0;
    for &byte in src {
        let mut bit = 8;
        while bit > 0 {
            bit -= 1;
            code = (code << 1) | u32::from((byte >> bit) & 1);
            len += 1;
            let (Some(&first), Some(&count), Some(&offset)) = (
                CODE.first.get(len),
                CODE.count.get(len),
                CODE.offset.get(len),
            ) else {
                // Unreachable for a complete code: every 30-bit run holds a symbol.
                return Err("RFC 7541 §5.2: invalid Huffman code");
            };
            if code >= first && code - first < count {
                let index = usize::from(offset) + (code - first) as usize;
                if CODE.sorted.get(index).copied().unwrap_or(EOS) == EOS {
                    return Err("RFC 7541 §5.2: EOS symbol inside a Huffman string");
                }
                out += 1;
                code = 0;
                len = 0;
            }
        }
    }
    if len > 7 {
        return Err("RFC 7541 §5.2: Huffman padding longer than 7 bits");
    }
    if code != (1u32 << len) - 1 {
        return Err("RFC 7541 §5.2: Huffman padding is not a prefix of EOS");
    }
    Ok(out)
}

/// The length in bytes of `src` once Huffman-encoded (RFC 7541 §5.2).
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(LENGTHS[usize::from(b)]))
        .sum();
    bits.div_ceil(8)
}

/// Huffman-encodes `src` onto `dst`, padding with the high bits of EOS.
#[cfg(test)]
pub(crate) fn encode(src: &[u8], dst: &mut Vec<u8>) {
    let mut b = bytes::BytesMut::new();
    encode_into(src, &mut b);
    dst.extend_from_slice(&b);
}

/// Huffman-encodes `src` onto `dst`, padding with the high bits of EOS.
pub(crate) fn encode_into(src: &[u8], dst: &mut bytes::BytesMut) {
    use bytes::BufMut;
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let len = u32::from(LENGTHS[usize::from(b)]);
        acc = (acc << len) | u64::from(CODE.codes[usize::from(b)]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            dst.put_u8((acc >> bits) as u8);
        }
        acc &= (1u64 << bits) - 1;
    }
    if bits > 0 {
        let pad = 8 - bits;
        dst.put_u8(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_complete() {
        // Kraft: sum of 2^-len over all symbols is exactly 1.
        let sum: u64 = LENGTHS
            .iter()
            .map(|&l| 1u64 << (MAX_LEN - l as usize))
            .sum();
        assert_eq!(sum, 1u64 << MAX_LEN);
    }

    #[test]
    fn codes_match_rfc_samples() {
        // (symbol, code, length) quoted from RFC 7541 Appendix B.
        let samples: &[(usize, u32, u8)] = &[
            (0, 0x1ff8, 13),
            (1, 0x7fffd8, 23),
            (9, 0xffffea, 24),
            (10, 0x3ffffffc, 30),
            (13, 0x3ffffffd, 30),
            (22, 0x3ffffffe, 30),
            (b' ' as usize, 0x14, 6),
            (b'!' as usize, 0x3f8, 10),
            (b'0' as usize, 0x0, 5),
            (b'a' as usize, 0x3, 5),
            (b't' as usize, 0x9, 5),
            (b'A' as usize, 0x21, 6),
            (b'B' as usize, 0x5d, 7),
            (b'X' as usize, 0xfc, 8),
            (b'\\' as usize, 0x7fff0, 19),
            (b'~' as usize, 0x1ffd, 13),
            (127, 0xffffffc, 28),
            (128, 0xfffe6, 20),
            (255, 0x3ffffee, 26),
            (256, 0x3fffffff, 30),
        ];
        for &(sym, code, len) in samples {
            assert_eq!((CODE.codes[sym], LENGTHS[sym]), (code, len), "symbol {sym}");
        }
    }

    #[test]
    fn every_byte_round_trips() {
        for b in 0..=255u8 {
            let mut enc = Vec::new();
            encode(&[b, b, b], &mut enc);
            assert_eq!(enc.len(), encoded_len(&[b, b, b]));
            assert_eq!(decoded_len(&enc), Ok(3), "byte {b}");
        }
    }

    #[test]
    fn rfc_c4_strings() {
        let mut enc = Vec::new();
        encode(b"www.example.com", &mut enc);
        assert_eq!(
            enc,
            [
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ]
        );
        assert_eq!(decoded_len(&enc), Ok(15));
        enc.clear();
        encode(b"no-cache", &mut enc);
        assert_eq!(enc, [0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]);
    }

    #[test]
    fn rejects_eos_and_bad_padding() {
        // EOS (30 ones) then padding: an error even at the very end.
        assert!(decoded_len(&[0xff, 0xff, 0xff, 0xff]).is_err());
        // 8 bits of padding after nothing.
        assert!(decoded_len(&[0xff]).is_err());
        // 'a' (00011) then padding 000: not EOS bits.
        assert!(decoded_len(&[0b0001_1000]).is_err());
        // 'a' then padding 111: fine.
        assert_eq!(decoded_len(&[0b0001_1111]), Ok(1));
        // '0' (00000) then 8 more ones after the 3 pad bits: 11 bits of padding.
        assert!(decoded_len(&[0b0000_0111, 0xff]).is_err());
        // Empty string is valid.
        assert_eq!(decoded_len(&[]), Ok(0));
    }
}
