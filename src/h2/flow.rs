//! Flow-control arithmetic (RFC 9113 §5.2, §6.9), in one place.
//!
//! Windows are kept as `i64`: a SETTINGS_INITIAL_WINDOW_SIZE decrease may
//! make a send window negative (§6.9.2), and no sum of two in-range `u32`s
//! can overflow.

use super::config::WindowUpdatePolicy;
use crate::frame::MAX_WINDOW_SIZE;

/// The window overflowed 2^31-1 (§6.9.1): FLOW_CONTROL_ERROR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

/// Credit the peer gave us for sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SendWindow(i64);

impl SendWindow {
    pub(crate) fn new(initial: u32) -> Self {
        SendWindow(i64::from(initial))
    }

    /// Applies a WINDOW_UPDATE increment (§6.9.1).
    pub(crate) fn increase(&mut self, increment: u32) -> Result<(), Overflow> {
        self.adjust(i64::from(increment))
    }

    /// Applies a change of SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2): the window
    /// may go negative, but never above 2^31-1.
    pub(crate) fn adjust(&mut self, delta: i64) -> Result<(), Overflow> {
        let next = self.0 + delta;
        if next > i64::from(MAX_WINDOW_SIZE) {
            return Err(Overflow);
        }
        self.0 = next;
        Ok(())
    }

    /// Bytes that may be sent now.
    pub(crate) fn available(&self) -> u32 {
        self.0.clamp(0, i64::from(MAX_WINDOW_SIZE)) as u32
    }

    /// Records `n` bytes sent; `n` must be at most `available()`.
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.available());
        self.0 -= i64::from(n);
    }
}

/// Credit we gave the peer, and what the application holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecvWindow {
    /// What the peer may still send.
    window: i64,
    /// `window` right after our last announcement.
    advertised: i64,
    /// Received bytes the application has not released yet.
    unreleased: u64,
    /// The window we aim to keep open.
    target: u32,
}

impl RecvWindow {
    pub(crate) fn new(initial: u32, target: u32) -> Self {
        RecvWindow {
            window: i64::from(initial),
            advertised: i64::from(initial),
            unreleased: 0,
            target: target.max(initial),
        }
    }

    /// Accounts for a received flow-controlled frame of `n` bytes.
    pub(crate) fn receive(&mut self, n: u32) -> Result<(), Overflow> {
        if i64::from(n) > self.window {
            return Err(Overflow);
        }
        self.window -= i64::from(n);
        self.unreleased += u64::from(n);
        Ok(())
    }

    /// The application is done with `n` bytes; returns how many were
    /// actually outstanding (releases beyond that are ignored).
    pub(crate) fn release(&mut self, n: u64) -> u64 {
        let n = n.min(self.unreleased);
        self.unreleased -= n;
        n
    }

    /// Applies a change of our SETTINGS_INITIAL_WINDOW_SIZE once the peer
    /// acknowledged it (§6.9.2).
    /// The window then aims at `target` (at least the new initial size).
    pub(crate) fn adjust(&mut self, delta: i64, target: u32) {
        self.window += delta;
        self.advertised += delta;
        self.target = target.min(MAX_WINDOW_SIZE);
    }

    /// Bytes received and not yet released.
    pub(crate) fn unreleased(&self) -> u64 {
        self.unreleased
    }

    /// The WINDOW_UPDATE increment to send now, if the policy says so.
    /// Never lets `window + unreleased` exceed the target, so the peer can
    /// never make us hold more than `target` bytes.
    pub(crate) fn take_update(&mut self, policy: WindowUpdatePolicy) -> Option<u32> {
        let consumed = self.advertised - self.window;
        let grant = i64::from(self.target) - self.window - self.unreleased as i64;
        // A window at or below zero (after a SETTINGS decrease) always
        // wants credit; otherwise wait until the peer used its share.
        let exhausted = self.window <= 0;
        let due = match policy {
            WindowUpdatePolicy::Immediate => (exhausted || consumed > 0) && grant > 0,
            WindowUpdatePolicy::Fraction(f) => {
                let f = i64::from(f.max(1));
                let used = consumed > 0 && consumed >= self.advertised / f;
                (exhausted || used)
                    && grant > 0
                    && grant >= (i64::from(self.target) / f).min(consumed.max(1))
            }
        };
        if !due {
            return None;
        }
        let grant = grant.min(i64::from(MAX_WINDOW_SIZE)) as u32;
        self.window += i64::from(grant);
        self.advertised = self.window;
        Some(grant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_window_overflow_is_detected() {
        let mut w = SendWindow::new(MAX_WINDOW_SIZE);
        assert_eq!(w.increase(1), Err(Overflow));
        let mut w = SendWindow::new(10);
        w.adjust(-20).unwrap();
        assert_eq!(w.available(), 0);
        w.increase(15).unwrap();
        assert_eq!(w.available(), 5);
    }

    #[test]
    fn recv_window_rejects_overrun() {
        let mut w = RecvWindow::new(10, 10);
        w.receive(10).unwrap();
        assert_eq!(w.receive(1), Err(Overflow));
    }

    #[test]
    fn updates_wait_for_half_the_window_and_release() {
        let p = WindowUpdatePolicy::Fraction(2);
        let mut w = RecvWindow::new(100, 100);
        w.receive(40).unwrap();
        w.release(40);
        assert_eq!(w.take_update(p), None, "less than half consumed");
        w.receive(20).unwrap();
        assert_eq!(w.take_update(p), None, "nothing released yet");
        w.release(20);
        assert_eq!(w.take_update(p), Some(60));
        // held data is never re-granted
        w.receive(100).unwrap();
        w.release(30);
        assert_eq!(w.take_update(p), None, "30 < half the target");
        w.release(70);
        assert_eq!(w.take_update(p), Some(100));
    }

    #[test]
    fn a_window_pushed_below_zero_gets_credit() {
        let p = WindowUpdatePolicy::Immediate;
        let mut w = RecvWindow::new(65_535, 70_000);
        w.receive(32_768).unwrap();
        w.release(16_384);
        assert_eq!(w.take_update(p), Some(70_000 - 32_767 - 16_384));
        // our SETTINGS_INITIAL_WINDOW_SIZE drops to 100 (§6.9.2): the
        // window goes below zero, and nothing more will arrive by itself
        w.adjust(100 - 65_535, 70_000);
        w.release(16_384);
        assert_eq!(w.take_update(p), Some(70_000 + 11_819));
    }

    #[test]
    fn small_target_still_updates() {
        let p = WindowUpdatePolicy::Fraction(2);
        let mut w = RecvWindow::new(65_535, 1 << 20);
        w.receive(10).unwrap();
        w.release(10);
        assert_eq!(w.take_update(p), None, "a small call causes no update");
        w.receive(40_000).unwrap();
        w.release(40_000);
        assert_eq!(w.take_update(p), Some((1 << 20) - 65_535 + 40_010));
    }

    #[test]
    fn over_release_is_clamped() {
        let mut w = RecvWindow::new(10, 10);
        w.receive(5).unwrap();
        assert_eq!(w.release(50), 5);
        assert_eq!(w.unreleased(), 0);
    }
}
