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
///
/// The oldest run lives inline: an event queue usually holds the payloads
/// of one read at a time, and then no deque is touched.
#[derive(Debug, Default)]
pub(crate) struct PinQueue {
    /// The oldest run of queued payloads from one chunk: its origin and
    /// how many of its payloads are still queued (0: no run queued).
    front: (Origin, u32),
    /// The later runs, oldest first.
    rest: VecDeque<(Origin, u32)>,
    /// The sum of the runs' chunk lengths.
    pinned: usize,
}

impl PinQueue {
    /// A payload from `origin` was queued (after every earlier one).
    #[inline]
    pub(crate) fn push(&mut self, origin: Origin) {
        let back = match self.rest.back_mut() {
            Some(back) => back,
            None if self.front.1 == 0 => {
                self.front = (origin, 1);
                self.pinned += origin.len();
                return;
            }
            None => &mut self.front,
        };
        if origin.is_shared() && back.0.seq == origin.seq {
            back.1 = back.1.saturating_add(1);
        } else {
            self.rest.push_back((origin, 1));
            self.pinned += origin.len();
        }
    }

    /// The oldest queued payload was handed out; returns its origin.
    #[inline]
    pub(crate) fn pop(&mut self) -> Origin {
        let (origin, n) = &mut self.front;
        let origin = *origin;
        if *n == 0 {
            return Origin::default();
        }
        *n -= 1;
        if *n == 0 {
            self.pinned -= origin.len();
            if let Some(next) = self.rest.pop_front() {
                self.front = next;
            }
        }
        origin
    }

    /// Whether payloads of `origin` (a shared chunk) are still queued.
    #[inline]
    pub(crate) fn more_from(&self, origin: Origin) -> bool {
        origin.is_shared() && self.front.1 > 0 && self.front.0.seq == origin.seq
    }

    /// Bytes kept alive by the queued payloads, and this queue's storage.
    pub(crate) fn held_bytes(&self) -> usize {
        self.pinned + self.rest.capacity() * core::mem::size_of::<(Origin, u32)>()
    }

    /// Gives back the storage of an empty queue.
    pub(crate) fn shrink(&mut self) {
        self.rest.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(seq: u32, len: usize) -> Origin {
        if seq == 0 {
            Origin::own(len)
        } else {
            Origin::shared(seq, len)
        }
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
