//! Frame parsing throughput: a realistic mixed stream through `FrameDecoder`,
//! reported in decimal bytes per second (criterion prints MB/s or GB/s).
//!
//! Criterion rather than divan: it reports byte throughput directly
//! (`Throughput::BytesDecimal`), keeps baselines to compare runs (`--save-baseline`,
//! `--baseline`), and runs on stable. Runs are kept short: 1 s warm-up and
//! 3 s measurement per case (override with `-- --measurement-time N`).
//!
//! ```text
//! cargo bench --bench frames
//! ```

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use grpc_sansio::frame::{
    DEFAULT_MAX_FRAME_SIZE, Data, Frame, FrameDecoder, Headers, Ping, StreamId, WindowUpdate,
};

/// A stream of what a busy gRPC connection receives: per stream a HEADERS
/// block, DATA of 16 KiB and 1 KiB, a trailing HEADERS, with connection
/// WINDOW_UPDATEs and PINGs in between. About 4 MiB.
fn mixed_stream() -> Bytes {
    let big = Bytes::from(vec![0xa5; 16 << 10]);
    let small = Bytes::from(vec![0x5a; 1 << 10]);
    let block = Bytes::from(vec![0x82; 60]);
    let trailers = Bytes::from(vec![0x40; 20]);
    let mut out = BytesMut::new();
    for i in 0..48u32 {
        let stream_id = StreamId(2 * i + 1);
        Headers {
            stream_id,
            fragment: block.clone(),
            end_stream: false,
            end_headers: true,
            priority: None,
        }
        .encode(&mut out);
        for j in 0..12 {
            let payload = if j % 3 == 0 {
                big.clone()
            } else {
                small.clone()
            };
            Data {
                stream_id,
                flow_len: payload.len() as u32,
                payload,
                end_stream: false,
            }
            .encode(&mut out);
        }
        for _ in 0..8 {
            Data {
                stream_id,
                flow_len: small.len() as u32,
                payload: small.clone(),
                end_stream: false,
            }
            .encode(&mut out);
        }
        Headers {
            stream_id,
            fragment: trailers.clone(),
            end_stream: true,
            end_headers: true,
            priority: None,
        }
        .encode(&mut out);
        WindowUpdate {
            stream_id: StreamId::ZERO,
            increment: 80 << 10,
        }
        .encode(&mut out);
        if i % 8 == 0 {
            Ping {
                ack: i % 16 == 0,
                payload: i.to_be_bytes().repeat(2).try_into().expect("8 bytes"),
            }
            .encode(&mut out);
        }
    }
    out.freeze()
}

/// Pushes `input` in reads of `read_size` bytes (slices, no copy, as a
/// socket adapter would hand them over) and decodes every frame. Returns
/// what does not depend on the read size: the frames other than DATA, and
/// the DATA bytes (a long DATA frame split across reads comes out in
/// pieces, one `Data` each).
fn decode_all(input: &Bytes, read_size: usize) -> (usize, usize) {
    let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_SIZE);
    let (mut frames, mut data) = (0, 0);
    let mut at = 0;
    while at < input.len() {
        let end = (at + read_size).min(input.len());
        d.push(input.slice(at..end));
        at = end;
        while let Some(frame) = d.decode().expect("valid stream") {
            std::hint::black_box(&frame);
            match frame {
                Frame::Data(f) => data += f.payload.len(),
                _ => frames += 1,
            }
        }
    }
    (frames, data)
}

fn frames(c: &mut Criterion) {
    let input = mixed_stream();
    let expected = decode_all(&input, input.len());
    let mut g = c.benchmark_group("frame_decoder");
    g.throughput(Throughput::BytesDecimal(input.len() as u64));
    for read_size in [1500, 16 << 10, 64 << 10] {
        assert_eq!(decode_all(&input, read_size), expected);
        g.bench_with_input(
            BenchmarkId::new("mixed_stream_reads", read_size),
            &read_size,
            |b, &n| b.iter(|| decode_all(&input, n)),
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = frames
}
criterion_main!(benches);
