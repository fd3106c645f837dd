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
use crate::frame::Origin;

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
/// * Bounded pinning: the bytes of a message not complete yet are kept as
///   slices only while that is honest about memory. Small pieces, and
///   pieces that would keep a much larger received buffer alive, are
///   copied into one gathering buffer (see [`held_bytes`](Self::held_bytes)),
///   so a peer that sends a message one byte per DATA frame, or hides each
///   byte in a large read, holds about the message's size, not a buffer
///   per byte.
/// * The maximum message size is checked as soon as a prefix is complete.
/// * After an error, every further [`next`](Deframer::next) returns the same
///   error.
#[derive(Debug)]
pub struct Deframer {
    max_message_size: usize,
    /// Received pieces not yet consumed, oldest first, each with the
    /// received chunk it is a slice of; one inline, as a call's small
    /// messages usually arrive one DATA payload at a time (every open call
    /// carries this, so inline room costs memory per call).
    chunks: SmallDeque<(Bytes, Origin), 1>,
    /// Gathered (copied) bytes that follow `chunks`; boxed, as most calls
    /// never gather (every open call carries this field).
    tail: Option<Box<BytesMut>>,
    /// How many of the newest `chunks` were pushed since the last
    /// [`settle`](Self::settle) (not yet judged for copying).
    unsettled: usize,
    /// The received chunk all the unsettled pieces are slices of, if they
    /// share one.
    unsettled_seq: Option<u32>,
    /// Bytes in `chunks` and `tail`.
    buffered: usize,
    /// The parsed prefix of the message being received.
    pending: Option<(bool, usize)>,
    error: Option<DeframeError>,
}

/// Pieces shorter than this are gathered by copying when they have to be
/// kept: a piece kept as a slice costs its bookkeeping whatever its size.
const GATHER_BELOW: usize = 4096;

impl Deframer {
    /// A deframer accepting messages of up to `max_message_size` bytes
    /// (the gRPC default for receiving is 4 MiB).
    pub fn new(max_message_size: usize) -> Deframer {
        Deframer {
            max_message_size,
            chunks: SmallDeque::default(),
            tail: None,
            unsettled: 0,
            unsettled_seq: None,
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
    /// chunk is only referenced, not copied, unless it is small and has to
    /// wait for the rest of its message.
    pub fn push(&mut self, chunk: Bytes) {
        // What was pushed before and not taken by `next` waits for more:
        // judged now.
        let _ = self.settle(false);
        let len = chunk.len();
        self.push_from(chunk, Origin::own(len));
    }

    /// [`push`](Self::push) of a slice of the received chunk `origin`; the
    /// caller calls [`settle`](Self::settle) after draining
    /// [`next`](Self::next).
    pub(crate) fn push_from(&mut self, chunk: Bytes, origin: Origin) {
        if chunk.is_empty() || self.error.is_some() {
            return;
        }
        self.buffered += chunk.len();
        if let Some(tail) = self.tail.as_mut().filter(|t| !t.is_empty())
            && chunk.len() < GATHER_BELOW
        {
            // Behind gathered bytes, a small piece is gathered at once.
            tail.extend_from_slice(&chunk);
            return;
        }
        self.freeze_tail();
        self.push_piece(chunk, origin);
        self.note_unsettled(origin);
    }

    /// Appends a piece to `chunks`.
    #[inline(always)]
    fn push_piece(&mut self, piece: Bytes, origin: Origin) {
        self.chunks.push_back((piece, origin));
    }

    /// One more unsettled piece, from `origin`.
    #[inline]
    fn note_unsettled(&mut self, origin: Origin) {
        let shared = origin.is_shared().then_some(origin.seq);
        self.unsettled_seq = if self.unsettled == 0 || self.unsettled_seq == shared {
            shared
        } else {
            None
        };
        self.unsettled += 1;
    }

    /// Judges the pieces pushed since the last call, now that the
    /// messages they completed were taken: those kept as slices stay
    /// slices if they are large and hold a fair share of their received
    /// chunk ([`frame::pins_too_much`](crate::frame)); the others are
    /// copied into the gathering buffer. With `more_coming`, more pieces
    /// of the newest piece's chunk are on their way (queued events), so
    /// that chunk's run is judged later, when its share is known.
    /// Returns whether anything was judged (what is held may have changed).
    pub(crate) fn settle(&mut self, more_coming: bool) -> bool {
        if self.unsettled == 0 || self.buffered == 0 {
            self.unsettled = 0;
            return false;
        }
        if more_coming && self.unsettled_seq.is_some() {
            // All unsettled pieces are of the chunk whose other pieces are
            // still coming: nothing to judge yet.
            return false;
        }
        // The unsettled pieces are the newest of `chunks` and `tail` is
        // empty behind them (a push behind gathered bytes gathers or
        // freezes them first).
        debug_assert!(self.tail.as_ref().is_none_or(|t| t.is_empty()));
        if self.settle_in_place(more_coming) {
            return true;
        }
        let mut fresh: smallvec::SmallVec<[(Bytes, Origin); 4]> = smallvec::SmallVec::new();
        for _ in 0..self.unsettled.min(self.chunks.len()) {
            match self.chunks.pop_back() {
                Some(piece) => fresh.push(piece),
                None => break,
            }
        }
        fresh.reverse();
        self.unsettled = 0;
        self.unsettled_seq = None;
        let mut i = 0;
        while i < fresh.len() {
            let origin = fresh[i].1;
            let mut j = i + 1;
            while origin.is_shared() && j < fresh.len() && fresh[j].1.seq == origin.seq {
                j += 1;
            }
            let held: usize = fresh[i..j].iter().map(|(b, _)| b.len()).sum();
            let last_run = j == fresh.len();
            if last_run && more_coming && origin.is_shared() {
                // Judged once the chunk's other pieces came.
                self.freeze_tail();
                for (piece, o) in fresh.drain(i..) {
                    self.push_piece(piece, o);
                    self.note_unsettled(origin);
                }
                break;
            }
            let copy = held < GATHER_BELOW || crate::frame::pins_too_much(held, origin.len());
            for (piece, o) in fresh[i..j].iter_mut() {
                if copy {
                    self.tail.get_or_insert_default().extend_from_slice(piece);
                } else {
                    self.freeze_tail();
                    self.push_piece(core::mem::take(piece), *o);
                }
            }
            i = j;
        }
        true
    }

    /// `settle` when every run of unsettled pieces stays as it is (bulk
    /// data: large pieces holding their reads), which is decided without
    /// moving a piece; false if some run is to be copied.
    fn settle_in_place(&mut self, more_coming: bool) -> bool {
        let n = self.unsettled.min(self.chunks.len());
        // Runs newest first: (origin, bytes, pieces).
        let mut newest_run: Option<(Origin, usize)> = None;
        let mut run: Option<(Origin, usize, usize)> = None;
        let keeps = |(o, held, _): (Origin, usize, usize)| {
            held >= GATHER_BELOW && !crate::frame::pins_too_much(held, o.pinned_len())
        };
        for (piece, o) in self.chunks.newest(n) {
            match run.as_mut() {
                Some((ro, held, count)) if ro.is_shared() && ro.seq == o.seq => {
                    *held += piece.len();
                    *count += 1;
                }
                _ => {
                    if let Some(r) = run.take() {
                        let deferred = newest_run.is_none() && more_coming && r.0.is_shared();
                        if newest_run.is_none() {
                            newest_run = Some((r.0, r.2));
                        }
                        if !deferred && !keeps(r) {
                            return false;
                        }
                    }
                    run = Some((*o, piece.len(), 1));
                }
            }
        }
        if let Some(r) = run {
            let deferred = newest_run.is_none() && more_coming && r.0.is_shared();
            if newest_run.is_none() {
                newest_run = Some((r.0, r.2));
            }
            if !deferred && !keeps(r) {
                return false;
            }
        }
        match newest_run {
            Some((o, count)) if more_coming && o.is_shared() => {
                self.unsettled = count;
                self.unsettled_seq = Some(o.seq);
            }
            _ => {
                self.unsettled = 0;
                self.unsettled_seq = None;
            }
        }
        true
    }

    /// Ends the gathering buffer: its bytes become a piece of their own.
    #[inline]
    fn freeze_tail(&mut self) {
        if self.tail.as_ref().is_some_and(|t| !t.is_empty()) {
            self.freeze_gathered();
        }
    }

    fn freeze_gathered(&mut self) {
        // The buffer goes with its bytes (the next gathering starts anew).
        let Some(tail) = self.tail.take() else {
            return;
        };
        // What the piece keeps alive is the buffer, spare room included.
        let kept = tail.capacity();
        let gathered = (*tail).freeze();
        self.push_piece(gathered, Origin::own(kept));
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
                self.freeze_tail_if_unsettled_none();
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
        self.freeze_tail_if_unsettled_none();
        let data = self.take(len);
        Ok(Some(Message { compressed, data }))
    }

    /// Before bytes are taken: gathered bytes join `chunks`, where taking
    /// reads. (Unsettled pieces are never behind gathered bytes, so the
    /// order is kept.)
    #[inline]
    fn freeze_tail_if_unsettled_none(&mut self) {
        self.freeze_tail();
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

    /// Bytes held for messages not yet returned.
    pub fn buffered_len(&self) -> usize {
        self.buffered
    }

    /// Memory kept alive for messages not yet returned: for pieces kept as
    /// slices, the whole received chunk behind them (once per chunk), for
    /// gathered bytes the gathering buffer's capacity, and the queue's own
    /// bookkeeping.
    pub fn held_bytes(&self) -> usize {
        let mut held = self
            .tail
            .as_ref()
            .map_or(0, |t| t.capacity() + core::mem::size_of::<BytesMut>());
        let mut last_shared = None;
        let mut pieces = 0;
        for (piece, origin) in self.chunks.iter() {
            pieces += 1;
            if !(origin.is_shared() && last_shared == Some(origin.seq)) {
                held += origin.pinned_len().max(piece.len());
            }
            last_shared = origin.is_shared().then_some(origin.seq);
        }
        if pieces > 1 {
            held += pieces * core::mem::size_of::<(Bytes, Origin)>();
        }
        held
    }

    fn fail(&mut self, e: DeframeError) -> DeframeError {
        self.error = Some(e);
        self.chunks.clear();
        self.tail = None;
        self.unsettled = 0;
        self.unsettled_seq = None;
        self.buffered = 0;
        self.pending = None;
        e
    }

    /// Removes the oldest piece. (`unsettled` may then count pieces that
    /// are gone; `settle` bounds it by the pieces left, as the unsettled
    /// ones are the newest.)
    #[inline]
    fn pop_piece(&mut self) {
        self.chunks.pop_front();
        if self.unsettled > 0 && self.chunks.len() == 0 {
            self.unsettled = 0;
        }
    }

    /// Consumes a message prefix; the caller checked it is buffered.
    fn take_header(&mut self) -> [u8; HEADER_LEN] {
        if let Some((front, _)) = self.chunks.front_mut()
            && let Some(&h) = front.first_chunk::<HEADER_LEN>()
        {
            // Within one chunk (the usual case): read in place.
            front.advance(HEADER_LEN);
            if front.is_empty() {
                self.pop_piece();
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
            let Some((front, _)) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(dst.len() - filled);
            dst[filled..filled + n].copy_from_slice(&front[..n]);
            front.advance(n);
            filled += n;
            if front.is_empty() {
                self.pop_piece();
            }
        }
        self.buffered -= filled;
    }

    /// Consumes `len` buffered bytes; the caller checked they are there.
    fn take(&mut self, len: usize) -> Bytes {
        if len == 0 {
            return Bytes::new();
        }
        if let Some((front, _)) = self.chunks.front_mut() {
            if front.len() >= len {
                let data = front.split_to(len);
                if front.is_empty() {
                    self.pop_piece();
                }
                self.buffered -= len;
                return data;
            }
        }
        // Spanning pieces: one copy into a buffer of exactly its length
        // (appended, not zeroed first).
        let mut buf = BytesMut::with_capacity(len);
        while buf.len() < len {
            let Some((front, _)) = self.chunks.front_mut() else {
                break;
            };
            let n = front.len().min(len - buf.len());
            buf.extend_from_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                self.pop_piece();
            }
        }
        self.buffered -= buf.len();
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

    fn shared(seq: u64, len: usize) -> Origin {
        Origin::shared(seq as u32, len)
    }

    /// A 1 KiB piece of a 256 KiB read, waiting for the rest of its
    /// message, is copied: it no longer keeps the read alive.
    #[test]
    fn small_piece_of_a_large_read_is_copied_when_kept() {
        let read = Bytes::from(vec![0u8; 256 << 10]);
        let mut d = Deframer::new(1 << 20);
        d.push_from(
            Bytes::copy_from_slice(&encode_header(false, 4096)),
            shared(1, 5),
        );
        assert_eq!(d.next(), Ok(None));
        d.settle(false);
        d.push_from(read.slice(..1024), shared(2, read.len()));
        assert_eq!(d.next(), Ok(None));
        d.settle(false);
        assert!(d.held_bytes() < 4096, "held {}", d.held_bytes());
        drop(read);
        d.push_from(Bytes::from(vec![1u8; 3072]), shared(3, 3072));
        let m = d.next().unwrap().unwrap();
        assert_eq!(m.data.len(), 4096);
        assert_eq!(&m.data[..1024], &[0u8; 1024][..]);
        assert_eq!(&m.data[1024..], &[1u8; 3072][..]);
    }

    /// Sixteen 16 KiB pieces of one 256 KiB read (bulk data) stay slices:
    /// judged together once the read's last piece came.
    #[test]
    fn pieces_holding_their_read_stay_slices() {
        let read = Bytes::from(vec![5u8; 256 << 10]);
        let mut d = Deframer::new(4 << 20);
        d.push_from(
            Bytes::copy_from_slice(&encode_header(false, 1 << 20)),
            shared(1, 5),
        );
        assert_eq!(d.next(), Ok(None));
        d.settle(false);
        for k in 0..16 {
            let piece = read.slice(k * 16384..(k + 1) * 16384);
            d.push_from(piece, shared(2, read.len()));
            assert_eq!(d.next(), Ok(None));
            d.settle(k < 15);
        }
        // Kept as slices: the read counted once, and no gathering buffer.
        assert!(d.tail.is_none());
        let held = d.held_bytes();
        assert!(
            (256 << 10..(256 << 10) + 1024).contains(&held),
            "held {held}"
        );
    }

    /// A message dribbled a byte per piece is gathered into one buffer,
    /// not kept as a piece per byte, and comes out whole.
    #[test]
    fn dribbled_message_is_gathered() {
        let mut d = Deframer::new(1 << 20);
        let body: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let mut wire = encode_header(false, body.len() as u32).to_vec();
        wire.extend_from_slice(&body);
        let mut out = None;
        for (seq, b) in (1..).zip(wire.iter()) {
            d.push_from(Bytes::copy_from_slice(&[*b]), shared(seq, 10));
            if let Some(m) = d.next().unwrap() {
                out = Some(m);
            } else {
                d.settle(false);
                assert!(d.chunks.len() <= 2, "{} pieces", d.chunks.len());
                assert!(d.held_bytes() <= 2 * d.buffered_len() + 4096);
            }
        }
        assert_eq!(out.unwrap().data, Bytes::from(body));
    }

    /// Random messages cut into random pieces of random reads (runs of
    /// pieces sharing a read, copies, settles with and without more to
    /// come): every message comes out whole and in order, and what is
    /// counted as held never falls below the bytes held.
    #[test]
    fn random_pieces_keep_messages_and_count_what_they_hold() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n.max(1)
        };
        for round in 0..200 {
            let mut wire = Vec::new();
            let mut sent = Vec::new();
            for m in 0..(1 + rnd(6)) {
                let len = rnd(if m % 3 == 0 { 20_000 } else { 300 }) as usize;
                let body: Vec<u8> = (0..len).map(|i| (i as u64 + round) as u8).collect();
                wire.extend(frame(false, &body));
                sent.push(body);
            }
            let mut d = Deframer::new(1 << 20);
            let mut got = Vec::new();
            let mut at = 0;
            let mut seq = 1u32;
            while at < wire.len() {
                // A read of up to 40 KiB, handed on in 1-4 pieces.
                let read = (1 + rnd(40_000) as usize).min(wire.len() - at);
                let pieces = 1 + rnd(4) as usize;
                let own = rnd(5) == 0;
                let mut off = 0;
                for k in 0..pieces {
                    let n = if k + 1 == pieces {
                        read - off
                    } else {
                        rnd((read - off) as u64 + 1) as usize
                    };
                    let piece = Bytes::copy_from_slice(&wire[at + off..at + off + n]);
                    let origin = if own {
                        Origin::own(n)
                    } else {
                        Origin::shared(seq, read)
                    };
                    off += n;
                    d.push_from(piece, origin);
                    while let Some(m) = d.next().unwrap() {
                        got.push(m.data.to_vec());
                    }
                    let _ = d.settle(k + 1 < pieces && rnd(2) == 0);
                    assert!(d.held_bytes() >= d.buffered_len(), "round {round}");
                }
                at += read;
                seq += 1;
            }
            let _ = d.settle(false);
            assert!(d.is_empty());
            assert_eq!(d.held_bytes(), 0);
            assert_eq!(got, sent, "round {round}");
        }
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
