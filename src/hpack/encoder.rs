//! The header block encoder: `httlib-hpack`'s encoder plus table-size
//! signalling (RFC 7541 §4.2, §6.3) and the choice of representation.

use bytes::BytesMut;

use super::Field;
use super::huffman;
use super::table::{SizeTable, entry_size, static_find};

/// The most table we use, whatever the peer allows: the HTTP/2 default
/// (RFC 9113 §6.5.2), a fair trade between compression and memory.
const DEFAULT_TABLE_SIZE: u32 = 4096;

/// Scratch capacity kept between blocks; more is released after a block.
const SCRATCH_KEEP: usize = 16 * 1024;

/// Field names whose values rarely repeat: indexing them only churns the
/// dynamic table.
const VOLATILE: &[&[u8]] = &[
    b"content-length",
    b"date",
    b"etag",
    b"expires",
    b"last-modified",
    b"if-modified-since",
    b"if-none-match",
    b"age",
    b"location",
    b"set-cookie",
    b"grpc-timeout",
    b"grpc-message",
];

/// Table size changes not yet signalled to the peer (RFC 7541 §4.2).
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// Smallest size in force since the last block.
    min: u32,
    /// Size in force now.
    last: u32,
}

/// Encodes header blocks.
#[derive(Debug)]
pub struct Encoder {
    inner: httlib_hpack::Encoder<'static>,
    /// Mirror of `inner`'s dynamic table (sizes only).
    table: SizeTable,
    /// Size changes to signal at the start of the next block.
    pending: Option<Pending>,
    /// The block being written (`httlib-hpack` writes to a `Vec`).
    scratch: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder for a peer that allows the default 4096-byte table
    /// (RFC 9113 §6.5.2).
    pub fn new() -> Self {
        Encoder {
            inner: httlib_hpack::Encoder::with_dynamic_size(DEFAULT_TABLE_SIZE),
            table: SizeTable::new(DEFAULT_TABLE_SIZE),
            pending: None,
            scratch: Vec::new(),
        }
    }

    /// Applies the peer's SETTINGS_HEADER_TABLE_SIZE: the table in use is
    /// `min(peer_max, 4096)`. A change is signalled at the start of the
    /// next block; if the size went down and up again in between, both the
    /// smallest and the final size are signalled (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, peer_max: u32) {
        let target = peer_max.min(DEFAULT_TABLE_SIZE);
        let current = self.pending.map_or(self.table.max(), |p| p.last);
        if target == current {
            return;
        }
        let min = self.pending.map_or(self.table.max(), |p| p.min).min(target);
        self.pending = Some(Pending { min, last: target });
    }

    /// Appends the encoded block for `fields` to `dst`.
    ///
    /// Sensitive fields are sent as never-indexed literals (RFC 7541
    /// §6.2.3); others use the tables where they match and are added to the
    /// dynamic table when that is likely to pay off. Strings are
    /// Huffman-coded when that is shorter (RFC 7541 §5.2).
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = &'a Field>, dst: &mut BytesMut) {
        let mut buf = core::mem::take(&mut self.scratch);
        buf.clear();
        if let Some(p) = self.pending.take() {
            let current = self.table.max();
            if p.min < p.last && p.min < current {
                self.size_update(p.min, &mut buf);
            }
            if p.last != self.table.max() {
                self.size_update(p.last, &mut buf);
            }
        }
        for field in fields {
            self.field(field, &mut buf);
        }
        dst.extend_from_slice(&buf);
        buf.clear();
        if buf.capacity() > SCRATCH_KEEP {
            buf.shrink_to(SCRATCH_KEEP);
        }
        self.scratch = buf;
    }

    /// Bytes held by the dynamic table (for memory accounting).
    pub fn held_bytes(&self) -> usize {
        self.table.size()
    }

    /// Emits a dynamic table size update (RFC 7541 §6.3).
    fn size_update(&mut self, size: u32, buf: &mut Vec<u8>) {
        let start = buf.len();
        if let Err(e) = self.inner.update_max_dynamic_size(size, buf) {
            // Only an invalid prefix size makes this fail.
            debug_assert!(false, "httlib-hpack size update failed: {e}");
            buf.truncate(start);
            write_int(size as usize, 5, 0x20, buf);
        }
        self.table.set_max(size);
    }

    fn field(&mut self, field: &Field, buf: &mut Vec<u8>) {
        use httlib_hpack::Encoder as H;
        let (name, value) = (&field.name[..], &field.value[..]);
        if u32::try_from(name.len()).is_err() || u32::try_from(value.len()).is_err() {
            // Beyond what httlib-hpack can length-prefix; no peer would take it.
            write_literal(name, value, field.sensitive, buf);
            return;
        }
        let huff_name = if huffman::encoded_len(name) < name.len() {
            H::HUFFMAN_NAME
        } else {
            0
        };
        let huff_value = if huffman::encoded_len(value) < value.len() {
            H::HUFFMAN_VALUE
        } else {
            0
        };
        let start = buf.len();
        let found = static_find(name, value);
        let result = if field.sensitive {
            let flags = H::NEVER_INDEXED | huff_value;
            match found {
                Some((index, _)) => self
                    .inner
                    .encode((index as u32, value.to_vec(), flags), buf),
                None => self
                    .inner
                    .encode((name.to_vec(), value.to_vec(), flags | huff_name), buf),
            }
        } else if let Some((index, true)) = found {
            self.inner.encode(index as u32, buf)
        } else {
            let indexing = if self.should_index(field) {
                H::WITH_INDEXING
            } else {
                0
            };
            let flags = H::BEST_FORMAT | indexing | huff_name | huff_value;
            self.inner
                .encode((name.to_vec(), value.to_vec(), flags), buf)
        };
        match result {
            Ok(()) => {
                // httlib-hpack adds to its table exactly when it writes a
                // literal with incremental indexing (RFC 7541 §6.2.1).
                if buf.get(start).is_some_and(|b| b & 0xc0 == 0x40) {
                    self.table.insert(name.len(), value.len());
                }
            }
            Err(e) => {
                // Unreachable: the indices are valid and the lengths fit.
                debug_assert!(false, "httlib-hpack encode failed: {e}");
                buf.truncate(start);
                write_literal(name, value, field.sensitive, buf);
            }
        }
    }

    /// Whether adding the field to the dynamic table is likely worth it.
    fn should_index(&self, field: &Field) -> bool {
        let size = entry_size(field.name.len(), field.value.len());
        size.saturating_mul(2) <= self.table.max() as usize && !VOLATILE.contains(&&field.name[..])
    }
}

/// Writes an integer with an N-bit prefix (RFC 7541 §5.1).
fn write_int(value: usize, prefix: u8, flags: u8, buf: &mut Vec<u8>) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        buf.push(flags | value as u8);
        return;
    }
    buf.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        buf.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    buf.push(rest as u8);
}

/// Writes a literal without indexing (or never indexed), with a literal
/// name and raw strings (RFC 7541 §6.2.2, §6.2.3): the fallback that needs
/// nothing from `httlib-hpack` and leaves both tables unchanged.
fn write_literal(name: &[u8], value: &[u8], sensitive: bool, buf: &mut Vec<u8>) {
    buf.push(if sensitive { 0x10 } else { 0x00 });
    write_int(name.len(), 7, 0, buf);
    buf.extend_from_slice(name);
    write_int(value.len(), 7, 0, buf);
    buf.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hpack::Decoder;

    fn block(enc: &mut Encoder, fields: &[Field]) -> BytesMut {
        let mut dst = BytesMut::new();
        enc.encode(fields, &mut dst);
        dst
    }

    fn grpc_request(i: usize) -> Vec<Field> {
        vec![
            Field::new(":method", "POST"),
            Field::new(":scheme", "https"),
            Field::new(":path", "/helloworld.Greeter/SayHello"),
            Field::new(":authority", "example.com:443"),
            Field::new("content-type", "application/grpc"),
            Field::new("te", "trailers"),
            Field::new("grpc-timeout", format!("{}m", 1000 + i)),
            Field::new("x-request-id", format!("req-{i}")),
            Field {
                sensitive: true,
                ..Field::new("authorization", "Bearer secret-token")
            },
        ]
    }

    #[test]
    fn round_trips_under_table_sizes() {
        for &size in &[0u32, 1, 32, 64, 100, 256, 1024, 4096, 65536] {
            let mut enc = Encoder::new();
            let mut dec = Decoder::new(4096, 1 << 20);
            enc.set_max_table_size(size);
            dec.set_max_table_size(size);
            for i in 0..20 {
                let fields = grpc_request(i % 3);
                let wire = block(&mut enc, &fields);
                let got = dec.decode(&wire).unwrap();
                assert_eq!(got, fields, "size {size} block {i}");
                assert_eq!(enc.held_bytes(), dec.held_bytes());
                assert!(enc.held_bytes() <= size.min(4096) as usize);
            }
        }
    }

    #[test]
    fn repeated_block_gets_small() {
        let mut enc = Encoder::new();
        let fields = grpc_request(1);
        let first = block(&mut enc, &fields);
        let second = block(&mut enc, &fields);
        assert!(
            second.len() < first.len() / 2,
            "{} vs {}",
            second.len(),
            first.len()
        );
    }

    #[test]
    fn sensitive_is_never_indexed() {
        let mut enc = Encoder::new();
        let f = [Field {
            sensitive: true,
            ..Field::new("authorization", "x")
        }];
        let wire = block(&mut enc, &f);
        // Never indexed, name index 23 (authorization) => 0x1f 0x08.
        assert_eq!(&wire[..2], &[0x1f, 0x08]);
        assert_eq!(enc.held_bytes(), 0);
        let again = block(&mut enc, &f);
        assert_eq!(wire, again);
        let mut dec = Decoder::new(4096, 1 << 16);
        assert_eq!(dec.decode(&wire).unwrap(), f);
        // Custom name: literal name, never indexed.
        let f = [Field {
            sensitive: true,
            ..Field::new("x-secret", "y")
        }];
        let wire = block(&mut enc, &f);
        assert_eq!(wire[0], 0x10);
        assert_eq!(dec.decode(&wire).unwrap(), f);
    }

    #[test]
    fn static_full_match_is_one_byte() {
        let mut enc = Encoder::new();
        let wire = block(
            &mut enc,
            &[Field::new(":method", "POST"), Field::new(":status", "200")],
        );
        assert_eq!(&wire[..], &[0x83, 0x88]);
    }

    #[test]
    fn size_updates_are_signalled() {
        let mut enc = Encoder::new();
        // No change: nothing signalled.
        enc.set_max_table_size(8192);
        assert_eq!(&block(&mut enc, &[])[..], &[] as &[u8]);
        // Shrink: one update to the new size.
        enc.set_max_table_size(100);
        assert_eq!(&block(&mut enc, &[])[..], &[0x3f, 0x45]);
        // Shrink then grow before a block: smallest, then final.
        enc.set_max_table_size(0);
        enc.set_max_table_size(4096);
        assert_eq!(&block(&mut enc, &[])[..], &[0x20, 0x3f, 0xe1, 0x1f]);
        // Grow then back: nothing to signal.
        enc.set_max_table_size(50);
        let _ = block(&mut enc, &[]);
        enc.set_max_table_size(1000);
        enc.set_max_table_size(50);
        assert_eq!(&block(&mut enc, &[])[..], &[] as &[u8]);
        // A decoder with the same settings accepts all of it.
        let mut enc = Encoder::new();
        let mut dec = Decoder::new(4096, 1 << 16);
        let fields = grpc_request(0);
        dec.decode(&block(&mut enc, &fields)).unwrap();
        enc.set_max_table_size(0);
        dec.set_max_table_size(0);
        enc.set_max_table_size(4096);
        dec.set_max_table_size(4096);
        assert_eq!(dec.decode(&block(&mut enc, &fields)).unwrap(), fields);
        assert_eq!(enc.held_bytes(), dec.held_bytes());
    }

    #[test]
    fn large_fields_are_not_indexed() {
        let mut enc = Encoder::new();
        let big = "v".repeat(3000);
        let mut dec = Decoder::new(4096, 1 << 16);
        let fields = [Field::new("x-small", "1"), Field::new("x-big", big)];
        let wire = block(&mut enc, &fields);
        assert_eq!(dec.decode(&wire).unwrap(), fields);
        assert_eq!(enc.held_bytes(), 7 + 1 + 32);
        assert_eq!(dec.held_bytes(), enc.held_bytes());
    }

    #[test]
    fn fallback_writer_decodes() {
        let mut buf = Vec::new();
        write_literal(b"a-name", &[b'v'; 300], true, &mut buf);
        let mut dec = Decoder::new(4096, 1 << 16);
        let got = dec.decode(&buf).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].sensitive);
        assert_eq!(got[0].value.len(), 300);
    }
}
