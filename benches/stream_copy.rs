//! Server streaming of 1 MiB messages in memory (client and server cores
//! together, no sockets): throughput, and how many payload bytes the cores
//! allocate per message, which is how a copy would show.
//!
//! ```text
//! cargo bench --bench stream_copy
//! ```
//!
//! Two configurations: the client advertising 16 MiB frames and windows
//! that fit a message (each message travels in one DATA frame and reaches
//! the client as the server's own `Bytes`), and the RFC defaults (16 KiB
//! frames: the message is gathered from 64 frames, one copy). Prints one
//! `key=value` line per configuration: GB/s (10^9 bytes per second of
//! message payload) and heap bytes allocated per message.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

struct Counting;

static BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MIB: usize = 1 << 20;

/// Streams `n` copies of `msg` on one call; returns (seconds, bytes
/// allocated) for the messages after the first `warm`.
fn run(config: client::Config, msg: &Bytes, warm: usize, n: usize) -> (f64, usize) {
    let mut p = Pair::new(config, server::Config::default(), Instant::now());
    p.drive();
    let (_, call) = p.open_call("/bench.Bench/ServerStream", true);
    let (mut got, mut sent) = (0, 0);
    let (mut start, mut bytes0) = (Instant::now(), 0);
    while got < warm + n {
        if got == warm && sent == warm {
            start = Instant::now();
            bytes0 = BYTES.load(Ordering::Relaxed);
        }
        if sent == got && p.server.send_message(call, msg.clone()).is_ok() {
            sent += 1;
        }
        p.step();
        while let Some(ev) = p.client_events.pop_front() {
            if let client::Event::Message { data, .. } = ev {
                assert_eq!(data.len(), msg.len());
                got += 1;
            }
        }
        p.server_events.clear();
    }
    let secs = start.elapsed().as_secs_f64();
    let bytes = BYTES.load(Ordering::Relaxed) - bytes0;
    p.server
        .finish(call, Status::ok(), &Metadata::new())
        .expect("finish");
    p.drive();
    (secs, bytes)
}

fn main() {
    let msg = Bytes::from(vec![7u8; MIB]);
    let n = 2000;
    let mut long = client::Config {
        max_receive_message_size: 8 * MIB,
        ..client::Config::default()
    };
    long.h2.max_frame_size = (1 << 24) - 1;
    long.h2.initial_window_size = 8 * MIB as u32;
    long.h2.stream_window = 8 * MIB as u32;
    long.h2.connection_window = 16 * MIB as u32;
    let default = client::Config {
        max_receive_message_size: 8 * MIB,
        ..client::Config::default()
    };
    for (name, config, n) in [
        ("long_frames", long, n),
        ("rfc_default_frames", default, n / 10),
    ] {
        let (secs, bytes) = run(config, &msg, 20, n);
        println!(
            "stream 1 MiB in memory: frames={name} msgs={n} gb_per_s={:.1} alloc_bytes_per_msg={}",
            (n * MIB) as f64 / secs / 1e9,
            bytes / n
        );
    }
}
