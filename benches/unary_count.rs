//! Instructions and heap allocations per in-memory unary call (client and
//! server cores together, 16-byte messages), for repeatable numbers on a
//! noisy machine.
//!
//! ```text
//! cargo bench --bench unary_count                 # allocations per call
//! scripts/count-instructions                      # instructions per call (callgrind)
//! ```
//!
//! `unary_count N` runs 100 warm-up calls, then N calls, and prints the
//! allocations and allocated bytes per call of the N. The instruction count
//! per call is the difference of two callgrind totals (N = 1100 and
//! N = 100) divided by 1000, so set-up and warm-up cancel out.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{Metadata, Status};
use grpc_sansio::{client, server};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

static TRACE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

thread_local! {
    static IN_TRACE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static SITES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// With `ALLOC_SITES=1`: remembers where each allocation came from (the
/// first frames of this crate in its backtrace), to find what to remove.
fn trace() {
    if !TRACE.load(Ordering::Relaxed) || IN_TRACE.with(|t| t.replace(true)) {
        return;
    }
    let bt = std::backtrace::Backtrace::force_capture().to_string();
    let site: Vec<&str> = bt
        .lines()
        .filter(|l| l.contains("grpc_sansio::") && !l.contains("unary_count"))
        .take(3)
        .map(str::trim)
        .collect();
    SITES.with(|s| s.borrow_mut().push(site.join(" <- ")));
    IN_TRACE.with(|t| t.set(false));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        trace();
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        trace();
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

struct Ends {
    client: client::Connection,
    server: server::Connection,
    now: Instant,
}

impl Ends {
    /// Moves bytes both ways until neither side has anything to send, as
    /// an adapter would: each transmitted chunk is one `recv`.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                for c in t.chunks() {
                    let _ = self.server.recv(c.clone(), self.now);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                for c in t.chunks() {
                    let _ = self.client.recv(c.clone(), self.now);
                }
            }
            if !moved {
                return;
            }
        }
    }

    fn unary(&mut self, msg: &Bytes, path: &'static str) {
        let call = self
            .client
            .start_call(client::Request::new(path), self.now)
            .unwrap();
        self.client.send_message(call, msg.clone()).unwrap();
        self.client.half_close(call).unwrap();
        self.pump();
        while let Some(ev) = self.server.poll_event() {
            if let server::Event::HalfClose { call } = ev {
                self.server.send_message(call, msg.clone()).unwrap();
                self.server
                    .finish(call, Status::ok(), &Metadata::new())
                    .unwrap();
            }
        }
        self.pump();
        let mut done = false;
        while let Some(ev) = self.client.poll_event() {
            if let client::Event::Status { status, .. } = ev {
                assert!(status.is_ok());
                done = true;
            }
        }
        assert!(done);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a number is the call count.
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let now = Instant::now();
    let mut e = Ends {
        client: client::Connection::new(client::Config::default(), now),
        server: server::Connection::new(server::Config::default(), now),
        now,
    };
    // The handshake: both sides read each other's SETTINGS (the client
    // opens call streams only after the server's arrive).
    for _ in 0..3 {
        e.pump();
        while e.client.poll_event().is_some() {}
        while e.server.poll_event().is_some() {}
    }
    let msg = Bytes::from_static(b"0123456789abcdef");
    let path = "/bench.Bench/Unary";
    for _ in 0..100 {
        e.unary(&msg, path);
    }
    let (a0, b0) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    for _ in 0..n {
        e.unary(&msg, path);
    }
    let (a1, b1) = (
        ALLOCS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    if std::env::var_os("ALLOC_SITES").is_some() {
        TRACE.store(true, Ordering::Relaxed);
        for _ in 0..10 {
            e.unary(&msg, path);
        }
        TRACE.store(false, Ordering::Relaxed);
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for s in SITES.with(|s| s.take()) {
            *counts.entry(s).or_default() += 1;
        }
        let mut v: Vec<_> = counts.into_iter().collect();
        v.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (site, n) in v {
            println!("{:5.1} per call: {site}", n as f64 / 10.0);
        }
    }
    if n > 0 {
        println!(
            "unary 16 B in memory: calls={n} allocs_per_call={:.2} alloc_bytes_per_call={:.0}",
            (a1 - a0) as f64 / n as f64,
            (b1 - b0) as f64 / n as f64
        );
    }
}
