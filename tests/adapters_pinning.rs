//! What a peer can pin through the adapters' read buffers, measured as the
//! process's live heap (alone in its test binary, so the figure is this
//! test's own): issue 13, finding 1, played over real loopback sockets
//! against the example adapters.
//!
//! One stream announces a 1 MiB message and then sends it a byte at a time,
//! one DATA frame per write (so one per read on the server), or hides each
//! byte behind 256 KiB of PRIORITY frames. Before, each kept byte pinned a
//! whole read buffer (about 4 KiB per byte sent, or 256 KiB per read); now
//! the adapter copies small reads out of its buffer and the core copies out
//! small pieces it keeps, so the heap grows by about the bytes kept.

#[path = "../examples/adapters/mod.rs"]
mod adapters;
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use adapters::{Runtime, Server};
use bytes::BytesMut;
use common::raw_frame;
use grpc_sansio::frame::{self, flags, kind};
use grpc_sansio::hpack::{self, Field};
use grpc_sansio::server;

/// Live heap bytes of the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter is an atomic that allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as it came.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as it came.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as it came.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded as it came.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// An app that lets every call sit (the message never completes anyway).
struct Holds;

impl adapters::ServerApp for Holds {
    fn on_event(&mut self, _: &mut server::Connection, _: server::Event, _: Instant) {}
}

/// A raw attacker: preface, SETTINGS, one request whose first DATA frame
/// announces a 1 MiB message. A thread drains what the server sends.
fn attacker(addr: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut reader = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
    });
    let mut hello = frame::PREFACE.to_vec();
    hello.extend(raw_frame(kind::SETTINGS, 0, 0, &[]));
    hello.extend(raw_frame(kind::SETTINGS, flags::ACK, 0, &[]));
    let f = |n: &str, v: &str| Field::new(n.as_bytes().to_vec(), v.as_bytes().to_vec());
    let fields = [
        f(":method", "POST"),
        f(":scheme", "http"),
        f(":path", "/attack.Svc/Pin"),
        f(":authority", "localhost"),
        f("content-type", "application/grpc"),
        f("te", "trailers"),
    ];
    let mut block = BytesMut::new();
    hpack::Encoder::new().encode(fields.iter(), &mut block);
    hello.extend(raw_frame(kind::HEADERS, flags::END_HEADERS, 1, &block));
    hello.extend(raw_frame(
        kind::DATA,
        0,
        1,
        &grpc_sansio::grpc::framing::encode_header(false, 1 << 20),
    ));
    s.write_all(&hello).unwrap();
    s
}

/// Runs `attack` against a server on `runtime` and returns the largest
/// growth of the process's live heap while it ran (sampled after each
/// write) and a moment later.
fn heap_growth(runtime: Runtime, attack: impl Fn(&mut TcpStream, &mut dyn FnMut())) -> isize {
    // One attack at a time: the heap counted is the whole process's.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::default();
    let handle = runtime.serve_in_thread(
        listener,
        server.clone(),
        server::Config::default(),
        |_| Holds,
        false,
    );
    let mut socket = attacker(addr);
    std::thread::sleep(Duration::from_millis(100));
    let start = live();
    let mut peak = 0;
    let mut sample = || peak = peak.max(live() - start);
    attack(&mut socket, &mut sample);
    std::thread::sleep(Duration::from_millis(100));
    sample();
    let _ = socket.shutdown(Shutdown::Both);
    server.shutdown();
    handle.join().unwrap().unwrap();
    peak
}

/// 4,000 one-byte DATA frames, each its own write (and so, mostly, its own
/// read): the heap grows by about the 4,000 bytes kept, not by a read
/// buffer per byte (about 16 MB before).
#[test]
fn one_byte_data_frames_pin_no_read_buffers_on_any_adapter() {
    const BYTES: usize = 4_000;
    for runtime in Runtime::ALL {
        let frame = raw_frame(kind::DATA, 0, 1, b"x");
        let grew = heap_growth(runtime, |s, sample| {
            for i in 0..BYTES {
                s.write_all(&frame).unwrap();
                if i % 8 == 0 {
                    std::thread::sleep(Duration::from_micros(200));
                    sample();
                }
            }
        });
        eprintln!("{runtime}: {BYTES} one-byte DATA frames grew the heap by {grew} bytes");
        assert!(
            grew < 1 << 20,
            "{runtime}: {BYTES} one-byte DATA frames grew the heap by {grew} bytes"
        );
    }
}

/// 40 writes of 256 KiB of PRIORITY frames and one DATA byte (10 MB of
/// traffic carrying 40 message bytes): nothing of the reads stays alive
/// (about 10 MB before).
#[test]
fn priority_filler_pins_no_reads_on_any_adapter() {
    const WRITES: usize = 40;
    let mut filler = Vec::with_capacity(256 << 10);
    while filler.len() < 256 << 10 {
        filler.extend(raw_frame(kind::PRIORITY, 0, 3, &[0, 0, 0, 0, 16]));
    }
    filler.extend(raw_frame(kind::DATA, 0, 1, b"x"));
    for runtime in Runtime::ALL {
        let grew = heap_growth(runtime, |s, sample| {
            for _ in 0..WRITES {
                s.write_all(&filler).unwrap();
                std::thread::sleep(Duration::from_millis(2));
                sample();
            }
        });
        eprintln!("{runtime}: {WRITES} filler reads grew the heap by {grew} bytes");
        // A read or two in flight (256 KiB each, and the adapter's room).
        assert!(
            grew < 2 << 20,
            "{runtime}: {WRITES} filler reads grew the heap by {grew} bytes"
        );
    }
}
