//! The closed streams a connection remembers (RFC 9113 §5.1 "closed"), to
//! tell late frames on them from protocol errors: at most a configured
//! number, the longest closed forgotten first.

use std::collections::VecDeque;
use std::time::Instant;

/// How a remembered closed stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClosedStream {
    pub(crate) reset_by_us: bool,
    pub(crate) at: Instant,
}

/// Closed streams by id, with the order they closed in.
///
/// Kept sorted by id in a deque rather than in a tree: stream ids are
/// opened in increasing order and streams mostly close in about that
/// order, so a new entry lands at the back and the one forgotten is near
/// the front, each found by binary search and moved into place with few
/// element moves.
#[derive(Debug, Default)]
pub(crate) struct ClosedStreams {
    /// Entries sorted by stream id.
    by_id: VecDeque<(u32, ClosedStream)>,
    /// Ids in the order they were first remembered, oldest first.
    order: VecDeque<u32>,
}

impl ClosedStreams {
    /// Remembers that `id` closed, keeping at most `max` entries: the
    /// entry remembered longest is forgotten first. Remembering an id
    /// again updates its record but not its place in that order.
    pub(crate) fn insert(&mut self, id: u32, rec: ClosedStream, max: usize) {
        // The common case first: a stream newer than every one remembered.
        let newest = self.by_id.back().is_none_or(|e| e.0 < id);
        if !newest && let Ok(i) = self.by_id.binary_search_by_key(&id, |e| e.0) {
            self.by_id[i].1 = rec;
            return;
        }
        if max == 0 {
            return;
        }
        while self.order.len() >= max {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.by_id.front().is_some_and(|e| e.0 == old) {
                self.by_id.pop_front();
            } else if let Ok(i) = self.by_id.binary_search_by_key(&old, |e| e.0) {
                self.by_id.remove(i);
            }
        }
        if newest {
            self.by_id.push_back((id, rec));
        } else {
            let i = self.by_id.partition_point(|e| e.0 < id);
            self.by_id.insert(i, (id, rec));
        }
        self.order.push_back(id);
    }

    /// The record of a remembered stream.
    pub(crate) fn get(&self, id: u32) -> Option<&ClosedStream> {
        let i = self.by_id.binary_search_by_key(&id, |e| e.0).ok()?;
        self.by_id.get(i).map(|e| &e.1)
    }

    /// Whether the stream is remembered.
    pub(crate) fn contains(&self, id: u32) -> bool {
        self.get(id).is_some()
    }

    /// Gives back spare capacity.
    pub(crate) fn shrink(&mut self) {
        self.by_id.shrink_to_fit();
        self.order.shrink_to_fit();
    }

    /// Bytes held (for memory accounting).
    pub(crate) fn held_bytes(&self) -> usize {
        self.by_id.capacity() * core::mem::size_of::<(u32, ClosedStream)>()
            + self.order.capacity() * core::mem::size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The model: a map and a queue, as the connection kept them before.
    #[test]
    fn behaves_like_a_map_with_a_fifo_of_ids() {
        let at = Instant::now();
        for max in [0, 1, 2, 5, 16] {
            let mut closed = ClosedStreams::default();
            let mut map = BTreeMap::new();
            let mut fifo = VecDeque::new();
            let mut x: u32 = 0x2545_f491;
            for step in 0..2000u32 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                // Mostly increasing ids, some out of order, some repeated.
                let id = match x % 4 {
                    0 => step.saturating_sub(x >> 28),
                    1 => step.saturating_sub(1),
                    _ => step,
                } * 2
                    + 1;
                let rec = ClosedStream {
                    reset_by_us: x & 0x100 != 0,
                    at,
                };
                closed.insert(id, rec, max);
                if map.insert(id, rec).is_none() {
                    fifo.push_back(id);
                }
                while fifo.len() > max {
                    if let Some(old) = fifo.pop_front() {
                        map.remove(&old);
                    }
                }
                assert_eq!(closed.by_id.len(), map.len(), "max {max} step {step}");
                assert!(
                    closed
                        .by_id
                        .iter()
                        .map(|e| (e.0, e.1))
                        .eq(map.iter().map(|(k, v)| (*k, *v)))
                );
                assert_eq!(closed.order, fifo);
                for probe in [id, id + 2, id.saturating_sub(2), 1] {
                    assert_eq!(closed.get(probe), map.get(&probe));
                    assert_eq!(closed.contains(probe), map.contains_key(&probe));
                }
            }
        }
    }
}
