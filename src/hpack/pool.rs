//! Field vectors kept for reuse between header blocks, some still holding
//! the fields of a replayed block (see `memo.rs`).
//!
//! A vector handed back with exactly the fields of a remembered block (the
//! very same names and values, shared with the table) keeps them, marked
//! with the block's stamp: the next replay of that block takes it as it
//! is, instead of cloning every name and value into an emptied vector and
//! dropping them again once the block is handled. Marked vectors only ever
//! hold bytes of the current table (or the static one): the decoder empties
//! them whenever its table changes ([`FieldPool::forget_marks`]).

use super::Field;

/// Most vectors kept: enough for the blocks decoded from one read before
/// the application consumes them (a response's headers and trailers, a
/// few requests).
const VECS: usize = 4;
/// Largest vector kept (in fields; a gRPC header block has about ten).
const CAPACITY: usize = 32;

/// A few field vectors for the next header blocks.
#[derive(Debug, Default)]
pub(crate) struct FieldPool {
    /// Each vector is empty, or holds the fields of the remembered block
    /// whose stamp it is marked with.
    vecs: Vec<(Option<u64>, Vec<Field>)>,
}

impl FieldPool {
    /// A vector for a block: with `replay`, the one holding that
    /// remembered block's fields if there is one; otherwise an empty one.
    #[inline]
    pub(crate) fn take(&mut self, replay: Option<u64>) -> Vec<Field> {
        if replay.is_some()
            && let Some(i) = self.vecs.iter().position(|v| v.0 == replay)
        {
            return self.vecs.swap_remove(i).1;
        }
        let taken = match self.vecs.iter().position(|v| v.0.is_none()) {
            Some(i) => Some(self.vecs.swap_remove(i)),
            None => self.vecs.pop(),
        };
        let Some((_, mut v)) = taken else {
            return Vec::new();
        };
        v.clear();
        v
    }

    /// Keeps a vector if there is room and it is of modest capacity: as it
    /// is if `replay` says it holds that remembered block's fields,
    /// emptied otherwise.
    #[inline]
    pub(crate) fn give(&mut self, mut fields: Vec<Field>, replay: Option<u64>) {
        if self.vecs.len() < VECS && fields.capacity() > 0 && fields.capacity() <= CAPACITY {
            if replay.is_none() {
                fields.clear();
            }
            self.vecs.push((replay, fields));
        }
    }

    /// Empties the marked vectors: the table changed, so what they hold
    /// may have been evicted.
    pub(crate) fn forget_marks(&mut self) {
        for (mark, v) in &mut self.vecs {
            if mark.take().is_some() {
                v.clear();
            }
        }
    }

    /// Memory the vectors hold (their names and values are the table's).
    pub(crate) fn held_bytes(&self) -> usize {
        self.vecs.capacity() * core::mem::size_of::<(Option<u64>, Vec<Field>)>()
            + self
                .vecs
                .iter()
                .map(|v| v.1.capacity() * core::mem::size_of::<Field>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::super::Decoder;
    use super::*;

    #[test]
    fn replays_take_the_vector_holding_their_fields() {
        let mut d = Decoder::new(4096, 1 << 16);
        let mut pool = FieldPool::default();
        // custom-key: custom-header, added to the table (RFC 7541 C.2.1).
        let literal = b"\x40\x0acustom-key\x0dcustom-header";
        let (f, r) = d.decode_pooled(literal, &mut pool);
        r.unwrap();
        assert_eq!(d.replay_stamp_of(&f), None);
        pool.give(f, None);
        // :method GET and the entry just added: indices only, remembered.
        let block = [0x82, 0xbe];
        let (f, r) = d.decode_pooled(&block, &mut pool);
        r.unwrap();
        let stamp = d.replay_stamp_of(&f);
        assert!(stamp.is_some());
        let ptr = f.as_ptr();
        pool.give(f, stamp);
        // The replay takes the same vector, fields in place.
        let (f, r) = d.decode_pooled(&block, &mut pool);
        r.unwrap();
        assert_eq!(d.replayed(), stamp);
        assert_eq!(f.as_ptr(), ptr);
        assert_eq!(f[1].value, &b"custom-header"[..]);
        // Equal fields that are not the table's are not marked.
        let copies: Vec<Field> = f
            .iter()
            .map(|x| Field::new(x.name.to_vec(), x.value.to_vec()))
            .collect();
        assert_eq!(d.replay_stamp_of(&copies), None);
        pool.give(f, stamp);
        // The table changes: marked vectors are emptied.
        let (f, r) = d.decode_pooled(literal, &mut pool);
        r.unwrap();
        assert!(pool.vecs.iter().all(|v| v.0.is_none() && v.1.is_empty()));
        assert_eq!(d.replay_stamp_of(&f), None);
    }

    #[test]
    fn bounded() {
        let mut pool = FieldPool::default();
        for _ in 0..10 {
            pool.give(Vec::with_capacity(4), None);
        }
        pool.give(Vec::with_capacity(CAPACITY + 1), None);
        assert_eq!(pool.vecs.len(), VECS);
        assert!(pool.vecs.iter().all(|v| v.1.capacity() <= CAPACITY));
        let held = pool.held_bytes();
        assert!(held >= VECS * 4 * core::mem::size_of::<Field>());
        let v = pool.take(Some(7));
        assert!(v.is_empty() && v.capacity() == 4);
    }
}
