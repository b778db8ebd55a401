//! Rollouts: a binding moving to a new plugin version gradually instead of
//! at once. A **canary** runs the candidate for a stable share of the
//! binding's devices ([`canary_bucket`]) and applies its output; **shadow**
//! runs it beside the version in use on the same input, compares the
//! outputs and applies none of the candidate's. Either ends by itself
//! ([`Rollout::verdict`]): rolled back when the candidate's fault rate or
//! its disagreement with the version in use passes the policy's maximum,
//! promoted when its window passes without that.

use serde::{Deserialize, Serialize};

use crate::{Actor, BindingId, DeviceId, PluginVersionId, TimestampMs};

/// How the candidate runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutMode {
    /// On a share of the devices, its output applied.
    Canary,
    /// On every device beside the version in use, its output compared and
    /// never applied.
    Shadow,
}

impl RolloutMode {
    /// The stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutMode::Canary => "canary",
            RolloutMode::Shadow => "shadow",
        }
    }
}

/// A rollout in progress on a binding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// The version being rolled out.
    pub candidate_plugin_id: PluginVersionId,
    /// Canary or shadow.
    pub mode: RolloutMode,
    /// Canary: the share of devices (1–99 %) that run the candidate.
    pub percent: u8,
    /// How long the candidate is watched before it is promoted, ms.
    pub window_ms: i64,
    /// Rolled back when faults / calls of the candidate exceed this.
    pub max_fault_rate: f64,
    /// Shadow: rolled back when disagreements / comparisons exceed this.
    pub max_disagreement_rate: f64,
    /// Calls (or comparisons) needed before a rate is judged.
    pub min_calls: u32,
    /// When it started, ms.
    pub started_time: TimestampMs,
}

/// What the candidate did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutTally {
    /// Calls of the candidate.
    pub calls: u64,
    /// Of them, faults (each batch then ran on the version in use).
    pub faults: u64,
    /// Shadow: calls whose output was compared with the version in use's.
    pub comparisons: u64,
    /// Of them, the ones whose outputs differed.
    pub disagreements: u64,
}

/// A step of a rollout, as its event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RolloutStep {
    /// Started.
    Started,
    /// The shadow candidate's output differed from the version in use's.
    Disagreement,
    /// Ended by moving the binding to the candidate.
    Promoted,
    /// Ended by itself (a rate over its maximum), the binding unchanged.
    RolledBack,
    /// Ended by a person, the binding unchanged.
    Aborted,
}

impl RolloutStep {
    /// The stable snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RolloutStep::Started => "started",
            RolloutStep::Disagreement => "disagreement",
            RolloutStep::Promoted => "promoted",
            RolloutStep::RolledBack => "rolled_back",
            RolloutStep::Aborted => "aborted",
        }
    }
}

/// The event of a rollout's step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutEvent {
    /// The binding.
    pub binding_id: BindingId,
    /// The step.
    pub step: RolloutStep,
    /// Who took it: a person, or the host (`rollout`).
    pub actor: Actor,
    /// Canary or shadow.
    pub mode: RolloutMode,
    /// The version in use.
    pub plugin_id: PluginVersionId,
    /// The candidate.
    pub candidate_plugin_id: PluginVersionId,
    /// What the candidate did until this step.
    pub tally: RolloutTally,
    /// Why (a rollback's rate, an abort's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A disagreement's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    /// A disagreement's outputs: `{"in_use": …, "candidate": …}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<serde_json::Value>,
}

/// How a rollout ends, decided by [`Rollout::verdict`].
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Move the binding to the candidate.
    Promote,
    /// End it with the binding unchanged, for this reason.
    RollBack(String),
}

/// Largest accepted window: a week.
pub const MAX_ROLLOUT_WINDOW_MS: i64 = 7 * 24 * 3_600_000;

impl Rollout {
    /// Whether the policy is one the host can run: a canary share of 1–99 %,
    /// a window of 1 s to a week, rates in 0..=1, at least one call.
    pub fn check(&self) -> Result<(), String> {
        if self.mode == RolloutMode::Canary && !(1..=99).contains(&self.percent) {
            return Err(format!("percent must be 1 to 99 for a canary, not {}", self.percent));
        }
        if !(1_000..=MAX_ROLLOUT_WINDOW_MS).contains(&self.window_ms) {
            return Err(format!("window_ms must be 1000 to {MAX_ROLLOUT_WINDOW_MS}, not {}", self.window_ms));
        }
        for (name, rate) in
            [("max_fault_rate", self.max_fault_rate), ("max_disagreement_rate", self.max_disagreement_rate)]
        {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be within 0 and 1, not {rate}"));
            }
        }
        if self.min_calls == 0 {
            return Err("min_calls must be at least 1".into());
        }
        Ok(())
    }

    /// Whether `device`'s input to `binding` runs on the candidate (always
    /// for shadow, which only compares; for a canary, the devices whose
    /// bucket is under the percentage).
    pub fn runs_candidate(&self, binding: &BindingId, device: &DeviceId) -> bool {
        match self.mode {
            RolloutMode::Canary => canary_bucket(binding, device) < self.percent,
            RolloutMode::Shadow => false,
        }
    }

    /// How the rollout ends now, if it does: rolled back once a rate is
    /// over its maximum (judged from `min_calls` on), else promoted once
    /// the window has passed.
    pub fn verdict(&self, tally: &RolloutTally, now: TimestampMs) -> Option<Verdict> {
        let min = u64::from(self.min_calls);
        if tally.calls >= min && rate(tally.faults, tally.calls) > self.max_fault_rate {
            return Some(Verdict::RollBack(format!(
                "the candidate faulted on {} of {} calls, over the maximum rate {}",
                tally.faults, tally.calls, self.max_fault_rate
            )));
        }
        if tally.comparisons >= min && rate(tally.disagreements, tally.comparisons) > self.max_disagreement_rate {
            return Some(Verdict::RollBack(format!(
                "the candidate disagreed with the version in use on {} of {} calls, over the maximum rate {}",
                tally.disagreements, tally.comparisons, self.max_disagreement_rate
            )));
        }
        (now >= self.started_time.saturating_add(self.window_ms)).then_some(Verdict::Promote)
    }
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// A device's canary bucket for a binding, 0–99: FNV-1a of the two ids, so
/// a device stays on one side for the whole rollout and the share is the
/// same across restarts and hosts.
pub fn canary_bucket(binding: &BindingId, device: &DeviceId) -> u8 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in binding.as_str().bytes().chain([0]).chain(device.as_str().bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % 100) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canary(percent: u8) -> Rollout {
        Rollout {
            candidate_plugin_id: "v2".into(),
            mode: RolloutMode::Canary,
            percent,
            window_ms: 60_000,
            max_fault_rate: 0.2,
            max_disagreement_rate: 0.1,
            min_calls: 5,
            started_time: 1_000,
        }
    }

    #[test]
    fn a_canary_takes_about_its_share_of_devices_and_keeps_them() {
        let rollout = canary(25);
        let binding = BindingId::from("b-1");
        let devices: Vec<DeviceId> = (0..4000).map(|i| DeviceId::from(format!("device-{i}"))).collect();
        let on = devices.iter().filter(|d| rollout.runs_candidate(&binding, d)).count();
        assert!((900..=1100).contains(&on), "{on} of 4000 devices on a 25 % canary");
        assert!(devices.iter().all(|d| rollout.runs_candidate(&binding, d) == rollout.runs_candidate(&binding, d)));
        let wider = canary(50);
        assert!(devices.iter().all(|d| !rollout.runs_candidate(&binding, d) || wider.runs_candidate(&binding, d)));
    }

    #[test]
    fn rates_are_judged_from_min_calls_and_the_window_promotes() {
        let rollout = canary(25);
        let faulty = RolloutTally { calls: 4, faults: 4, ..Default::default() };
        assert_eq!(rollout.verdict(&faulty, 2_000), None, "under min_calls");
        let faulty = RolloutTally { calls: 5, faults: 2, ..Default::default() };
        assert!(matches!(rollout.verdict(&faulty, 2_000), Some(Verdict::RollBack(r)) if r.contains("2 of 5")));
        let fine = RolloutTally { calls: 50, faults: 10, ..Default::default() };
        assert_eq!(rollout.verdict(&fine, 60_999), None, "at the maximum rate, inside the window");
        assert_eq!(rollout.verdict(&fine, 61_000), Some(Verdict::Promote));
        let split = RolloutTally { comparisons: 10, disagreements: 2, ..Default::default() };
        assert!(matches!(rollout.verdict(&split, 2_000), Some(Verdict::RollBack(r)) if r.contains("disagreed")));
    }

    #[test]
    fn policies_outside_the_bounds_are_refused() {
        assert!(canary(25).check().is_ok());
        assert!(canary(0).check().unwrap_err().contains("percent"));
        assert!(canary(100).check().is_err());
        assert!(Rollout { mode: RolloutMode::Shadow, ..canary(0) }.check().is_ok());
        assert!(Rollout { window_ms: 10, ..canary(5) }.check().unwrap_err().contains("window_ms"));
        assert!(Rollout { max_fault_rate: 1.5, ..canary(5) }.check().unwrap_err().contains("max_fault_rate"));
        assert!(Rollout { min_calls: 0, ..canary(5) }.check().is_err());
    }
}
