//! The header block encoder, our own (RFC 7541 §6): static and dynamic
//! table lookups, incremental indexing of fields likely to repeat, Huffman
//! where shorter, table-size signalling (§4.2, §6.3). It writes straight
//! into the caller's buffer and allocates only when it adds an entry to the
//! dynamic table; a repeated gRPC header set encodes to a few one-byte
//! indices. (`httlib-hpack` decodes; encoding with it cost thousands of
//! instructions and dozens of allocations per block.)

use bytes::{BufMut, Bytes, BytesMut};

use super::Field;
use super::huffman;
use super::memo::{self, BlockName, Memo};
use super::table::{SizeTable, entry_size, static_entry, static_find};

/// The most table we use, whatever the peer allows: the HTTP/2 default
/// (RFC 9113 §6.5.2), a fair trade between compression and memory.
const DEFAULT_TABLE_SIZE: u32 = 4096;

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
    /// Our dynamic table, as the peer's decoder will hold it.
    table: SizeTable,
    /// Size changes to signal at the start of the next block.
    pending: Option<Pending>,
    /// Recent blocks that encoded to indices only.
    memo: Memo,
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
            table: SizeTable::new(DEFAULT_TABLE_SIZE),
            pending: None,
            memo: Memo::default(),
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
        self.signal_size_changes(dst);
        for field in fields {
            self.field(field, dst);
        }
    }

    /// Starts a block with the pending table size updates (§4.2).
    fn signal_size_changes(&mut self, dst: &mut BytesMut) {
        if let Some(p) = self.pending.take() {
            let current = self.table.max();
            if p.min < p.last && p.min < current {
                self.size_update(p.min, dst);
            }
            if p.last != self.table.max() {
                self.size_update(p.last, dst);
            }
        }
    }

    /// Like [`encode`](Self::encode), with the same output, for a block
    /// given as a slice: a block that encoded to indices only is
    /// remembered, and encoding it again while the dynamic table is
    /// unchanged copies the remembered bytes instead of searching the
    /// tables (a gRPC connection sends the same few blocks on every call).
    pub fn encode_block(&mut self, fields: &[Field], dst: &mut BytesMut) {
        self.encode_named_block(None, fields, dst);
    }

    /// Like [`encode_block`](Self::encode_block) for a block the caller
    /// may name (see [`BlockName`]): a named block is found in the memo
    /// without comparing its fields.
    pub(crate) fn encode_named_block(
        &mut self,
        name: Option<BlockName>,
        fields: &[Field],
        dst: &mut BytesMut,
    ) {
        if let Some(wire) = self.remembered(name, fields) {
            dst.extend_from_slice(wire);
            return;
        }
        self.encode_new_block(name, fields, dst);
    }

    /// The encoding of a block remembered for the current table state (see
    /// [`encode_block`](Self::encode_block)): what encoding it would
    /// append, with no table change.
    pub(crate) fn remembered(
        &mut self,
        name: Option<BlockName>,
        fields: &[Field],
    ) -> Option<&[u8]> {
        if self.pending.is_some() {
            return None;
        }
        self.memo
            .by_name_or_fields(self.table.changes(), name, fields)
    }

    /// Encodes a block that is not [`remembered`](Self::remembered).
    pub(crate) fn encode_new_block(
        &mut self,
        name: Option<BlockName>,
        fields: &[Field],
        dst: &mut BytesMut,
    ) {
        let changes = self.table.changes();
        let start = dst.len();
        let mut indexed_only = self.pending.is_none();
        self.signal_size_changes(dst);
        for field in fields {
            indexed_only &= self.field(field, dst);
        }
        // Indices only: the table did not change, so the indices name the
        // same entries still.
        if indexed_only && memo::fits(fields.len(), dst.len() - start) {
            let table = &self.table;
            let mut at = start;
            let wire = &dst[start..];
            let entries = fields.iter().map(|_| {
                let (index, len) = read_index(&wire[at - start..]);
                at += len;
                static_entry(index)
                    .map(|(n, v)| (Bytes::from_static(n), Bytes::from_static(v)))
                    .or_else(|| table.dynamic_entry(index).cloned())
                    .unwrap_or_default()
            });
            self.memo.store(changes, wire, entries, name);
        }
        self.memo.forget_stale(self.table.changes());
    }

    /// Gives back the memory kept to encode faster: the remembered blocks
    /// (they come back with the next blocks). The dynamic table, which the
    /// peer's decoder mirrors, is kept; the output does not change.
    pub fn shrink(&mut self) {
        self.memo.release();
        self.table.shrink();
    }

    /// Bytes held by the dynamic table and the remembered blocks (for
    /// memory accounting).
    pub fn held_bytes(&self) -> usize {
        self.table.size() + self.memo.held_bytes()
    }

    /// Emits a dynamic table size update (RFC 7541 §6.3).
    fn size_update(&mut self, size: u32, dst: &mut BytesMut) {
        write_int(size as usize, 5, 0x20, dst);
        self.table.set_max(size);
    }

    /// Encodes one field; returns whether it was sent as an index (§6.1).
    fn field(&mut self, field: &Field, dst: &mut BytesMut) -> bool {
        let (name, value) = (&field.name[..], &field.value[..]);
        let found = static_find(name, value);
        if field.sensitive {
            // Never indexed (§6.2.3), with the name's index if it has one.
            let name_index = match found {
                Some((i, _)) => Some(i),
                None => self.table.find(name, value).map(|(i, _)| i),
            };
            write_literal(0x10, 4, name_index, name, value, dst);
            return false;
        }
        if let Some((index, true)) = found {
            write_int(index, 7, 0x80, dst);
            return true;
        }
        let dynamic = self.table.find(name, value);
        if let Some((index, true)) = dynamic {
            write_int(index, 7, 0x80, dst);
            return true;
        }
        let name_index = found.or(dynamic).map(|(i, _)| i);
        if self.should_index(field) {
            write_literal(0x40, 6, name_index, name, value, dst);
            // Owned copies: an entry must not pin a larger buffer the
            // field's bytes may be a slice of.
            let (name, value) = super::table::joined(name, value);
            self.table.insert(name, value);
        } else {
            write_literal(0x00, 4, name_index, name, value, dst);
        }
        false
    }

    /// Whether adding the field to the dynamic table is likely worth it.
    fn should_index(&self, field: &Field) -> bool {
        let size = entry_size(field.name.len(), field.value.len());
        size.saturating_mul(2) <= self.table.max() as usize && !VOLATILE.contains(&&field.name[..])
    }
}

/// Writes an integer with an N-bit prefix (RFC 7541 §5.1).
fn write_int(value: usize, prefix: u8, flags: u8, dst: &mut BytesMut) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        dst.put_u8(flags | value as u8);
        return;
    }
    dst.put_u8(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        dst.put_u8(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.put_u8(rest as u8);
}

/// Reads back an index this encoder wrote (a 7-bit prefix integer,
/// §5.1): the index and the bytes it took.
fn read_index(wire: &[u8]) -> (usize, usize) {
    let mut value = usize::from(wire.first().map_or(0, |b| b & 0x7f));
    if value < 0x7f {
        return (value, 1);
    }
    let mut shift = 0;
    for (i, &b) in wire.iter().enumerate().skip(1) {
        value += usize::from(b & 0x7f) << shift;
        shift += 7;
        if b & 0x80 == 0 {
            return (value, i + 1);
        }
    }
    (value, wire.len())
}

/// Writes a string literal (RFC 7541 §5.2), Huffman-coded when shorter.
fn write_string(s: &[u8], dst: &mut BytesMut) {
    let huffman_len = huffman::encoded_len(s);
    if huffman_len < s.len() {
        write_int(huffman_len, 7, 0x80, dst);
        huffman::encode_into(s, dst);
    } else {
        write_int(s.len(), 7, 0, dst);
        dst.extend_from_slice(s);
    }
}

/// Writes a literal field representation (RFC 7541 §6.2) with the given
/// pattern and prefix: the name by index when it has one, else as a string.
fn write_literal(
    pattern: u8,
    prefix: u8,
    name_index: Option<usize>,
    name: &[u8],
    value: &[u8],
    dst: &mut BytesMut,
) {
    match name_index {
        Some(i) => write_int(i, prefix, pattern, dst),
        None => {
            dst.put_u8(pattern);
            write_string(name, dst);
        }
    }
    write_string(value, dst);
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
                assert_eq!(enc.table.size(), dec.table.size());
                assert!(enc.table.size() <= size.min(4096) as usize);
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
        assert_eq!(enc.table.size(), 0);
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
        assert_eq!(enc.table.size(), dec.table.size());
    }

    #[test]
    fn large_fields_are_not_indexed() {
        let mut enc = Encoder::new();
        let big = "v".repeat(3000);
        let mut dec = Decoder::new(4096, 1 << 16);
        let fields = [Field::new("x-small", "1"), Field::new("x-big", big)];
        let wire = block(&mut enc, &fields);
        assert_eq!(dec.decode(&wire).unwrap(), fields);
        assert_eq!(enc.table.size(), 7 + 1 + 32);
        assert_eq!(dec.table.size(), enc.table.size());
    }

    #[test]
    fn literal_writer_decodes() {
        let mut buf = BytesMut::new();
        write_literal(0x10, 4, None, b"a-name", &[b'v'; 300], &mut buf);
        let mut dec = Decoder::new(4096, 1 << 16);
        let got = dec.decode(&buf).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0].sensitive);
        assert_eq!(got[0].value.len(), 300);
    }

    #[test]
    fn remembered_blocks_encode_and_decode_as_before() {
        // encode_block (remembering) and encode (not) must write the same
        // bytes for any sequence of blocks and table size changes, and the
        // decoder (remembering too) must return the fields sent.
        let blocks: Vec<Vec<Field>> = vec![
            grpc_request(0)[..6].to_vec(),
            vec![Field::new(":status", "200"), Field::new("grpc-status", "0")],
            vec![Field::new("grpc-status", "0")],
            grpc_request(1),
            vec![Field::new("x-a", "1"), Field::new("x-b", "2")],
            vec![Field::new("x-b", "2"), Field::new("x-a", "1")],
        ];
        let mut plain = Encoder::new();
        let mut memo = Encoder::new();
        let mut dec = Decoder::new(4096, 1 << 20);
        let mut x: u32 = 0x1234_5678;
        for i in 0..3000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if x % 97 == 0 {
                let size = [0, 64, 200, 4096][(x as usize >> 8) % 4];
                plain.set_max_table_size(size);
                memo.set_max_table_size(size);
                dec.set_max_table_size(size.max(64));
                dec.set_max_table_size(4096);
            }
            let fields = &blocks[(x as usize >> 4) % blocks.len()];
            let mut a = BytesMut::new();
            plain.encode(fields, &mut a);
            let mut b = BytesMut::new();
            memo.encode_block(fields, &mut b);
            assert_eq!(a, b, "block {i}");
            assert_eq!(&dec.decode(&b).unwrap(), fields, "block {i}");
            assert_eq!(plain.table.size(), dec.table.size());
        }
    }

    #[test]
    fn repeated_grpc_blocks_are_one_byte_per_field() {
        let mut enc = Encoder::new();
        let fields = &grpc_request(0)[..6];
        let _ = block(&mut enc, fields);
        // Every field is now in a table: one indexed byte each.
        assert_eq!(block(&mut enc, fields).len(), 6);
    }
}
