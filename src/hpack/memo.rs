//! Replaying repeated header blocks made only of indexed fields
//! (RFC 7541 §6.1).
//!
//! Such a block leaves the dynamic table as it was, so while the table is
//! unchanged the same fields encode to the same bytes, and the same bytes
//! decode to the same fields. A gRPC peer sends the same few blocks on
//! every call (request headers per method, response headers, an OK
//! status), so remembering a handful of them skips the table searches on
//! both sides.
//!
//! Entries hold the names and values as the tables hold them (static
//! slices, or the dynamic table's own copies), never a caller's buffer, and
//! are bounded in number and size; [`Memo::held_bytes`] counts them.

use bytes::Bytes;

use super::Field;

/// Blocks remembered per encoder or decoder.
const SLOTS: usize = 4;
/// Largest block remembered, in fields.
const MAX_FIELDS: usize = 16;
/// Largest block remembered, in encoded bytes.
const MAX_WIRE: usize = 64;

#[derive(Debug, Default)]
struct Entry {
    /// Whether the entry holds a block.
    used: bool,
    /// The table's change count the block is valid for.
    changes: u64,
    /// The encoded block: indices only.
    wire: Vec<u8>,
    /// The fields, in order.
    fields: Vec<(Bytes, Bytes)>,
    /// The header list size of the fields (RFC 9113 §6.5.2).
    list_size: usize,
    /// Names this entry's contents among all ever stored.
    stamp: u64,
}

impl Entry {
    fn valid(&self, changes: u64) -> bool {
        self.used && self.changes == changes
    }
}

/// A few indexed-only blocks, usable while the table is unchanged.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: [Entry; SLOTS],
    /// The slot the next new block replaces when none is free or stale.
    next: usize,
    /// Blocks stored so far.
    stored: u64,
}

/// A remembered block found by its encoding.
pub(crate) struct Replay<'a> {
    /// The fields, in order.
    pub(crate) fields: &'a [(Bytes, Bytes)],
    /// Their header list size (RFC 9113 §6.5.2).
    pub(crate) list_size: usize,
    /// Names the entry's contents: the same stamp, the same fields.
    pub(crate) stamp: u64,
}

/// Whether a block of `fields` fields and `wire` bytes may be remembered.
pub(crate) fn fits(fields: usize, wire: usize) -> bool {
    fields <= MAX_FIELDS && wire <= MAX_WIRE
}

impl Memo {
    /// The encoding of `fields`, if remembered for this table state.
    pub(crate) fn by_fields(&self, changes: u64, fields: &[Field]) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|e| {
                e.valid(changes)
                    && e.fields.len() == fields.len()
                    && e.fields.iter().zip(fields).all(|((n, v), f)| {
                        !f.sensitive && n[..] == f.name[..] && v[..] == f.value[..]
                    })
            })
            .map(|e| &e.wire[..])
    }

    /// What `wire` decodes to, if remembered for this table state.
    pub(crate) fn by_wire(&self, changes: u64, wire: &[u8]) -> Option<Replay<'_>> {
        self.entries
            .iter()
            .find(|e| e.valid(changes) && e.wire[..] == *wire)
            .map(|e| Replay {
                fields: &e.fields,
                list_size: e.list_size,
                stamp: e.stamp,
            })
    }

    /// Remembers an indexed-only block (the caller checked [`fits`]),
    /// reusing the storage of the entry it replaces.
    pub(crate) fn store(
        &mut self,
        changes: u64,
        wire: &[u8],
        fields: impl IntoIterator<Item = (Bytes, Bytes)>,
    ) {
        let slot = match self.entries.iter().position(|e| !e.valid(changes)) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (i + 1) % SLOTS;
                i
            }
        };
        self.stored = self.stored.wrapping_add(1);
        let e = &mut self.entries[slot];
        e.stamp = self.stored;
        e.used = true;
        e.changes = changes;
        e.wire.clear();
        e.wire.extend_from_slice(wire);
        e.fields.clear();
        e.fields.extend(fields);
        e.list_size = e
            .fields
            .iter()
            .map(|(n, v)| super::table::entry_size(n.len(), v.len()))
            .sum();
    }

    /// Memory the entries hold (an upper estimate: their names and values
    /// may be shared with a table).
    pub(crate) fn held_bytes(&self) -> usize {
        self.entries
            .iter()
            .map(|e| {
                e.wire.capacity()
                    + e.fields.capacity() * core::mem::size_of::<(Bytes, Bytes)>()
                    + e.fields
                        .iter()
                        .map(|(n, v)| n.len() + v.len())
                        .sum::<usize>()
            })
            .sum()
    }
}
