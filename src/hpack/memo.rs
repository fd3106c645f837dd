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

/// Names a header block whose fields never change, so that the encoder
/// memo finds it without comparing the fields: blocks given the same name
/// always have the same fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockName {
    /// A block in a `static`: its address and length (a static never
    /// changes and is never freed, so no other block ever has them).
    Static(usize, usize),
    /// A block its owner numbers, renumbering it whenever it changes.
    Owned(u64),
}

impl BlockName {
    /// The name of a block kept in a `static`.
    pub(crate) fn of_static(fields: &'static [Field]) -> BlockName {
        BlockName::Static(fields.as_ptr() as usize, fields.len())
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Whether the entry holds a block.
    used: bool,
    /// The name the block was encoded under, if any.
    name: Option<BlockName>,
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

    /// Whether the entry's fields are `fields` (none of them sensitive).
    fn holds(&self, fields: &[Field]) -> bool {
        self.fields.len() == fields.len()
            && self.fields.iter().zip(fields).all(|((n, v), f)| {
                !f.sensitive && same_bytes(n, &f.name) && same_bytes(v, &f.value)
            })
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

/// Takes `name` off every entry (a name names one entry at most).
fn unname(entries: &mut [Entry], name: Option<BlockName>) {
    for e in entries {
        if e.name == name {
            e.name = None;
        }
    }
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

/// Whether two byte strings are equal, for the short names, values and
/// blocks a memo holds: up to 32 bytes are compared a word at a time
/// inline, which is much cheaper than a call into `memcmp` per string.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n > 32 {
        return a == b;
    }
    if n >= 8 {
        let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
        let heads = a.chunks_exact(8).zip(b.chunks_exact(8));
        let tail = |s: &[u8]| s.last_chunk::<8>().copied().unwrap_or_default();
        return heads.into_iter().all(|(x, y)| word(x) == word(y))
            && u64::from_ne_bytes(tail(a)) == u64::from_ne_bytes(tail(b));
    }
    if n >= 4 {
        let head = |s: &[u8]| s.first_chunk::<4>().copied().unwrap_or_default();
        let tail = |s: &[u8]| s.last_chunk::<4>().copied().unwrap_or_default();
        return u32::from_ne_bytes(head(a)) == u32::from_ne_bytes(head(b))
            && u32::from_ne_bytes(tail(a)) == u32::from_ne_bytes(tail(b));
    }
    // 0 to 3 bytes: the first, middle and last cover them all.
    a.first() == b.first() && a.get(n / 2) == b.get(n / 2) && a.last() == b.last()
}

impl Memo {
    /// The encoding of `fields`, named `name` if given, if remembered for
    /// this table state. A block found by its fields takes the name, so
    /// that the next lookup needs no comparison.
    pub(crate) fn by_name_or_fields(
        &mut self,
        changes: u64,
        name: Option<BlockName>,
        fields: &[Field],
    ) -> Option<&[u8]> {
        let entries = self.entries.as_deref_mut()?;
        let named = name.and_then(|name| {
            entries
                .iter()
                .position(|e| e.valid(changes) && e.name == Some(name))
        });
        let i = match named {
            Some(i) => {
                debug_assert!(entries[i].holds(fields), "a name for other fields");
                i
            }
            None => {
                let i = entries
                    .iter()
                    .position(|e| e.valid(changes) && e.holds(fields))?;
                if name.is_some() {
                    unname(entries, name);
                    entries[i].name = name;
                }
                i
            }
        };
        Some(&entries[i].wire[..])
    }

    /// What `wire` decodes to, if remembered for this table state.
    pub(crate) fn by_wire(&self, changes: u64, wire: &[u8]) -> Option<Replay<'_>> {
        self.entries
            .as_deref()?
            .iter()
            .find(|e| e.valid(changes) && same_bytes(&e.wire, wire))
            .map(|e| Replay {
                fields: &e.fields,
                list_size: e.list_size,
                stamp: e.stamp,
            })
    }

    /// The stamp of the entry valid for this table state whose fields
    /// `fields` are: the very same names and values (shared, not equal
    /// copies), none sensitive, as a replay of it hands them out.
    pub(crate) fn stamp_of(&self, changes: u64, fields: &[Field]) -> Option<u64> {
        let shared = |a: &Bytes, b: &Bytes| a.as_ptr() == b.as_ptr() && a.len() == b.len();
        self.entries
            .as_deref()?
            .iter()
            .find(|e| {
                e.valid(changes)
                    && e.fields.len() == fields.len()
                    && e.fields.iter().zip(fields).all(|((n, v), f)| {
                        !f.sensitive && shared(n, &f.name) && shared(v, &f.value)
                    })
            })
            .map(|e| e.stamp)
    }

    /// Remembers an indexed-only block (the caller checked [`fits`]),
    /// reusing the storage of the entry it replaces.
    pub(crate) fn store(
        &mut self,
        changes: u64,
        wire: &[u8],
        fields: impl IntoIterator<Item = (Bytes, Bytes)>,
        name: Option<BlockName>,
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
        e.name = None;
        if name.is_some() {
            unname(&mut entries[..], name);
        }
        let e = &mut entries[slot];
        e.name = name;
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
                e.name = None;
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
    fn same_bytes_is_slice_equality() {
        let s: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37)).collect();
        for n in 0..=s.len() {
            let a = &s[..n];
            let copy = a.to_vec();
            assert!(same_bytes(a, &copy));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!same_bytes(a, &b), "{n} {i}");
            }
            if n > 0 {
                assert!(!same_bytes(a, &s[..n - 1]));
            }
        }
    }

    #[test]
    fn named_blocks() {
        let mut m = Memo::default();
        let a = [Field::new(&b":status"[..], &b"200"[..])];
        let b = [Field::new(&b"grpc-status"[..], &b"0"[..])];
        let pair = |f: &Field| (f.name.clone(), f.value.clone());
        let (na, nb) = (Some(BlockName::Owned(1)), Some(BlockName::Owned(2)));
        m.store(1, &[0x88], a.iter().map(pair), na);
        m.store(1, &[0xc0], b.iter().map(pair), None);
        assert_eq!(m.by_name_or_fields(1, na, &a), Some(&[0x88][..]));
        // Found by its fields, then by the name it took.
        assert_eq!(m.by_name_or_fields(1, nb, &b), Some(&[0xc0][..]));
        assert_eq!(m.entries.as_ref().unwrap()[1].name, nb);
        assert_eq!(m.by_name_or_fields(1, None, &b), Some(&[0xc0][..]));
        // A name moves to the entry stored under it.
        m.store(1, &[0xc1], b.iter().map(pair), na);
        assert_eq!(
            m.entries
                .iter()
                .flat_map(|e| e.iter())
                .filter(|e| e.name == na)
                .count(),
            1
        );
        // Another table state: nothing is found, and names are dropped.
        assert_eq!(m.by_name_or_fields(2, na, &b), None);
        m.forget_stale(2);
        assert!(
            m.entries
                .iter()
                .flat_map(|e| e.iter())
                .all(|e| e.name.is_none() && !e.used)
        );
    }

    #[test]
    fn stale_entries_let_go_of_the_tables_bytes() {
        let mut m = Memo::default();
        let value = Bytes::from(vec![b'v'; 40]);
        m.store(
            1,
            &[0xbe],
            [(Bytes::from_static(b"x"), value.clone())],
            None,
        );
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
            m.store(round, &wire, fields, None);
            assert!(
                m.held_bytes() <= HELD_MAX,
                "{} > {HELD_MAX}",
                m.held_bytes()
            );
        }
    }
}
