//! What queued DATA payloads keep alive.
//!
//! A DATA payload handed out without a copy is a slice of a chunk the
//! caller passed to `recv`, and keeps that chunk's whole buffer alive
//! until it is dropped. The event queue counts, for the payloads it holds,
//! every chunk behind them once: payloads from one chunk are consecutive
//! in the queue (chunks are decoded in order), so a queue of (chunk,
//! payload count) groups in event order finds the chunks in O(1) per event.

use std::collections::VecDeque;

use crate::frame::Origin;

/// The chunks behind the DATA payloads of an event queue, in queue order.
#[derive(Debug, Default)]
pub(crate) struct PinQueue {
    /// One entry per run of queued payloads from the same chunk: its
    /// origin and how many payloads of the run are still queued.
    groups: VecDeque<(Origin, u32)>,
    /// The sum of the groups' chunk lengths.
    pinned: usize,
}

impl PinQueue {
    /// A payload from `origin` was queued (after every earlier one).
    pub(crate) fn push(&mut self, origin: Origin) {
        if let Some((back, n)) = self.groups.back_mut()
            && origin.is_shared()
            && back.seq == origin.seq
        {
            *n = n.saturating_add(1);
            return;
        }
        self.groups.push_back((origin, 1));
        self.pinned += origin.len;
    }

    /// The oldest queued payload was handed out; returns its origin.
    pub(crate) fn pop(&mut self) -> Origin {
        let Some((origin, n)) = self.groups.front_mut() else {
            return Origin::default();
        };
        let origin = *origin;
        *n -= 1;
        if *n == 0 {
            self.groups.pop_front();
            self.pinned -= origin.len;
        }
        origin
    }

    /// Whether payloads of `origin` (a shared chunk) are still queued.
    pub(crate) fn more_from(&self, origin: Origin) -> bool {
        origin.is_shared()
            && self
                .groups
                .front()
                .is_some_and(|(o, _)| o.seq == origin.seq)
    }

    /// Bytes kept alive by the queued payloads, and this queue's storage.
    pub(crate) fn held_bytes(&self) -> usize {
        self.pinned + self.groups.capacity() * core::mem::size_of::<(Origin, u32)>()
    }

    /// Gives back the storage of an empty queue.
    pub(crate) fn shrink(&mut self) {
        self.groups.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(seq: u64, len: usize) -> Origin {
        Origin { seq, len }
    }

    #[test]
    fn payloads_of_one_chunk_count_it_once() {
        let mut q = PinQueue::default();
        for _ in 0..16 {
            q.push(o(1, 1 << 18));
        }
        q.push(o(2, 100));
        assert_eq!(q.pinned, (1 << 18) + 100);
        for _ in 0..15 {
            assert_eq!(q.pop(), o(1, 1 << 18));
            assert_eq!(q.pinned, (1 << 18) + 100);
        }
        q.pop();
        assert_eq!(q.pinned, 100);
        q.pop();
        assert_eq!(q.pinned, 0);
    }

    #[test]
    fn copies_are_counted_each() {
        let mut q = PinQueue::default();
        q.push(o(0, 10));
        q.push(o(0, 20));
        assert_eq!(q.pinned, 30);
        assert_eq!(q.pop(), o(0, 10));
        assert_eq!(q.pinned, 20);
    }
}
