//! HPACK cost per typical gRPC request header block, in ns per block:
//! encoding and decoding, each from a fresh context (first request on a
//! connection: literals that fill the dynamic table) and a warmed one
//! (steady state: the fields are found in the dynamic table).
//!
//! Criterion (see benches/frames.rs for why); 1 s warm-up, 3 s measurement
//! per case.
//!
//! ```text
//! cargo bench --bench hpack
//! ```

use std::time::Duration;

use bytes::BytesMut;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use grpc_sansio::hpack::{Decoder, Encoder, Field};

fn request() -> Vec<Field> {
    [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/grpc.testing.TestService/UnaryCall"),
        (":authority", "localhost:50051"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
        ("grpc-accept-encoding", "identity,deflate,gzip"),
        ("user-agent", "grpc-rust-sansio/0.1"),
        ("grpc-timeout", "1S"),
    ]
    .into_iter()
    .map(|(n, v)| Field::new(n.as_bytes(), v.as_bytes()))
    .collect()
}

const TABLE: u32 = 4096;
const LIST: usize = 16 << 10;

fn hpack(c: &mut Criterion) {
    let fields = request();

    // The blocks a connection's first and later requests carry.
    let mut enc = Encoder::new();
    let mut first = BytesMut::new();
    enc.encode(fields.iter(), &mut first);
    let mut steady = BytesMut::new();
    enc.encode(fields.iter(), &mut steady);
    let (first, steady) = (first.freeze(), steady.freeze());

    let mut g = c.benchmark_group("hpack_request_block");

    g.bench_function("encode_fresh", |b| {
        let mut dst = BytesMut::with_capacity(256);
        b.iter(|| {
            dst.clear();
            let mut enc = Encoder::new();
            enc.encode(fields.iter(), &mut dst);
            std::hint::black_box(&dst);
        })
    });

    g.bench_function("encode_warm", |b| {
        let mut enc = Encoder::new();
        let mut dst = BytesMut::with_capacity(256);
        enc.encode(fields.iter(), &mut dst);
        b.iter(|| {
            dst.clear();
            enc.encode(fields.iter(), &mut dst);
            std::hint::black_box(&dst);
        })
    });

    g.bench_function("decode_fresh", |b| {
        b.iter_batched(
            || Decoder::new(TABLE, LIST),
            |mut dec| dec.decode(&first).expect("valid block"),
            BatchSize::SmallInput,
        )
    });

    g.bench_function("decode_warm", |b| {
        let mut dec = Decoder::new(TABLE, LIST);
        let warmed = dec.decode(&first).expect("valid block");
        assert_eq!(warmed, fields);
        assert_eq!(dec.decode(&steady).expect("valid block"), fields);
        b.iter(|| dec.decode(&steady).expect("valid block"))
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = hpack
}
criterion_main!(benches);
