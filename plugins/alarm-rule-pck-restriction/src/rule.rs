//! The rule itself: [`evaluate_batch`] folds the samples of the watched key
//! into the per-device [`PckState`] and returns the raise and clear signals.
//!
//! At each sample time `t`, with `L` the current level (mean of the open
//! bucket; the raw sample with the default 1 s buckets):
//!
//! * idle: the pre-step level `P` is the highest bucket of the baseline
//!   window `[t − rise_window − baseline, t − rise_window)` (at least half
//!   covered); a step starts when `P ≥ min_level_pa` and `L ≥ P·(1 + rise)`;
//! * step pending: every level must stay `≥ P·(1 + confirm)`; once it has for
//!   `confirm_s`, raise (a dip or a gap longer than the rise window drops the
//!   step, and the idle check runs again at once);
//! * raised: a level `< P·(1 + clear)` for `clear_after_s` clears.
//!
//! At the confirmation the discriminators ([`crate::discriminate`]) judge the
//! step; when they are enabled and one fails, the step is dropped instead of
//! raised (and the idle check runs again at the next sample).

use std::collections::{BTreeMap, VecDeque};

use nexus_plugin_sdk::{AlarmSignal, Series};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::PckConfig;
use crate::discriminate::{self, Aux};

/// The host-state key under which [`PckState`] is kept.
pub const STATE_KEY: &str = "pck";

/// What the rule remembers per (binding, device) between calls.
///
/// The window is serialized compactly (`b`: completed buckets `[start_ms,
/// mean]`, oldest first; `c`: the open bucket `[start_ms, sum, count]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PckState {
    /// Completed buckets, oldest first: (start in ms, mean).
    #[serde(default, rename = "b")]
    buckets: VecDeque<(i64, f64)>,
    /// The bucket being filled: (start in ms, sum, count).
    #[serde(default, rename = "c")]
    current: Option<(i64, f64, u32)>,
    /// Timestamp of the newest sample.
    #[serde(default, rename = "l")]
    last_ts: Option<i64>,
    /// A step waiting for its confirmation.
    #[serde(default)]
    pub pending: Option<Step>,
    /// The open alarm, if any.
    #[serde(default)]
    pub active: Option<Raised>,
    /// Coarse buckets of the discriminators' keys, by key.
    #[serde(default, rename = "x")]
    aux: BTreeMap<String, Aux>,
}

/// A step that started at `since` from the pre-step level `pre`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// Time of the first level above the step threshold.
    pub since: i64,
    /// The pre-step level.
    pub pre: f64,
}

/// The open alarm.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Raised {
    /// The pre-step level of the step that raised it.
    pub pre: f64,
    /// When the step started.
    pub step_at: i64,
    /// Since when the level is below the clear threshold.
    #[serde(default)]
    pub low_since: Option<i64>,
}

impl PckState {
    /// Takes a sample into the buckets; returns `false` (and ignores it) if it
    /// is older than the open bucket.
    fn push(&mut self, config: &PckConfig, ts: i64, value: f64) -> bool {
        let start = ts.div_euclid(config.bucket_ms) * config.bucket_ms;
        match self.current {
            Some((open, ref mut sum, ref mut count)) if open == start => {
                *sum += value;
                *count += 1;
            }
            Some((open, _, _)) if open > start => return false,
            Some((open, sum, count)) => {
                self.buckets.push_back((open, sum / f64::from(count.max(1))));
                self.current = Some((start, value, 1));
            }
            None => self.current = Some((start, value, 1)),
        }
        let keep = config.rise_window_ms + config.baseline_ms + config.bucket_ms;
        while self.buckets.front().is_some_and(|&(s, _)| s < ts - keep) {
            self.buckets.pop_front();
        }
        true
    }

    /// The current level: the mean of the open bucket.
    fn level(&self) -> Option<f64> {
        self.current.map(|(_, sum, count)| sum / f64::from(count.max(1)))
    }

    /// The pre-step level at `now`: the highest bucket of the baseline window,
    /// if at least half of that window is covered.
    fn pre_step_level(&self, config: &PckConfig, now: i64) -> Option<f64> {
        let end = now - config.rise_window_ms;
        let start = end - config.baseline_ms;
        let mut count = 0;
        let mut max = f64::NEG_INFINITY;
        for &(_, mean) in self.buckets.iter().filter(|&&(s, _)| s >= start && s < end) {
            count += 1;
            max = max.max(mean);
        }
        let needed = ((config.baseline_ms / config.bucket_ms + 1) / 2).max(1);
        (count >= needed).then_some(max)
    }
}

/// Whether a value can be used: finite and not exactly 0 (a dead gauge).
fn usable(value: f64) -> bool {
    value.is_finite() && value != 0.0
}

/// The usable `(ts, value)` of `key` in a batch, in time order.
fn points(batch: &[Series], key: &str) -> Vec<(i64, f64)> {
    let mut points: Vec<(i64, f64)> = nexus_plugin_sdk::samples(batch, key)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.as_f64().filter(|&v| usable(v)).map(|v| (s.ts, v)))
        .collect();
    if !points.is_sorted_by_key(|&(ts, _)| ts) {
        points.sort_by_key(|&(ts, _)| ts);
    }
    points
}

/// Runs the rule over a batch of one device, updating `state`, and returns
/// the signals for `device_id` in time order: the samples of the
/// discriminators' keys go into their buckets first, then the samples of
/// `config.key` drive the state machine.
pub fn evaluate_batch(config: &PckConfig, state: &mut PckState, device_id: &str, batch: &[Series]) -> Vec<AlarmSignal> {
    let d = &config.discriminators;
    let keep = discriminate::keep_ms(config);
    for key in [&d.p_tpt_key, &d.t_jus_ckp_key, &d.qgl_key].into_iter().flatten() {
        let aux = points(batch, key);
        if !aux.is_empty() {
            let series = state.aux.entry(key.clone()).or_default();
            for (ts, value) in aux {
                series.push(d.bucket_ms, keep, ts, value);
            }
        }
    }
    let points = points(batch, &config.key);
    let mut signals = Vec::new();
    for (ts, value) in points {
        let gap = state.last_ts.map_or(0, |last| ts - last);
        if !state.push(config, ts, value) {
            continue;
        }
        state.last_ts = Some(ts);
        if gap > config.rise_window_ms {
            // Nothing is known of the gap: a pending step is not confirmed.
            state.pending = None;
        }
        if let Some(level) = state.level() {
            step(config, state, device_id, ts, level, &mut signals);
        }
    }
    signals
}

/// Applies the level at `ts` to the state machine, pushing the signal it causes.
fn step(
    config: &PckConfig,
    state: &mut PckState,
    device_id: &str,
    ts: i64,
    level: f64,
    signals: &mut Vec<AlarmSignal>,
) {
    let above = |pre: f64, pct: f64| level >= pre * (1.0 + pct / 100.0);
    if let Some(mut raised) = state.active {
        if above(raised.pre, config.clear_pct) {
            raised.low_since = None;
        } else {
            let since = *raised.low_since.get_or_insert(ts);
            if ts - since >= config.clear_after_ms {
                signals.push(AlarmSignal::clear_at(
                    device_id,
                    ts,
                    &config.alarm_type,
                    json!({ "key": config.key, "level": level, "pre_step_level": raised.pre,
                            "change_pct": change_pct(level, raised.pre), "since": since }),
                ));
                state.active = None;
                return;
            }
        }
        state.active = Some(raised);
        return;
    }
    if let Some(pending) = state.pending {
        if above(pending.pre, config.confirm_pct) {
            if ts - pending.since >= config.confirm_ms {
                confirm(config, state, device_id, ts, level, pending, signals);
            }
            return;
        }
        state.pending = None;
    }
    let Some(pre) = state.pre_step_level(config, ts) else { return };
    if pre >= config.min_level_pa && above(pre, config.rise_pct) {
        let pending = Step { since: ts, pre };
        if config.confirm_ms == 0 {
            confirm(config, state, device_id, ts, level, pending, signals);
        } else {
            state.pending = Some(pending);
        }
    }
}

/// A confirmed step: raised unless an enabled discriminator fails.
fn confirm(
    config: &PckConfig,
    state: &mut PckState,
    device_id: &str,
    ts: i64,
    level: f64,
    step: Step,
    signals: &mut Vec<AlarmSignal>,
) {
    let verdict = discriminate::judge(config, &state.aux, &step, ts, change_pct(level, step.pre));
    if config.discriminators.enabled && !verdict.failed.is_empty() {
        state.pending = None;
        return;
    }
    raise(config, state, device_id, ts, level, step, verdict.details(config.discriminators.enabled), signals);
}

#[allow(clippy::too_many_arguments)]
fn raise(
    config: &PckConfig,
    state: &mut PckState,
    device_id: &str,
    ts: i64,
    level: f64,
    step: Step,
    discriminators: serde_json::Value,
    signals: &mut Vec<AlarmSignal>,
) {
    signals.push(AlarmSignal::raise_at(
        device_id,
        ts,
        &config.alarm_type,
        config.severity,
        json!({
            "key": config.key,
            "level": level,
            "pre_step_level": step.pre,
            "change_pct": change_pct(level, step.pre),
            "step_at": step.since,
            "rise_window_s": config.rise_window_ms / 1000,
            "confirm_s": config.confirm_ms / 1000,
            "discriminators": discriminators,
        }),
    ));
    state.pending = None;
    state.active = Some(Raised { pre: step.pre, step_at: step.since, low_since: None });
}

fn change_pct(level: f64, pre: f64) -> f64 {
    (level / pre - 1.0) * 100.0
}

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
