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

/// Most bytes a memo holds beyond what its table holds: its vectors (each
/// at most twice its largest contents, as vectors grow). The names and
/// values of valid entries are the table's own (shared, not copied), and
/// entries that went stale are emptied ([`Memo::forget_stale`]).
pub(crate) const HELD_MAX: usize = core::mem::size_of::<[Entry; SLOTS]>()
    + SLOTS * 2 * (MAX_WIRE + MAX_FIELDS * core::mem::size_of::<(Bytes, Bytes)>());

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
///
/// The entries live on the heap from the first block stored until
/// [`release`](Memo::release): a quiet connection keeps only the counters.
#[derive(Debug, Default)]
pub(crate) struct Memo {
    entries: Option<Box<[Entry; SLOTS]>>,
    /// The slot the next new block replaces when none is free or stale.
    next: usize,
    /// Blocks stored so far: stamps stay unique across releases.
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
            .as_deref()?
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
            .as_deref()?
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
        let entries = self.entries.get_or_insert_with(Default::default);
        let slot = match entries.iter().position(|e| !e.valid(changes)) {
            Some(i) => i,
            None => {
                let i = self.next;
                self.next = (i + 1) % SLOTS;
                i
            }
        };
        self.stored = self.stored.wrapping_add(1);
        let e = &mut entries[slot];
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

    /// Empties the entries made for another table state, so that no entry
    /// keeps alive a name or value the table has evicted: valid entries
    /// only ever share the table's (or the static table's) bytes. Call it
    /// whenever the table may have changed.
    pub(crate) fn forget_stale(&mut self, changes: u64) {
        for e in self.entries.iter_mut().flat_map(|e| e.iter_mut()) {
            if e.used && e.changes != changes {
                e.used = false;
                e.wire.clear();
                e.fields.clear();
            }
        }
    }

    /// Memory the entries hold beyond the table's (at most [`HELD_MAX`]):
    /// the entries and their vectors; names and values are shared with the
    /// table.
    pub(crate) fn held_bytes(&self) -> usize {
        self.entries.as_deref().map_or(0, |entries| {
            core::mem::size_of_val(entries)
                + entries
                    .iter()
                    .map(|e| {
                        e.wire.capacity()
                            + e.fields.capacity() * core::mem::size_of::<(Bytes, Bytes)>()
                    })
                    .sum::<usize>()
        })
    }

    /// Forgets every block and gives the entries' memory back (they come
    /// back with the next block stored).
    pub(crate) fn release(&mut self) {
        self.entries = None;
        self.next = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &'static [u8], value: Vec<u8>) -> (Bytes, Bytes) {
        (Bytes::from_static(name), Bytes::from(value))
    }

    #[test]
    fn stale_entries_let_go_of_the_tables_bytes() {
        let mut m = Memo::default();
        let value = Bytes::from(vec![b'v'; 40]);
        m.store(1, &[0xbe], [(Bytes::from_static(b"x"), value.clone())]);
        assert!(m.by_wire(1, &[0xbe]).is_some());
        // The table changed: the entry may name an evicted value.
        m.forget_stale(2);
        assert!(m.by_wire(1, &[0xbe]).is_none());
        assert!(m.by_wire(2, &[0xbe]).is_none());
        // Only our handle is left on the value.
        assert!(value.is_unique());
        assert!(m.held_bytes() <= HELD_MAX);
    }

    #[test]
    fn held_bytes_stay_within_the_bound() {
        let mut m = Memo::default();
        for round in 0..20u64 {
            let fields: Vec<(Bytes, Bytes)> = (0..MAX_FIELDS)
                .map(|i| entry(b"name", vec![b'v'; i + round as usize]))
                .collect();
            let wire = vec![0x80 | (round as u8 & 0x3f); MAX_WIRE];
            m.store(round, &wire, fields);
            assert!(
                m.held_bytes() <= HELD_MAX,
                "{} > {HELD_MAX}",
                m.held_bytes()
            );
        }
    }
}
