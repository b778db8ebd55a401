//! The raise/clear state machine every protection alarm shares: a raise
//! condition that must hold for a duration, a separate (hysteresis) clear
//! condition that must hold for its own duration, and "neither" in between.

use serde::{Deserialize, Serialize};

/// What one evaluation says about an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The raise condition holds.
    Violating,
    /// The clear condition holds.
    Clear,
    /// Neither (inside the hysteresis band), or the alarm cannot be judged
    /// now (motor stopped, no reference yet): keep the alarm as it is.
    Hold,
}

/// A change of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Raise: the raise condition has held since `since`.
    Raise {
        /// Start of the violation.
        since: i64,
    },
    /// Clear: the clear condition has held since `since`.
    Clear {
        /// Start of the clear condition.
        since: i64,
    },
}

/// Serde helper: skip false flags.
fn is_false(b: &bool) -> bool {
    !*b
}

/// State of one alarm, kept in host state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latch {
    /// Whether the alarm is raised.
    #[serde(default, skip_serializing_if = "is_false")]
    pub active: bool,
    /// Start of the current violation while not raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<i64>,
    /// Start of the current clear condition while raised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearing: Option<i64>,
}

impl Latch {
    /// Whether the alarm is raised or about to be (its samples must not
    /// feed the baselines and references that define "normal").
    pub fn busy(&self) -> bool {
        self.active || self.pending.is_some()
    }

    /// Applies a verdict at `t`: raise once the violation has lasted
    /// `raise_after` ms, clear once the clear condition has lasted
    /// `clear_after` ms. `Hold` (or the other side) restarts the timer.
    pub fn update(&mut self, t: i64, verdict: Verdict, raise_after: i64, clear_after: i64) -> Option<Change> {
        if self.active {
            if verdict != Verdict::Clear {
                self.clearing = None;
                return None;
            }
            let since = *self.clearing.get_or_insert(t);
            if t.saturating_sub(since) < clear_after {
                return None;
            }
            *self = Self::default();
            return Some(Change::Clear { since });
        }
        if verdict != Verdict::Violating {
            self.pending = None;
            return None;
        }
        let since = *self.pending.get_or_insert(t);
        if t.saturating_sub(since) < raise_after {
            return None;
        }
        *self = Self { active: true, pending: None, clearing: None };
        Some(Change::Raise { since })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Verdict::{Clear, Hold, Violating};

    #[test]
    fn raises_after_the_duration_and_clears_with_hysteresis() {
        let mut latch = Latch::default();
        assert_eq!(latch.update(0, Violating, 10, 5), None);
        assert!(latch.busy());
        assert_eq!(latch.update(5, Hold, 10, 5), None, "inside the band resets the pending violation");
        assert_eq!(latch.pending, None);
        assert_eq!(latch.update(6, Violating, 10, 5), None);
        assert_eq!(latch.update(16, Violating, 10, 5), Some(Change::Raise { since: 6 }));
        assert_eq!(latch.update(17, Violating, 10, 5), None, "no second raise");
        assert_eq!(latch.update(18, Hold, 10, 5), None, "inside the band keeps it raised");
        assert_eq!(latch.update(19, Clear, 10, 5), None);
        assert_eq!(latch.update(21, Violating, 10, 5), None, "violation restarts the clear timer");
        assert_eq!(latch.update(22, Clear, 10, 5), None);
        assert_eq!(latch.update(27, Clear, 10, 5), Some(Change::Clear { since: 22 }));
        assert_eq!(latch, Latch::default());
    }

    #[test]
    fn zero_durations_act_at_once_and_state_is_compact() {
        let mut latch = Latch::default();
        assert_eq!(latch.update(3, Violating, 0, 0), Some(Change::Raise { since: 3 }));
        assert_eq!(serde_json::to_string(&latch).expect("encode"), r#"{"active":true}"#);
        assert_eq!(latch.update(4, Clear, 0, 0), Some(Change::Clear { since: 4 }));
        assert_eq!(serde_json::to_string(&latch).expect("encode"), "{}");
    }
}
