//! The example applications stay bounded against a client that asks for
//! much and reads nothing: the interop server (`examples/interop/server.rs`)
//! and the bench server (`examples/bench/mod.rs`) driven over the in-memory
//! pair (`grpc_sansio::testing::Pair`), with a counting allocator measuring
//! the live heap of this process while they run.
//!
//! What each test measures is the peak of live heap bytes above what was
//! live when the calls started: the server's core (its send buffers), the
//! app, the client and the bytes in flight between them. The bounds come
//! from the core's defaults: a call holds at most
//! `h2::Config::max_send_buffer` (256 KiB) plus the one message that
//! overshot it, and an unread client's connection window (2 MiB) caps what
//! is in flight.
#![cfg(feature = "compression")]

#[path = "../examples/adapters/mod.rs"]
mod adapters;
#[path = "../examples/bench/mod.rs"]
mod bench;
#[path = "../examples/ecommerce/mod.rs"]
mod ecommerce;
#[path = "../examples/interop/mod.rs"]
mod interop;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

use adapters::ServerApp;
use bytes::Bytes;
use grpc_sansio::grpc::{CallId, Code, Status};
use grpc_sansio::h2::ReleaseMode;
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, codec, server};

// ---------------------------------------------------------------------------
// Live heap bytes
// ---------------------------------------------------------------------------

struct Counting;

/// Bytes allocated and not yet freed, by the whole process.
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The largest `LIVE` since the last `Measure::start`.
static PEAK: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is passed on to `System` unchanged; the counters are
// plain atomics, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        PEAK.fetch_max(live + layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let grow = new_size as isize - layout.size() as isize;
        let live = LIVE.fetch_add(grow, Ordering::Relaxed);
        PEAK.fetch_max(live + grow, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// One test measures at a time: the counters are the process's.
static SERIAL: Mutex<()> = Mutex::new(());

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// The live heap above a baseline.
struct Measure {
    base: isize,
}

impl Measure {
    fn start() -> Measure {
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        Measure { base }
    }

    /// The peak since `start`, in bytes above the baseline.
    fn peak(&self) -> usize {
        (PEAK.load(Ordering::Relaxed) - self.base).max(0) as usize
    }
}

// ---------------------------------------------------------------------------
// A pair whose server side is an example app
// ---------------------------------------------------------------------------

struct Served<A> {
    pair: Pair,
    app: A,
}

impl<A: ServerApp> Served<A> {
    /// Connected (SETTINGS exchanged both ways), the client reading.
    fn new(config: server::Config, app: A) -> Served<A> {
        Served::with_client(client::Config::default(), config, app)
    }

    /// Connected, with a client that reads the socket (so it sees the
    /// server's WINDOW_UPDATEs and can keep sending) but never gives credit
    /// back for what it receives: its application does not read.
    fn consuming_nothing(config: server::Config, app: A) -> Served<A> {
        let mut client = client::Config::default();
        client.h2.release_mode = ReleaseMode::Manual;
        Served::with_client(client, config, app)
    }

    fn with_client(client: client::Config, config: server::Config, app: A) -> Served<A> {
        let mut s = Served {
            pair: Pair::new(client, config, Instant::now()),
            app,
        };
        s.drive();
        s
    }

    /// One round of the pair, then the server's events to the app and the
    /// app's timer if due.
    fn step(&mut self) -> bool {
        let mut moved = self.pair.step();
        let now = self.pair.now;
        while let Some(event) = self.pair.server_events.pop_front() {
            moved = true;
            self.app.on_event(&mut self.pair.server, event, now);
        }
        if self.app.poll_timeout().is_some_and(|t| t <= now) {
            moved = true;
            self.app.on_timeout(&mut self.pair.server, now);
        }
        moved
    }

    /// Steps until nothing moves (bounded, so a livelock fails the test).
    fn drive(&mut self) {
        for _ in 0..100_000 {
            if !self.step() {
                return;
            }
        }
        panic!("the pair did not settle");
    }

    /// Starts a call of `path` sending `request` and half-closing.
    fn call(&mut self, path: &'static str, request: Bytes) -> CallId {
        let now = self.pair.now;
        let c = self
            .pair
            .client
            .start_call(client::Request::new(path), now)
            .expect("the call starts");
        self.pair.client.send_message(c, request).expect("send");
        self.pair.client.half_close(c).expect("half-close");
        c
    }

    /// The client's messages and status of call `c` so far.
    fn outcome(&mut self, c: CallId) -> (usize, Option<Status>) {
        let (mut messages, mut status) = (0, None);
        self.pair.client_events.retain(|event| match event {
            client::Event::Message { call, .. } if *call == c => {
                messages += 1;
                false
            }
            client::Event::Status {
                call, status: s, ..
            } if *call == c => {
                status = Some(s.clone());
                false
            }
            _ => true,
        });
        (messages, status)
    }
}

// ---------------------------------------------------------------------------
// Interop server
// ---------------------------------------------------------------------------

use interop::pb::test_service;
use interop::pb::{ResponseParameters, SimpleRequest, StreamingOutputCallRequest};
use interop::server::{TestServer, config};

fn streaming_request(count: usize, size: usize) -> Bytes {
    codec::encode(&StreamingOutputCallRequest {
        response_parameters: (0..count)
            .map(|_| ResponseParameters {
                size: size as i32,
                ..ResponseParameters::default()
            })
            .collect(),
        ..StreamingOutputCallRequest::default()
    })
}

/// The bound for `streams` calls blocked on an unread client: each holds
/// the core's send buffer plus one `message`-byte response, and 4 MiB for
/// the connection window in flight, encoding and the rest.
fn blocked_bound(streams: usize, message: usize) -> usize {
    streams * (256 * KIB + message + 4 * KIB) + 4 * MIB
}

/// Issue 13 item 3: 100 streams each asking for 64 responses of 64 KiB
/// (400 MiB in all) from a client that never reads. Every response used to
/// be encoded and queued when the request came; now each call produces
/// them as its send buffer takes them.
#[test]
fn interop_streaming_output_unread_by_100_streams_is_not_queued_whole() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(config(), TestServer::default());
    s.pair.client_reads = false;
    let m = Measure::start();
    let request = streaming_request(64, 64 * KIB);
    let calls: Vec<CallId> = (0..100)
        .map(|_| s.call(test_service::STREAMING_OUTPUT_CALL.path, request.clone()))
        .collect();
    s.drive();
    let peak = m.peak();
    let bound = blocked_bound(100, 64 * KIB);
    eprintln!(
        "peak live heap {} KiB (bound {} KiB)",
        peak / KIB,
        bound / KIB
    );
    assert!(
        peak <= bound,
        "100 unread streams grew the heap by {} MiB (bound {} MiB)",
        peak / MIB,
        bound / MIB
    );
    // Backpressure, not failure: the calls are still on, and all their
    // responses come once the client reads.
    assert_eq!(s.pair.server.active_calls(), 100);
    s.pair.client_reads = true;
    s.drive();
    for c in calls {
        let (messages, status) = s.outcome(c);
        assert_eq!(messages, 64);
        assert_eq!(status.map(|s| s.code), Some(Code::Ok));
    }
}

/// One stream asking for 256 responses of 1 MiB, unread: a few MiB held,
/// not 256 MiB.
#[test]
fn interop_streaming_output_unread_holds_a_few_mib_not_what_was_asked() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(config(), TestServer::default());
    s.pair.client_reads = false;
    let m = Measure::start();
    s.call(
        test_service::STREAMING_OUTPUT_CALL.path,
        streaming_request(256, MIB),
    );
    s.drive();
    let peak = m.peak();
    // Encoding one response takes twice its size for a moment.
    let bound = blocked_bound(1, MIB) + 2 * MIB;
    eprintln!(
        "peak live heap {} KiB (bound {} KiB)",
        peak / KIB,
        bound / KIB
    );
    assert!(peak <= bound, "peak {} MiB", peak / MIB);
    assert_eq!(s.pair.server.active_calls(), 1);
}

/// FullDuplexCall from a client that keeps asking and never reads: 2,000
/// requests of one 64 KiB response each (125 MiB). The responses it has not
/// read are capped; past the cap the call ends with RESOURCE_EXHAUSTED.
#[test]
fn interop_full_duplex_requests_unread_are_capped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(config(), TestServer::default());
    s.pair.client_reads = false;
    let m = Measure::start();
    let now = s.pair.now;
    let c = s
        .pair
        .client
        .start_call(
            client::Request::new(test_service::FULL_DUPLEX_CALL.path),
            now,
        )
        .expect("the call starts");
    let request = streaming_request(1, 64 * KIB);
    let mut sent = 0;
    for _ in 0..10_000 {
        while sent < 2000 && s.pair.client.send_message(c, request.clone()).is_ok() {
            sent += 1;
        }
        if !s.step() && sent == 2000 {
            break;
        }
    }
    assert_eq!(sent, 2000, "the server stopped reading requests");
    s.drive();
    let peak = m.peak();
    let bound = blocked_bound(1, 64 * KIB);
    eprintln!(
        "peak live heap {} KiB (bound {} KiB)",
        peak / KIB,
        bound / KIB
    );
    assert!(peak <= bound, "peak {} MiB", peak / MIB);
    s.pair.client_reads = true;
    s.drive();
    let (_, status) = s.outcome(c);
    let status = status.expect("the call ended");
    assert_eq!(status.code, Code::ResourceExhausted, "{status}");
}

/// UnaryCall asking for a 64 MiB response: refused before anything that
/// size is allocated (the 4 MiB cap is gRPC's default receive limit).
#[test]
fn interop_unary_response_size_over_the_cap_is_refused_before_allocating() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(config(), TestServer::default());
    let m = Measure::start();
    let request = codec::encode(&SimpleRequest {
        response_size: 64 << 20,
        ..SimpleRequest::default()
    });
    let c = s.call(test_service::UNARY_CALL.path, request);
    s.drive();
    let peak = m.peak();
    eprintln!("peak live heap {} KiB", peak / KIB);
    assert!(peak <= MIB, "peak {} MiB", peak / MIB);
    let (messages, status) = s.outcome(c);
    let status = status.expect("the call ended");
    assert_eq!((messages, status.code), (0, Code::ResourceExhausted));
    assert!(status.message.contains("at most 4194304 bytes"), "{status}");
}

/// StreamingOutputCall asking for one 256 MiB response: refused the same
/// way, before it is encoded.
#[test]
fn interop_streaming_response_size_over_the_cap_is_refused_before_allocating() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(config(), TestServer::default());
    let m = Measure::start();
    let c = s.call(
        test_service::STREAMING_OUTPUT_CALL.path,
        streaming_request(1, 256 << 20),
    );
    s.drive();
    let peak = m.peak();
    eprintln!("peak live heap {} KiB", peak / KIB);
    assert!(peak <= MIB, "peak {} MiB", peak / MIB);
    let (messages, status) = s.outcome(c);
    assert_eq!(messages, 0);
    assert_eq!(status.map(|s| s.code), Some(Code::ResourceExhausted));
}

/// `fill_server_id` gets the server's id and host name (grpc-go's
/// `pick_first_unary` case), the same on every connection of the process.
#[test]
fn interop_unary_fills_server_id_and_hostname() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut ids = Vec::new();
    for _ in 0..2 {
        let mut s = Served::new(config(), TestServer::default());
        let request = codec::encode(&SimpleRequest {
            fill_server_id: true,
            ..SimpleRequest::default()
        });
        let c = s.call(test_service::UNARY_CALL.path, request);
        s.drive();
        let mut reply = None;
        for event in std::mem::take(&mut s.pair.client_events) {
            if let client::Event::Message { call, data } = event {
                if call == c {
                    reply = Some(test_service::TestServiceClient::decode_unary_call(data));
                }
            }
        }
        let reply = reply.expect("a response").expect("it decodes");
        assert!(!reply.server_id.is_empty(), "no server_id");
        assert!(!reply.hostname.is_empty(), "no hostname");
        ids.push(reply.server_id);
    }
    assert_eq!(ids[0], ids[1]);
}

// ---------------------------------------------------------------------------
// Bench server
// ---------------------------------------------------------------------------

use bench::BenchApp;
use bench::pb::StreamRequest;
use bench::pb::bench as bench_service;

/// Issue 13 item 3: four ServerStream calls asking for 32 MiB messages.
/// The bench app allocated each call's `size` (a u32) as asked: +128 MiB
/// for 40 bytes of requests. Now a size over the default 4 MiB message
/// limit is refused with RESOURCE_EXHAUSTED before anything is allocated.
#[test]
fn bench_server_stream_size_over_the_limit_is_refused_before_allocating() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::new(server::Config::default(), BenchApp::new(None));
    s.pair.client_reads = false;
    let m = Measure::start();
    let request = codec::encode(&StreamRequest {
        size: 32 << 20,
        count: 1,
    });
    let calls: Vec<CallId> = (0..4)
        .map(|_| s.call(bench_service::SERVER_STREAM.path, request.clone()))
        .collect();
    s.drive();
    let peak = m.peak();
    eprintln!("peak live heap {} KiB", peak / KIB);
    assert!(peak <= MIB, "4 calls grew the heap by {} MiB", peak / MIB);
    s.pair.client_reads = true;
    s.drive();
    for c in calls {
        let (messages, status) = s.outcome(c);
        assert_eq!(messages, 0);
        assert_eq!(status.map(|s| s.code), Some(Code::ResourceExhausted));
    }
}

/// BidiEcho from a client that sends and never takes the echoes (it gives
/// no credit back): the echoes the send buffer refused used to pile up in
/// the app without bound (here 64 MiB of them); past a cap the server now
/// ends the call with RESOURCE_EXHAUSTED.
#[test]
fn bench_bidi_echo_unread_echoes_are_capped() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut s = Served::consuming_nothing(server::Config::default(), BenchApp::new(None));
    let m = Measure::start();
    let now = s.pair.now;
    let c = s
        .pair
        .client
        .start_call(client::Request::new(bench_service::BIDI_ECHO.path), now)
        .expect("the call starts");
    let request = codec::encode(&bench::pb::Payload {
        data: Bytes::from(vec![7; 64 * KIB]),
    });
    let mut sent = 0;
    for _ in 0..10_000 {
        while sent < 1024 && s.pair.client.send_message(c, request.clone()).is_ok() {
            sent += 1;
        }
        if !s.step() && sent == 1024 {
            break;
        }
    }
    s.drive();
    let peak = m.peak();
    // The app's cap (4 MiB of echoes) on top of a blocked call.
    let bound = blocked_bound(1, 64 * KIB) + 4 * MIB;
    eprintln!(
        "sent {sent}; peak live heap {} KiB (bound {} KiB)",
        peak / KIB,
        bound / KIB
    );
    assert!(peak <= bound, "peak {} MiB", peak / MIB);
    // The server ended it (its status waits behind the unread echoes).
    assert_eq!(s.pair.server.active_calls(), 0);
    let _ = c;
}

// ---------------------------------------------------------------------------
// The book's OrderManagement
// ---------------------------------------------------------------------------

/// updateOrders of 400 orders of 64 KiB each (25 MiB) into the store all
/// connections share: it grew without bound; now the store stops at
/// 16 MiB and the call ends with RESOURCE_EXHAUSTED.
#[test]
fn ecommerce_update_orders_cannot_grow_the_store_without_bound() {
    use ecommerce::pb::Order;
    use ecommerce::pb::order_management;
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let store = ecommerce::Store::book();
    let mut s = Served::new(
        server::Config::default(),
        ecommerce::EcommerceApp::new(store.clone()),
    );
    let m = Measure::start();
    let now = s.pair.now;
    let c = s
        .pair
        .client
        .start_call(
            client::Request::new(order_management::UPDATE_ORDERS.path),
            now,
        )
        .expect("the call starts");
    let mut sent = 0;
    for _ in 0..100_000 {
        if sent < 400 {
            let order = codec::encode(&Order {
                id: format!("o{sent}"),
                description: "x".repeat(64 * KIB),
                ..Order::default()
            });
            if s.pair.client.send_message(c, order).is_ok() {
                sent += 1;
                if sent == 400 {
                    let _ = s.pair.client.half_close(c);
                }
            }
        }
        if !s.step() && sent == 400 {
            break;
        }
    }
    s.drive();
    let peak = m.peak();
    eprintln!("sent {sent}; peak live heap {} KiB", peak / KIB);
    let (_, status) = s.outcome(c);
    let status = status.expect("the call ended");
    assert_eq!(status.code, Code::ResourceExhausted, "{status}");
    assert!(
        peak <= 20 * MIB,
        "the store grew the heap by {} MiB",
        peak / MIB
    );
    drop(store);
}
