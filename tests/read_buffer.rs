//! The adapters' read buffer ([`adapters::ReadBuffer`]) as every adapter
//! uses it, over a simulated socket: the bytes it hands to the core must be
//! the bytes the socket gave, byte for byte, whatever the read sizes and
//! whatever timeouts, would-blocks and interruptions come between reads;
//! and the chunks it hands over pin little more memory than they hold.

#[path = "../examples/adapters/mod.rs"]
mod adapters;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use adapters::{Input, ReadBuffer};
use bytes::{Bytes, BytesMut};

/// The system allocator, counting per thread the bytes allocated and not
/// yet freed, and the number of allocations: what the tests below measure
/// (per thread, so tests running at once do not disturb each other).
/// `unsafe` only because `GlobalAlloc` is an unsafe trait; every call goes
/// straight to `System`.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: isize, allocs: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get() + bytes));
    let _ = ALLOCS.try_with(|a| a.set(a.get() + allocs));
}

// SAFETY: every method forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize, 1);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize, 1);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize), 0);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Bytes this thread allocated and did not free yet.
fn live() -> isize {
    LIVE.with(|l| l.get())
}

/// Allocations this thread made so far.
fn allocs() -> usize {
    ALLOCS.with(|a| a.get())
}

/// A small seeded PRNG (xorshift64*): the same seed, the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        // Never zero, so zeros handed over cannot pass for the wire's bytes.
        (0..n).map(|_| 1 + (self.next() % 255) as u8).collect()
    }
}

/// What the simulated socket does on one read.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Gives up to this many bytes (as many as the room takes).
    Data(usize),
    /// A non-blocking read with nothing there (stale readiness).
    WouldBlock,
    /// A blocking read whose timeout ran out (std's read timeout).
    TimedOut,
    /// A signal came.
    Interrupted,
}

/// The socket: the byte stream the peer wrote, and how far it was read.
struct Wire {
    data: Vec<u8>,
    pos: usize,
}

impl Wire {
    fn error(op: Op) -> io::Error {
        match op {
            Op::WouldBlock => io::ErrorKind::WouldBlock.into(),
            Op::TimedOut => io::ErrorKind::TimedOut.into(),
            _ => io::ErrorKind::Interrupted.into(),
        }
    }

    /// `read(2)` into a slice, as std and smol read.
    fn read(&mut self, op: Op, buf: &mut [u8]) -> io::Result<usize> {
        let Op::Data(k) = op else {
            return Err(Self::error(op));
        };
        let n = k.min(buf.len()).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }

    /// A read into a `BytesMut`'s spare capacity, as tokio's
    /// `try_read_buf` does.
    fn read_buf(&mut self, op: Op, buf: &mut BytesMut) -> io::Result<usize> {
        let Op::Data(k) = op else {
            return Err(Self::error(op));
        };
        if buf.capacity() == buf.len() {
            buf.reserve(64);
        }
        let room = buf.capacity() - buf.len();
        let n = k.min(room).min(self.data.len() - self.pos);
        buf.extend_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Which of the buffer's two read paths an adapter uses.
#[derive(Clone, Copy, Debug)]
enum Path {
    /// Into initialized bytes (std, smol).
    Slice,
    /// Into spare capacity (tokio).
    Uninit,
}

/// One read through the buffer, as the adapters do it.
fn read_once(buf: &mut ReadBuffer, wire: &mut Wire, path: Path, op: Op, now: Instant) -> Input {
    match path {
        Path::Slice => buf.read(now, |room| wire.read(op, room)),
        Path::Uninit => buf.read_buf(now, |room| wire.read_buf(op, room)),
    }
}

/// Checks that `got`, handed over by read number `read`, is the next part
/// of the wire's bytes.
fn check(wire: &Wire, handed: &mut usize, got: &[u8], read: usize) {
    let want = &wire.data[*handed..*handed + got.len()];
    if got != want {
        let first = got.iter().zip(want).position(|(a, b)| a != b).unwrap();
        panic!(
            "read {read}: {} bytes handed over differ from the wire at offset {} \
             (got {:?}..., want {:?}...)",
            got.len(),
            *handed + first,
            &got[first..got.len().min(first + 8)],
            &want[first..want.len().min(first + 8)],
        );
    }
    *handed += got.len();
}

/// The report's reproduction: the room grown to 256 KiB, 1,500 reads of
/// 100 bytes, one read timeout, then 13-byte reads. Today's code handed
/// over 13 zero bytes at read 19,851 instead of the bytes read.
fn timeout_after_small_reads(path: Path) {
    let mut rng = Rng(0x5eed_0001);
    let mut wire = Wire {
        data: rng.bytes(2 << 20),
        pos: 0,
    };
    let mut buf = ReadBuffer::default();
    let now = Instant::now();
    let mut handed = 0;
    let mut ops: Vec<Op> = Vec::new();
    // Reads that fill the room: it doubles up to the largest.
    ops.extend(std::iter::repeat_n(Op::Data(usize::MAX), 8));
    ops.extend(std::iter::repeat_n(Op::Data(100), 1500));
    ops.push(Op::TimedOut);
    ops.extend(std::iter::repeat_n(Op::Data(13), 25_000));
    for (i, op) in ops.into_iter().enumerate() {
        match read_once(&mut buf, &mut wire, path, op, now) {
            Input::Data(got) => check(&wire, &mut handed, &got, i + 1),
            Input::Nothing => {}
            Input::Eof => panic!("read {}: end of stream", i + 1),
            Input::Failed(e) => panic!("read {}: {e}", i + 1),
        }
    }
    assert_eq!(handed, wire.pos, "every byte read was handed over");
}

#[test]
fn read_buffer_hands_over_the_bytes_read_after_a_timeout_slice() {
    timeout_after_small_reads(Path::Slice);
}

#[test]
fn read_buffer_hands_over_the_bytes_read_after_a_timeout_uninit() {
    timeout_after_small_reads(Path::Uninit);
}

/// Random read sizes (from 1 byte to more than the largest room), with
/// would-blocks, timeouts and interruptions between reads, the core keeping
/// some chunks for a while, and quiet periods that let the buffers go: the
/// bytes handed over are the wire's, in order, none lost, none invented.
fn random_reads(path: Path, seed: u64) {
    let mut rng = Rng(seed);
    let mut wire = Wire {
        data: rng.bytes(4 << 20),
        pos: 0,
    };
    let mut buf = ReadBuffer::default();
    let mut now = Instant::now();
    let mut handed = 0;
    // Chunks the "core" still holds (slices of DATA it keeps).
    let mut kept: VecDeque<Bytes> = VecDeque::new();
    let mut read = 0;
    while wire.pos < wire.data.len() {
        read += 1;
        let op = match rng.below(100) {
            0..=7 => Op::WouldBlock,
            8..=15 => Op::TimedOut,
            16..=18 => Op::Interrupted,
            19..=40 => Op::Data(1 + rng.below(32) as usize),
            41..=75 => Op::Data(1 + rng.below(4096) as usize),
            76..=90 => Op::Data(1 + rng.below(64 << 10) as usize),
            _ => Op::Data(usize::MAX),
        };
        // Either path, as the adapters mix them (tokio's reads, and the
        // slice path of std and smol), to cover both on the same buffer.
        let path = match path {
            Path::Slice if rng.below(10) == 0 => Path::Uninit,
            p => p,
        };
        match read_once(&mut buf, &mut wire, path, op, now) {
            Input::Data(got) => {
                check(&wire, &mut handed, &got, read);
                if rng.below(4) == 0 {
                    kept.push_back(got);
                }
            }
            Input::Nothing => {}
            Input::Eof => panic!("read {read}: end of stream"),
            Input::Failed(e) => panic!("read {read}: {e}"),
        }
        while kept.len() > rng.below(64) as usize {
            kept.pop_front();
        }
        now += Duration::from_micros(rng.below(2000));
        if rng.below(200) == 0 {
            // A quiet period: the buffers are let go.
            now += ReadBuffer::QUIET * 2;
        }
        if buf.release_at().is_some_and(|t| t <= now) {
            buf.on_timer(now);
        }
    }
    assert_eq!(handed, wire.data.len());
}

#[test]
fn read_buffer_random_reads_slice() {
    for seed in 1..=8u64 {
        random_reads(Path::Slice, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}

#[test]
fn read_buffer_random_reads_uninit() {
    for seed in 1..=8u64 {
        random_reads(Path::Uninit, seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    }
}

/// The report's pinning pattern: after bulk reads grew the room to its
/// largest, small reads (a 1-byte DATA frame with its 9-byte header, say)
/// whose every chunk the core keeps. The chunks must pin about what they
/// hold (at most 4 times, here), not the read buffer they were read into;
/// and with `quiet` (a quiet period before every read, so the buffer is let
/// go and a fresh room taken each time), not a room per read either.
/// Without `quiet`, the room is reused in place: one allocation per read
/// (the chunk's copy), not more.
fn small_reads_pin_what_they_hold(path: Path, quiet: bool) {
    const READS: usize = 2000;
    const SMALL: usize = 13;
    let mut rng = Rng(0x5eed_0002);
    let mut wire = Wire {
        data: rng.bytes(2 << 20),
        pos: 0,
    };
    let mut kept: Vec<Bytes> = Vec::with_capacity(READS);
    let mut now = Instant::now();
    let base = live();
    let mut buf = ReadBuffer::default();
    for _ in 0..8 {
        let Input::Data(_) = read_once(&mut buf, &mut wire, path, Op::Data(usize::MAX), now) else {
            panic!("a full read gave nothing");
        };
    }
    let allocs_before = allocs();
    for i in 0..READS {
        if quiet {
            now += ReadBuffer::QUIET * 2;
            buf.on_timer(now);
        }
        match read_once(&mut buf, &mut wire, path, Op::Data(SMALL), now) {
            Input::Data(b) => {
                assert_eq!(b.len(), SMALL);
                kept.push(b);
            }
            other => panic!("read {i}: {other:?}"),
        }
    }
    let allocations = allocs() - allocs_before;
    drop(buf);
    // What is still allocated is what the kept chunks pin.
    let pinned = (live() - base) as usize;
    let held = READS * SMALL;
    eprintln!(
        "{path:?} quiet={quiet}: {READS} chunks of {SMALL} bytes kept ({held} bytes) pin \
         {pinned} bytes; {allocations} allocations"
    );
    assert!(
        pinned <= 4 * held,
        "{path:?} quiet={quiet}: {held} bytes kept pin {pinned} bytes"
    );
    if !quiet {
        assert!(
            allocations <= READS + 4,
            "{path:?}: {allocations} allocations for {READS} small reads"
        );
    }
}

#[test]
fn read_buffer_small_chunks_pin_what_they_hold_slice() {
    small_reads_pin_what_they_hold(Path::Slice, false);
    small_reads_pin_what_they_hold(Path::Slice, true);
}

#[test]
fn read_buffer_small_chunks_pin_what_they_hold_uninit() {
    small_reads_pin_what_they_hold(Path::Uninit, false);
    small_reads_pin_what_they_hold(Path::Uninit, true);
}

/// Bulk transfers stay zero-copy: a read that fills its room is handed over
/// as the room itself (the chunk starts where the read wrote), and with the
/// core letting go of each chunk, the two rooms take turns: no allocation
/// per read once the room is at its largest.
fn full_reads_are_not_copied(path: Path) {
    let mut rng = Rng(0x5eed_0003);
    let mut wire = Wire {
        data: rng.bytes(40 << 20),
        pos: 0,
    };
    let mut buf = ReadBuffer::default();
    let now = Instant::now();
    let mut handed = 0;
    let mut allocs_at_max = None;
    for i in 0..120 {
        let mut at = std::ptr::null();
        let got = match path {
            Path::Slice => buf.read(now, |room| {
                at = room.as_ptr();
                wire.read(Op::Data(usize::MAX), room)
            }),
            Path::Uninit => buf.read_buf(now, |room| {
                at = room.as_ptr();
                wire.read_buf(Op::Data(usize::MAX), room)
            }),
        };
        let Input::Data(got) = got else {
            panic!("read {i}: {got:?}");
        };
        assert_eq!(
            got.as_ptr(),
            at,
            "read {i} of {} bytes was copied",
            got.len()
        );
        check(&wire, &mut handed, &got, i);
        if got.len() == ReadBuffer::MAX && allocs_at_max.is_none() {
            allocs_at_max = Some(allocs());
        }
        drop(got);
    }
    let allocations = allocs() - allocs_at_max.expect("the room grew to its largest");
    assert!(
        allocations <= 2,
        "{path:?}: {allocations} allocations for full reads"
    );
}

#[test]
fn read_buffer_full_reads_are_not_copied_slice() {
    full_reads_are_not_copied(Path::Slice);
}

#[test]
fn read_buffer_full_reads_are_not_copied_uninit() {
    full_reads_are_not_copied(Path::Uninit);
}
