//! A gRPC load generator for `bench.Bench` (examples/proto/bench/bench.proto)
//! on the tokio adapter: drives any server of that service (ours in
//! `examples/bench_server.rs`, tonic, grpc-go, gRPC C++).
//!
//! ```text
//! cargo run --release --example loadgen -- [--addr 127.0.0.1:50051]
//!     [--rpc unary|server-stream|client-stream|bidi] [--size 16]
//!     [--concurrency 1] [--connections 1] [--duration 5 | --count N]
//!     [--warmup 1] [--threads 1] [--max-frame-size 1048576] [--io tokio|std]
//! ```
//!
//! `--io`: the adapter the connections run on: `tokio` (default; all
//! connections on `--threads` tokio threads) or `std` (blocking sockets, a
//! thread per connection: the lowest latency at concurrency 1, where a
//! thread that waits in `read` is woken straight by the kernel).
//!
//! `--max-frame-size`: the SETTINGS_MAX_FRAME_SIZE the client advertises
//! (default 1 MiB, so that a server which honours it sends each message in
//! one DATA frame, which our core then delivers without a copy; the RFC's
//! default is 16384). The stream window is raised to fit four frames.
//!
//! Each connection is a `ClientApp` ([`bench::LoadApp`]) that keeps
//! `--concurrency` calls in flight (unary), or runs that many streams;
//! latencies are taken with `Instant` into a log-linear histogram.
//! Prints one line of `key=value` on stdout; on runs of 5 s or more, a
//! progress line every second on stderr.
//!
//! Keys: `calls` completed (unary) or streams run; `msgs` responses received
//! (unary, server-stream, bidi) or requests sent (client-stream), with their
//! payload bytes as `mb_per_s` (10^6 bytes); latency per call (unary) or per
//! round trip (bidi), in µs; `errors`: calls that failed.

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "bench/mod.rs"]
mod bench;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use adapters::{std_io, tokio_io};
use bench::{Args, Histogram, LoadApp, Plan, Rpc, Stats, die};
use grpc_sansio::client;

fn main() {
    let args = Args::from_env();
    let addr: String = args.get("addr", "127.0.0.1:50051".to_string());
    let rpc: Rpc = args
        .opt("rpc")
        .unwrap_or("unary")
        .parse()
        .unwrap_or_else(|e: String| die(&e));
    let size: usize = args.get("size", 16);
    let concurrency: usize = args.get("concurrency", 1).max(1);
    let connections: usize = args.get("connections", 1).max(1);
    let duration = Duration::from_secs_f64(args.get("duration", 5.0));
    let warmup = Duration::from_secs_f64(args.get("warmup", 1.0));
    let count: Option<u64> = args.opt("count").map(|_| args.get("count", 0));
    let threads: usize = args.get("threads", 1);
    let max_frame_size: u32 = args.get("max-frame-size", 1 << 20);
    let io = args.opt("io").unwrap_or("tokio");
    if !matches!(io, "tokio" | "std") {
        die(&format!("unknown --io {io:?}: tokio or std"));
    }
    let progress = count.is_some() || duration >= Duration::from_secs(5);

    let plan = Arc::new(Plan::new(warmup, duration, count));
    let mut config = client::Config {
        authority: addr.clone(),
        max_receive_message_size: usize::MAX,
        ..client::Config::default()
    };
    config.h2.max_send_buffer = config.h2.max_send_buffer.max(2 * size);
    config.h2.max_frame_size = max_frame_size;
    config.h2.stream_window = config
        .h2
        .stream_window
        .max(max_frame_size.saturating_mul(4));
    config.h2.connection_window = config
        .h2
        .connection_window
        .max(config.h2.stream_window.saturating_mul(2));

    let results: Vec<(Stats, std::io::Result<()>)> = if io == "std" {
        let sock: std::net::SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(&addr)
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| die(&format!("cannot resolve {addr}")));
        if progress {
            let plan = plan.clone();
            std::thread::spawn(move || report_progress(&plan, std::thread::sleep));
        }
        let threads: Vec<_> = (0..connections)
            .map(|_| {
                let (plan, config) = (plan.clone(), config.clone());
                std::thread::spawn(move || {
                    let mut app = LoadApp::new(rpc, size, concurrency, plan);
                    let r = std_io::run_client(sock, config, &mut app);
                    (app.stats, r)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| die("connection thread panicked"))
            })
            .collect()
    } else {
        bench::runtime(threads).block_on(async {
            let sock: std::net::SocketAddr = tokio::net::lookup_host(&addr)
                .await
                .ok()
                .and_then(|mut a| a.next())
                .unwrap_or_else(|| die(&format!("cannot resolve {addr}")));
            if progress {
                let plan = plan.clone();
                tokio::spawn(async move {
                    let t0 = Instant::now();
                    let mut last = 0;
                    loop {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        last = progress_line(&plan, t0, last);
                    }
                });
            }
            let mut tasks = Vec::with_capacity(connections);
            for _ in 0..connections {
                let (plan, config) = (plan.clone(), config.clone());
                tasks.push(tokio::spawn(async move {
                    let mut app = LoadApp::new(rpc, size, concurrency, plan);
                    let r = tokio_io::run_client(sock, config, &mut app).await;
                    (app.stats, r)
                }));
            }
            let mut out = Vec::with_capacity(connections);
            for t in tasks {
                out.push(t.await.unwrap_or_else(|e| die(&format!("task: {e}"))));
            }
            out
        })
    };

    let mut total = Stats::default();
    let mut hist = Histogram::default();
    for (s, r) in &results {
        if let Err(e) = r {
            eprintln!("connection: {e}");
            total.errors += 1;
        }
        total.calls += s.calls;
        total.msgs += s.msgs;
        total.bytes += s.bytes;
        total.errors += s.errors;
        hist.add(&s.hist);
        total.last = total.last.max(s.last);
    }
    let secs = match count {
        None => duration.as_secs_f64(),
        Some(_) => total
            .last
            .map_or(0.0, |l| (l - plan.measure).as_secs_f64())
            .max(1e-9),
    };
    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "rpc={} size={size} concurrency={concurrency} connections={connections} elapsed_s={secs:.3} calls={} calls_per_s={:.0} msgs={} msgs_per_s={:.0} mb_per_s={:.2} p50_us={:.1} p90_us={:.1} p99_us={:.1} max_us={:.1} errors={}",
        rpc.name(),
        total.calls,
        total.calls as f64 / secs,
        total.msgs,
        total.msgs as f64 / secs,
        total.bytes as f64 / secs / 1e6,
        us(hist.quantile(0.5)),
        us(hist.quantile(0.9)),
        us(hist.quantile(0.99)),
        us(hist.max()),
        total.errors,
    );
}

/// Prints the progress line (operations in the last second) every second,
/// forever.
fn report_progress(plan: &Plan, sleep: fn(Duration)) {
    let t0 = Instant::now();
    let mut last = 0;
    loop {
        sleep(Duration::from_secs(1));
        last = progress_line(plan, t0, last);
    }
}

/// One progress line; returns the operation count it printed.
fn progress_line(plan: &Plan, t0: Instant, last: u64) -> u64 {
    let now = plan.progress.load(Ordering::Relaxed);
    eprintln!(
        "progress t={:.0}s ops={now} ops_per_s={}",
        t0.elapsed().as_secs_f64(),
        now - last
    );
    now
}
