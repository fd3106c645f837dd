//! The gRPC call layer in memory, client and server cores together (no
//! sockets): ns per unary call with a 16-byte message each way, and
//! server-streaming throughput with 16 B and 1 MiB messages.
//!
//! ```text
//! cargo bench --bench grpc
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use grpc_sansio::grpc::{Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};

fn ready_pair() -> Pair {
    let mut p = Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    );
    p.drive();
    p
}

/// One unary call: start, message, half-close; the server answers one
/// message and OK; the client sees the status.
fn unary(p: &mut Pair, msg: &Bytes) {
    assert!(p.echo_unary("/bench.Bench/Unary", msg).is_ok());
}

/// `n` messages of `size` bytes from the server on one call.
fn stream(p: &mut Pair, size: usize, n: usize) {
    let (_, s) = p.open_call("/bench.Bench/Stream", true);
    p.server_events.clear();
    let msg = Bytes::from(vec![7u8; size]);
    let mut sent = 0;
    let mut got = 0;
    while got < n {
        while sent < n && p.server.send_message(s, msg.clone()).is_ok() {
            sent += 1;
        }
        p.step();
        while let Some(ev) = p.client_events.pop_front() {
            if matches!(ev, client::Event::Message { .. }) {
                got += 1;
            }
        }
        p.server_events.clear();
    }
    p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    p.client_events.clear();
}

fn grpc(c: &mut Criterion) {
    let mut g = c.benchmark_group("grpc");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let msg = Bytes::from_static(b"0123456789abcdef");
    let mut p = ready_pair();
    g.bench_function("unary_16B", |b| b.iter(|| unary(&mut p, &msg)));
    for (size, n) in [(16usize, 1000usize), (1 << 20, 4)] {
        g.throughput(Throughput::Bytes((size * n) as u64));
        let mut p = ready_pair();
        g.bench_function(format!("server_stream_{size}B_x{n}"), |b| {
            b.iter(|| stream(&mut p, size, n))
        });
    }
    g.finish();
}

criterion_group!(benches, grpc);
criterion_main!(benches);
