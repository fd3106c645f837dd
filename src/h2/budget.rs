//! Per-interval budgets that turn floods into ENHANCE_YOUR_CALM.

use std::time::Instant;

use super::config::Rate;

/// Counts events in fixed windows of a [`Rate`]'s interval. The rate
/// itself stays in the connection's config (passed to each
/// [`spend`](Budget::spend)), which keeps the connection small.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Budget {
    start: Option<Instant>,
    used: u32,
}

impl Budget {
    /// Spends one unit of `rate`; `false` when the budget of this interval
    /// is gone.
    pub(crate) fn spend(&mut self, rate: Rate, now: Instant) -> bool {
        match self.start {
            Some(start) if now.saturating_duration_since(start) < rate.interval => {}
            _ => {
                self.start = Some(now);
                self.used = 0;
            }
        }
        self.used = self.used.saturating_add(1);
        self.used <= rate.count
    }
}

// Refill and exhaustion are tested through the connection in
// tests/h2_limits.rs (settings, ping, reset and empty-frame rates).
