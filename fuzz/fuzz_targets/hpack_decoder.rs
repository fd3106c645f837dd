//! Arbitrary bytes as one or several header blocks through one
//! `hpack::Decoder`. It must never panic, whatever the bytes.
//!
//! Options: bits 0-1 pick the table size and list limit (default, small,
//! zero, large); bit 2 feeds the payload as one block, else it is cut into
//! several blocks decoded in turn by the same decoder; bit 3 lowers the
//! table size between blocks (as after a SETTINGS change).
//! Checks: the table stays within its size and the decoder holds at most
//! that plus the bound of its replay memo; a decoded list respects
//! the limit; a decoded list re-encodes and decodes back to the same fields.
#![no_main]

use bytes::BytesMut;
use grpc_sansio::hpack::{DecodeError, Decoder, Encoder};
use grpc_sansio_fuzz::{Input, chunks};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = Input::parse(data);
    let (table, list) = match input.options & 3 {
        0 => (4096, 16 << 10),
        1 => (64, 256),
        2 => (0, 0),
        _ => (1 << 16, 1 << 20),
    };
    let mut dec = Decoder::new(table, list);
    let blocks = if input.bit(2) {
        vec![input.payload]
    } else {
        chunks(input.payload, &mut input.rng)
    };
    let mut table_now = table;
    for (i, block) in blocks.into_iter().enumerate() {
        if input.bit(3) && i == 1 {
            table_now = table / 2;
            dec.set_max_table_size(table_now);
        }
        match dec.decode(block) {
            Ok(fields) => {
                let size: usize = fields.iter().map(|f| f.hpack_size()).sum();
                assert!(size <= list, "list of {size} bytes over the limit {list}");
                roundtrip(&fields);
            }
            Err(DecodeError::ListTooLarge { limit }) => assert_eq!(limit, list),
            // The connection ends on a compression error: so do we.
            Err(DecodeError::Compression { .. }) => break,
        }
        assert!(
            dec.table_size() <= table.max(table_now) as usize,
            "dynamic table holds {} bytes, limit {table}",
            dec.table_size()
        );
        assert!(
            dec.held_bytes() <= dec.table_size() + Decoder::REPLAY_HELD_MAX,
            "decoder holds {} bytes with a table of {}",
            dec.held_bytes(),
            dec.table_size()
        );
    }
});

fn roundtrip(fields: &[grpc_sansio::hpack::Field]) {
    let mut enc = Encoder::new();
    let mut buf = BytesMut::new();
    enc.encode(fields.iter(), &mut buf);
    let mut dec = Decoder::new(4096, usize::MAX);
    let back = dec.decode(&buf).expect("our own encoding must decode");
    assert_eq!(back.len(), fields.len());
    for (a, b) in fields.iter().zip(&back) {
        assert_eq!((&a.name, &a.value), (&b.name, &b.value));
    }
}
