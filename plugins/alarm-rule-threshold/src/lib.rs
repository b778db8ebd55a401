//! # alarm-rule-threshold
//!
//! An alarm rule that raises an alarm when one numeric key of a device goes
//! above a high limit or below a low limit, optionally only after the
//! violation has lasted `min_duration_ms`, and clears it once the value is
//! back inside the limits narrowed by a deadband (hysteresis).
//!
//! The logic is the pure function [`evaluate_batch`] over a
//! [`ThresholdConfig`] (from [`parse_config`]), a [`ThresholdState`] and the
//! samples of the watched key. [`ThresholdRule`] is it as a
//! `StatefulAlarmRule`: the SDK's export macro turns it into the component
//! (configuration and per-device state from the host), and its test harness
//! runs it natively.

pub mod config;

pub use config::{ThresholdConfig, config_schema, parse_config};

use nexus_plugin_sdk::{AlarmSignal, Column, PluginError, PluginInfo, Sample, Series, StatefulAlarmRule};
use serde::{Deserialize, Serialize};

/// The host-state key under which [`ThresholdState`] is kept.
pub const STATE_KEY: &str = "threshold";

/// What the rule remembers per (binding, device) between calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdState {
    /// Whether the alarm is raised.
    #[serde(default)]
    pub active: bool,
    /// Timestamp of the first reading of the current violation, if any.
    #[serde(default)]
    pub pending_since: Option<i64>,
}

/// Which limit a value crossed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Crossed {
    High(f64),
    Low(f64),
}

impl ThresholdConfig {
    /// The limit `value` violates, if any (high is checked first).
    fn violation(&self, value: f64) -> Option<Crossed> {
        if let Some(high) = self.high.filter(|&h| value > h) {
            return Some(Crossed::High(high));
        }
        self.low.filter(|&l| value < l).map(Crossed::Low)
    }

    /// Whether `value` is inside the limits narrowed by the deadband.
    fn clears(&self, value: f64) -> bool {
        self.high.is_none_or(|h| value <= h - self.deadband) && self.low.is_none_or(|l| value >= l + self.deadband)
    }
}

/// Runs the rule over the samples of `config.key` of one device, updating
/// `state`, and returns the raise and clear signals (for `device_id`) in time
/// order.
///
/// Only samples whose value is a finite number (see `Sample::as_f64`:
/// booleans count as 0/1) are considered; the samples are expected sorted by
/// `ts` (they are sorted here if they are not). Nothing is allocated per
/// sample, only per signal (and once for an unsorted input).
pub fn evaluate_batch(
    config: &ThresholdConfig,
    state: &mut ThresholdState,
    device_id: &str,
    samples: &[Sample],
) -> Vec<AlarmSignal> {
    let sorted = samples.is_sorted_by_key(|s| s.ts);
    evaluate_points(config, state, device_id, samples.iter().filter_map(|s| Some((s.ts, s.as_f64()?))), sorted)
}

/// Runs the rule over the watched key's series in a batch (every value
/// type of it), as [`evaluate_batch`] does over samples. A single sorted
/// series — the usual case — is read in place, allocating nothing per sample.
pub fn evaluate_series(
    config: &ThresholdConfig,
    state: &mut ThresholdState,
    device_id: &str,
    batch: &[Series],
) -> Vec<AlarmSignal> {
    let mut watched = batch.iter().filter(|s| s.key == config.key);
    match (watched.next(), watched.next()) {
        (None, _) => Vec::new(),
        (Some(only), None) => match &only.values {
            Column::Number(values) if only.ts.is_sorted() => scan_numbers(config, state, device_id, &only.ts, values),
            _ => evaluate_points(config, state, device_id, only.numbers(), only.ts.is_sorted()),
        },
        (Some(first), Some(second)) => {
            let rest = batch.iter().filter(|s| s.key == config.key).skip(2);
            let points = first.numbers().chain(second.numbers()).chain(rest.flat_map(Series::numbers));
            evaluate_points(config, state, device_id, points, false)
        }
    }
}

/// The rule over a sorted column of numbers, as [`step`] per sample, but
/// passing over the samples that change nothing in one tight loop each:
/// while nothing is pending or raised, those inside the limits; while the
/// alarm is raised, those that do not clear it; always, non-finite values.
fn scan_numbers(
    config: &ThresholdConfig,
    state: &mut ThresholdState,
    device_id: &str,
    ts: &[i64],
    values: &[f64],
) -> Vec<AlarmSignal> {
    let high = config.high.unwrap_or(f64::INFINITY);
    let low = config.low.unwrap_or(f64::NEG_INFINITY);
    // `clears`' bounds, computed as it computes them.
    let clear_high = config.high.map_or(f64::INFINITY, |h| h - config.deadband);
    let clear_low = config.low.map_or(f64::NEG_INFINITY, |l| l + config.deadband);
    let mut signals = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let rest = &values[i..];
        // Non-short-circuit `&`/`|`: one branch per sample.
        let next = if state.active {
            rest.iter().position(|&v| (v <= clear_high) & (v >= clear_low) & v.is_finite())
        } else if state.pending_since.is_none() {
            rest.iter().position(|&v| ((v > high) | (v < low)) & v.is_finite())
        } else {
            rest.iter().position(|v| v.is_finite())
        };
        let Some(at) = next else { break };
        i += at;
        step(config, state, device_id, ts[i], values[i], &mut signals);
        i += 1;
    }
    signals
}

/// The rule over `(ts, value)` points; non-finite values are skipped and
/// unsorted points are sorted first (stable: equal timestamps keep their order).
fn evaluate_points(
    config: &ThresholdConfig,
    state: &mut ThresholdState,
    device_id: &str,
    points: impl Iterator<Item = (i64, f64)>,
    sorted: bool,
) -> Vec<AlarmSignal> {
    let numeric = points.filter(|(_, v)| v.is_finite());
    let mut signals = Vec::new();
    if sorted {
        for (ts, value) in numeric {
            step(config, state, device_id, ts, value, &mut signals);
        }
    } else {
        let mut points: Vec<(i64, f64)> = numeric.collect();
        points.sort_by_key(|&(ts, _)| ts);
        for (ts, value) in points {
            step(config, state, device_id, ts, value, &mut signals);
        }
    }
    signals
}

/// Applies one numeric sample to `state`, pushing the signal it causes, if
/// any. Inlined into the loop over a batch; the signals, which are rare, are
/// built out of line.
#[inline(always)]
fn step(
    config: &ThresholdConfig,
    state: &mut ThresholdState,
    device_id: &str,
    ts: i64,
    value: f64,
    signals: &mut Vec<AlarmSignal>,
) {
    if state.active {
        if config.clears(value) {
            signals.push(clear_signal(config, device_id, ts, value));
            *state = ThresholdState::default();
        }
        return;
    }
    let Some(crossed) = config.violation(value) else {
        state.pending_since = None;
        return;
    };
    let since = *state.pending_since.get_or_insert(ts);
    let lasted = ts.saturating_sub(since);
    let min_duration = i64::try_from(config.min_duration_ms).unwrap_or(i64::MAX);
    if lasted >= min_duration {
        signals.push(raise_signal(config, device_id, ts, value, crossed, since, lasted));
        state.active = true;
    }
}

/// A clear signal's details.
#[derive(Serialize)]
struct ClearDetails<'a> {
    key: &'a str,
    value: f64,
    high: Option<f64>,
    low: Option<f64>,
    deadband: f64,
}

/// A raise signal's details.
#[derive(Serialize)]
struct RaiseDetails<'a> {
    key: &'a str,
    value: f64,
    limit: f64,
    crossed: &'static str,
    since: i64,
    duration_ms: i64,
}

#[inline(never)]
fn clear_signal(config: &ThresholdConfig, device_id: &str, ts: i64, value: f64) -> AlarmSignal {
    let details =
        ClearDetails { key: &config.key, value, high: config.high, low: config.low, deadband: config.deadband };
    AlarmSignal::clear_at(device_id, ts, &config.alarm_type, details)
}

#[inline(never)]
fn raise_signal(
    config: &ThresholdConfig,
    device_id: &str,
    ts: i64,
    value: f64,
    crossed: Crossed,
    since: i64,
    lasted: i64,
) -> AlarmSignal {
    let (crossed, limit) = match crossed {
        Crossed::High(limit) => ("high", limit),
        Crossed::Low(limit) => ("low", limit),
    };
    let details = RaiseDetails { key: &config.key, value, limit, crossed, since, duration_ms: lasted };
    AlarmSignal::raise_at(device_id, ts, &config.alarm_type, config.severity, details)
}

/// The samples of `config.key` in a batch, if there are any.
pub fn watched_samples(config: &ThresholdConfig, batch: &[Series]) -> Option<Vec<Sample>> {
    nexus_plugin_sdk::samples(batch, &config.key)
}

/// The rule: [`evaluate_batch`] on the watched key's samples, with
/// [`ThresholdState`] kept per (binding, device); a batch without the key
/// leaves the state alone.
pub struct ThresholdRule;

impl StatefulAlarmRule for ThresholdRule {
    type Config = ThresholdConfig;
    type State = ThresholdState;
    const STATE_KEY: &'static str = STATE_KEY;

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "alarm-rule-threshold".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raises an alarm when a numeric key goes above `high` or below `low` \
                          (optionally for at least `min_duration_ms`), and clears it once the \
                          value is back inside the limits by `deadband`."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(
        config: &ThresholdConfig,
        state: &mut ThresholdState,
        device_id: &str,
        _now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        Ok(evaluate_series(config, state, device_id, batch))
    }

    fn is_relevant(config: &ThresholdConfig, batch: &[Series]) -> bool {
        batch.iter().any(|s| s.key == config.key && !s.is_empty())
    }
}

nexus_plugin_sdk::export_stateful_alarm_rule!(ThresholdRule);

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_plugin_sdk::testing::{Harness, batch};
    use nexus_plugin_sdk::{AlarmAction, Severity, StateStore, Value};

    const DEVICE: &str = "esp-1";

    fn sample(ts: i64, value: f64) -> Sample {
        Sample { ts, value: Value::Number(value), quality: 1.0 }
    }

    fn samples(points: &[(i64, f64)]) -> Vec<Sample> {
        points.iter().map(|&(ts, v)| sample(ts, v)).collect()
    }

    fn config(json: &str) -> ThresholdConfig {
        parse_config(json).expect("valid config")
    }

    fn high_config() -> ThresholdConfig {
        config(r#"{"key": "motor_temperature", "high": 150.0, "deadband": 5.0}"#)
    }

    /// (action, ts) of each signal, for compact assertions.
    fn summary(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
        signals.iter().map(|s| (s.action, s.ts)).collect()
    }

    #[test]
    fn raises_once_on_high_violation() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        let signals = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(1, 140.0), (2, 151.0), (3, 160.0)]));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 2)]);
        let raise = &signals[0];
        assert_eq!(raise.alarm_type, "motor_temperature_out_of_range");
        assert_eq!(raise.severity, Severity::Major);
        assert_eq!(raise.device_id, "esp-1");
        let details: serde_json::Value = serde_json::from_str(&raise.details).expect("json details");
        assert_eq!(details["value"], 151.0);
        assert_eq!(details["limit"], 150.0);
        assert_eq!(details["crossed"], "high");
        assert_eq!(details["key"], "motor_temperature");
        assert!(state.active);
    }

    #[test]
    fn value_equal_to_limit_does_not_violate() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        assert!(evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(1, 150.0)])).is_empty());
        assert_eq!(state, ThresholdState::default());
    }

    #[test]
    fn hysteresis_keeps_alarm_inside_deadband_then_clears() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        let signals = evaluate_batch(
            &cfg,
            &mut state,
            DEVICE,
            &samples(&[(1, 155.0), (2, 149.0), (3, 146.0), (4, 152.0), (5, 145.0), (6, 140.0)]),
        );
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 1), (AlarmAction::Clear, 5)]);
        assert_eq!(signals[1].alarm_type, "motor_temperature_out_of_range");
        assert_eq!(state, ThresholdState::default());
    }

    #[test]
    fn state_carries_across_calls_as_on_the_host() {
        let mut rule = Harness::<ThresholdRule>::from_json(
            r#"{"key": "motor_temperature", "high": 150.0, "deadband": 5.0, "min_duration_ms": 1000}"#,
        )
        .expect("valid config")
        .with_device(DEVICE);
        assert!(rule.evaluate(1, &batch([(1, "motor_temperature", 151.0)])).expect("runs").is_empty());
        assert_eq!(rule.state(), ThresholdState { active: false, pending_since: Some(1) });
        let raised = rule.evaluate(1001, &batch([(1001, "motor_temperature", 160.0)])).expect("runs");
        assert_eq!(summary(&raised), vec![(AlarmAction::Raise, 1001)]);
        assert_eq!(raised[0].device_id, DEVICE);
        assert!(
            rule.evaluate(2, &batch([(2, "motor_temperature", 148.0)])).expect("runs").is_empty(),
            "in the deadband"
        );
        let cleared = rule.evaluate(3, &batch([(3, "motor_temperature", 120.0)])).expect("runs");
        assert_eq!(summary(&cleared), vec![(AlarmAction::Clear, 3)]);
        assert_eq!((rule.raises(), rule.clears(), rule.state()), (1, 1, ThresholdState::default()));
    }

    #[test]
    fn a_batch_without_the_key_leaves_the_state_alone() {
        let mut rule = Harness::<ThresholdRule>::new(high_config());
        rule.evaluate(1, &batch([(1, "motor_temperature", 151.0)])).expect("runs");
        assert!(rule.store().bytes(STATE_KEY).is_some());
        rule.store_mut().save(STATE_KEY, &"unreadable").expect("tamper");
        assert!(rule.evaluate(2, &batch([(2, "motor_current", 999.0)])).expect("runs").is_empty());
        assert_eq!(rule.store().get::<String>(STATE_KEY).as_deref(), Some("unreadable"), "not loaded, not saved");
        // With the key, an unreadable state starts over: the violation raises again.
        let again = rule.evaluate(3, &batch([(3, "motor_temperature", 152.0)])).expect("runs");
        assert_eq!(summary(&again), vec![(AlarmAction::Raise, 3)]);
    }

    #[test]
    fn min_duration_delays_raise_and_short_spikes_are_ignored() {
        let cfg = config(r#"{"key": "motor_temperature", "high": 150, "min_duration_ms": 60000}"#);
        let mut state = ThresholdState::default();
        // A 30 s spike, then back to normal: nothing.
        let spike = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(0, 151.0), (30_000, 152.0), (40_000, 140.0)]));
        assert!(spike.is_empty());
        assert_eq!(state.pending_since, None);
        // A sustained violation starting at 100 s raises at 160 s, not earlier.
        let sustained = evaluate_batch(
            &cfg,
            &mut state,
            DEVICE,
            &samples(&[(100_000, 151.0), (130_000, 155.0), (159_999, 153.0), (160_000, 152.0), (170_000, 158.0)]),
        );
        assert_eq!(summary(&sustained), vec![(AlarmAction::Raise, 160_000)]);
        let details: serde_json::Value = serde_json::from_str(&sustained[0].details).expect("json");
        assert_eq!(details["since"], 100_000);
        assert_eq!(details["duration_ms"], 60_000);
    }

    #[test]
    fn pending_violation_survives_batches() {
        let cfg = config(r#"{"key": "motor_temperature", "high": 150, "min_duration_ms": 1000}"#);
        let mut state = ThresholdState::default();
        assert!(evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(0, 151.0)])).is_empty());
        assert_eq!(state.pending_since, Some(0));
        let signals = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(1000, 151.0)]));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 1000)]);
    }

    #[test]
    fn low_limit_raises_and_clears_with_deadband() {
        let cfg = config(
            r#"{"key": "intake_pressure", "low": 100, "deadband": 10, "severity": "warning", "alarm_type": "LowPip"}"#,
        );
        let mut state = ThresholdState::default();
        let signals =
            evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(1, 120.0), (2, 99.0), (3, 105.0), (4, 110.0)]));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 2), (AlarmAction::Clear, 4)]);
        assert_eq!(signals[0].severity, Severity::Warning);
        assert_eq!(signals[0].alarm_type, "LowPip");
        let details: serde_json::Value = serde_json::from_str(&signals[0].details).expect("json");
        assert_eq!(details["crossed"], "low");
        assert_eq!(details["limit"], 100.0);
    }

    #[test]
    fn band_with_both_limits() {
        let cfg = config(r#"{"key": "motor_temperature", "high": 100, "low": 0, "deadband": 5}"#);
        let mut state = ThresholdState::default();
        let signals = evaluate_batch(
            &cfg,
            &mut state,
            DEVICE,
            &samples(&[(1, -1.0), (2, 3.0), (3, 101.0), (4, 96.0), (5, 50.0)]),
        );
        // Raised on the low side; 101 keeps it active (no second raise); 96 is
        // inside the deadband of the high side; 50 clears.
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 1), (AlarmAction::Clear, 5)]);
    }

    #[test]
    fn ignores_other_keys_text_values_and_non_finite_numbers() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        let mut builder = nexus_plugin_sdk::SeriesBuilder::new();
        builder.push("motor_current", 1, Value::Number(999.0), 1.0);
        builder.push("motor_temperature", 2, Value::Number(f64::NAN), 1.0);
        builder.push("motor_temperature", 3, Value::Text("hot".into()), 1.0);
        builder.push("motor_temperature", 4, Value::Number(f64::INFINITY), 1.0);
        builder.push("motor_temperature", 5, Value::Integer(151), 1.0);
        let batch = builder.build();
        let watched = watched_samples(&cfg, &batch).expect("series of the key");
        let signals = evaluate_batch(&cfg, &mut state, DEVICE, &watched);
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 5)]);
        // The component's path over the series agrees.
        let mut state = ThresholdState::default();
        assert_eq!(summary(&evaluate_series(&cfg, &mut state, DEVICE, &batch)), vec![(AlarmAction::Raise, 5)]);
    }

    #[test]
    fn batch_without_the_key_has_nothing_to_watch() {
        let cfg = high_config();
        let other = vec![Series::from_samples("motor_current", samples(&[(1, 999.0)]))];
        assert!(watched_samples(&cfg, &other).is_none());
        let empty = vec![Series::from_samples("motor_temperature", [])];
        assert!(watched_samples(&cfg, &empty).is_none());
        assert!(!ThresholdRule::is_relevant(&cfg, &empty));
        assert!(watched_samples(&cfg, &[]).is_none());
    }

    #[test]
    fn empty_samples_change_nothing() {
        let cfg = high_config();
        let mut state = ThresholdState { active: false, pending_since: Some(7) };
        assert!(evaluate_batch(&cfg, &mut state, DEVICE, &[]).is_empty());
        assert_eq!(state, ThresholdState { active: false, pending_since: Some(7) });
    }

    #[test]
    fn unsorted_batch_is_processed_in_ts_order() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        let signals = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(3, 140.0), (1, 151.0), (2, 152.0)]));
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 1), (AlarmAction::Clear, 3)]);
        assert!(signals.iter().all(|s| s.device_id == DEVICE));
    }
    /// The scan over a number column gives what stepping every sample gives
    /// — the same signals with the same details, and the same state — over
    /// generated series with NaN and infinite values, every limit shape,
    /// deadbands, minimum durations and every starting state.
    #[test]
    fn the_scan_gives_what_stepping_every_sample_gives() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let limits = [r#""high": 10.0"#, r#""low": -10.0"#, r#""high": 10.0, "low": -10.0"#];
        for case in 0..600_u64 {
            let json = format!(
                r#"{{"key": "k", {}, "deadband": {}, "min_duration_ms": {}}}"#,
                limits[(case % 3) as usize],
                [0.0, 2.5][(case / 3 % 2) as usize],
                [0, 3_000][(case / 6 % 2) as usize],
            );
            let config = config(&json);
            let start =
                ThresholdState { active: case / 12 % 2 == 1, pending_since: (case / 24 % 2 == 1).then_some(-5_000) };
            let len = (next() % 300) as usize;
            let ts: Vec<i64> = (0..len as i64).map(|i| i * 1_000).collect();
            let values: Vec<f64> = (0..len)
                .map(|_| match next() % 40 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    r => (r as f64 - 20.0) * 0.75,
                })
                .collect();
            let series =
                Series { key: "k".into(), ts: ts.clone(), values: Column::Number(values.clone()), quality: vec![] };
            let (mut scanned, mut stepped) = (start, start);
            let by_scan = evaluate_series(&config, &mut scanned, DEVICE, std::slice::from_ref(&series));
            let points = ts.iter().copied().zip(values.iter().copied());
            let by_step = evaluate_points(&config, &mut stepped, DEVICE, points, true);
            assert_eq!(by_scan, by_step, "case {case}: {json}, from {start:?}");
            assert_eq!(scanned, stepped, "case {case}: {json}, from {start:?}");
        }
    }
}
