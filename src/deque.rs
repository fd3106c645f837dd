//! A FIFO queue whose first few items live inline: the per-call and
//! per-stream queues usually hold one or two chunks at a time, and then
//! need no heap allocation at all.

use smallvec::SmallVec;

/// A FIFO queue holding up to `N` items inline before it spills to the
/// heap. Taken items leave an empty slot behind until the queue empties or
/// is compacted (`Option<T>` is no larger than `T` for `Bytes`, and an
/// empty slot costs nothing to drop).
#[derive(Debug)]
pub(crate) struct SmallDeque<T, const N: usize> {
    items: SmallVec<[Option<T>; N]>,
    /// Items before this index were taken.
    head: usize,
}

impl<T, const N: usize> Default for SmallDeque<T, N> {
    fn default() -> Self {
        SmallDeque {
            items: SmallVec::new(),
            head: 0,
        }
    }
}

impl<T, const N: usize> SmallDeque<T, N> {
    /// Appends an item. When storage is full and at least half of it holds
    /// taken items, those are dropped first; otherwise the storage grows.
    /// Either way each item is moved a bounded number of times on average.
    #[inline(always)]
    pub(crate) fn push_back(&mut self, item: T) {
        if self.items.len() == self.items.capacity() {
            self.make_room();
        }
        self.items.push(Some(item));
    }

    /// Storage is full: drops the taken items if they are at least half
    /// of it (otherwise the push grows it).
    #[cold]
    fn make_room(&mut self) {
        if self.head > 0 && self.head * 2 >= self.items.len() {
            self.items.drain(..self.head);
            self.head = 0;
        }
    }

    /// The oldest item.
    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        self.items.get_mut(self.head)?.as_mut()
    }

    /// Removes and returns the oldest item.
    #[inline]
    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let item = self.items.get_mut(self.head)?.take();
        self.head += 1;
        if self.head == self.items.len() {
            self.clear();
        }
        item
    }

    /// Removes and returns the newest item.
    pub(crate) fn pop_back(&mut self) -> Option<T> {
        if self.items.len() == self.head {
            return None;
        }
        let item = self.items.pop().flatten();
        if self.head == self.items.len() {
            self.clear();
        }
        item
    }

    /// The newest `n` items (fewer if there are fewer), newest first.
    #[inline]
    pub(crate) fn newest(&self, n: usize) -> impl Iterator<Item = &T> {
        self.items[self.head..].iter().rev().take(n).flatten()
    }

    /// The items, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items[self.head..].iter().flatten()
    }

    /// Removes every item (heap storage, if any, is kept).
    pub(crate) fn clear(&mut self) {
        self.items.clear();
        self.head = 0;
    }

    /// Number of items.
    pub(crate) fn len(&self) -> usize {
        self.items.len() - self.head
    }
}

#[cfg(test)]
mod tests {
    use super::SmallDeque;

    #[test]
    fn fifo_order_across_spill_and_compaction() {
        let mut q = SmallDeque::<u32, 2>::default();
        let mut next_in = 0;
        let mut next_out = 0;
        // Irregular pushes and pops; the model is a plain counter.
        for round in 0..500u32 {
            for _ in 0..(round % 5) {
                q.push_back(next_in);
                next_in += 1;
            }
            for _ in 0..(round % 4) {
                match q.pop_front() {
                    Some(v) => {
                        assert_eq!(v, next_out);
                        next_out += 1;
                    }
                    None => assert_eq!(next_in, next_out),
                }
            }
            assert_eq!(q.len() as u32, next_in - next_out);
        }
        while let Some(v) = q.pop_front() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert!(q.front_mut().is_none());
    }

    #[test]
    fn stays_inline_when_drained_between_pushes() {
        let mut q = SmallDeque::<u32, 2>::default();
        for i in 0..100 {
            q.push_back(i);
            q.push_back(i + 1);
            assert_eq!(q.pop_front(), Some(i));
            *q.front_mut().unwrap() += 1;
            assert_eq!(q.pop_front(), Some(i + 2));
            assert!(!q.items.spilled());
        }
    }
}
