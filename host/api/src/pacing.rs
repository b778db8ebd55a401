//! Pacing of refused device requests. A device over its tenant profile's
//! ingest limits is answered 429 `rate-limited` with `Retry-After`, and a
//! well-behaved client waits that long. One that does not — a flooder on a
//! closed loop of connections — would otherwise get each refusal back in
//! microseconds and send again at once: refusals are cheap, but tens of
//! thousands of them a second still take the cores the other tenants'
//! frames need. So a refusal is held until the refusing window would admit
//! again, at most [`RefusalPacing::max_hold`], before it is answered: each
//! of the flooder's connections is paced at the limit, as nginx's
//! `limit_req` delays excess requests instead of only rejecting them.
//!
//! A held refusal costs a timer and an open connection. At most
//! [`RefusalPacing::max_held`] are held at once; past that a refusal is
//! answered at once, so pacing never piles up connections without bound.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Holds refusals of rate-limited device requests (see the module docs).
#[derive(Debug, Clone)]
pub struct RefusalPacing {
    held: Arc<Semaphore>,
    max_held: usize,
    max_hold: Duration,
}

impl Default for RefusalPacing {
    /// At most 1 s per refusal, 1 024 refusals held at once.
    fn default() -> Self {
        Self::new(Duration::from_secs(1), 1024)
    }
}

impl RefusalPacing {
    /// Holds each refusal at most `max_hold`, and at most `max_held` of them
    /// at once. A `max_hold` of zero turns pacing off.
    pub fn new(max_hold: Duration, max_held: usize) -> Self {
        Self { held: Arc::new(Semaphore::new(max_held)), max_held, max_hold }
    }

    /// The longest a refusal is held.
    pub fn max_hold(&self) -> Duration {
        self.max_hold
    }

    /// How many refusals may be held at once.
    pub fn max_held(&self) -> usize {
        self.max_held
    }

    /// Waits before a refusal whose limiter admits again after `wait`:
    /// `wait`, at most [`Self::max_hold`]; not at all when
    /// [`Self::max_held`] refusals are already held.
    pub async fn hold(&self, wait: Duration) {
        let wait = wait.min(self.max_hold);
        if wait.is_zero() {
            return;
        }
        let Ok(_held) = self.held.try_acquire() else { return };
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[tokio::test]
    async fn a_refusal_is_held_until_its_window_admits_but_never_past_the_cap() {
        let pacing = RefusalPacing::new(Duration::from_millis(300), 4);
        let start = Instant::now();
        pacing.hold(Duration::from_millis(60)).await;
        let held = start.elapsed();
        assert!(held >= Duration::from_millis(60) && held < Duration::from_millis(300), "{held:?}");
        let start = Instant::now();
        pacing.hold(Duration::from_secs(30)).await;
        let held = start.elapsed();
        assert!(held >= Duration::from_millis(300) && held < Duration::from_secs(5), "{held:?}");
    }

    #[tokio::test]
    async fn past_the_held_maximum_a_refusal_is_answered_at_once() {
        let pacing = RefusalPacing::new(Duration::from_secs(10), 2);
        let holding: Vec<_> = (0..2)
            .map(|_| {
                let pacing = pacing.clone();
                tokio::spawn(async move { pacing.hold(Duration::from_secs(10)).await })
            })
            .collect();
        while pacing.held.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let start = Instant::now();
        pacing.hold(Duration::from_secs(10)).await;
        assert!(start.elapsed() < Duration::from_secs(5), "a third refusal is not held: {:?}", start.elapsed());
        for task in holding {
            task.abort();
        }
    }

    #[tokio::test]
    async fn a_zero_cap_turns_pacing_off() {
        let pacing = RefusalPacing::new(Duration::ZERO, 8);
        let start = Instant::now();
        pacing.hold(Duration::from_secs(10)).await;
        assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    }
}
