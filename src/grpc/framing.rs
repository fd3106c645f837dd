//! Length-prefixed messages (PROTOCOL-HTTP2.md, "Requests"):
//!
//! ```text
//! Length-Prefixed-Message → Compressed-Flag Message-Length Message
//! Compressed-Flag         → 0 / 1   # 1 byte unsigned integer
//! Message-Length          → 4 byte unsigned integer (big endian)
//! Message                 → *{binary octet}
//! ```
//!
//! DATA frame boundaries have no relation to message boundaries
//! (PROTOCOL-HTTP2.md, "Data Frames"), so [`Deframer`] takes DATA payloads
//! split anywhere and yields whole messages.

use bytes::{Buf, Bytes, BytesMut};
use core::fmt;

use super::status::{Code, Status};
use crate::deque::SmallDeque;

/// Size of the message prefix: flag byte and 4-byte length.
pub const HEADER_LEN: usize = 5;

/// The 5-byte prefix for a message of `len` bytes.
pub fn encode_header(compressed: bool, len: u32) -> [u8; HEADER_LEN] {
    let l = len.to_be_bytes();
    [u8::from(compressed), l[0], l[1], l[2], l[3]]
}

/// One received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The Compressed-Flag: the payload is compressed with the stream's
    /// `grpc-encoding`.
    pub compressed: bool,
    /// The payload, still compressed if `compressed` is set.
    pub data: Bytes,
}

/// Why the message stream could not be split into messages. Each maps to
/// a gRPC code ([`DeframeError::code`]); all of them end the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeframeError {
    /// The length prefix announces more than the configured maximum
    /// (`RESOURCE_EXHAUSTED`). Detected from the prefix alone, before the
    /// payload is waited for.
    TooLarge {
        /// The announced length.
        len: u32,
        /// The configured maximum.
        limit: usize,
    },
    /// The Compressed-Flag is neither 0 nor 1 (`INTERNAL`).
    BadFlag(u8),
    /// The stream ended inside a message (`INTERNAL`).
    Truncated {
        /// Bytes of the unfinished message (prefix included) received.
        buffered: usize,
    },
}

impl DeframeError {
    /// The gRPC code for this error.
    pub fn code(&self) -> Code {
        match self {
            DeframeError::TooLarge { .. } => Code::ResourceExhausted,
            DeframeError::BadFlag(_) | DeframeError::Truncated { .. } => Code::Internal,
        }
    }

    /// A [`Status`] describing this error.
    pub fn to_status(&self) -> Status {
        Status::new(self.code(), self.to_string())
    }
}

impl fmt::Display for DeframeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeframeError::TooLarge { len, limit } => write!(
                f,
                "received message larger than max ({len} vs. {limit} bytes)"
            ),
            DeframeError::BadFlag(b) => write!(f, "invalid compressed flag {b}"),
            DeframeError::Truncated { buffered } => write!(
                f,
                "stream ended inside a message ({buffered} bytes received)"
            ),
        }
    }
}

impl std::error::Error for DeframeError {}

/// A streaming splitter of length-prefixed messages.
///
/// * Zero-copy: a message that lies within one pushed chunk is returned as
///   a slice of that chunk; one spanning chunks is copied once, into a
///   buffer of exactly its length, which by then has fully arrived (the
///   length prefix alone never causes an allocation).
/// * The maximum message size is checked as soon as a prefix is complete.
/// * After an error, every further [`next`](Deframer::next) returns the same
///   error.
#[derive(Debug)]
pub struct Deframer {
    max_message_size: usize,
    /// Received chunks not yet consumed; one inline, as a call's small
    /// messages usually arrive one DATA payload at a time (every open call
    /// carries this, so inline room costs memory per call).
    chunks: SmallDeque<Bytes, 1>,
    buffered: usize,
    /// The parsed prefix of the message being received.
    pending: Option<(bool, usize)>,
    error: Option<DeframeError>,
}

impl Deframer {
    /// A deframer accepting messages of up to `max_message_size` bytes
    /// (the gRPC default for receiving is 4 MiB).
    pub fn new(max_message_size: usize) -> Deframer {
        Deframer {
            max_message_size,
            chunks: SmallDeque::default(),
            buffered: 0,
            pending: None,
            error: None,
        }
    }

    /// The configured maximum message size.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Adds received bytes (a DATA payload or any part of one). Call
    /// [`next`](Deframer::next) until it returns `Ok(None)` afterwards; the
    /// chunk is only referenced, not copied.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() || self.error.is_some() {
            return;
        }
        self.buffered += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// The next complete message, `Ok(None)` if more bytes are needed.
    ///
    /// Not an [`Iterator`]: `Ok(None)` means "not yet", not "finished", and
    /// an error repeats forever.
    #[allow(clippy::should_implement_trait)]
    #[inline]
    pub fn next(&mut self) -> Result<Option<Message>, DeframeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let (compressed, len) = match self.pending {
            Some(p) => p,
            None => {
                if self.buffered < HEADER_LEN {
                    return Ok(None);
                }
                let h = self.take_header();
                let compressed = match h[0] {
                    0 => false,
                    1 => true,
                    b => return Err(self.fail(DeframeError::BadFlag(b))),
                };
                let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]);
                let Some(n) = usize::try_from(len)
                    .ok()
                    .filter(|&n| n <= self.max_message_size)
                else {
                    return Err(self.fail(DeframeError::TooLarge {
                        len,
                        limit: self.max_message_size,
                    }));
                };
                self.pending = Some((compressed, n));
                (compressed, n)
            }
        };
        if self.buffered < len {
            return Ok(None);
        }
        self.pending = None;
        let data = self.take(len);
        Ok(Some(Message { compressed, data }))
    }

    /// Checks that the stream ended on a message boundary; call at
    /// END_STREAM after draining [`next`](Deframer::next).
    pub fn finish(&self) -> Result<(), DeframeError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.is_empty() {
            Ok(())
        } else {
            Err(DeframeError::Truncated {
                buffered: self.buffered + self.pending.map_or(0, |_| HEADER_LEN),
            })
        }
    }

    /// Whether no partial message is held.
    pub fn is_empty(&self) -> bool {
        self.buffered == 0 && self.pending.is_none()
    }

    /// Bytes held for messages not yet returned (for memory accounting).
    pub fn buffered_len(&self) -> usize {
        self.buffered
    }

    fn fail(&mut self, e: DeframeError) -> DeframeError {
        self.error = Some(e);
        self.chunks.clear();
        self.buffered = 0;
        self.pending = None;
        e
    }

    /// Consumes a message prefix; the caller checked it is buffered.
    fn take_header(&mut self) -> [u8; HEADER_LEN] {
        if let Some(front) = self.chunks.front_mut()
            && let Some(&h) = front.first_chunk::<HEADER_LEN>()
        {
            // Within one chunk (the usual case): read in place.
            front.advance(HEADER_LEN);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            self.buffered -= HEADER_LEN;
            return h;
        }
        let mut h = [0u8; HEADER_LEN];
        self.copy_to(&mut h);
        h
    }

    /// Copies and consumes `dst.len()` bytes; the caller checked they are
    /// buffered.
    fn copy_to(&mut self, dst: &mut [u8]) {
        let mut filled = 0;
        while filled < dst.len() {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(dst.len() - filled);
            dst[filled..filled + n].copy_from_slice(&front[..n]);
            front.advance(n);
            filled += n;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        self.buffered -= filled;
    }

    /// Consumes `len` buffered bytes; the caller checked they are there.
    fn take(&mut self, len: usize) -> Bytes {
        if len == 0 {
            return Bytes::new();
        }
        if let Some(front) = self.chunks.front_mut() {
            if front.len() >= len {
                let data = front.split_to(len);
                if front.is_empty() {
                    self.chunks.pop_front();
                }
                self.buffered -= len;
                return data;
            }
        }
        let mut buf = BytesMut::zeroed(len);
        self.copy_to(&mut buf);
        buf.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(compressed: bool, data: &[u8]) -> Vec<u8> {
        let mut v = encode_header(compressed, u32::try_from(data.len()).unwrap()).to_vec();
        v.extend_from_slice(data);
        v
    }

    fn drain(d: &mut Deframer) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = d.next().unwrap() {
            out.push(m);
        }
        out
    }

    fn sample() -> (Vec<u8>, Vec<Message>) {
        let msgs = vec![
            Message {
                compressed: false,
                data: Bytes::from_static(b"hello"),
            },
            Message {
                compressed: true,
                data: Bytes::new(),
            },
            Message {
                compressed: false,
                data: Bytes::from((0..=255u8).collect::<Vec<_>>()),
            },
            Message {
                compressed: true,
                data: Bytes::from_static(b"x"),
            },
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            wire.extend(frame(m.compressed, &m.data));
        }
        (wire, msgs)
    }

    #[test]
    fn header_encoding() {
        assert_eq!(encode_header(false, 0), [0, 0, 0, 0, 0]);
        assert_eq!(encode_header(true, 0x0102_0304), [1, 1, 2, 3, 4]);
        assert_eq!(encode_header(false, u32::MAX), [0, 255, 255, 255, 255]);
    }

    #[test]
    fn whole_stream_in_one_chunk() {
        let (wire, msgs) = sample();
        let mut d = Deframer::new(1024);
        d.push(Bytes::from(wire));
        assert_eq!(drain(&mut d), msgs);
        assert!(d.is_empty());
        assert_eq!(d.buffered_len(), 0);
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn every_split_position() {
        let (wire, msgs) = sample();
        for i in 0..=wire.len() {
            for j in i..=wire.len() {
                let mut d = Deframer::new(1024);
                let mut got = Vec::new();
                for part in [&wire[..i], &wire[i..j], &wire[j..]] {
                    d.push(Bytes::copy_from_slice(part));
                    got.extend(drain(&mut d));
                }
                assert_eq!(got, msgs, "split at {i}/{j}");
                assert_eq!(d.finish(), Ok(()));
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let (wire, msgs) = sample();
        let mut d = Deframer::new(1024);
        let mut got = Vec::new();
        for (i, b) in wire.iter().enumerate() {
            d.push(Bytes::copy_from_slice(&[*b]));
            got.extend(drain(&mut d));
            assert!(d.buffered_len() <= i + 1);
        }
        assert_eq!(got, msgs);
        assert!(d.is_empty());
    }

    #[test]
    fn zero_copy_within_a_chunk() {
        let (wire, _) = sample();
        let chunk = Bytes::from(wire);
        let base = chunk.as_ptr() as usize;
        let mut d = Deframer::new(1024);
        d.push(chunk.clone());
        let first = d.next().unwrap().unwrap();
        assert_eq!(first.data.as_ptr() as usize, base + HEADER_LEN);
        d.next().unwrap().unwrap();
        let third = d.next().unwrap().unwrap();
        assert_eq!(
            third.data.as_ptr() as usize,
            base + 2 * HEADER_LEN + 5 + HEADER_LEN
        );

        // Header in one chunk, payload alone in the next: still a slice.
        let payload = Bytes::from_static(b"payload");
        let mut d = Deframer::new(1024);
        d.push(Bytes::copy_from_slice(&encode_header(false, 7)));
        assert_eq!(d.next(), Ok(None));
        d.push(payload.clone());
        let m = d.next().unwrap().unwrap();
        assert_eq!(m.data.as_ptr(), payload.as_ptr());
    }

    #[test]
    fn spanning_message_is_assembled() {
        let mut d = Deframer::new(1024);
        let mut wire = frame(false, b"abcdef");
        wire.extend(frame(false, b"gh"));
        d.push(Bytes::copy_from_slice(&wire[..8]));
        assert_eq!(d.next(), Ok(None));
        assert_eq!(d.buffered_len(), 3);
        d.push(Bytes::copy_from_slice(&wire[8..]));
        assert_eq!(d.next().unwrap().unwrap().data, &b"abcdef"[..]);
        assert_eq!(d.next().unwrap().unwrap().data, &b"gh"[..]);
        assert_eq!(d.next(), Ok(None));
    }

    #[test]
    fn limit_is_enforced_from_the_prefix() {
        let mut d = Deframer::new(10);
        d.push(Bytes::copy_from_slice(&encode_header(false, 10)));
        assert_eq!(d.next(), Ok(None));
        d.push(Bytes::from_static(&[0; 10]));
        assert_eq!(d.next().unwrap().unwrap().data.len(), 10);

        d.push(Bytes::copy_from_slice(&encode_header(false, 11)));
        let e = d.next().unwrap_err();
        assert_eq!(e, DeframeError::TooLarge { len: 11, limit: 10 });
        assert_eq!(e.code(), Code::ResourceExhausted);
        // Sticky, and nothing more is buffered.
        d.push(Bytes::from_static(&[0; 100]));
        assert_eq!(d.next(), Err(e));
        assert_eq!(d.buffered_len(), 0);
        assert_eq!(d.finish(), Err(e));
    }

    #[test]
    fn four_gib_prefix() {
        let mut d = Deframer::new(usize::MAX);
        d.push(Bytes::copy_from_slice(&encode_header(true, u32::MAX)));
        d.push(Bytes::from_static(b"some"));
        // Accepted by the limit, but nothing is allocated for it.
        assert_eq!(d.next(), Ok(None));
        assert_eq!(d.buffered_len(), 4);
        assert_eq!(d.finish(), Err(DeframeError::Truncated { buffered: 9 }));

        let mut d = Deframer::new(4 * 1024 * 1024);
        d.push(Bytes::copy_from_slice(&[0, 0xff, 0xff, 0xff, 0xff]));
        assert_eq!(
            d.next(),
            Err(DeframeError::TooLarge {
                len: u32::MAX,
                limit: 4 * 1024 * 1024
            })
        );
    }

    #[test]
    fn zero_length_and_zero_limit() {
        let mut d = Deframer::new(0);
        let mut wire = frame(false, b"");
        wire.extend(frame(true, b""));
        d.push(Bytes::from(wire));
        let got = drain(&mut d);
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|m| m.data.is_empty()));
        assert!(got[1].compressed);
        d.push(Bytes::copy_from_slice(&frame(false, b"a")));
        assert_eq!(d.next(), Err(DeframeError::TooLarge { len: 1, limit: 0 }));
    }

    #[test]
    fn bad_flag() {
        for flag in [2u8, 3, 0x80, 0xff] {
            let mut d = Deframer::new(1024);
            d.push(Bytes::copy_from_slice(&[flag, 0, 0, 0, 0]));
            let e = d.next().unwrap_err();
            assert_eq!(e, DeframeError::BadFlag(flag));
            assert_eq!(e.code(), Code::Internal);
            assert_eq!(e.to_status().code, Code::Internal);
        }
    }

    #[test]
    fn truncation_is_detected() {
        let wire = frame(false, b"abc");
        for cut in 1..wire.len() {
            let mut d = Deframer::new(1024);
            d.push(Bytes::copy_from_slice(&wire[..cut]));
            assert_eq!(d.next(), Ok(None));
            assert!(!d.is_empty());
            let e = d.finish().unwrap_err();
            assert_eq!(e, DeframeError::Truncated { buffered: cut });
            assert_eq!(e.code(), Code::Internal);
        }
        let mut d = Deframer::new(1024);
        d.push(Bytes::new());
        assert!(d.is_empty());
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let mut d = Deframer::new(64);
            for _ in 0..8 {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let len = (x >> 28) as usize;
                let chunk: Vec<u8> = (0..len)
                    .map(|i| {
                        let b = (x >> (i % 24)) as u8;
                        if i % 5 == 0 { b & 1 } else { b & 0x3f }
                    })
                    .collect();
                d.push(Bytes::from(chunk));
                while let Ok(Some(m)) = d.next() {
                    assert!(m.data.len() <= 64);
                }
            }
            let _ = d.finish();
        }
    }
}
