//! Splits a received byte stream into frames (RFC 9113 §4.1, §4.2), with
//! the client connection preface first in the server role (§3.4).
//!
//! Input is kept as the chunks the caller pushed. A frame that lies within
//! one chunk is sliced out of it, without a copy; a frame whose bytes
//! straddle chunks is copied, once, into a buffer sized for it, except an
//! unpadded DATA frame: its payload is handed out in pieces, each a slice
//! of a chunk of at least [`MIN_DATA_PIECE`] bytes (small runs are gathered
//! by copying), so message bodies are never copied here whatever the read
//! sizes. The length is checked against the maximum as soon as the 9-byte
//! header is seen, so an oversized payload is never buffered.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

use super::{Data, FRAME_HEADER_LEN, Frame, FrameError, FrameHeader, PREFACE, flags, kind};
use crate::error::ErrorCode;

/// The smallest piece of a DATA payload handed out as a slice of a chunk;
/// shorter runs are gathered by copying, so a peer that dribbles bytes
/// costs a bounded number of pieces per byte (at most two per
/// `MIN_DATA_PIECE` bytes).
pub(crate) const MIN_DATA_PIECE: usize = 4096;

/// Splits received bytes into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    /// The largest accepted payload length.
    max_frame_size: u32,
    /// How many bytes of [`PREFACE`] have matched; `PREFACE.len()` once it
    /// is done or when no preface is expected.
    preface_matched: usize,
    /// Pushed chunks not yet consumed; none of them is empty.
    chunks: VecDeque<Bytes>,
    /// Total length of `chunks`.
    queued: usize,
    /// The start of a frame header or payload whose bytes straddle chunks.
    partial: BytesMut,
    /// The header of the frame whose payload is awaited.
    header: Option<FrameHeader>,
    /// While an unpadded DATA frame is handed out in pieces: its payload
    /// bytes not handed out yet (`partial` holds the start of them).
    data_rest: Option<usize>,
    /// The connection error this decoder stopped on.
    error: Option<FrameError>,
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max_frame_size` payload bytes.
    pub fn new(max_frame_size: u32) -> Self {
        FrameDecoder {
            max_frame_size,
            preface_matched: PREFACE.len(),
            chunks: VecDeque::new(),
            queued: 0,
            partial: BytesMut::new(),
            header: None,
            data_rest: None,
            error: None,
        }
    }

    /// Makes the decoder expect the client connection preface first
    /// (server role). Call it before decoding anything.
    pub fn expect_preface(&mut self) {
        self.preface_matched = 0;
    }

    /// Changes the largest accepted payload (our SETTINGS_MAX_FRAME_SIZE
    /// once acked). It applies to frames whose header has not been read yet.
    pub fn set_max_frame_size(&mut self, max_frame_size: u32) {
        self.max_frame_size = max_frame_size;
    }

    /// Appends received bytes. After a connection error they are dropped.
    pub fn push(&mut self, data: Bytes) {
        if self.error.is_some() || data.is_empty() {
            return;
        }
        self.queued += data.len();
        self.chunks.push_back(data);
    }

    /// The next complete frame, `Ok(None)` if more bytes are needed.
    ///
    /// A stream error (`stream_id` is `Some`) consumes its frame; decoding
    /// goes on with the next one. A connection error is returned again by
    /// every later call.
    pub fn decode(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let result = self.next_frame();
        if let Err(e) = result {
            if e.stream_id.is_none() {
                self.error = Some(e);
                self.chunks.clear();
                self.queued = 0;
                self.partial = BytesMut::new();
                self.header = None;
                self.data_rest = None;
            }
        }
        result
    }

    /// Gives back the capacity of an empty gathering buffer and queue.
    pub fn shrink(&mut self) {
        if self.partial.is_empty() {
            self.partial = BytesMut::new();
        }
        self.chunks.shrink_to_fit();
    }

    /// Whether no pushed chunk is held (only the gathering buffer). True
    /// whenever [`decode`](Self::decode) has returned `Ok(None)`: what is
    /// left of a read is copied into the gathering buffer, so the decoder
    /// never keeps an earlier read alive.
    pub(crate) fn holds_no_chunk(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes held: pushed and not yet consumed, plus the start of a frame
    /// that straddles chunks.
    pub fn buffered_len(&self) -> usize {
        self.queued + self.partial.len()
    }

    #[inline]
    fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if !self.match_preface()? {
            return Ok(None);
        }
        let header = match self.header {
            Some(h) => h,
            None => {
                let Some(h) = self.take_header() else {
                    return Ok(None);
                };
                if h.length > self.max_frame_size {
                    return Err(FrameError::connection(
                        ErrorCode::FRAME_SIZE_ERROR,
                        "frame longer than SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2)",
                    ));
                }
                self.header = Some(h);
                h
            }
        };
        if header.kind == kind::DATA
            && header.flags & flags::PADDED == 0
            && !header.stream_id.is_zero()
            && (self.data_rest.is_some() || self.straddles(header.length as usize))
        {
            return Ok(self.take_data_piece(header));
        }
        let Some(payload) = self.take_payload(header.length as usize) else {
            return Ok(None);
        };
        self.header = None;
        super::parse(header, payload).map(Some)
    }

    /// Consumes preface bytes as they arrive; `Ok(true)` once all matched.
    fn match_preface(&mut self) -> Result<bool, FrameError> {
        while let Some(want) = PREFACE.get(self.preface_matched..) {
            if want.is_empty() {
                return Ok(true);
            }
            let Some(front) = self.chunks.front_mut() else {
                return Ok(false);
            };
            let n = want.len().min(front.len());
            if front.get(..n) != want.get(..n) {
                return Err(FrameError::connection(
                    ErrorCode::PROTOCOL_ERROR,
                    "invalid client connection preface (RFC 9113 §3.4)",
                ));
            }
            self.preface_matched += n;
            self.consume_front(n);
        }
        Ok(true)
    }

    /// The next frame header, if its 9 bytes have arrived.
    fn take_header(&mut self) -> Option<FrameHeader> {
        if self.partial.is_empty() {
            let front = self.chunks.front()?;
            if let Some(b) = front.first_chunk::<FRAME_HEADER_LEN>() {
                let h = FrameHeader::parse(b);
                self.consume_front(FRAME_HEADER_LEN);
                return Some(h);
            }
        }
        self.fill_partial(FRAME_HEADER_LEN);
        let h = FrameHeader::parse(self.partial.first_chunk::<FRAME_HEADER_LEN>()?);
        self.partial.clear();
        Some(h)
    }

    /// The next `len` bytes: a slice of the front chunk when it holds them
    /// all, otherwise copied into `partial` as they arrive.
    #[inline]
    fn take_payload(&mut self, len: usize) -> Option<Bytes> {
        if len == 0 {
            return Some(Bytes::new());
        }
        if self.partial.is_empty() {
            let front = self.chunks.front_mut()?;
            if front.len() >= len {
                let payload = front.split_to(len);
                self.consume_front(0);
                self.queued -= len;
                return Some(payload);
            }
            self.partial.reserve(len);
        }
        self.fill_partial(len);
        if self.partial.len() < len {
            return None;
        }
        Some(self.partial.split().freeze())
    }

    /// Whether a payload of `len` bytes, not started yet, goes out in
    /// pieces: it is long, and the front chunk does not hold all of it.
    fn straddles(&self, len: usize) -> bool {
        len >= MIN_DATA_PIECE
            && self.partial.is_empty()
            && self.chunks.front().is_some_and(|f| f.len() < len)
    }

    /// The next piece of the unpadded DATA frame `header`, if one is ready;
    /// the last piece carries END_STREAM and ends the frame. Pieces are
    /// slices of chunks holding at least [`MIN_DATA_PIECE`] bytes of the
    /// payload (or all the rest of it); shorter runs are gathered into
    /// `partial` and go out on their own.
    fn take_data_piece(&mut self, header: FrameHeader) -> Option<Frame> {
        let rest = *self.data_rest.get_or_insert(header.length as usize);
        let want = rest.min(MIN_DATA_PIECE);
        let piece = loop {
            let avail = self.chunks.front().map_or(0, Bytes::len);
            if self.partial.is_empty() {
                if avail == 0 {
                    return None;
                }
                if avail >= want {
                    // A slice: no copy.
                    let n = rest.min(avail);
                    let front = self.chunks.front_mut()?;
                    let piece = front.split_to(n);
                    self.consume_front(0);
                    self.queued -= n;
                    break piece;
                }
            } else if avail >= MIN_DATA_PIECE {
                // Gathered bytes go out before the slice that follows.
                break self.partial.split().freeze();
            }
            // Gather a short run, one chunk at a time (so that a long
            // chunk after it is sliced, not copied).
            let n = avail.min(want.saturating_sub(self.partial.len()));
            if n == 0 {
                return None;
            }
            let front = self.chunks.front()?;
            self.partial.extend_from_slice(&front[..n]);
            self.consume_front(n);
            if self.partial.len() == want {
                break self.partial.split().freeze();
            }
        };
        // A piece never exceeds what is left of the frame (slices take at
        // most `rest`, gatherings at most `want`).
        let rest = rest.saturating_sub(piece.len());
        if rest == 0 {
            self.data_rest = None;
            self.header = None;
        } else {
            self.data_rest = Some(rest);
        }
        Some(Frame::Data(Data {
            stream_id: header.stream_id,
            flow_len: piece.len() as u32,
            payload: piece,
            end_stream: rest == 0 && header.flags & flags::END_STREAM != 0,
        }))
    }

    /// Moves bytes from the chunks into `partial` until it holds `target`.
    fn fill_partial(&mut self, target: usize) {
        while let Some(need) = target.checked_sub(self.partial.len()) {
            if need == 0 {
                break;
            }
            let Some(front) = self.chunks.front() else {
                break;
            };
            let n = need.min(front.len());
            self.partial.extend_from_slice(&front[..n]);
            self.consume_front(n);
        }
    }

    /// Advances the front chunk by `n` (at most its length) and drops it
    /// once empty.
    fn consume_front(&mut self, n: usize) {
        if let Some(front) = self.chunks.front_mut() {
            let n = n.min(front.len());
            front.advance(n);
            self.queued -= n;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::super::test_util::{header, wire};
    use super::super::{
        Continuation, DEFAULT_MAX_FRAME_SIZE, Data, GoAway, Headers, Ping, Priority, PrioritySpec,
        PushPromise, RstStream, Settings, StreamId, WindowUpdate, flags, kind,
    };
    use super::*;

    /// Every kind of frame, some padded, one longer than a typical chunk.
    fn sample() -> Vec<u8> {
        let mut b = BytesMut::new();
        Settings {
            initial_window_size: Some(1 << 20),
            max_frame_size: Some(1 << 15),
            ..Settings::default()
        }
        .encode(&mut b);
        Settings {
            ack: true,
            ..Settings::default()
        }
        .encode(&mut b);
        WindowUpdate {
            stream_id: StreamId::ZERO,
            increment: 1 << 20,
        }
        .encode(&mut b);
        // HEADERS, padded, with priority.
        b.put_slice(&wire(
            header(
                kind::HEADERS,
                flags::PADDED | flags::PRIORITY | flags::END_STREAM,
                1,
                11,
            ),
            b"\x03\x80\0\0\x03\x10\x82\x84\0\0\0",
        ));
        Headers {
            stream_id: StreamId(3),
            fragment: Bytes::from_static(b"\x82\x86\x84"),
            end_stream: false,
            end_headers: false,
            priority: None,
        }
        .encode(&mut b);
        Continuation {
            stream_id: StreamId(3),
            fragment: Bytes::from_static(b"\x41\x0flocalhost"),
            end_headers: true,
        }
        .encode(&mut b);
        // DATA, padded.
        b.put_slice(&wire(
            header(kind::DATA, flags::PADDED, 3, 8),
            b"\x02hello\0\0",
        ));
        Data {
            stream_id: StreamId(3),
            payload: Bytes::from((0..=255u8).cycle().take(700).collect::<Vec<u8>>()),
            end_stream: false,
            flow_len: 700,
        }
        .encode(&mut b);
        b.put_slice(&Data::head(StreamId(3), 0, true));
        Ping {
            ack: false,
            payload: *b"\x01\x02\x03\x04\x05\x06\x07\x08",
        }
        .encode(&mut b);
        // A frame of unknown type, with a payload.
        b.put_slice(&wire(header(0xfa, 0xff, 5, 3), b"???"));
        Priority {
            stream_id: StreamId(5),
            spec: PrioritySpec {
                dependency: StreamId(1),
                exclusive: false,
                weight: 20,
            },
        }
        .encode(&mut b);
        RstStream {
            stream_id: StreamId(1),
            code: ErrorCode::CANCEL,
        }
        .encode(&mut b);
        PushPromise {
            stream_id: StreamId(1),
            promised_id: StreamId(2),
            fragment: Bytes::from_static(b"\x82"),
            end_headers: true,
        }
        .encode(&mut b);
        GoAway {
            last_stream_id: StreamId(5),
            code: ErrorCode::NO_ERROR,
            debug_data: Bytes::from_static(b"bye"),
        }
        .encode(&mut b);
        b.to_vec()
    }

    const SAMPLE_FRAMES: usize = 15;

    /// Decodes until more bytes are needed; any error fails the test.
    fn drain(d: &mut FrameDecoder, out: &mut Vec<Frame>) {
        while let Some(f) = d.decode().unwrap() {
            out.push(f);
        }
    }

    fn decode_chunks(chunks: &[&[u8]], preface: bool) -> Vec<Frame> {
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        if preface {
            d.expect_preface();
        }
        let mut out = Vec::new();
        for c in chunks {
            d.push(Bytes::copy_from_slice(c));
            drain(&mut d, &mut out);
        }
        assert_eq!(d.buffered_len(), 0);
        out
    }

    fn with_preface(bytes: &[u8]) -> Vec<u8> {
        let mut v = PREFACE.to_vec();
        v.extend_from_slice(bytes);
        v
    }

    /// Whatever the read sizes, once `decode` has nothing more to give the
    /// decoder holds no slice of a read (what is left is copied into its
    /// gathering buffer): DATA payloads are the only slices that pin reads.
    #[test]
    fn no_read_is_held_between_reads() {
        let input = sample();
        for size in [1, 2, 3, 5, 8, 9, 10, 13, 100, 4095, 4096, 5000, 70_000] {
            let mut d = FrameDecoder::new(1 << 24);
            for part in input.chunks(size) {
                d.push(Bytes::copy_from_slice(part));
                while let Ok(Some(_)) = d.decode() {}
                assert!(d.holds_no_chunk(), "reads of {size}");
            }
        }
    }

    #[test]
    fn whole_input_decodes_every_frame() {
        let frames = decode_chunks(&[&sample()], false);
        assert_eq!(frames.len(), SAMPLE_FRAMES);
        let Frame::Headers(h) = &frames[3] else {
            panic!("expected HEADERS, got {:?}", frames[3]);
        };
        assert_eq!(&h.fragment[..], b"\x82\x84");
        assert_eq!(h.priority.map(|p| p.dependency), Some(StreamId(3)));
        let Frame::Data(d) = &frames[6] else {
            panic!("expected DATA, got {:?}", frames[6]);
        };
        assert_eq!(&d.payload[..], b"hello");
        assert_eq!(d.flow_len, 8);
        assert!(matches!(frames[10], Frame::Unknown(_)));
        assert!(matches!(frames[14], Frame::GoAway(_)));
    }

    #[test]
    fn split_at_every_position() {
        for preface in [false, true] {
            let input = if preface {
                with_preface(&sample())
            } else {
                sample()
            };
            let whole = decode_chunks(&[&input], preface);
            assert_eq!(whole.len(), SAMPLE_FRAMES);
            for i in 0..=input.len() {
                let (a, b) = input.split_at(i);
                assert_eq!(decode_chunks(&[a, b], preface), whole, "split at {i}");
            }
        }
    }

    #[test]
    fn split_in_three() {
        let input = with_preface(&sample());
        let whole = decode_chunks(&[&input], true);
        for i in (0..input.len()).step_by(7) {
            for j in (i..=input.len()).step_by(5) {
                let chunks = [&input[..i], &input[i..j], &input[j..]];
                assert_eq!(decode_chunks(&chunks, true), whole, "split at {i}, {j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        for preface in [false, true] {
            let input = if preface {
                with_preface(&sample())
            } else {
                sample()
            };
            let whole = decode_chunks(&[&input], preface);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            assert_eq!(decode_chunks(&bytes, preface), whole);
        }
    }

    #[test]
    fn all_pushed_before_decoding() {
        let input = sample();
        let whole = decode_chunks(&[&input], false);
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        for c in input.chunks(13) {
            d.push(Bytes::copy_from_slice(c));
        }
        assert_eq!(d.buffered_len(), input.len());
        let mut out = Vec::new();
        drain(&mut d, &mut out);
        assert_eq!(out, whole);
        assert_eq!(d.buffered_len(), 0);
    }

    fn within(inner: &[u8], outer: &Bytes) -> bool {
        let start = outer.as_ptr() as usize;
        let p = inner.as_ptr() as usize;
        p >= start && p + inner.len() <= start + outer.len()
    }

    #[test]
    fn payload_within_one_chunk_is_not_copied() {
        let mut first = BytesMut::new();
        Ping {
            ack: false,
            payload: [0; 8],
        }
        .encode(&mut first);
        let mut data_frame = BytesMut::new();
        Data {
            stream_id: StreamId(1),
            payload: Bytes::from_static(b"zero copy please"),
            end_stream: false,
            flow_len: 16,
        }
        .encode(&mut data_frame);
        // The chunk ends with the first 3 header bytes of a DATA frame.
        first.put_slice(&data_frame[..3]);
        let first = first.freeze();
        let mut second = BytesMut::new();
        second.put_slice(&data_frame[3..]);
        second.put_slice(&data_frame);
        second.put_slice(&data_frame[..12]);
        let second = second.freeze();
        let third = Bytes::copy_from_slice(&data_frame[12..]);

        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.push(first);
        assert!(matches!(d.decode(), Ok(Some(Frame::Ping(_)))));
        assert_eq!(d.decode(), Ok(None));
        d.push(second.clone());
        // Header straddling chunks, payload within the second chunk.
        let Ok(Some(Frame::Data(a))) = d.decode() else {
            panic!("expected DATA");
        };
        assert_eq!(&a.payload[..], b"zero copy please");
        assert!(within(&a.payload, &second));
        // Whole frame within the second chunk.
        let Ok(Some(Frame::Data(b))) = d.decode() else {
            panic!("expected DATA");
        };
        assert_eq!(b, a);
        assert!(within(&b.payload, &second));
        assert_eq!(d.decode(), Ok(None));
        // Payload straddling the second and third chunk: reassembled.
        d.push(third.clone());
        let Ok(Some(Frame::Data(c))) = d.decode() else {
            panic!("expected DATA");
        };
        assert_eq!(c, a);
        assert!(!within(&c.payload, &second) && !within(&c.payload, &third));
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn preface_mismatch_fails_at_the_first_wrong_byte() {
        for i in 0..PREFACE.len() {
            let mut bad = *PREFACE;
            bad[i] ^= 0x20;
            // One byte at a time: nothing until the wrong byte arrives.
            let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
            d.expect_preface();
            for (k, &byte) in bad[..=i].iter().enumerate() {
                d.push(Bytes::copy_from_slice(&[byte]));
                if k < i {
                    assert_eq!(d.decode(), Ok(None), "byte {k} of mismatch at {i}");
                }
            }
            let e = d.decode().unwrap_err();
            assert_eq!(e.code, ErrorCode::PROTOCOL_ERROR);
            assert_eq!(e.stream_id, None);
            assert!(e.reason.contains("§3.4"));
            // Poisoned.
            d.push(Bytes::from_static(b"more"));
            assert_eq!(d.decode(), Err(e));
            assert_eq!(d.buffered_len(), 0);

            // All bytes up to the wrong one in a single chunk.
            let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
            d.expect_preface();
            d.push(Bytes::copy_from_slice(&bad[..=i]));
            assert_eq!(d.decode(), Err(e));
        }
    }

    #[test]
    fn http1_request_is_not_a_preface() {
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.expect_preface();
        d.push(Bytes::from_static(b"GET / HTTP/1.1\r\n"));
        assert_eq!(d.decode().unwrap_err().code, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn preface_alone_then_frames() {
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.expect_preface();
        d.push(Bytes::from_static(&PREFACE[..10]));
        assert_eq!(d.decode(), Ok(None));
        d.push(Bytes::from_static(&PREFACE[10..]));
        assert_eq!(d.decode(), Ok(None));
        assert_eq!(d.buffered_len(), 0);
        let mut b = BytesMut::new();
        Settings::default().encode(&mut b);
        d.push(b.freeze());
        assert_eq!(d.decode(), Ok(Some(Frame::Settings(Settings::default()))));
    }

    #[test]
    fn frame_without_expected_preface_is_rejected() {
        let mut b = BytesMut::new();
        Settings::default().encode(&mut b);
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.expect_preface();
        d.push(b.freeze());
        assert_eq!(d.decode().unwrap_err().code, ErrorCode::PROTOCOL_ERROR);
    }

    #[test]
    fn oversized_frame_fails_on_its_header() {
        let max = DEFAULT_MAX_FRAME_SIZE;
        let mut d = FrameDecoder::new(max);
        let h = header(kind::DATA, 0, 1, max as usize + 1).to_bytes();
        // Only the header: the error comes before any payload byte.
        d.push(Bytes::copy_from_slice(&h[..5]));
        assert_eq!(d.decode(), Ok(None));
        d.push(Bytes::copy_from_slice(&h[5..]));
        let e = d.decode().unwrap_err();
        assert_eq!(e.code, ErrorCode::FRAME_SIZE_ERROR);
        assert_eq!(e.stream_id, None);
        assert!(e.reason.contains("§4.2"));
        // Poisoned: the payload is dropped, never buffered.
        d.push(Bytes::from(vec![0; max as usize + 1]));
        assert_eq!(d.buffered_len(), 0);
        assert_eq!(d.decode(), Err(e));
    }

    #[test]
    fn max_frame_size_is_inclusive_and_can_change() {
        let max = DEFAULT_MAX_FRAME_SIZE as usize;
        let frame = |len: usize| Bytes::from(wire(header(kind::DATA, 0, 1, len), &vec![7; len]));
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.push(frame(max));
        let Ok(Some(Frame::Data(data))) = d.decode() else {
            panic!("expected DATA");
        };
        assert_eq!(data.payload.len(), max);
        d.set_max_frame_size(1 << 20);
        d.push(frame(max * 4));
        let Ok(Some(Frame::Data(data))) = d.decode() else {
            panic!("expected DATA");
        };
        assert_eq!(data.payload.len(), max * 4);
        d.set_max_frame_size(8);
        d.push(frame(9));
        assert_eq!(d.decode().unwrap_err().code, ErrorCode::FRAME_SIZE_ERROR);
    }

    #[test]
    fn stream_error_consumes_the_frame_and_goes_on() {
        let mut input = wire(header(kind::PRIORITY, 0, 3, 4), b"\0\0\0\x01");
        input.extend(wire(header(kind::WINDOW_UPDATE, 0, 5, 4), b"\0\0\0\0"));
        let mut ping = BytesMut::new();
        Ping {
            ack: true,
            payload: *b"abcdefgh",
        }
        .encode(&mut ping);
        input.extend_from_slice(&ping);
        for step in [1, 3, input.len()] {
            let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
            let mut results = Vec::new();
            for c in input.chunks(step) {
                d.push(Bytes::copy_from_slice(c));
                loop {
                    match d.decode() {
                        Ok(None) => break,
                        r => results.push(r),
                    }
                }
            }
            assert_eq!(results.len(), 3);
            let e = results[0].clone().unwrap_err();
            assert_eq!(
                (e.code, e.stream_id),
                (ErrorCode::FRAME_SIZE_ERROR, Some(StreamId(3)))
            );
            let e = results[1].clone().unwrap_err();
            assert_eq!(
                (e.code, e.stream_id),
                (ErrorCode::PROTOCOL_ERROR, Some(StreamId(5)))
            );
            assert!(matches!(results[2], Ok(Some(Frame::Ping(p))) if p.ack));
        }
    }

    #[test]
    fn connection_error_poisons() {
        let mut input = wire(header(kind::PING, 0, 1, 8), b"12345678");
        let mut ping = BytesMut::new();
        Ping {
            ack: false,
            payload: [0; 8],
        }
        .encode(&mut ping);
        input.extend_from_slice(&ping);
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        d.push(Bytes::from(input));
        let e = d.decode().unwrap_err();
        assert_eq!((e.code, e.stream_id), (ErrorCode::PROTOCOL_ERROR, None));
        assert_eq!(d.decode(), Err(e));
        assert_eq!(d.buffered_len(), 0);
    }

    #[test]
    fn memory_held_is_bounded_by_one_frame() {
        let len = 1000;
        let input = wire(header(kind::DATA, 0, 1, len), &vec![1; len]);
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
        for c in input.chunks(7) {
            d.push(Bytes::copy_from_slice(c));
            if let Some(f) = d.decode().unwrap() {
                assert!(matches!(f, Frame::Data(_)));
            }
            // Consumed chunks are released as they are copied.
            assert!(d.buffered_len() <= len + FRAME_HEADER_LEN);
            assert!(d.chunks.len() <= 1);
        }
        assert_eq!(d.buffered_len(), 0);
    }

    /// A small deterministic generator (xorshift) for the garbage test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> usize {
            (self.next() % n) as usize
        }
    }

    #[test]
    fn arbitrary_frames_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            // Short frames of any type, flags and stream, with random
            // payloads, then random chunking.
            let mut input = Vec::new();
            for _ in 0..rng.below(8) {
                let len = rng.below(40);
                let kind = rng.below(12) as u8;
                let flags = rng.next() as u8;
                let stream = if rng.below(3) == 0 {
                    0
                } else {
                    rng.next() as u32
                };
                let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                input.extend(wire(header(kind, flags, stream, len), &payload));
            }
            if rng.below(4) == 0 {
                let at = rng.below(input.len() as u64 + 1);
                input.truncate(at);
            }
            let mut d = FrameDecoder::new(rng.below(64) as u32);
            let mut rest = &input[..];
            'feed: while !rest.is_empty() {
                let n = 1 + rng.below(rest.len() as u64);
                let (c, r) = rest.split_at(n);
                rest = r;
                d.push(Bytes::copy_from_slice(c));
                loop {
                    match d.decode() {
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(e) if e.stream_id.is_some() => {}
                        Err(_) => break 'feed,
                    }
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = Rng(42);
        for _ in 0..2000 {
            let len = rng.below(200);
            let input: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let mut d = FrameDecoder::new(u32::MAX);
            if rng.below(2) == 0 {
                d.expect_preface();
            }
            for c in input.chunks(1 + rng.below(16)) {
                d.push(Bytes::copy_from_slice(c));
                while let Ok(Some(_)) = d.decode() {}
            }
        }
    }

    /// A long unpadded DATA frame: its bytes and its payload.
    fn long_data(len: usize, end_stream: bool) -> (Vec<u8>, Vec<u8>) {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut b = BytesMut::new();
        b.put_slice(&Data::head(StreamId(1), len as u32, end_stream));
        b.put_slice(&payload);
        (b.to_vec(), payload)
    }

    /// Decodes `chunks` (pushed one by one) into DATA pieces, checking
    /// that they add up to one frame of `payload`.
    fn pieces(chunks: &[Bytes], payload: &[u8], end_stream: bool) -> Vec<Data> {
        let mut d = FrameDecoder::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c.clone());
            drain(&mut d, &mut out);
        }
        assert_eq!(d.buffered_len(), 0);
        let pieces: Vec<Data> = out
            .into_iter()
            .map(|f| match f {
                Frame::Data(d) => d,
                other => panic!("expected DATA, got {other:?}"),
            })
            .collect();
        let joined: Vec<u8> = pieces.iter().flat_map(|p| p.payload.to_vec()).collect();
        assert_eq!(joined, payload);
        let flow: u32 = pieces.iter().map(|p| p.flow_len).sum();
        assert_eq!(flow as usize, payload.len());
        for (i, p) in pieces.iter().enumerate() {
            assert!(!p.payload.is_empty());
            assert_eq!(p.flow_len as usize, p.payload.len());
            assert_eq!(p.end_stream, end_stream && i == pieces.len() - 1);
        }
        pieces
    }

    #[test]
    fn long_data_across_chunks_is_sliced_not_copied() {
        let (wire, payload) = long_data(20_000, true);
        // The header and the message prefix in one chunk, the body in the
        // next: as a sender writes a frame header and a message's Bytes.
        let wire = Bytes::from(wire);
        let (head, body) = (wire.slice(..14), wire.slice(14..));
        let p = pieces(&[head, body.clone()], &payload, true);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].payload.len(), 5);
        // The body is the pushed chunk itself.
        assert_eq!(p[1].payload.as_ptr(), body.as_ptr());
        assert_eq!(p[1].payload.len(), body.len());
    }

    #[test]
    fn long_data_in_large_reads_is_sliced() {
        let (wire, payload) = long_data(50_000, false);
        let wire = Bytes::from(wire);
        let chunks: Vec<Bytes> = [0, 16_384, 32_768, wire.len()]
            .windows(2)
            .map(|w| wire.slice(w[0]..w[1]))
            .collect();
        let p = pieces(&chunks, &payload, false);
        // One piece per chunk, each a slice of it.
        assert_eq!(p.len(), 3);
        assert_eq!(p[1].payload.as_ptr(), chunks[1].as_ptr());
        assert_eq!(p[2].payload.as_ptr(), chunks[2].as_ptr());
    }

    #[test]
    fn dribbled_data_is_gathered_into_few_pieces() {
        let (wire, payload) = long_data(20_000, true);
        for step in [1, 7, 1000] {
            let chunks: Vec<Bytes> = wire.chunks(step).map(Bytes::copy_from_slice).collect();
            let p = pieces(&chunks, &payload, true);
            // At most two pieces per MIN_DATA_PIECE bytes, whatever the
            // chunking; every piece but the last is a full gathering.
            assert!(
                p.len() <= 2 * payload.len().div_ceil(MIN_DATA_PIECE),
                "{step}: {}",
                p.len()
            );
            for piece in &p[..p.len() - 1] {
                assert!(piece.payload.len() >= MIN_DATA_PIECE || step >= MIN_DATA_PIECE);
            }
        }
    }

    #[test]
    fn short_or_padded_data_across_chunks_stays_one_frame() {
        // Shorter than a piece: copied once, one frame, as before.
        let (wire, payload) = long_data(MIN_DATA_PIECE - 1, true);
        let chunks: Vec<Bytes> = wire.chunks(100).map(Bytes::copy_from_slice).collect();
        assert_eq!(pieces(&chunks, &payload, true).len(), 1);
        // Padded: the padding length comes first and the padding last, so
        // the frame is gathered whole and parsed as one.
        let mut b = BytesMut::new();
        let body = vec![9u8; 10_000];
        b.put_slice(&wire_header(kind::DATA, flags::PADDED, 1, 10_003));
        b.put_u8(2);
        b.put_slice(&body);
        b.put_slice(&[0, 0]);
        let chunks: Vec<Bytes> = b.chunks(4500).map(Bytes::copy_from_slice).collect();
        let p = pieces_padded(&chunks);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].payload, body);
        assert_eq!(p[0].flow_len, 10_003);
    }

    fn wire_header(kind: u8, flags: u8, stream: u32, len: usize) -> Vec<u8> {
        let mut v = (len as u32).to_be_bytes()[1..].to_vec();
        v.push(kind);
        v.push(flags);
        v.extend_from_slice(&stream.to_be_bytes());
        v
    }

    fn pieces_padded(chunks: &[Bytes]) -> Vec<Data> {
        let mut d = FrameDecoder::new(1 << 20);
        let mut out = Vec::new();
        for c in chunks {
            d.push(c.clone());
            drain(&mut d, &mut out);
        }
        out.into_iter()
            .map(|f| match f {
                Frame::Data(d) => d,
                other => panic!("expected DATA, got {other:?}"),
            })
            .collect()
    }
}
