//! Per-message compression (grpc/grpc `doc/compression.md`) and the
//! `grpc-encoding` / `grpc-accept-encoding` headers (`doc/PROTOCOL-HTTP2.md`):
//!
//! ```text
//! Message-Encoding        → "grpc-encoding" Content-Coding
//! Message-Accept-Encoding → "grpc-accept-encoding" Content-Coding *("," Content-Coding)
//! Content-Coding          → "identity" / "gzip" / "deflate" / "snappy" / {custom}
//! ```
//!
//! Three encodings are known here: `identity`, `gzip` and `deflate`. The
//! last two need the `compression` cargo feature (flate2 with its pure-Rust
//! backend); without it they are still recognised by name, so that a peer
//! using them can be answered with the right status, but
//! [`Encoding::is_supported`] is false for them and [`compress`] /
//! [`decompress`] return [`CompressionError::Unsupported`].
//!
//! # Formats
//!
//! * `gzip` is RFC 1952: one gzip member, CRC-32 and ISIZE checked.
//! * `deflate` is the **zlib** format (RFC 1950: 2-byte header, DEFLATE data,
//!   Adler-32), as HTTP's `Content-Encoding: deflate` is, and not raw
//!   RFC 1951 DEFLATE. gRPC C-core (`message_compress.cc`) compresses and
//!   decompresses both encodings with zlib's `deflateInit2` /
//!   `inflateInit2`, `windowBits` `15` for `deflate` (zlib wrapper) and
//!   `15 | 16` for `gzip` (gzip wrapper), and advertises
//!   `identity,deflate,gzip`. grpc-go and grpc-java ship only `gzip`.
//!
//! Each message is compressed on its own: no state is kept between
//! messages. Like C-core, decompression accepts exactly one stream per
//! message: any byte after its end (including a second gzip member) makes
//! the message corrupt.
//!
//! # Decompression bombs
//!
//! [`decompress`] takes the maximum size of the decompressed message and
//! stops as soon as the output would exceed it: the output buffer never
//! holds more than `limit + 1` bytes, however small and however
//! compressible the input is.

use core::fmt;

use bytes::Bytes;
use smallvec::SmallVec;

use super::status::{Code, Status};

/// A message encoding, the value of `grpc-encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// `identity`: no compression.
    Identity,
    /// `gzip`: RFC 1952.
    Gzip,
    /// `deflate`: the zlib format, RFC 1950 (see the [module docs](self)).
    Deflate,
}

impl Encoding {
    /// The header token for this encoding.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    /// The encoding named by a header token. Optional whitespace (space,
    /// tab) around the token is ignored; the token itself must match exactly,
    /// in lower case. Unknown names give `None`.
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        match trim_ows(name) {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            _ => None,
        }
    }

    /// Whether this build can compress and decompress with this encoding:
    /// always for `identity`, for `gzip` and `deflate` only with the
    /// `compression` feature.
    pub fn is_supported(self) -> bool {
        match self {
            Encoding::Identity => true,
            Encoding::Gzip | Encoding::Deflate => cfg!(feature = "compression"),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The encodings this build supports, in the order of
/// [`accept_encoding_value`].
pub fn supported() -> &'static [Encoding] {
    #[cfg(feature = "compression")]
    {
        &[Encoding::Identity, Encoding::Deflate, Encoding::Gzip]
    }
    #[cfg(not(feature = "compression"))]
    {
        &[Encoding::Identity]
    }
}

/// The value to send in `grpc-accept-encoding`: the [`supported`]
/// encodings, comma-separated (the same list and order as gRPC C-core's).
pub const fn accept_encoding_value() -> &'static str {
    #[cfg(feature = "compression")]
    {
        "identity,deflate,gzip"
    }
    #[cfg(not(feature = "compression"))]
    {
        "identity"
    }
}

/// The known encodings listed in a `grpc-accept-encoding` value, in order
/// of first appearance and without duplicates. Unknown tokens, empty
/// elements and whitespace around tokens are ignored. Several header fields
/// may be parsed one by one or joined with `,` first.
///
/// The result lists what the peer accepts, whether or not this build
/// supports it; filter with [`Encoding::is_supported`] to choose.
pub fn parse_accept_encoding(value: &[u8]) -> SmallVec<[Encoding; 3]> {
    let mut out = SmallVec::new();
    for token in value.split(|&b| b == b',') {
        if let Some(enc) = Encoding::from_name(token) {
            if !out.contains(&enc) {
                out.push(enc);
            }
        }
    }
    out
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Why a message could not be compressed or decompressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressionError {
    /// The encoding is not supported by this build (`UNIMPLEMENTED`).
    ///
    /// `doc/compression.md` asks a *server* receiving such a message for
    /// `UNIMPLEMENTED` (and a `grpc-accept-encoding` listing what it does
    /// support), but a *client* receiving one from its server for
    /// `INTERNAL`; [`CompressionError::code`] gives the server's code.
    Unsupported,
    /// The decompressed message would be larger than the limit
    /// (`RESOURCE_EXHAUSTED`).
    TooLarge {
        /// The limit passed to [`decompress`].
        limit: usize,
    },
    /// The compressed data is not a valid, complete stream of its encoding,
    /// or has bytes after the stream's end (`INTERNAL`).
    Corrupt,
}

impl CompressionError {
    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            CompressionError::Unsupported => Code::Unimplemented,
            CompressionError::TooLarge { .. } => Code::ResourceExhausted,
            CompressionError::Corrupt => Code::Internal,
        }
    }

    /// A [`Status`] describing this error.
    pub fn to_status(&self) -> Status {
        Status::new(self.code(), self.to_string())
    }
}

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionError::Unsupported => write!(
                f,
                "the message encoding is not supported (supported: {})",
                accept_encoding_value()
            ),
            CompressionError::TooLarge { limit } => {
                write!(
                    f,
                    "the decompressed message is larger than the {limit}-byte limit \
                     (max_receive_message_size)"
                )
            }
            CompressionError::Corrupt => f.write_str(
                "the compressed message is not a valid, complete stream of its encoding",
            ),
        }
    }
}

impl std::error::Error for CompressionError {}

/// Appends `input`, compressed with `enc`, to `dst`. `identity` appends
/// `input` unchanged. On error `dst` is left as it was.
///
/// The output may be larger than the input (for small or incompressible
/// messages); a sender may then choose to send the message uncompressed
/// with the Compressed-Flag clear.
pub fn compress(enc: Encoding, input: &[u8], dst: &mut Vec<u8>) -> Result<(), CompressionError> {
    match enc {
        Encoding::Identity => {
            dst.extend_from_slice(input);
            Ok(())
        }
        #[cfg(feature = "compression")]
        Encoding::Gzip | Encoding::Deflate => {
            let start = dst.len();
            let r = imp::compress(enc == Encoding::Gzip, input, dst);
            if r.is_err() {
                dst.truncate(start);
            }
            r
        }
        #[cfg(not(feature = "compression"))]
        Encoding::Gzip | Encoding::Deflate => Err(CompressionError::Unsupported),
    }
}

/// Decompresses a message compressed with `enc`, refusing output longer
/// than `limit` bytes ([`CompressionError::TooLarge`]). The limit is
/// enforced while decompressing: at most `limit + 1` bytes of output are
/// ever buffered.
///
/// `identity` returns a copy of `input` (subject to the same limit); a
/// caller holding the message as [`Bytes`] should rather use it as it is.
pub fn decompress(enc: Encoding, input: &[u8], limit: usize) -> Result<Bytes, CompressionError> {
    match enc {
        Encoding::Identity => {
            if input.len() > limit {
                return Err(CompressionError::TooLarge { limit });
            }
            Ok(Bytes::copy_from_slice(input))
        }
        #[cfg(feature = "compression")]
        Encoding::Gzip => imp::gunzip(input, limit).map(Bytes::from),
        #[cfg(feature = "compression")]
        Encoding::Deflate => imp::unzlib(input, limit).map(Bytes::from),
        #[cfg(not(feature = "compression"))]
        Encoding::Gzip | Encoding::Deflate => {
            let _ = (input, limit);
            Err(CompressionError::Unsupported)
        }
    }
}

#[cfg(feature = "compression")]
mod imp {
    //! gzip and zlib on top of flate2's in-memory raw DEFLATE and zlib
    //! streams. The gzip wrapper is handled here so that the input is known
    //! to be consumed exactly, which flate2's `Read` adapters do not report.

    use flate2::{Compress, Compression, Crc, Decompress, FlushCompress, FlushDecompress, Status};

    use super::CompressionError;

    /// gzip header: ID1 ID2 CM FLG MTIME(4) XFL OS.
    const GZIP_HEADER_LEN: usize = 10;
    const GZIP_TRAILER_LEN: usize = 8;
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    const FRESERVED: u8 = 0xe0;

    /// Smallest growth step of the output buffer.
    const MIN_GROW: usize = 4096;

    fn pos(total: u64) -> usize {
        usize::try_from(total).unwrap_or(usize::MAX)
    }

    pub(super) fn compress(
        gzip: bool,
        input: &[u8],
        dst: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        let level = Compression::default();
        if gzip {
            // MTIME 0 (none), XFL 0, OS 255 (unknown).
            dst.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
            deflate_into(&mut Compress::new(level, false), input, dst)?;
            let mut crc = Crc::new();
            crc.update(input);
            dst.extend_from_slice(&crc.sum().to_le_bytes());
            // ISIZE is the input size modulo 2^32.
            dst.extend_from_slice(&(input.len() as u32).to_le_bytes());
            Ok(())
        } else {
            deflate_into(&mut Compress::new(level, true), input, dst)
        }
    }

    fn deflate_into(
        c: &mut Compress,
        input: &[u8],
        dst: &mut Vec<u8>,
    ) -> Result<(), CompressionError> {
        dst.reserve(input.len() / 2 + 64);
        loop {
            if dst.len() == dst.capacity() {
                dst.reserve((dst.capacity() / 2).max(MIN_GROW));
            }
            let rest = input
                .get(pos(c.total_in())..)
                .ok_or(CompressionError::Corrupt)?;
            let (in0, out0) = (c.total_in(), c.total_out());
            let status = c
                .compress_vec(rest, dst, FlushCompress::Finish)
                .map_err(|_| CompressionError::Corrupt)?;
            if status == Status::StreamEnd {
                return Ok(());
            }
            if c.total_in() == in0 && c.total_out() == out0 && dst.len() < dst.capacity() {
                // No progress with room to write: cannot happen with a
                // healthy compressor; refuse rather than loop.
                return Err(CompressionError::Corrupt);
            }
        }
    }

    /// Inflates one stream from the start of `input` into a new buffer of at
    /// most `limit + 1` bytes. Returns the output and the number of input
    /// bytes the stream took.
    fn inflate(
        d: &mut Decompress,
        input: &[u8],
        limit: usize,
    ) -> Result<(Vec<u8>, usize), CompressionError> {
        let too_large = CompressionError::TooLarge { limit };
        let cap_max = limit.saturating_add(1);
        let mut out = Vec::new();
        out.reserve_exact(input.len().saturating_mul(4).max(MIN_GROW).min(cap_max));
        loop {
            if out.len() >= out.capacity() {
                if out.len() >= cap_max {
                    return Err(too_large);
                }
                let grow = out.capacity().max(MIN_GROW).min(cap_max - out.len());
                out.reserve_exact(grow);
            }
            let rest = input
                .get(pos(d.total_in())..)
                .ok_or(CompressionError::Corrupt)?;
            let (in0, out0) = (d.total_in(), d.total_out());
            let status = d
                .decompress_vec(rest, &mut out, FlushDecompress::None)
                .map_err(|_| CompressionError::Corrupt)?;
            if out.len() > limit {
                return Err(too_large);
            }
            if status == Status::StreamEnd {
                return Ok((out, pos(d.total_in())));
            }
            if d.total_in() == in0 && d.total_out() == out0 && out.len() < out.capacity() {
                // Room to write, yet nothing consumed or produced: the input
                // ended before the stream did.
                return Err(CompressionError::Corrupt);
            }
        }
    }

    /// `deflate`: one zlib stream and nothing after it.
    pub(super) fn unzlib(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
        let (out, used) = inflate(&mut Decompress::new(true), input, limit)?;
        if used != input.len() {
            return Err(CompressionError::Corrupt);
        }
        Ok(out)
    }

    /// `gzip`: one gzip member and nothing after it.
    pub(super) fn gunzip(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
        let body = input
            .get(gzip_header_len(input)?..)
            .ok_or(CompressionError::Corrupt)?;
        let (out, used) = inflate(&mut Decompress::new(false), body, limit)?;
        let trailer = body.get(used..).ok_or(CompressionError::Corrupt)?;
        let Ok(trailer) = <[u8; GZIP_TRAILER_LEN]>::try_from(trailer) else {
            // Truncated trailer, or bytes after it.
            return Err(CompressionError::Corrupt);
        };
        let mut crc = Crc::new();
        crc.update(&out);
        let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
        if u32::from_le_bytes([c0, c1, c2, c3]) != crc.sum()
            || u32::from_le_bytes([s0, s1, s2, s3]) != out.len() as u32
        {
            return Err(CompressionError::Corrupt);
        }
        Ok(out)
    }

    /// The length of the gzip member header at the start of `input`
    /// (RFC 1952 section 2.3), checked.
    fn gzip_header_len(input: &[u8]) -> Result<usize, CompressionError> {
        let corrupt = CompressionError::Corrupt;
        let fixed = input.get(..GZIP_HEADER_LEN).ok_or(corrupt)?;
        let flg = fixed[3];
        if fixed[..3] != [0x1f, 0x8b, 8] || flg & FRESERVED != 0 {
            return Err(corrupt);
        }
        let mut at = GZIP_HEADER_LEN;
        if flg & FEXTRA != 0 {
            let xlen = input.get(at..at + 2).ok_or(corrupt)?;
            at += 2 + usize::from(u16::from_le_bytes([xlen[0], xlen[1]]));
        }
        for flag in [FNAME, FCOMMENT] {
            if flg & flag != 0 {
                let field = input.get(at..).ok_or(corrupt)?;
                let nul = field.iter().position(|&b| b == 0).ok_or(corrupt)?;
                at += nul + 1;
            }
        }
        if flg & FHCRC != 0 {
            let covered = input.get(..at).ok_or(corrupt)?;
            let stored = input.get(at..at + 2).ok_or(corrupt)?;
            let mut crc = Crc::new();
            crc.update(covered);
            if u16::from_le_bytes([stored[0], stored[1]]) != crc.sum() as u16 {
                return Err(corrupt);
            }
            at += 2;
        }
        if at > input.len() {
            return Err(corrupt);
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*) for test data.
    #[cfg(feature = "compression")]
    struct Rng(u64);

    #[cfg(feature = "compression")]
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    #[cfg(feature = "compression")]
    /// Somewhat compressible data: runs of random bytes from a small
    /// alphabet mixed with literal noise.
    fn sample(rng: &mut Rng, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let run = 1 + rng.below(40);
            let b = b"abcdefgh \n"[rng.below(10)];
            for _ in 0..run.min(n - v.len()) {
                v.push(if rng.below(8) == 0 {
                    rng.next() as u8
                } else {
                    b
                });
            }
        }
        v
    }

    #[test]
    fn names() {
        for enc in [Encoding::Identity, Encoding::Gzip, Encoding::Deflate] {
            assert_eq!(Encoding::from_name(enc.name().as_bytes()), Some(enc));
            assert_eq!(enc.to_string(), enc.name());
        }
        assert_eq!(Encoding::from_name(b" gzip\t"), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_name(b"\tdeflate "), Some(Encoding::Deflate));
        for bad in [
            &b""[..],
            b" ",
            b"GZIP",
            b"Gzip",
            b"x-gzip",
            b"snappy",
            b"zstd",
            b"gzip,deflate",
            b"g zip",
            b"gzip\r",
            b"identity\0",
        ] {
            assert_eq!(Encoding::from_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn supported_matches_accept_value() {
        let names: Vec<&str> = supported().iter().map(|e| e.name()).collect();
        assert_eq!(names.join(","), accept_encoding_value());
        assert_eq!(
            &parse_accept_encoding(accept_encoding_value().as_bytes())[..],
            supported()
        );
        assert!(supported().iter().all(|e| e.is_supported()));
        assert!(Encoding::Identity.is_supported());
        assert_eq!(Encoding::Gzip.is_supported(), cfg!(feature = "compression"));
        assert_eq!(
            Encoding::Deflate.is_supported(),
            cfg!(feature = "compression")
        );
    }

    #[test]
    fn accept_encoding_parsing() {
        use Encoding::*;
        let p = |v: &[u8]| parse_accept_encoding(v).to_vec();
        assert_eq!(p(b""), vec![]);
        assert_eq!(p(b"identity,deflate,gzip"), vec![Identity, Deflate, Gzip]);
        assert_eq!(p(b"gzip"), vec![Gzip]);
        assert_eq!(
            p(b" gzip , identity\t,\tdeflate "),
            vec![Gzip, Identity, Deflate]
        );
        assert_eq!(p(b"snappy,zstd,gzip,br"), vec![Gzip]);
        assert_eq!(p(b",,gzip,,"), vec![Gzip]);
        assert_eq!(
            p(b"gzip,gzip,deflate,gzip,identity,deflate"),
            vec![Gzip, Deflate, Identity]
        );
        assert_eq!(p(b"GZIP,Deflate"), vec![]);
        assert_eq!(p(b"gzip;q=1"), vec![]);
        assert_eq!(p(b"zstd"), vec![]);
    }

    #[test]
    fn error_codes_and_display() {
        assert_eq!(CompressionError::Unsupported.code(), Code::Unimplemented);
        assert_eq!(
            CompressionError::TooLarge { limit: 7 }.code(),
            Code::ResourceExhausted
        );
        assert_eq!(CompressionError::Corrupt.code(), Code::Internal);
        let e = CompressionError::TooLarge { limit: 7 };
        assert!(e.to_string().contains('7'));
        assert_eq!(e.to_status().code, Code::ResourceExhausted);
        assert!(
            CompressionError::Unsupported
                .to_string()
                .contains(accept_encoding_value())
        );
        let _: &dyn std::error::Error = &e;
    }

    #[test]
    fn identity() {
        let mut dst = b"pre".to_vec();
        compress(Encoding::Identity, b"hello", &mut dst).unwrap();
        assert_eq!(dst, b"prehello");
        assert_eq!(
            decompress(Encoding::Identity, b"hello", 5).unwrap(),
            &b"hello"[..]
        );
        assert_eq!(decompress(Encoding::Identity, b"", 0).unwrap(), &b""[..]);
        assert_eq!(
            decompress(Encoding::Identity, b"hello", 4),
            Err(CompressionError::TooLarge { limit: 4 })
        );
    }

    #[cfg(not(feature = "compression"))]
    #[test]
    fn unsupported_without_feature() {
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            let mut dst = b"keep".to_vec();
            assert_eq!(
                compress(enc, b"x", &mut dst),
                Err(CompressionError::Unsupported)
            );
            assert_eq!(dst, b"keep");
            assert_eq!(
                decompress(enc, b"x", 100),
                Err(CompressionError::Unsupported)
            );
        }
        assert_eq!(accept_encoding_value(), "identity");
    }

    /// `gzip.compress(S, mtime=0)` and `zlib.compress(S)` from Python 3.
    #[cfg(feature = "compression")]
    const INTEROP_TEXT: &[u8] = b"grpc-sansio interop vector: hello, hello, hello compression!";
    #[cfg(feature = "compression")]
    const PY_GZIP: &[u8] = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\x03\x4b\x2f\x2a\x48\xd6\x2d\x4e\xcc\x2b\xce\xcc\x57\xc8\xcc\x2b\x49\x2d\xca\x2f\x50\x28\x4b\x4d\x2e\xc9\x2f\xb2\x52\xc8\x48\xcd\xc9\xc9\xd7\x41\xa1\x14\x92\xf3\x73\x0b\x8a\x52\x8b\x81\xca\xf3\x14\x01\xaa\xa5\xdb\x74\x3c\x00\x00\x00";
    #[cfg(feature = "compression")]
    const PY_ZLIB: &[u8] = b"\x78\x9c\x4b\x2f\x2a\x48\xd6\x2d\x4e\xcc\x2b\xce\xcc\x57\xc8\xcc\x2b\x49\x2d\xca\x2f\x50\x28\x4b\x4d\x2e\xc9\x2f\xb2\x52\xc8\x48\xcd\xc9\xc9\xd7\x41\xa1\x14\x92\xf3\x73\x0b\x8a\x52\x8b\x81\xca\xf3\x14\x01\xaf\xda\x16\x5c";

    #[cfg(feature = "compression")]
    fn packed(enc: Encoding, input: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        compress(enc, input, &mut v).unwrap();
        v
    }

    #[cfg(feature = "compression")]
    #[test]
    fn interop_vectors() {
        let text = INTEROP_TEXT;
        assert_eq!(decompress(Encoding::Gzip, PY_GZIP, 1024).unwrap(), text);
        assert_eq!(decompress(Encoding::Deflate, PY_ZLIB, 1024).unwrap(), text);
        assert_eq!(
            decompress(Encoding::Gzip, PY_GZIP, text.len()).unwrap(),
            text
        );
        assert_eq!(
            decompress(Encoding::Gzip, PY_GZIP, text.len() - 1),
            Err(CompressionError::TooLarge {
                limit: text.len() - 1
            })
        );
        // The formats are not interchangeable: `deflate` is zlib, not gzip
        // and not raw DEFLATE.
        assert_eq!(
            decompress(Encoding::Deflate, PY_GZIP, 1024),
            Err(CompressionError::Corrupt)
        );
        assert_eq!(
            decompress(Encoding::Gzip, PY_ZLIB, 1024),
            Err(CompressionError::Corrupt)
        );
        let raw = &PY_ZLIB[2..PY_ZLIB.len() - 4];
        assert_eq!(
            decompress(Encoding::Deflate, raw, 1024),
            Err(CompressionError::Corrupt)
        );
        // What we produce has the standard wrappers.
        let z = packed(Encoding::Deflate, text);
        assert_eq!(z[0], 0x78);
        assert_eq!(u16::from_be_bytes([z[0], z[1]]) % 31, 0);
        assert_eq!(
            &z[z.len() - 4..],
            &PY_ZLIB[PY_ZLIB.len() - 4..],
            "same Adler-32"
        );
        let g = packed(Encoding::Gzip, text);
        assert_eq!(&g[..4], b"\x1f\x8b\x08\x00");
        assert_eq!(
            &g[g.len() - 8..],
            &PY_GZIP[PY_GZIP.len() - 8..],
            "same CRC-32 and ISIZE"
        );
    }

    #[cfg(feature = "compression")]
    #[test]
    fn gzip_header_fields() {
        // A member with FEXTRA, FNAME, FCOMMENT and FHCRC around the body of
        // the Python vector.
        let body = &PY_GZIP[10..];
        let mut m = vec![0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 1, 2, 3, 4, 0, 3];
        m.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        m.extend_from_slice(b"name.bin\0");
        m.extend_from_slice(b"a comment\0");
        let mut crc = flate2::Crc::new();
        crc.update(&m);
        m.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        m.extend_from_slice(body);
        assert_eq!(decompress(Encoding::Gzip, &m, 1024).unwrap(), INTEROP_TEXT);
        // A wrong header CRC.
        let hcrc = m.len() - body.len() - 2;
        m[hcrc] ^= 1;
        assert_eq!(
            decompress(Encoding::Gzip, &m, 1024),
            Err(CompressionError::Corrupt)
        );
        // Reserved flag bits.
        let mut r = PY_GZIP.to_vec();
        r[3] = 0x20;
        assert_eq!(
            decompress(Encoding::Gzip, &r, 1024),
            Err(CompressionError::Corrupt)
        );
        // Unterminated name.
        let mut n = PY_GZIP[..10].to_vec();
        n[3] = 0x08;
        n.extend_from_slice(b"no terminator");
        assert_eq!(
            decompress(Encoding::Gzip, &n, 1024),
            Err(CompressionError::Corrupt)
        );
        // FEXTRA longer than the input.
        let mut x = PY_GZIP[..10].to_vec();
        x[3] = 0x04;
        x.extend_from_slice(&[0xff, 0xff, 1, 2]);
        assert_eq!(
            decompress(Encoding::Gzip, &x, 1024),
            Err(CompressionError::Corrupt)
        );
        // Another compression method than 8.
        let mut c = PY_GZIP.to_vec();
        c[2] = 7;
        assert_eq!(
            decompress(Encoding::Gzip, &c, 1024),
            Err(CompressionError::Corrupt)
        );
    }

    #[cfg(feature = "compression")]
    #[test]
    fn round_trips() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut sizes = vec![
            0, 1, 2, 3, 100, 1000, 4095, 4096, 4097, 65_535, 65_536, 65_537,
        ];
        sizes.extend([300_000, 1 << 20]);
        for _ in 0..3 {
            sizes.push(rng.below(1 << 20) + 1);
        }
        for (i, &n) in sizes.iter().enumerate() {
            let random = rng.bytes(n);
            let text = sample(&mut rng, n);
            let zeros = vec![0u8; n];
            // Every kind of data for small sizes; one kind per large size
            // (unoptimised test builds are slow).
            let all = [&random, &text, &zeros];
            let kinds = if n <= 65_537 {
                &all[..]
            } else {
                &all[i % 3..i % 3 + 1]
            };
            for data in kinds {
                for enc in [Encoding::Identity, Encoding::Gzip, Encoding::Deflate] {
                    let mut c = b"prefix".to_vec();
                    compress(enc, data, &mut c).unwrap();
                    assert_eq!(&c[..6], b"prefix");
                    let c = &c[6..];
                    let d = decompress(enc, c, n).unwrap();
                    assert!(d[..] == data[..], "{enc} {n}");
                    if n > 0 {
                        assert_eq!(
                            decompress(enc, c, n - 1),
                            Err(CompressionError::TooLarge { limit: n - 1 }),
                            "{enc} {n}"
                        );
                    }
                }
            }
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn compression_shrinks_redundant_data() {
        let data = vec![b'a'; 1 << 20];
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            assert!(packed(enc, &data).len() < 4096, "{enc}");
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn bomb_is_stopped_at_the_limit() {
        use std::io::Write;
        const BIG: usize = 100 << 20;
        const LIMIT: usize = 4 << 20;

        // Adler-32 of `n` zero bytes: A = 1, B = n (mod 65521).
        let adler_of_zeros = |n: usize| (((n % 65_521) as u32) << 16) | 1;
        let small = packed(Encoding::Deflate, &[0; 1000]);
        assert_eq!(small[small.len() - 4..], adler_of_zeros(1000).to_be_bytes());

        // 100 MiB of zeros as gzip, compressed in pieces so that the test
        // never holds them; under 1 MiB at the fastest level.
        let chunk = vec![0u8; 1 << 20];
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..BIG / chunk.len() {
            w.write_all(&chunk).unwrap();
        }
        let gzip = w.finish().unwrap();
        assert!(gzip.len() < BIG / 100, "{}", gzip.len());
        // The same DEFLATE data in a zlib wrapper (Adler-32 computed rather
        // than run over 100 MiB, which is slow in unoptimised builds).
        let raw = &gzip[10..gzip.len() - 8];
        let zlib = [&[0x78, 0x01][..], raw, &adler_of_zeros(BIG).to_be_bytes()].concat();

        // The gzip bomb is valid: a streaming decoder reaches its end with
        // CRC-32 and ISIZE checked (counted, not kept).
        let n = std::io::copy(
            &mut flate2::read::GzDecoder::new(&gzip[..]),
            &mut std::io::sink(),
        );
        assert_eq!(n.unwrap(), BIG as u64);

        for (enc, bomb) in [(Encoding::Gzip, &gzip), (Encoding::Deflate, &zlib)] {
            assert_eq!(
                decompress(enc, bomb, LIMIT),
                Err(CompressionError::TooLarge { limit: LIMIT })
            );
            assert_eq!(
                decompress(enc, bomb, 0),
                Err(CompressionError::TooLarge { limit: 0 })
            );
            assert_eq!(
                decompress(enc, bomb, 1000),
                Err(CompressionError::TooLarge { limit: 1000 })
            );
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn output_buffer_never_exceeds_limit_plus_one() {
        for n in [0, 1, 5000, 70_000, 1 << 20] {
            let data = vec![7u8; n];
            for limit in [n, n + 1, n + 12_345, 3 * n + 1] {
                let z = imp::unzlib(&packed(Encoding::Deflate, &data), limit).unwrap();
                let g = imp::gunzip(&packed(Encoding::Gzip, &data), limit).unwrap();
                for out in [z, g] {
                    assert_eq!(out, data);
                    assert!(
                        out.capacity() <= limit + 1,
                        "{n} {limit} {}",
                        out.capacity()
                    );
                }
            }
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn corrupt_inputs() {
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            for bad in [
                &b""[..],
                b"\0",
                b"hello, world",
                b"\x1f\x8b",
                b"\x78",
                b"\x78\x9c",
                b"\x78\x9c\x03\x00",         // empty DEFLATE, no Adler-32
                b"\x78\x9c\xff\xff\xff\xff", // invalid block type
                b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff",
            ] {
                assert_eq!(
                    decompress(enc, bad, 1 << 20),
                    Err(CompressionError::Corrupt),
                    "{enc} {bad:?}"
                );
            }
        }
        // zlib header check bits wrong, preset dictionary flag, bad Adler-32.
        let mut z = PY_ZLIB.to_vec();
        z[1] ^= 1;
        assert_eq!(
            decompress(Encoding::Deflate, &z, 1024),
            Err(CompressionError::Corrupt)
        );
        let z = [&[0x78, 0xbb][..], &PY_ZLIB[2..]].concat();
        assert_eq!(
            decompress(Encoding::Deflate, &z, 1024),
            Err(CompressionError::Corrupt)
        );
        let mut z = PY_ZLIB.to_vec();
        *z.last_mut().unwrap() ^= 1;
        assert_eq!(
            decompress(Encoding::Deflate, &z, 1024),
            Err(CompressionError::Corrupt)
        );
        // Bad gzip CRC-32, bad ISIZE.
        for at in [PY_GZIP.len() - 8, PY_GZIP.len() - 1] {
            let mut g = PY_GZIP.to_vec();
            g[at] ^= 1;
            assert_eq!(
                decompress(Encoding::Gzip, &g, 1024),
                Err(CompressionError::Corrupt)
            );
        }
        // Empty messages compress to valid, non-empty streams.
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            let e = packed(enc, b"");
            assert!(!e.is_empty());
            assert_eq!(decompress(enc, &e, 0).unwrap(), &b""[..]);
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn truncated_streams() {
        let mut rng = Rng(7);
        let data = sample(&mut rng, 100_000);
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            for full in [
                packed(enc, &data),
                packed(enc, b""),
                packed(enc, INTEROP_TEXT),
            ] {
                // Every cut near the ends, a stride in between.
                let cuts =
                    (0..full.len()).filter(|&c| c < 64 || full.len() - c < 64 || c % 97 == 0);
                for cut in cuts {
                    assert_eq!(
                        decompress(enc, &full[..cut], 1 << 20),
                        Err(CompressionError::Corrupt),
                        "{enc} cut at {cut} of {}",
                        full.len()
                    );
                }
            }
        }
        for (enc, v) in [(Encoding::Gzip, PY_GZIP), (Encoding::Deflate, PY_ZLIB)] {
            for cut in 0..v.len() {
                assert_eq!(
                    decompress(enc, &v[..cut], 1024),
                    Err(CompressionError::Corrupt)
                );
            }
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn trailing_garbage() {
        for (enc, v) in [
            (Encoding::Gzip, PY_GZIP.to_vec()),
            (Encoding::Deflate, PY_ZLIB.to_vec()),
            (Encoding::Gzip, packed(Encoding::Gzip, &[0; 70_000])),
            (Encoding::Deflate, packed(Encoding::Deflate, &[0; 70_000])),
            (Encoding::Gzip, packed(Encoding::Gzip, b"")),
            (Encoding::Deflate, packed(Encoding::Deflate, b"")),
        ] {
            assert!(decompress(enc, &v, 1 << 20).is_ok());
            for tail in [&b"\0"[..], b"x", b"\0\0\0\0\0\0\0\0", &v[..]] {
                let bad = [&v[..], tail].concat();
                assert_eq!(
                    decompress(enc, &bad, 1 << 20),
                    Err(CompressionError::Corrupt),
                    "{enc} + {tail:?}"
                );
            }
        }
    }

    #[cfg(feature = "compression")]
    #[test]
    fn random_inputs_never_panic() {
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let valid: Vec<(Encoding, Vec<u8>)> = [Encoding::Gzip, Encoding::Deflate]
            .into_iter()
            .flat_map(|e| {
                let data = sample(&mut Rng(3), 3000);
                [(e, packed(e, &data)), (e, packed(e, INTEROP_TEXT))]
            })
            .collect();
        for i in 0..20_000 {
            let enc = [Encoding::Identity, Encoding::Gzip, Encoding::Deflate][i % 3];
            let limit = [0, 1, 100, 5000, 1 << 20][rng.below(5)];
            let input = match rng.below(4) {
                // Pure noise, sometimes behind a valid-looking header.
                0 => {
                    let n = rng.below(300);
                    rng.bytes(n)
                }
                1 => {
                    let head: &[u8] = if enc == Encoding::Gzip {
                        &PY_GZIP[..10]
                    } else {
                        &PY_ZLIB[..2]
                    };
                    let n = rng.below(300);
                    [head, &rng.bytes(n)].concat()
                }
                // Valid streams with a few bytes flipped or cut.
                _ => {
                    let (_, v) = &valid[rng.below(valid.len())];
                    let mut v = v.clone();
                    for _ in 0..1 + rng.below(4) {
                        let at = rng.below(v.len());
                        v[at] ^= 1 << rng.below(8);
                    }
                    if rng.below(4) == 0 {
                        v.truncate(rng.below(v.len() + 1));
                    }
                    v
                }
            };
            if let Ok(out) = decompress(enc, &input, limit) {
                assert!(out.len() <= limit);
            }
        }
    }
}
