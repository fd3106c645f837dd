//! Arbitrary bytes, split at arbitrary points, through `FrameDecoder`, with
//! and without the client preface expected.
//!
//! Options: bit 0 expect the preface; bit 1 prepend a valid preface (so the
//! frames behind it are reached); bits 2-3 pick the max frame size.
//! Checks: no panic; a connection error is sticky; memory held stays within
//! one frame plus what was pushed and not yet looked at.
#![no_main]

use bytes::Bytes;
use grpc_sansio::frame::{FrameDecoder, PREFACE};
use grpc_sansio_fuzz::{Input, chunks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let max_frame_size = match (input.options >> 2) & 3 {
        0 => 16_384,
        1 => 16,
        2 => 1 << 20,
        _ => u32::MAX,
    };
    let mut d = FrameDecoder::new(max_frame_size);
    if input.bit(0) {
        d.expect_preface();
        if input.bit(1) {
            d.push(Bytes::from_static(PREFACE));
        }
    }
    let mut sticky = None;
    for piece in chunks(input.payload, &mut input.rng) {
        d.push(Bytes::copy_from_slice(piece));
        loop {
            match d.decode() {
                Ok(Some(_frame)) => {}
                Ok(None) => break,
                Err(e) if e.stream_id.is_some() => {}
                Err(e) => {
                    if let Some(first) = sticky {
                        assert_eq!(first, e, "connection error changed");
                    }
                    sticky = Some(e);
                    assert_eq!(d.buffered_len(), 0, "buffer kept after a connection error");
                    break;
                }
            }
        }
    }
    if let Some(e) = sticky {
        assert_eq!(d.decode(), Err(e));
    }
});
