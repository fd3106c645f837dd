//! The `bench.Bench` service (examples/proto/bench/bench.proto) on the
//! tokio adapter: the server side of the side-by-side measurements
//! (`scripts/side-by-side`), with the semantics of the peers it is measured
//! against (Unary echoes; ServerStream sends `count` payloads of `size`
//! bytes, unbounded if 0; ClientStream answers a Summary; BidiEcho echoes).
//!
//! ```text
//! cargo run --release --example bench_server -- [--addr 127.0.0.1:50051] [--threads 1] [--report-held SECS] [--io tokio|std] [--unbounded-messages]
//! ```
//!
//! Bounded by default: requests of at most 4 MiB (the core's default
//! `max_receive_message_size`), ServerStream `size` of at most 4 MiB and at
//! most 16 MiB of distinct stream messages per connection, at most 4 MiB of
//! BidiEcho echoes waiting for a client that does not read (see
//! `bench::Limits`); past them a call ends with RESOURCE_EXHAUSTED.
//! `--unbounded-messages` lifts all of these, as the peers measured against
//! do: any request message size is accepted, and a ServerStream call
//! allocates whatever `size` (up to 4 GiB) it asks for. Use it only on a
//! trusted benchmark network.
//!
//! `--io`: the adapter: `tokio` (default) or `std` (blocking sockets, a
//! thread per connection; `--threads` does not apply).
//! `--threads`: tokio threads (default 1: the current-thread scheduler;
//! more: the multi-thread one with that many workers). `--report-held SECS`:
//! every SECS seconds, print to stderr what the connections hold
//! (`server::Connection::held_bytes`), total and per connection and call.
//! Ctrl-C or SIGTERM: graceful shutdown.

#[path = "adapters/mod.rs"]
mod adapters;
#[path = "bench/mod.rs"]
mod bench;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use adapters::{Server, std_io, tokio_io};
use bench::{Args, BenchApp, HeldStats, Limits, die};
use grpc_sansio::server;

const USAGE: &str = "\
usage: bench_server [--addr 127.0.0.1:50051] [--threads 1] [--report-held SECS] [--io tokio|std]
                    [--unbounded-messages]

  --addr ADDR            the address to listen on (default 127.0.0.1:50051, this machine only)
  --io tokio|std         the adapter (default tokio)
  --threads N            tokio worker threads (default 1: the current-thread scheduler)
  --report-held SECS     every SECS seconds, print what the connections hold to stderr
  --unbounded-messages   lift the message limits: request messages of any size (default
                         4 MiB), ServerStream messages of any `size` up to 4 GiB, allocated as
                         asked (default 4 MiB, and 16 MiB of distinct stream messages per
                         connection), and any amount of BidiEcho echoes waiting for a client
                         that does not read (default 4 MiB per call). For trusted benchmark
                         networks only.
";

fn main() {
    let args = Args::from_env();
    if args.flag("help") {
        print!("{USAGE}");
        return;
    }
    let addr: std::net::SocketAddr = args.get("addr", "127.0.0.1:50051".parse().unwrap());
    let threads: usize = args.get("threads", 1);
    let report: f64 = args.get("report-held", 0.0);
    let io = args.opt("io").unwrap_or("tokio");
    let unbounded = args.flag("unbounded-messages");
    let (config, limits) = if unbounded {
        // As the peers: no limit on message sizes.
        let config = server::Config {
            max_receive_message_size: usize::MAX,
            ..server::Config::default()
        };
        (config, Limits::unbounded())
    } else {
        (server::Config::default(), Limits::default())
    };
    let server = Server::default();
    let held = (report > 0.0).then(|| Arc::new(HeldStats::default()));
    if let Some(held) = held.clone() {
        let server = server.clone();
        std::thread::spawn(move || {
            let every = Duration::from_secs_f64(report);
            loop {
                std::thread::sleep(every);
                // Each connection reports on its wake.
                server.wake_all();
                std::thread::sleep(Duration::from_millis(200));
                let conns = server.connections().saturating_sub(1);
                let bytes = held.bytes.load(Ordering::Relaxed);
                let calls = held.calls.load(Ordering::Relaxed);
                eprintln!(
                    "held_bytes={bytes} connections={conns} calls={calls} per_connection={} rss_kb={}",
                    bytes / conns.max(1),
                    rss_kb()
                );
            }
        });
    }
    let make_app = move |_| BenchApp::with_limits(held.clone(), limits);
    let result = match io {
        "std" => std::net::TcpListener::bind(addr).and_then(|listener| {
            std_io::shutdown_on_signal(&server);
            eprintln!(
                "bench_server listening addr={addr} io=std unbounded_messages={unbounded} pid={}",
                std::process::id()
            );
            std_io::serve(listener, server, config, make_app)
        }),
        "tokio" => bench::runtime(threads).block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            tokio_io::shutdown_on_signal(&server);
            eprintln!(
                "bench_server listening addr={addr} threads={threads} unbounded_messages={unbounded} pid={}",
                std::process::id()
            );
            tokio_io::serve(listener, server, config, make_app).await
        }),
        other => die(&format!("unknown --io {other:?}: tokio or std")),
    };
    if let Err(e) = result {
        die(&format!("{e}"));
    }
}

/// VmRSS of this process in KiB (0 where /proc is missing).
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
