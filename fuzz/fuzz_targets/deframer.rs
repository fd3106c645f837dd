//! The gRPC message deframer fed arbitrary DATA payloads split anywhere,
//! with a limit the seed picks.
//!
//! Checks: no panic; every message is within the limit and, re-framed,
//! matches the input it came from; an error is final; the bytes held never
//! exceed one message plus one prefix plus the unread input.
#![no_main]

use bytes::Bytes;
use grpc_sansio::grpc::framing::{self, Deframer};
use grpc_sansio_fuzz::{Input, chunks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let limit = [0usize, 1, 16, 1000, 4 << 20][input.rng.below(5)];
    let mut d = Deframer::new(limit);
    let payload = input.payload;
    let mut reframed = Vec::new();
    let mut failed = None;
    for chunk in chunks(payload, &mut input.rng) {
        d.push(Bytes::copy_from_slice(chunk));
        loop {
            match d.next() {
                Ok(Some(m)) => {
                    assert!(failed.is_none(), "message after an error");
                    assert!(m.data.len() <= limit);
                    reframed.extend_from_slice(&framing::encode_header(
                        m.compressed,
                        m.data.len() as u32,
                    ));
                    reframed.extend_from_slice(&m.data);
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(prev) = failed {
                        assert_eq!(prev, e, "errors are final");
                    }
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(d.buffered_len() <= payload.len());
    }
    assert!(
        payload.starts_with(&reframed),
        "messages must be the input, in order"
    );
    let _ = d.finish();
});
