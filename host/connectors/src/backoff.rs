//! Capped, jittered exponential backoff between a failed connector's
//! restarts (and an MQTT session's reconnects): 0.5 s doubling to 30 s,
//! each delay drawn from [½·d, d] so that connectors failing together do
//! not retry together. A run that lasted long enough resets it.

use std::time::Duration;

/// First delay.
const FIRST: Duration = Duration::from_millis(500);
/// Largest delay.
const CAP: Duration = Duration::from_secs(30);
/// A run at least this long counts as healthy: the next failure starts
/// from the first delay again.
pub(crate) const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    /// Starts at the first delay.
    pub fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64)
            | 1;
        Self { next: FIRST, seed }
    }

    /// The next delay, jittered, and doubles the one after (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let full = self.next;
        self.next = (self.next * 2).min(CAP);
        // xorshift64*: enough for jitter.
        self.seed ^= self.seed >> 12;
        self.seed ^= self.seed << 25;
        self.seed ^= self.seed >> 27;
        let draw = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        let fraction = 0.5 + 0.5 * (draw as f64 / (1u64 << 53) as f64);
        full.mul_f64(fraction)
    }

    /// Back to the first delay.
    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter_below_each_step() {
        let mut backoff = Backoff::new();
        let mut full = FIRST;
        for _ in 0..12 {
            let delay = backoff.next_delay();
            assert!(delay <= full && delay >= full / 2, "{delay:?} outside [{:?}, {full:?}]", full / 2);
            full = (full * 2).min(CAP);
        }
        backoff.reset();
        assert!(backoff.next_delay() <= FIRST);
    }
}
