//! Base64 with the standard alphabet (RFC 4648 §4), as binary metadata
//! values use it (PROTOCOL-HTTP2.md: "Implementations MUST accept padded
//! and un-padded values and should emit un-padded values").
//!
//! * [`encode`] emits no padding.
//! * [`decode`] accepts a value with correct padding (`=` / `==` making the
//!   length a multiple of 4) or with none at all. It rejects any other byte,
//!   partial or misplaced padding, and a length that leaves a single
//!   6-bit group (`len % 4 == 1`). Non-zero bits in the unused low bits of
//!   the last group are ignored (RFC 4648 §3.5 lets decoders choose; peers'
//!   default decoders, e.g. Go's, ignore them too).

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The length of the unpadded encoding of `n` bytes.
pub(crate) fn encoded_len(n: usize) -> usize {
    n / 3 * 4
        + match n % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Encodes `data` without padding.
pub(crate) fn encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(encoded_len(data.len()));
    let sym = |v: u32| ALPHABET[(v & 0x3f) as usize];
    let mut chunks = data.chunks_exact(3);
    for c in &mut chunks {
        let v = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out.extend_from_slice(&[sym(v >> 18), sym(v >> 12), sym(v >> 6), sym(v)]);
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out.extend_from_slice(&[sym(v >> 18), sym(v >> 12)]);
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out.extend_from_slice(&[sym(v >> 18), sym(v >> 12), sym(v >> 6)]);
        }
        _ => {}
    }
    out
}

fn value(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b - b'A',
        b'a'..=b'z' => b - b'a' + 26,
        b'0'..=b'9' => b - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Why a base64 value could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidBase64;

/// Decodes padded or unpadded standard base64.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, InvalidBase64> {
    let body = if input.len() % 4 == 0 {
        input
            .strip_suffix(b"==")
            .or_else(|| input.strip_suffix(b"="))
            .unwrap_or(input)
    } else {
        input
    };
    if body.len() % 4 == 1 {
        return Err(InvalidBase64);
    }
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    let mut chunks = body.chunks_exact(4);
    for c in &mut chunks {
        let mut v = 0u32;
        for &b in c {
            v = v << 6 | value(b).ok_or(InvalidBase64)?;
        }
        out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
    }
    let rest = chunks.remainder();
    let mut v = 0u32;
    for &b in rest {
        v = v << 6 | value(b).ok_or(InvalidBase64)?;
    }
    match rest.len() {
        2 => out.push((v >> 4) as u8),
        3 => out.extend_from_slice(&[(v >> 10) as u8, (v >> 2) as u8]),
        _ => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4648 §10 test vectors (padded form).
    const VECTORS: [(&str, &str); 7] = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for (plain, padded) in VECTORS {
            let unpadded = padded.trim_end_matches('=');
            assert_eq!(encode(plain.as_bytes()), unpadded.as_bytes());
            assert_eq!(encoded_len(plain.len()), unpadded.len());
            assert_eq!(decode(padded.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(decode(unpadded.as_bytes()).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn whole_alphabet() {
        let data: Vec<u8> = (0..=255u8).collect();
        let enc = encode(&data);
        assert!(enc.iter().all(|b| ALPHABET.contains(b)));
        assert_eq!(decode(&enc).unwrap(), data);
        assert_eq!(encode(&[0xfb, 0xff]), b"+/8");
        assert_eq!(decode(b"+/8=").unwrap(), [0xfb, 0xff]);
    }

    #[test]
    fn every_length_round_trips() {
        let mut x = 7u32;
        for len in 0..200 {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (x >> 16) as u8
                })
                .collect();
            let enc = encode(&data);
            assert_eq!(enc.len(), encoded_len(len));
            assert_eq!(decode(&enc).unwrap(), data);
            let mut padded = enc.clone();
            while padded.len() % 4 != 0 {
                padded.push(b'=');
            }
            assert_eq!(decode(&padded).unwrap(), data);
        }
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            &b"Z"[..],
            b"Zm9vY",
            b"Zg=",
            b"Zg===",
            b"Z===",
            b"====",
            b"Zm=v",
            b"=Zm9",
            b"Zm 9v",
            b"Zm9v\n",
            b"Zm-_",
            b"Zm9v\xff",
            b"Zg==Zg==",
        ] {
            assert_eq!(decode(bad), Err(InvalidBase64), "{bad:?}");
        }
    }

    #[test]
    fn ignores_nonzero_trailing_bits() {
        assert_eq!(decode(b"Zh").unwrap(), b"f");
        assert_eq!(decode(b"Zm9=").unwrap(), b"fo");
    }
}
