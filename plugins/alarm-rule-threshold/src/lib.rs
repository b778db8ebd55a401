//! # alarm-rule-threshold
//!
//! An alarm rule that raises an alarm when one numeric key of a device goes
//! above a high limit or below a low limit, optionally only after the
//! violation has lasted `min_duration_ms`, and clears it once the value is
//! back inside the limits narrowed by a deadband (hysteresis).
//!
//! The logic is the pure function [`evaluate_batch`] over a
//! [`ThresholdConfig`] (from [`parse_config`]), a [`ThresholdState`] and the
//! samples of the watched key, so it runs natively too (tests, the host's
//! benchmark). The component export only picks the key's series out of the
//! batch, loads the configuration and the per-device state from the host,
//! calls it and saves the state.

use nexus_plugin_sdk::{AlarmSignal, PluginError, Sample, Series, Severity};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The host-state key under which [`ThresholdState`] is kept.
pub const STATE_KEY: &str = "threshold";

/// The binding configuration as written in JSON, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    key: String,
    #[serde(default)]
    high: Option<f64>,
    #[serde(default)]
    low: Option<f64>,
    #[serde(default)]
    deadband: f64,
    #[serde(default)]
    min_duration_ms: u64,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    alarm_type: Option<String>,
}

/// A validated threshold configuration.
///
/// Deserialize it with [`parse_config`] (or `serde_json`): the JSON form is
/// `{"key": "motor_temperature", "high": 150.0, "low": null, "deadband": 5.0,
/// "min_duration_ms": 0, "severity": "major", "alarm_type": "HighMotorTemperature"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct ThresholdConfig {
    /// Telemetry key watched, e.g. `motor_temperature`.
    pub key: String,
    /// Upper limit: a value above it violates.
    pub high: Option<f64>,
    /// Lower limit: a value below it violates.
    pub low: Option<f64>,
    /// How far back inside the limits a value must be to clear (≥ 0).
    pub deadband: f64,
    /// How long a violation must last before the alarm is raised.
    pub min_duration_ms: u64,
    /// Severity of the raised alarm.
    pub severity: Severity,
    /// Alarm type; defaults to `{key}_out_of_range`.
    pub alarm_type: String,
}

impl TryFrom<RawConfig> for ThresholdConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        if raw.key.is_empty() {
            return Err("`key` must not be empty".into());
        }
        if raw.high.is_none() && raw.low.is_none() {
            return Err("at least one of `high` and `low` must be set".into());
        }
        for (name, limit) in [("high", raw.high), ("low", raw.low)] {
            if limit.is_some_and(|v| !v.is_finite()) {
                return Err(format!("`{name}` must be a finite number"));
            }
        }
        if !raw.deadband.is_finite() || raw.deadband < 0.0 {
            return Err("`deadband` must be a finite number ≥ 0".into());
        }
        if let (Some(high), Some(low)) = (raw.high, raw.low) {
            if low >= high {
                return Err(format!("`low` ({low}) must be below `high` ({high})"));
            }
            if high - raw.deadband < low + raw.deadband {
                return Err(format!(
                    "`deadband` ({}) leaves no clear band between `low` ({low}) and `high` ({high})",
                    raw.deadband
                ));
            }
        }
        let severity = match raw.severity.as_deref() {
            None => Severity::Major,
            Some(name) => Severity::parse(name).ok_or_else(|| {
                format!("unknown `severity` {name:?} (expected critical, major, minor, warning or indeterminate)")
            })?,
        };
        let alarm_type = match raw.alarm_type {
            Some(t) if t.is_empty() => return Err("`alarm_type` must not be empty".into()),
            Some(t) => t,
            None => format!("{}_out_of_range", raw.key),
        };
        Ok(Self {
            key: raw.key,
            high: raw.high,
            low: raw.low,
            deadband: raw.deadband,
            min_duration_ms: raw.min_duration_ms,
            severity,
            alarm_type,
        })
    }
}

/// Parses and validates a binding configuration; any problem is a
/// `PluginError` with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<ThresholdConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

/// Validates a binding configuration already parsed as JSON (it must be an object).
pub fn config_from_value(value: serde_json::Value) -> Result<ThresholdConfig, PluginError> {
    nexus_plugin_sdk::config::from_value(value)
}

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
    let numeric = samples.iter().filter_map(|s| s.as_f64().filter(|v| v.is_finite()).map(|v| (s.ts, v)));
    let mut signals = Vec::new();
    if samples.is_sorted_by_key(|s| s.ts) {
        for (ts, value) in numeric {
            step(config, state, device_id, ts, value, &mut signals);
        }
    } else {
        let mut sorted: Vec<(i64, f64)> = numeric.collect();
        // Stable: samples with equal timestamps keep their order.
        sorted.sort_by_key(|&(ts, _)| ts);
        for (ts, value) in sorted {
            step(config, state, device_id, ts, value, &mut signals);
        }
    }
    signals
}

/// Applies one numeric sample to `state`, pushing the signal it causes, if any.
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
            signals.push(AlarmSignal::clear_at(
                device_id,
                ts,
                &config.alarm_type,
                json!({
                    "key": config.key,
                    "value": value,
                    "high": config.high,
                    "low": config.low,
                    "deadband": config.deadband,
                }),
            ));
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
        let (direction, limit) = match crossed {
            Crossed::High(limit) => ("high", limit),
            Crossed::Low(limit) => ("low", limit),
        };
        signals.push(AlarmSignal::raise_at(
            device_id,
            ts,
            &config.alarm_type,
            config.severity,
            json!({
                "key": config.key,
                "value": value,
                "limit": limit,
                "crossed": direction,
                "since": since,
                "duration_ms": lasted,
            }),
        ));
        state.active = true;
    }
}

/// The samples of `config.key` in a batch, if there are any.
pub fn watched_samples<'a>(config: &ThresholdConfig, batch: &'a [Series]) -> Option<&'a [Sample]> {
    nexus_plugin_sdk::series(batch, &config.key).map(|s| s.samples.as_slice()).filter(|samples| !samples.is_empty())
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> serde_json::Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "alarm-rule-threshold configuration",
        "type": "object",
        "additionalProperties": false,
        "required": ["key"],
        "anyOf": [
            { "required": ["high"], "properties": { "high": { "type": "number" } } },
            { "required": ["low"], "properties": { "low": { "type": "number" } } }
        ],
        "properties": {
            "key": {
                "type": "string",
                "minLength": 1,
                "description": "Telemetry key to watch, e.g. motor_temperature."
            },
            "high": {
                "type": ["number", "null"],
                "description": "Raise when the value goes above this limit."
            },
            "low": {
                "type": ["number", "null"],
                "description": "Raise when the value goes below this limit."
            },
            "deadband": {
                "type": "number",
                "minimum": 0,
                "default": 0,
                "description": "Clear only when the value is back inside the limits by at least this much."
            },
            "min_duration_ms": {
                "type": "integer",
                "minimum": 0,
                "default": 0,
                "description": "Raise only after the violation has lasted this long."
            },
            "severity": {
                "type": "string",
                "enum": ["critical", "major", "minor", "warning", "indeterminate",
                         "CRITICAL", "MAJOR", "MINOR", "WARNING", "INDETERMINATE"],
                "default": "major",
                "description": "Severity of the raised alarm (case-insensitive)."
            },
            "alarm_type": {
                "type": "string",
                "minLength": 1,
                "description": "Alarm type; defaults to \"{key}_out_of_range\"."
            }
        }
    })
}

/// The component: loads config and state from the host around [`evaluate_batch`].
pub struct ThresholdRule;

impl nexus_plugin_sdk::AlarmRule for ThresholdRule {
    fn describe() -> nexus_plugin_sdk::PluginInfo {
        nexus_plugin_sdk::PluginInfo {
            name: "alarm-rule-threshold".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Raises an alarm when a numeric key goes above `high` or below `low` \
                          (optionally for at least `min_duration_ms`), and clears it once the \
                          value is back inside the limits by `deadband`."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn evaluate(device_id: String, batch: Vec<Series>) -> Result<Vec<AlarmSignal>, PluginError> {
        let config = config_from_value(nexus_plugin_sdk::host::config()?)?;
        let Some(samples) = watched_samples(&config, &batch) else {
            // Nothing to look at: spare the state round trip.
            return Ok(Vec::new());
        };
        let before: ThresholdState = nexus_plugin_sdk::host::state_get(STATE_KEY).unwrap_or_default();
        let mut state = before;
        let signals = evaluate_batch(&config, &mut state, &device_id, samples);
        if state != before {
            nexus_plugin_sdk::host::state_set(STATE_KEY, &state)?;
        }
        Ok(signals)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_alarm_rule!(ThresholdRule);

#[cfg(test)]
mod tests {
    use super::*;
    use nexus_plugin_sdk::{AlarmAction, Value};

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
    fn defaults_are_applied() {
        let cfg = config(r#"{"key": "motor_temperature", "high": 150}"#);
        assert_eq!(cfg.deadband, 0.0);
        assert_eq!(cfg.min_duration_ms, 0);
        assert_eq!(cfg.severity, Severity::Major);
        assert_eq!(cfg.alarm_type, "motor_temperature_out_of_range");
        assert_eq!(cfg.low, None);
    }

    #[test]
    fn full_example_config_parses() {
        let cfg = config(
            r#"{"key": "motor_temperature", "high": 150.0, "low": null, "deadband": 5.0,
                "min_duration_ms": 0, "severity": "CRITICAL", "alarm_type": "HighMotorTemperature"}"#,
        );
        assert_eq!(cfg.severity, Severity::Critical);
        assert_eq!(cfg.alarm_type, "HighMotorTemperature");
        assert_eq!(cfg.high, Some(150.0));
    }

    #[test]
    fn invalid_configs_are_rejected() {
        for bad in [
            r#"{"high": 1}"#,
            r#"{"key": "t"}"#,
            r#"{"key": "t", "high": null, "low": null}"#,
            r#"{"key": "t", "high": 1, "severity": "catastrophic"}"#,
            r#"{"key": "t", "high": 1, "unknown": true}"#,
            r#"{"key": "t", "high": 1, "deadband": -1}"#,
            r#"{"key": "t", "high": 1, "low": 2}"#,
            r#"{"key": "t", "high": 10, "low": 0, "deadband": 6}"#,
            r#"{"key": "t", "high": 1, "min_duration_ms": -5}"#,
            "",
            "not json",
            r#"["t", 1]"#,
            "null",
        ] {
            let err = parse_config(bad).expect_err(bad);
            assert_eq!(err.code, "invalid-config", "{bad}: {}", err.message);
        }
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
    fn state_carries_across_batches() {
        let cfg = high_config();
        let mut state = ThresholdState::default();
        let first = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(1, 151.0)]));
        assert_eq!(summary(&first), vec![(AlarmAction::Raise, 1)]);
        // Round-trip through JSON as the host state does.
        let text = serde_json::to_string(&state).expect("encode");
        let mut state: ThresholdState = serde_json::from_str(&text).expect("decode");
        let second = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(2, 160.0), (3, 148.0)]));
        assert!(second.is_empty(), "still inside the deadband");
        let third = evaluate_batch(&cfg, &mut state, DEVICE, &samples(&[(4, 120.0)]));
        assert_eq!(summary(&third), vec![(AlarmAction::Clear, 4)]);
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
        let batch = vec![
            Series { key: "motor_current".into(), samples: samples(&[(1, 999.0)]) },
            Series {
                key: "motor_temperature".into(),
                samples: vec![
                    sample(2, f64::NAN),
                    Sample { value: Value::Text("hot".into()), ..sample(3, 0.0) },
                    Sample { value: Value::Number(f64::INFINITY), ..sample(4, 0.0) },
                    Sample { value: Value::Integer(151), ..sample(5, 0.0) },
                ],
            },
        ];
        let watched = watched_samples(&cfg, &batch).expect("series of the key");
        let signals = evaluate_batch(&cfg, &mut state, DEVICE, watched);
        assert_eq!(summary(&signals), vec![(AlarmAction::Raise, 5)]);
    }

    #[test]
    fn batch_without_the_key_has_nothing_to_watch() {
        let cfg = high_config();
        let other = vec![Series { key: "motor_current".into(), samples: samples(&[(1, 999.0)]) }];
        assert!(watched_samples(&cfg, &other).is_none());
        let empty = vec![Series { key: "motor_temperature".into(), samples: Vec::new() }];
        assert!(watched_samples(&cfg, &empty).is_none());
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

    #[test]
    fn schema_is_valid_json_with_draft_2020_12() {
        let schema = config_schema();
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["required"][0], "key");
    }
}
