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

use std::collections::VecDeque;

use nexus_plugin_sdk::{AlarmSignal, Sample};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::PckConfig;

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

/// Runs the rule over the samples of `config.key` of one device, updating
/// `state`, and returns the signals for `device_id` in time order. Samples
/// are expected sorted by `ts` (they are sorted here if they are not).
pub fn evaluate_batch(
    config: &PckConfig,
    state: &mut PckState,
    device_id: &str,
    samples: &[Sample],
) -> Vec<AlarmSignal> {
    let mut points: Vec<(i64, f64)> =
        samples.iter().filter_map(|s| s.as_f64().filter(|&v| usable(v)).map(|v| (s.ts, v))).collect();
    if !points.is_sorted_by_key(|&(ts, _)| ts) {
        points.sort_by_key(|&(ts, _)| ts);
    }
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
                raise(config, state, device_id, ts, level, pending, signals);
            }
            return;
        }
        state.pending = None;
    }
    let Some(pre) = state.pre_step_level(config, ts) else { return };
    if pre >= config.min_level_pa && above(pre, config.rise_pct) {
        let pending = Step { since: ts, pre };
        if config.confirm_ms == 0 {
            raise(config, state, device_id, ts, level, pending, signals);
        } else {
            state.pending = Some(pending);
        }
    }
}

fn raise(
    config: &PckConfig,
    state: &mut PckState,
    device_id: &str,
    ts: i64,
    level: f64,
    step: Step,
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
        }),
    ));
    state.pending = None;
    state.active = Some(Raised { pre: step.pre, step_at: step.since, low_since: None });
}

fn change_pct(level: f64, pre: f64) -> f64 {
    (level / pre - 1.0) * 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PckRestrictionRule;
    use crate::config::parse_config;
    use nexus_plugin_sdk::testing::Harness;
    use nexus_plugin_sdk::{AlarmAction, Series, Severity, Value};

    const DEVICE: &str = "well-3";

    /// 1 Hz samples `(second, value)`.
    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(t, v)| Sample { ts: t * 1000, value: Value::Number(v), quality: 1.0 }).collect()
    }

    /// A level of 50 bar with a ±0.2 % wiggle, from `from` for `secs` seconds, scaled by `scale`.
    fn steady(from: i64, secs: i64, scale: f64) -> Vec<(i64, f64)> {
        (from..from + secs).map(|t| (t, 5.0e6 * scale * (1.0 + 0.002 * ((t % 7) as f64 - 3.0) / 3.0))).collect()
    }

    /// Runs 60-sample batches of the watched key through the SDK harness
    /// (the state carried between calls as JSON bytes, as on the host), each
    /// call at the time of its last sample.
    fn replay(config: &PckConfig, points: &[(i64, f64)]) -> Vec<AlarmSignal> {
        let mut rule = Harness::<PckRestrictionRule>::new(config.clone()).with_device(DEVICE);
        let mut signals = Vec::new();
        for chunk in points.chunks(60) {
            let now = chunk.last().map_or(0, |p| p.0 * 1000);
            let batch = [Series::from_samples(&config.key, samples(chunk))];
            signals.extend(rule.evaluate(now, &batch).expect("the rule runs"));
        }
        signals
    }

    fn summary(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
        signals.iter().map(|s| (s.action, s.ts / 1000)).collect()
    }

    #[test]
    fn quick_step_raises_after_the_confirmation() {
        let mut points = steady(0, 300, 1.0);
        // 8 % up within 5 s at t = 300..305, then held.
        points.extend((300..305).map(|t| (t, 5.0e6 * (1.0 + 0.016 * (t - 299) as f64))));
        points.extend(steady(305, 300, 1.08));
        let signals = replay(&PckConfig::default(), &points);
        let got = summary(&signals);
        assert_eq!(got.len(), 1, "{got:?}");
        let raise = &signals[0];
        assert_eq!(
            (raise.action, raise.severity, raise.alarm_type.as_str()),
            (AlarmAction::Raise, Severity::Major, "PckRestriction")
        );
        let details: serde_json::Value = serde_json::from_str(&raise.details).expect("json");
        let step_at = details["step_at"].as_i64().expect("step_at") / 1000;
        assert!((302..=304).contains(&step_at), "step at {step_at}");
        assert_eq!(raise.ts / 1000, step_at + 60);
        assert!(details["pre_step_level"].as_f64().is_some_and(|p| (p / 5.0e6 - 1.0).abs() < 0.003));
        assert!(details["change_pct"].as_f64().is_some_and(|c| c > 7.0));
    }

    #[test]
    fn slow_ramp_and_short_spike_do_not_raise() {
        // The same 8 % over 5 minutes: never 5 % within 10 s.
        let mut ramp = steady(0, 300, 1.0);
        ramp.extend((300..600).map(|t| (t, 5.0e6 * (1.0 + 0.08 * (t - 300) as f64 / 300.0))));
        ramp.extend(steady(600, 300, 1.08));
        assert!(replay(&PckConfig::default(), &ramp).is_empty());
        // A 30 s spike of +10 %, then back: not confirmed.
        let mut spike = steady(0, 300, 1.0);
        spike.extend(steady(300, 30, 1.10));
        spike.extend(steady(330, 300, 1.0));
        assert!(replay(&PckConfig::default(), &spike).is_empty());
        // An oscillation of ±10 % with a 40 s period: never confirmed.
        let wave: Vec<(i64, f64)> =
            (0..3600).map(|t| (t, 5.0e6 * (1.0 + 0.1 * (t as f64 * std::f64::consts::TAU / 40.0).sin()))).collect();
        assert!(replay(&PckConfig::default(), &wave).is_empty());
    }

    #[test]
    fn slow_profile_catches_the_ramp() {
        let config = parse_config(r#"{"rise_pct": 3, "rise_window_s": 300, "baseline_s": 300}"#).expect("valid");
        let mut ramp = steady(0, 600, 1.0);
        ramp.extend((600..900).map(|t| (t, 5.0e6 * (1.0 + 0.08 * (t - 600) as f64 / 300.0))));
        ramp.extend(steady(900, 300, 1.08));
        let got = summary(&replay(&config, &ramp));
        assert_eq!(got.len(), 1, "{got:?}");
        // 3 % (+ the wiggle of the baseline's highest second) is reached ~120 s into the ramp, then 60 s confirmation.
        assert!((780..=800).contains(&got[0].1), "{got:?}");
    }

    #[test]
    fn clears_after_the_level_returns() {
        let mut points = steady(0, 300, 1.0);
        points.extend(steady(300, 600, 1.10));
        points.extend(steady(900, 300, 1.0));
        let got = summary(&replay(&PckConfig::default(), &points));
        assert_eq!(got, vec![(AlarmAction::Raise, 360), (AlarmAction::Clear, 900 + 120)]);
    }

    #[test]
    fn zero_negative_and_missing_levels_are_ignored() {
        // A dead gauge reading 0 that comes back, and an offset near 0 Pa that jumps.
        let mut points: Vec<(i64, f64)> = (0..300).map(|t| (t, 0.0)).collect();
        points.extend(steady(300, 300, 1.0));
        assert!(replay(&PckConfig::default(), &points).is_empty());
        let mut offset: Vec<(i64, f64)> = (0..300).map(|t| (t, -8000.0)).collect();
        offset.extend((300..600).map(|t| (t, 9000.0)));
        assert!(replay(&PckConfig::default(), &offset).is_empty());
        // After a 10-minute gap there is no baseline yet.
        let mut gap = steady(0, 300, 1.0);
        gap.extend(steady(900, 300, 1.10));
        assert!(replay(&PckConfig::default(), &gap).is_empty());
    }

    #[test]
    fn a_gap_during_the_confirmation_drops_the_step() {
        let mut points = steady(0, 300, 1.0);
        points.extend(steady(300, 30, 1.10));
        // Silent for 60 s, then back at the high level: the step is not confirmed ...
        points.extend(steady(390, 20, 1.10));
        let got = summary(&replay(&PckConfig::default(), &points));
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn unsorted_text_and_non_finite_samples_are_handled() {
        let config = PckConfig::default();
        let mut state = PckState::default();
        let mut batch = samples(&steady(0, 120, 1.0));
        batch.reverse();
        batch.push(Sample { ts: 121_000, value: Value::Text("bad".into()), quality: 0.0 });
        batch.push(Sample { ts: 122_000, value: Value::Number(f64::NAN), quality: 0.0 });
        assert!(evaluate_batch(&config, &mut state, DEVICE, &batch).is_empty());
        assert_eq!(state.last_ts, Some(119_000));
        assert!(evaluate_batch(&config, &mut state, DEVICE, &[]).is_empty());
    }

    #[test]
    fn state_stays_small_with_the_largest_window() {
        let config = parse_config(r#"{"rise_window_s": 450, "baseline_s": 450}"#).expect("valid");
        let mut state = PckState::default();
        evaluate_batch(&config, &mut state, DEVICE, &samples(&steady(0, 3600, 1.0)));
        let bytes = serde_json::to_vec(&state).expect("encode").len();
        assert!(state.buckets.len() <= 902 && bytes < 40 * 1024, "{} buckets, {bytes} B", state.buckets.len());
    }
}
