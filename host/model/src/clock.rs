//! The one clock of the host. Services, storage timestamps and plugins'
//! `host.now` all read it, so a test or a replay can drive time by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::TimestampMs;

/// The wall clock, or a manual clock for replays and tests. Cheap to clone;
/// clones share the time.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that shows `start` until [`Clock::set`] moves it.
    pub fn manual(start: TimestampMs) -> Self {
        Self(Some(Arc::new(start.into())))
    }

    /// Moves a manual clock (no effect on the wall clock).
    pub fn set(&self, now: TimestampMs) {
        if let Some(time) = &self.0 {
            time.store(now, Ordering::SeqCst);
        }
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }

    /// The current time, ms since the Unix epoch.
    pub fn now(&self) -> TimestampMs {
        match &self.0 {
            Some(time) => time.load(Ordering::SeqCst),
            None => wall_clock_ms(),
        }
    }
}

/// The wall-clock time in ms since the Unix epoch.
pub(crate) fn wall_clock_ms() -> TimestampMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_set_and_clones_share_it() {
        let clock = Clock::manual(1_000);
        let other = clock.clone();
        assert_eq!(clock.now(), 1_000);
        other.set(2_000);
        assert_eq!(clock.now(), 2_000);
        assert!(Clock::system().now() > 1_600_000_000_000);
    }
}
