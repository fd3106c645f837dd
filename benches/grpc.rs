//! The gRPC call layer in memory, client and server cores together (no
//! sockets): time per unary call (16 B and 1 KiB messages each way),
//! server-streaming and bidi-streaming throughput (16 B, 1 KiB, 64 KiB and
//! 1 MiB messages), and connection set-up (prefaces and SETTINGS both ways,
//! until each side has the other's SETTINGS acknowledged).
//!
//! ```text
//! cargo bench --bench grpc
//! ```

use std::collections::VecDeque;
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

/// `n` messages of `size` bytes sent by the client on one call, each
/// echoed by the server as it comes; returns when the client has every
/// echo. Either side sends only while the call's send buffer takes it (the
/// server keeps the echoes it could not send yet), so flow control and
/// the echo path take part.
fn bidi(p: &mut Pair, size: usize, n: usize) {
    let (c, s) = p.open_call("/bench.Bench/BidiEcho", false);
    p.server_events.clear();
    let msg = Bytes::from(vec![7u8; size]);
    let (mut sent, mut got) = (0, 0);
    let mut echoes = VecDeque::new();
    while got < n {
        while sent < n && p.client.send_message(c, msg.clone()).is_ok() {
            sent += 1;
        }
        p.step();
        while let Some(ev) = p.server_events.pop_front() {
            if let server::Event::Message { data, .. } = ev {
                echoes.push_back(data);
            }
        }
        while let Some(data) = echoes.pop_front() {
            if let Err(server::CallError::Blocked) = p.server.send_message(s, data.clone()) {
                echoes.push_front(data);
                break;
            }
        }
        while let Some(ev) = p.client_events.pop_front() {
            if matches!(ev, client::Event::Message { .. }) {
                got += 1;
            }
        }
    }
    p.client.half_close(c).unwrap();
    p.drive();
    p.server.finish(s, Status::ok(), &Metadata::new()).unwrap();
    p.drive();
    p.server_events.clear();
    p.client_events.clear();
}

fn grpc(c: &mut Criterion) {
    let mut g = c.benchmark_group("grpc");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for size in [16usize, 1024] {
        let msg = Bytes::from(vec![b'x'; size]);
        let mut p = ready_pair();
        g.throughput(Throughput::Elements(1));
        g.bench_function(format!("unary_{size}B"), |b| b.iter(|| unary(&mut p, &msg)));
    }
    // Message counts that keep one iteration between about 16 KiB and 4 MiB.
    let shapes = [
        (16usize, 1000usize),
        (1024, 256),
        (64 << 10, 32),
        (1 << 20, 4),
    ];
    for (size, n) in shapes {
        g.throughput(Throughput::Bytes((size * n) as u64));
        let mut p = ready_pair();
        g.bench_function(format!("server_stream_{size}B_x{n}"), |b| {
            b.iter(|| stream(&mut p, size, n))
        });
    }
    for (size, n) in shapes {
        // Bytes echoed (each also went the other way).
        g.throughput(Throughput::Bytes((size * n) as u64));
        let mut p = ready_pair();
        g.bench_function(format!("bidi_echo_{size}B_x{n}"), |b| {
            b.iter(|| bidi(&mut p, size, n))
        });
    }
    g.throughput(Throughput::Elements(1));
    // A new pair driven until both sides are ready.
    g.bench_function("connection_setup", |b| b.iter(ready_pair));
    g.finish();
}

criterion_group!(benches, grpc);
criterion_main!(benches);
