//! Per-interval budgets that turn floods into ENHANCE_YOUR_CALM.

use std::time::Instant;

use super::config::Rate;

/// Counts events in fixed windows of `rate.interval`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    rate: Rate,
    start: Option<Instant>,
    used: u32,
}

impl Budget {
    pub(crate) fn new(rate: Rate) -> Self {
        Budget {
            rate,
            start: None,
            used: 0,
        }
    }

    /// Spends one unit; `false` when the budget of this interval is gone.
    pub(crate) fn spend(&mut self, now: Instant) -> bool {
        match self.start {
            Some(start) if now.saturating_duration_since(start) < self.rate.interval => {}
            _ => {
                self.start = Some(now);
                self.used = 0;
            }
        }
        self.used = self.used.saturating_add(1);
        self.used <= self.rate.count
    }
}

// Refill and exhaustion are tested through the connection in
// tests/h2_limits.rs (settings, ping, reset and empty-frame rates).
