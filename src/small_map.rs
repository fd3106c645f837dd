//! An ordered map that keeps its first few entries in a sorted vector, and
//! moves to a B-tree only when it holds more: a connection usually has a
//! handful of live streams or calls, and for those a short sorted array is
//! much cheaper to insert into, search and remove from than a tree.

use std::collections::BTreeMap;

/// An ordered map with up to `N` entries in a sorted vector. Past `N`
/// entries every entry moves to a `BTreeMap`, where they stay until it is
/// empty again, so a map hovering around `N` does not move entries back
/// and forth. Iteration is in key order either way.
///
/// The vector is allocated (for `N` entries) by the first insert and kept
/// when the map empties, so a busy connection does not allocate per stream;
/// an empty map that is dropped or replaced by a new one holds nothing (the
/// map of an idle connection costs two empty collections inline).
#[derive(Debug)]
pub(crate) struct SmallMap<K, V, const N: usize> {
    /// The entries while `big` is empty, sorted by key.
    small: Vec<(K, V)>,
    big: BTreeMap<K, V>,
}

impl<K: Ord + Copy, V, const N: usize> Default for SmallMap<K, V, N> {
    fn default() -> Self {
        SmallMap {
            small: Vec::new(),
            big: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Copy, V, const N: usize> SmallMap<K, V, N> {
    fn position(&self, key: &K) -> Result<usize, usize> {
        self.small.binary_search_by(|e| e.0.cmp(key))
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        if !self.big.is_empty() {
            return self.big.get(key);
        }
        let i = self.position(key).ok()?;
        self.small.get(i).map(|e| &e.1)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if !self.big.is_empty() {
            return self.big.get_mut(key);
        }
        let i = self.position(key).ok()?;
        self.small.get_mut(i).map(|e| &mut e.1)
    }

    pub(crate) fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// Inserts or replaces; returns the value replaced.
    #[inline]
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        if !self.big.is_empty() {
            return self.big.insert(key, value);
        }
        // The usual case: a new key above all others (ids only grow).
        if self.small.len() < N && self.small.last().is_none_or(|e| e.0 < key) {
            self.small.push((key, value));
            return None;
        }
        match self.position(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.small[i].1, value)),
            Err(i) if self.small.len() < N => {
                if self.small.capacity() == 0 {
                    self.small.reserve_exact(N);
                }
                self.small.insert(i, (key, value));
                None
            }
            Err(_) => {
                self.big.extend(self.small.drain(..));
                self.big.insert(key, value)
            }
        }
    }

    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        if !self.big.is_empty() {
            return self.big.remove(key);
        }
        let i = self.position(key).ok()?;
        Some(self.small.remove(i).1)
    }

    /// Bytes of the vector's free slots (kept for the next entries).
    pub(crate) fn spare_bytes(&self) -> usize {
        (self.small.capacity() - self.small.len()) * core::mem::size_of::<(K, V)>()
    }

    /// Removes the entry of `key`, returning what `f` reads from its value
    /// first. The value is dropped where it lies instead of being moved
    /// out: cheaper than [`remove`](Self::remove) for large values.
    #[inline]
    pub(crate) fn remove_with<R>(&mut self, key: &K, f: impl FnOnce(&V) -> R) -> Option<R> {
        if !self.big.is_empty() {
            return self.big.remove(key).map(|v| f(&v));
        }
        let i = self.position(key).ok()?;
        let tail = self.small.get_mut(i..)?;
        let r = f(&tail.first()?.1);
        // The entry goes last, keeping the others in order, then is dropped.
        if tail.len() > 1 {
            tail.rotate_left(1);
        }
        self.small.truncate(self.small.len() - 1);
        Some(r)
    }

    pub(crate) fn len(&self) -> usize {
        self.small.len() + self.big.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn clear(&mut self) {
        self.small.clear();
        self.big.clear();
    }

    /// The entries, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.small
            .iter()
            .map(|e| (&e.0, &e.1))
            .chain(self.big.iter())
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.small.iter().map(|e| &e.0).chain(self.big.keys())
    }

    /// The values, in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.small.iter().map(|e| &e.1).chain(self.big.values())
    }

    /// The values, in key order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.small
            .iter_mut()
            .map(|e| &mut e.1)
            .chain(self.big.values_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::SmallMap;
    use std::collections::BTreeMap;

    #[test]
    fn behaves_like_a_btree_map() {
        let mut map = SmallMap::<u32, u64, 4>::default();
        let mut model = BTreeMap::new();
        let mut x: u32 = 0x9e37_79b9;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Small key space, so inserts, replaces and removes all happen,
            // and the size wanders across the inline limit.
            let key = x % 12;
            match (x >> 8) % 3 {
                0 | 1 if model.len() < 9 || (x >> 12) % 2 == 0 => {
                    assert_eq!(map.insert(key, step), model.insert(key, step));
                }
                2 if x % 2 == 0 => assert_eq!(map.remove(&key), model.remove(&key)),
                _ => assert_eq!(
                    map.remove_with(&key, |v| *v + 1),
                    model.remove(&key).map(|v| v + 1)
                ),
            }
            if step % 1000 == 999 {
                map.clear();
                model.clear();
            }
            assert_eq!(map.len(), model.len());
            assert_eq!(map.is_empty(), model.is_empty());
            assert!(map.keys().eq(model.keys()));
            assert!(map.iter().eq(model.iter()));
            assert!(map.values().eq(model.values()));
            for k in 0..12 {
                assert_eq!(map.get(&k), model.get(&k));
                assert_eq!(map.contains_key(&k), model.contains_key(&k));
            }
            if let Some(v) = map.get_mut(&key) {
                *v += 1;
                *model.get_mut(&key).unwrap() += 1;
            }
            for v in map.values_mut() {
                *v ^= 1;
            }
            for v in model.values_mut() {
                *v ^= 1;
            }
        }
    }
}
