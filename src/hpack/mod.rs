//! Header blocks (RFC 7541) over `httlib-hpack`, behind a validating pre-pass.
//!
//! * [`Decoder`] parses each representation with its own guard
//!   (`guard.rs`: integers §5.1, strings and Huffman §5.2, indices §2.3.3,
//!   size updates §4.2/§6.3) against a size-only mirror of the dynamic table
//!   (`table.rs`), and only then hands exactly that representation to
//!   `httlib-hpack`, so nothing it can panic on ever reaches it.
//! * [`Encoder`] drives `httlib-hpack`'s encoder and signals table size
//!   changes (§4.2).

mod encoder;
mod guard;
mod huffman;
mod memo;
mod pool;
mod table;

use bytes::Bytes;

pub use encoder::Encoder;
use guard::{Indexing, Kind};
pub(crate) use memo::BlockName;
pub(crate) use pool::FieldPool;
use table::SizeTable;

/// One header field: name and value as received or to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name (lowercase in HTTP/2).
    pub name: Bytes,
    /// Field value.
    pub value: Bytes,
    /// Never-indexed (RFC 7541 §6.2.3): must not be compressed by intermediaries.
    pub sensitive: bool,
}

impl Field {
    /// A field from static strings.
    pub fn new(name: impl Into<Bytes>, value: impl Into<Bytes>) -> Field {
        Field {
            name: name.into(),
            value: value.into(),
            sensitive: false,
        }
    }
    /// The size the field counts for in SETTINGS_MAX_HEADER_LIST_SIZE and the
    /// dynamic table: name + value + 32 (RFC 9113 §6.5.2, RFC 7541 §4.1).
    pub fn hpack_size(&self) -> usize {
        self.name.len() + self.value.len() + 32
    }
}

/// Why a header block could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The block is not valid HPACK: a connection error of type
    /// COMPRESSION_ERROR (RFC 9113 §4.3).
    Compression {
        /// The rule that was broken, with its RFC 7541 section.
        reason: &'static str,
    },
    /// The decoded header list exceeds the limit. The block was still fully
    /// processed, so the decoding context stays in sync; only the stream fails.
    ListTooLarge {
        /// The configured limit (bytes, counted as in RFC 9113 §6.5.2).
        limit: usize,
    },
}

fn compression(reason: &'static str) -> DecodeError {
    DecodeError::Compression { reason }
}

/// Whether `block` is `n` one-byte indexed field representations
/// (RFC 7541 §6.1), all within the static table or the first dynamic
/// entries: the blocks worth remembering.
fn is_indices_only(block: &[u8], n: usize) -> bool {
    block.len() == n
        && block
            .iter()
            .all(|&b| b & 0x80 != 0 && b != 0x80 && b != 0xff)
}

/// Scratch capacity kept between blocks; more is released after a block.
const SCRATCH_KEEP: usize = 16 * 1024;

/// One decoded field as `httlib-hpack` hands it out.
type RawField = (Vec<u8>, Vec<u8>, u8);

/// Decodes header blocks, never handing `httlib-hpack` bytes it could panic on.
///
/// Each representation is first parsed and validated by the guard against a
/// mirror of the dynamic table that keeps only entry lengths; then exactly
/// that representation is decoded by `httlib-hpack`, and the mirror is
/// updated the same way (RFC 7541 §4). Representations that leave the
/// table unchanged and whose field would be dropped are not decoded at all,
/// and fields from the static table are served without copying.
#[derive(Debug)]
pub struct Decoder {
    inner: httlib_hpack::Decoder<'static>,
    /// Lengths of the entries of `inner`'s dynamic table.
    table: SizeTable,
    /// SETTINGS_HEADER_TABLE_SIZE in force: the ceiling for size updates.
    limit: u32,
    /// Set when the limit went below the table size in use: the next block
    /// must start with a size update no larger than this (RFC 7541 §4.2).
    required: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE (RFC 9113 §6.5.2).
    max_list_size: usize,
    /// The representation being decoded (`httlib-hpack` consumes a `Vec`).
    scratch: Vec<u8>,
    /// `httlib-hpack`'s output: capacity 1, so it decodes one field a call.
    out: Vec<RawField>,
    /// Recent blocks made of indices only.
    memo: memo::Memo,
    /// The stamp of the remembered block the last block replayed.
    replayed: Option<u64>,
}

impl Decoder {
    /// A decoder whose dynamic table may grow to `max_table_size` and that
    /// rejects header lists over `max_list_size` bytes.
    ///
    /// `max_table_size` is the SETTINGS_HEADER_TABLE_SIZE in force at the
    /// start, which is also the table size the peer's encoder starts with
    /// (4096 in HTTP/2 until our SETTINGS is acknowledged, RFC 9113 §6.5.2).
    pub fn new(max_table_size: u32, max_list_size: usize) -> Self {
        Decoder {
            inner: httlib_hpack::Decoder::with_dynamic_size(max_table_size),
            table: SizeTable::new(max_table_size),
            limit: max_table_size,
            required: None,
            max_list_size,
            scratch: Vec::new(),
            out: Vec::with_capacity(1),
            memo: memo::Memo::default(),
            replayed: None,
        }
    }

    /// Sets the SETTINGS_HEADER_TABLE_SIZE in force (after our SETTINGS is acked).
    ///
    /// Size updates above it are rejected from now on (RFC 7541 §6.3). If it
    /// is below the table size in use, the next block must start with a
    /// size update to at most the smallest limit set meanwhile (RFC 7541 §4.2).
    pub fn set_max_table_size(&mut self, size: u32) {
        self.limit = size;
        self.inner.set_max_dynamic_size(size);
        if size < self.table.max() {
            self.required = Some(self.required.map_or(size, |r| r.min(size)));
        }
    }

    /// Sets the header list size limit (SETTINGS_MAX_HEADER_LIST_SIZE,
    /// counted as in RFC 9113 §6.5.2).
    pub fn set_max_list_size(&mut self, size: usize) {
        self.max_list_size = size;
    }

    /// Decodes one complete header block.
    ///
    /// Errors: [`DecodeError::Compression`] if the block is not valid HPACK
    /// (a connection error, RFC 9113 §4.3); otherwise
    /// [`DecodeError::ListTooLarge`] if the fields add up to more than the
    /// list limit. In that case fields are dropped as soon as the limit is
    /// passed, but the whole block is still processed, so the dynamic table
    /// stays in sync with the peer's.
    pub fn decode(&mut self, block: &[u8]) -> Result<Vec<Field>, DecodeError> {
        let mut fields = Vec::new();
        self.decode_into(block, &mut fields)?;
        Ok(fields)
    }

    /// Like [`decode`](Self::decode), but appends the fields to `out`
    /// after clearing it, so a caller that keeps a vector between blocks
    /// decodes without allocating. On error `out` holds no meaningful
    /// fields.
    pub fn decode_into(&mut self, block: &[u8], out: &mut Vec<Field>) -> Result<(), DecodeError> {
        out.clear();
        self.replayed = None;
        let result = self.decode_block(block, out);
        if result.is_err() {
            out.clear();
        }
        self.memo.forget_stale(self.table.changes());
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch.shrink_to(SCRATCH_KEEP);
        }
        result
    }

    /// Like [`decode_into`](Self::decode_into), into a vector from `pool`
    /// (returned with the result): a replayed block takes the vector that
    /// still holds its fields, if the pool has it, instead of cloning them.
    pub(crate) fn decode_pooled(
        &mut self,
        block: &[u8],
        pool: &mut FieldPool,
    ) -> (Vec<Field>, Result<(), DecodeError>) {
        let changes = self.table.changes();
        if self.required.is_none()
            && let Some(replay) = self.memo.by_wire(changes, block)
            && replay.list_size <= self.max_list_size
        {
            self.replayed = Some(replay.stamp);
            let mut fields = pool.take(Some(replay.stamp));
            if fields.is_empty() {
                fields.extend(replay.fields.iter().map(|(name, value)| Field {
                    name: name.clone(),
                    value: value.clone(),
                    sensitive: false,
                }));
            }
            return (fields, Ok(()));
        }
        let mut fields = pool.take(None);
        let result = self.decode_into(block, &mut fields);
        if self.table.changes() != changes {
            pool.forget_marks();
        }
        (fields, result)
    }

    /// The stamp of the remembered block whose fields `fields` are, as a
    /// replay handed them out (see [`FieldPool`]).
    pub(crate) fn replay_stamp_of(&self, fields: &[Field]) -> Option<u64> {
        self.memo.stamp_of(self.table.changes(), fields)
    }

    /// Most bytes [`held_bytes`](Self::held_bytes) counts beyond the
    /// dynamic table's size: the vectors of the few remembered header
    /// blocks (whose names and values are the table's own).
    pub const REPLAY_HELD_MAX: usize = memo::HELD_MAX;

    /// Gives back the memory kept to decode faster: the remembered blocks
    /// and the scratch space (both come back when needed). The dynamic
    /// table, which the peer's encoder relies on, is kept; what decodes to
    /// what does not change.
    pub fn shrink(&mut self) {
        self.memo.release();
        self.replayed = None;
        self.scratch = Vec::new();
        self.out = Vec::new();
        self.table.shrink();
    }

    /// The size of the dynamic table (RFC 7541 §4.1): never above the
    /// limit in force.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// Bytes held by the dynamic table and the remembered blocks (for
    /// memory accounting): at most the table's limit plus
    /// [`REPLAY_HELD_MAX`](Self::REPLAY_HELD_MAX).
    pub fn held_bytes(&self) -> usize {
        self.table.size() + self.memo.held_bytes()
    }

    fn decode_block(&mut self, block: &[u8], fields: &mut Vec<Field>) -> Result<(), DecodeError> {
        let changes = self.table.changes();
        if self.required.is_none()
            && let Some(replay) = self.memo.by_wire(changes, block)
            && replay.list_size <= self.max_list_size
        {
            self.replayed = Some(replay.stamp);
            // The same indices as a block decoded before, into an
            // unchanged table: the same fields (RFC 7541 §6.1).
            fields.extend(replay.fields.iter().map(|(name, value)| Field {
                name: name.clone(),
                value: value.clone(),
                sensitive: false,
            }));
            return Ok(());
        }
        self.decode_fields(block, fields)?;
        if changes == self.table.changes()
            && memo::fits(fields.len(), block.len())
            && !block.is_empty()
            && is_indices_only(block, fields.len())
        {
            let pairs = fields.iter().map(|f| (f.name.clone(), f.value.clone()));
            self.memo.store(changes, block, pairs, None);
        }
        Ok(())
    }

    fn decode_fields(&mut self, block: &[u8], fields: &mut Vec<Field>) -> Result<(), DecodeError> {
        let mut pos = 0;
        let mut updates = 0u8;
        let mut in_fields = false;
        let mut list_size = 0usize;
        let mut over = false;
        while let Some(rest) = block.get(pos..).filter(|rest| !rest.is_empty()) {
            let repr = guard::parse(rest, &self.table).map_err(compression)?;
            let bytes = rest
                .get(..repr.len)
                .ok_or(compression("RFC 7541 §6: representation out of range"))?;
            pos += repr.len;
            if let Kind::SizeUpdate { size } = repr.kind {
                if in_fields {
                    return Err(compression(
                        "RFC 7541 §4.2: dynamic table size update after a field representation",
                    ));
                }
                updates += 1;
                if updates > 2 {
                    return Err(compression(
                        "RFC 7541 §4.2: more than two dynamic table size updates in a block",
                    ));
                }
                if size > self.limit {
                    return Err(compression(
                        "RFC 7541 §6.3: dynamic table size update above SETTINGS_HEADER_TABLE_SIZE",
                    ));
                }
                if self.required.is_some_and(|r| size <= r) {
                    self.required = None;
                }
                self.feed(bytes)?;
                self.table.set_max(size);
                continue;
            }
            if !in_fields {
                in_fields = true;
                self.check_required()?;
            }
            list_size = list_size.saturating_add(table::entry_size(repr.name_len, repr.value_len));
            if !over && list_size > self.max_list_size {
                over = true;
                fields.clear();
            }
            let incremental = matches!(
                repr.kind,
                Kind::Literal {
                    indexing: Indexing::Incremental,
                    ..
                }
            );
            if !over {
                let mut field = self.field(&repr, bytes)?;
                if incremental {
                    // The entry and the field share one copy.
                    (field.name, field.value) = table::joined(&field.name, &field.value);
                    self.table.insert(field.name.clone(), field.value.clone());
                }
                fields.push(field);
            } else if incremental {
                // The field is dropped, but both tables must still change.
                let field = self.decoded(&repr, bytes)?;
                let (name, value) = table::joined(&field.name, &field.value);
                self.table.insert(name, value);
            }
        }
        self.check_required()?;
        if over {
            return Err(DecodeError::ListTooLarge {
                limit: self.max_list_size,
            });
        }
        Ok(())
    }

    /// If the last block decoded was a replay of a remembered one: a
    /// stamp that names exactly its fields (the same stamp, the same
    /// fields), so checks of the fields can be remembered too.
    pub(crate) fn replayed(&self) -> Option<u64> {
        self.replayed
    }

    fn check_required(&self) -> Result<(), DecodeError> {
        match self.required {
            Some(_) => Err(compression(
                "RFC 7541 §4.2: missing dynamic table size update after SETTINGS_HEADER_TABLE_SIZE was reduced",
            )),
            None => Ok(()),
        }
    }

    /// Produces the field of a validated field representation.
    ///
    /// Indexed fields change no decoder state (RFC 7541 §6.1), so they are
    /// served from the static table or our copy of the dynamic table
    /// without a call into `httlib-hpack` and without copying: in steady
    /// state most of a gRPC peer's header blocks are such indices.
    fn field(&mut self, repr: &guard::Repr, bytes: &[u8]) -> Result<Field, DecodeError> {
        if let Kind::Indexed { index } = repr.kind {
            if let Some((name, value)) = table::static_entry(index) {
                return Ok(Field {
                    name: Bytes::from_static(name),
                    value: Bytes::from_static(value),
                    sensitive: false,
                });
            }
            if let Some((name, value)) = self.table.dynamic_entry(index) {
                return Ok(Field {
                    name: name.clone(),
                    value: value.clone(),
                    sensitive: false,
                });
            }
        }
        self.decoded(repr, bytes)
    }

    /// Decodes a literal representation with `httlib-hpack` (which also
    /// updates its table).
    fn decoded(&mut self, repr: &guard::Repr, bytes: &[u8]) -> Result<Field, DecodeError> {
        let (name, value, flags) = self.feed(bytes)?.ok_or(compression(
            "RFC 7541 §6: field representation decoded to nothing",
        ))?;
        if (name.len(), value.len()) != (repr.name_len, repr.value_len) {
            // The mirror and the decoder disagree: unreachable, but never
            // carry on with a table out of sync.
            return Err(compression("RFC 7541 §2.3.2: decoding context out of sync"));
        }
        Ok(Field {
            name: Bytes::from(name),
            value: Bytes::from(value),
            sensitive: flags & httlib_hpack::Decoder::NEVER_INDEXED != 0,
        })
    }

    /// Hands one validated representation to `httlib-hpack`.
    fn feed(&mut self, bytes: &[u8]) -> Result<Option<RawField>, DecodeError> {
        self.scratch.clear();
        self.scratch.extend_from_slice(bytes);
        self.out.clear();
        if self.out.capacity() == 0 {
            self.out.reserve_exact(1);
        }
        match self.inner.decode_exact(&mut self.scratch, &mut self.out) {
            Ok(_) if self.scratch.is_empty() && self.out.len() <= 1 => Ok(self.out.pop()),
            // Unreachable after the guard.
            _ => Err(compression(
                "RFC 7541 §6: representation rejected by the decoder",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        s.chunks(2)
            .map(|c| u8::from_str_radix(core::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }

    fn pairs(fields: &[Field]) -> Vec<(&[u8], &[u8])> {
        fields.iter().map(|f| (&f.name[..], &f.value[..])).collect()
    }

    fn compression_err(r: Result<Vec<Field>, DecodeError>) -> &'static str {
        match r {
            Err(DecodeError::Compression { reason }) => reason,
            other => panic!("expected a compression error, got {other:?}"),
        }
    }

    // RFC 7541 Appendix C.2.
    #[test]
    fn rfc_c2_literals_and_indexed() {
        // C.2.1: literal with indexing.
        let mut d = Decoder::new(4096, 1 << 16);
        let f = d
            .decode(&hex(
                "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
            ))
            .unwrap();
        assert_eq!(pairs(&f), [(&b"custom-key"[..], &b"custom-header"[..])]);
        assert_eq!(d.table.size(), 55);
        // C.2.2: literal without indexing.
        let mut d = Decoder::new(4096, 1 << 16);
        let f = d
            .decode(&hex("040c 2f73 616d 706c 652f 7061 7468"))
            .unwrap();
        assert_eq!(pairs(&f), [(&b":path"[..], &b"/sample/path"[..])]);
        assert!(!f[0].sensitive);
        assert_eq!(d.table.size(), 0);
        // C.2.3: literal never indexed.
        let f = d
            .decode(&hex("1008 7061 7373 776f 7264 0673 6563 7265 74"))
            .unwrap();
        assert_eq!(pairs(&f), [(&b"password"[..], &b"secret"[..])]);
        assert!(f[0].sensitive);
        assert_eq!(d.table.size(), 0);
        // C.2.4: indexed.
        let f = d.decode(&[0x82]).unwrap();
        assert_eq!(pairs(&f), [(&b":method"[..], &b"GET"[..])]);
        assert_eq!(d.table.size(), 0);
    }

    type Example<'a> = (&'a str, &'a [(&'a str, &'a str)], usize);

    fn run(decoder: &mut Decoder, examples: &[Example<'_>]) {
        for (i, (wire, expected, size)) in examples.iter().enumerate() {
            let fields = decoder.decode(&hex(wire)).unwrap();
            let got: Vec<(&str, &str)> = fields
                .iter()
                .map(|f| {
                    (
                        core::str::from_utf8(&f.name).unwrap(),
                        core::str::from_utf8(&f.value).unwrap(),
                    )
                })
                .collect();
            assert_eq!(&got[..], *expected, "block {i}");
            assert_eq!(decoder.table.size(), *size, "block {i}");
        }
    }

    const REQ1: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
    ];
    const REQ2: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "http"),
        (":path", "/"),
        (":authority", "www.example.com"),
        ("cache-control", "no-cache"),
    ];
    const REQ3: &[(&str, &str)] = &[
        (":method", "GET"),
        (":scheme", "https"),
        (":path", "/index.html"),
        (":authority", "www.example.com"),
        ("custom-key", "custom-value"),
    ];
    const RESP1: &[(&str, &str)] = &[
        (":status", "302"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP2: &[(&str, &str)] = &[
        (":status", "307"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
        ("location", "https://www.example.com"),
    ];
    const RESP3: &[(&str, &str)] = &[
        (":status", "200"),
        ("cache-control", "private"),
        ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
        ("location", "https://www.example.com"),
        ("content-encoding", "gzip"),
        (
            "set-cookie",
            "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        ),
    ];

    // RFC 7541 Appendix C.3: requests without Huffman coding.
    #[test]
    fn rfc_c3_requests() {
        run(
            &mut Decoder::new(4096, 1 << 16),
            &[
                (
                    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                    REQ1,
                    57,
                ),
                ("8286 84be 5808 6e6f 2d63 6163 6865", REQ2, 110),
                (
                    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
                    REQ3,
                    164,
                ),
            ],
        );
    }

    // RFC 7541 Appendix C.4: requests with Huffman coding.
    #[test]
    fn rfc_c4_requests_huffman() {
        run(
            &mut Decoder::new(4096, 1 << 16),
            &[
                ("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff", REQ1, 57),
                ("8286 84be 5886 a8eb 1064 9cbf", REQ2, 110),
                (
                    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
                    REQ3,
                    164,
                ),
            ],
        );
    }

    // RFC 7541 Appendix C.5: responses without Huffman, 256-byte table, evictions.
    #[test]
    fn rfc_c5_responses() {
        run(
            &mut Decoder::new(256, 1 << 16),
            &[
                (
                    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
                     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
                     6c65 2e63 6f6d",
                    RESP1,
                    222,
                ),
                ("4803 3330 37c1 c0bf", RESP2, 222),
                (
                    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
                     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
                     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e \
                     3d31",
                    RESP3,
                    215,
                ),
            ],
        );
    }

    // RFC 7541 Appendix C.6: responses with Huffman, 256-byte table, evictions.
    #[test]
    fn rfc_c6_responses_huffman() {
        run(
            &mut Decoder::new(256, 1 << 16),
            &[
                (
                    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
                     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
                    RESP1,
                    222,
                ),
                ("4883 640e ffc1 c0bf", RESP2, 222),
                (
                    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
                     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
                     9587 3160 65c0 03ed 4ee5 b106 3d50 07",
                    RESP3,
                    215,
                ),
            ],
        );
    }

    #[test]
    fn truncated_and_oversized_integers() {
        for block in [
            &[0x1f][..],
            &[0x7f],
            &[0x3f],
            &[0xff],
            &[0x0f],
            &[0x1f, 0x80],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x3f, 0xff, 0xff, 0xff, 0xff, 0x7f],
        ] {
            let mut d = Decoder::new(4096, 1 << 16);
            let reason = compression_err(d.decode(block));
            assert!(reason.contains("§5.1"), "{block:x?}: {reason}");
        }
    }

    #[test]
    fn bad_indices() {
        let mut d = Decoder::new(4096, 1 << 16);
        assert!(compression_err(d.decode(&[0x80])).contains("§6.1"));
        assert!(compression_err(d.decode(&[0xbe])).contains("§2.3.3"));
        // Literal with a name index past the table.
        assert!(compression_err(d.decode(&[0x7e, 0x01, b'a'])).contains("§2.3.3"));
        // Once an entry exists, 62 is valid and 63 is not.
        d.decode(&[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(pairs(&d.decode(&[0xbe]).unwrap()), [(&b"a"[..], &b"b"[..])]);
        assert!(compression_err(d.decode(&[0xbf])).contains("§2.3.3"));
    }

    #[test]
    fn size_update_rules() {
        // Mid-block.
        let mut d = Decoder::new(4096, 1 << 16);
        assert!(compression_err(d.decode(&[0x82, 0x20])).contains("§4.2"));
        // Over the limit.
        let mut d = Decoder::new(4096, 1 << 16);
        d.set_max_table_size(100);
        assert!(compression_err(d.decode(&[0x3f, 0x46])).contains("§6.3"));
        // Three updates.
        let mut d = Decoder::new(4096, 1 << 16);
        assert!(compression_err(d.decode(&[0x20, 0x20, 0x20, 0x82])).contains("§4.2"));
        // Two are fine, and evict.
        let mut d = Decoder::new(4096, 1 << 16);
        d.decode(&[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        assert_eq!(d.table.size(), 34);
        assert_eq!(d.decode(&[0x20, 0x3f, 0xe1, 0x1f, 0x82]).unwrap().len(), 1);
        assert_eq!(d.table.size(), 0);
        assert!(compression_err(d.decode(&[0xbe])).contains("§2.3.3"));
    }

    #[test]
    fn reduced_limit_requires_update() {
        let mut d = Decoder::new(4096, 1 << 16);
        d.set_max_table_size(0);
        assert!(compression_err(d.decode(&[0x82])).contains("§4.2"));
        let mut d = Decoder::new(4096, 1 << 16);
        d.set_max_table_size(0);
        assert!(compression_err(d.decode(&[])).contains("§4.2"));
        // Down then up: the smallest must be signalled.
        let mut d = Decoder::new(4096, 1 << 16);
        d.set_max_table_size(10);
        d.set_max_table_size(4096);
        assert!(compression_err(d.decode(&[0x3f, 0xe1, 0x1f, 0x82])).contains("§4.2"));
        let mut d = Decoder::new(4096, 1 << 16);
        d.set_max_table_size(10);
        d.set_max_table_size(4096);
        assert_eq!(d.decode(&[0x2a, 0x3f, 0xe1, 0x1f, 0x82]).unwrap().len(), 1);
        // Satisfied once; later blocks need nothing.
        assert_eq!(d.decode(&[0x82]).unwrap().len(), 1);
        // Raising the limit requires nothing.
        d.set_max_table_size(8192);
        assert_eq!(d.decode(&[0x82]).unwrap().len(), 1);
    }

    #[test]
    fn huffman_errors() {
        let mut d = Decoder::new(4096, 1 << 16);
        // Value: Huffman, 4 bytes of ones = EOS + padding.
        let r = d.decode(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff]);
        assert!(compression_err(r).contains("§5.2"));
        // Padding longer than 7 bits: 'a' + 11 ones.
        let r = d.decode(&[0x04, 0x82, 0b0001_1111, 0xff]);
        assert!(compression_err(r).contains("§5.2"));
        // Padding of zeros.
        let r = d.decode(&[0x04, 0x81, 0b0001_1000]);
        assert!(compression_err(r).contains("§5.2"));
        // Valid: 'a' + 111.
        let f = d.decode(&[0x04, 0x81, 0b0001_1111]).unwrap();
        assert_eq!(pairs(&f), [(&b":path"[..], &b"a"[..])]);
        // Huffman name with EOS.
        let r = d.decode(&[0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]);
        assert!(compression_err(r).contains("§5.2"));
    }

    #[test]
    fn truncated_strings() {
        for block in [
            &[0x04][..],
            &[0x04, 0x02, b'a'],
            &[0x40],
            &[0x40, 0x01],
            &[0x40, 0x01, b'a'],
            &[0x40, 0x01, b'a', 0x01],
            &[0x10, 0x7f],
            &[0x44, 0x7f, 0x80],
            &[0x04, 0x85, 0xff],
        ] {
            let mut d = Decoder::new(4096, 1 << 16);
            let reason = compression_err(d.decode(block));
            assert!(reason.contains("§5"), "{block:x?}: {reason}");
        }
    }

    #[test]
    fn list_too_large_keeps_table_in_sync() {
        let mut d = Decoder::new(4096, 100);
        // Three literal-with-indexing fields of 32 + 1 + 40 = 73 bytes each.
        let mut block = Vec::new();
        for name in [b'a', b'b', b'c'] {
            block.extend_from_slice(&[0x40, 0x01, name, 40]);
            block.extend_from_slice(&[b'v'; 40]);
        }
        block.push(0x82); // and an indexed field after the limit
        assert_eq!(
            d.decode(&block),
            Err(DecodeError::ListTooLarge { limit: 100 })
        );
        assert_eq!(d.table.size(), 3 * 73);
        // The next block references entries inserted past the limit.
        d.set_max_list_size(1000);
        let f = d.decode(&[0xbe, 0xc0]).unwrap();
        assert_eq!(&f[0].name[..], b"c");
        assert_eq!(&f[1].name[..], b"a");
        assert_eq!(&f[1].value[..], &[b'v'; 40]);
        // A limit exactly reached is fine.
        d.set_max_list_size(73);
        assert_eq!(d.decode(&[0xbe]).unwrap().len(), 1);
        // Invalid HPACK wins over the list size.
        d.set_max_list_size(0);
        assert!(compression_err(d.decode(&[0xbe, 0x80])).contains("§6.1"));
    }

    #[test]
    fn static_fields_are_not_copied() {
        let mut d = Decoder::new(4096, 1 << 16);
        let f = d.decode(&[0x82]).unwrap();
        let again = d.decode(&[0x82]).unwrap();
        assert_eq!(f[0].name.as_ptr(), again[0].name.as_ptr());
    }

    #[test]
    fn decode_into_reuses_the_vector() {
        let mut d = Decoder::new(4096, 1 << 16);
        let mut out = Vec::with_capacity(8);
        let storage = out.as_ptr();
        d.decode_into(&[0x82, 0x86], &mut out).unwrap();
        assert_eq!(out.len(), 2);
        d.decode_into(&[0x84], &mut out).unwrap();
        assert_eq!(pairs(&out), [(&b":path"[..], &b"/"[..])]);
        assert_eq!(out.as_ptr(), storage);
        // An error leaves it empty.
        assert!(d.decode_into(&[0x82, 0x80], &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn remembered_blocks_follow_the_table() {
        let mut d = Decoder::new(4096, 1 << 16);
        d.decode(&[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
        for _ in 0..2 {
            assert_eq!(
                pairs(&d.decode(&[0xbe, 0x82]).unwrap()),
                [(&b"a"[..], &b"b"[..]), (&b":method"[..], &b"GET"[..])]
            );
        }
        // A new entry takes index 62: the same bytes mean another field.
        d.decode(&[0x40, 0x01, b'c', 0x01, b'd']).unwrap();
        assert_eq!(
            pairs(&d.decode(&[0xbe, 0x82]).unwrap())[0],
            (&b"c"[..], &b"d"[..])
        );
        // A smaller list limit is still enforced.
        d.set_max_list_size(40);
        assert_eq!(
            d.decode(&[0xbe, 0x82]),
            Err(DecodeError::ListTooLarge { limit: 40 })
        );
        // A required size update is still required.
        d.set_max_list_size(1 << 16);
        d.set_max_table_size(0);
        assert!(compression_err(d.decode(&[0xbe, 0x82])).contains("§4.2"));
    }

    fn no_panic(block: &[u8]) {
        let block = block.to_vec();
        let r = std::panic::catch_unwind(move || {
            let mut d = Decoder::new(4096, 1 << 16);
            let _ = d.decode(&block);
            // Once more with a table entry, so dynamic indices are valid.
            let mut d = Decoder::new(4096, 1 << 16);
            d.decode(&[0x40, 0x01, b'a', 0x01, b'b']).unwrap();
            let _ = d.decode(&block);
        });
        assert!(r.is_ok());
    }

    #[test]
    fn short_blocks_never_panic() {
        for a in 0..=255u8 {
            no_panic(&[a]);
            for b in 0..=255u8 {
                no_panic(&[a, b]);
            }
        }
        // A deterministic sample of 3-byte blocks (xorshift).
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let [a, b, c, _] = x.to_le_bytes();
            no_panic(&[a, b, c]);
        }
        // Every 3-byte block that starts like a long integer or a literal.
        for a in [0x1f, 0x3f, 0x7f, 0xff, 0x0f, 0x40, 0x00, 0x10] {
            for b in 0..=255u8 {
                for c in 0..=255u8 {
                    no_panic(&[a, b, c]);
                }
            }
        }
    }

    #[test]
    fn random_round_trips_through_httlib() {
        // Huffman strings built by our encoder decode identically in httlib.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut d = Decoder::new(4096, 1 << 20);
        for n in 0..2000usize {
            let len = n % 40;
            let mut value = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                value.push(if n % 2 == 0 {
                    x as u8
                } else {
                    b' ' + (x as u8 % 95)
                });
            }
            let mut huff = Vec::new();
            huffman::encode(&value, &mut huff);
            let mut block = vec![0x04]; // :path, without indexing
            guard_len(huff.len(), &mut block);
            block.extend_from_slice(&huff);
            let f = d.decode(&block).unwrap();
            assert_eq!(&f[0].value[..], &value[..]);
        }
    }

    fn guard_len(len: usize, out: &mut Vec<u8>) {
        if len < 127 {
            out.push(0x80 | len as u8);
        } else {
            out.extend_from_slice(&[0xff, (len - 127) as u8]);
        }
    }
}
