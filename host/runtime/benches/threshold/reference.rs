//! A native reference of `plugins/alarm-rule-threshold`'s logic, for the
//! benchmark's "native" figure: the same algorithm over the samples of the
//! watched key, written against the host's model so that the host does not
//! depend on the plugin. [`check_against`] runs it beside the component and
//! panics if they disagree, so the two cannot drift apart unnoticed.

use nexus_model::{AlarmAction, AlarmSignal, Reading, Severity};
use serde_json::json;

/// The rule's configuration: the fields the benchmark's configuration sets.
#[derive(Debug, Clone)]
pub struct Config {
    key: String,
    high: Option<f64>,
    low: Option<f64>,
    deadband: f64,
    min_duration_ms: i64,
    severity: Severity,
    alarm_type: String,
}

impl Config {
    /// Reads the configuration JSON the component gets (no validation: the
    /// benchmark's configuration is valid).
    pub fn parse(text: &str) -> Self {
        let json: serde_json::Value = serde_json::from_str(text).expect("configuration JSON");
        let key = json["key"].as_str().expect("`key`").to_string();
        let severity = match json["severity"].as_str().unwrap_or("major").to_ascii_lowercase().as_str() {
            "critical" => Severity::Critical,
            "minor" => Severity::Minor,
            "warning" => Severity::Warning,
            "indeterminate" => Severity::Indeterminate,
            _ => Severity::Major,
        };
        Self {
            high: json["high"].as_f64(),
            low: json["low"].as_f64(),
            deadband: json["deadband"].as_f64().unwrap_or(0.0),
            min_duration_ms: json["min_duration_ms"].as_i64().unwrap_or(0),
            severity,
            alarm_type: json["alarm_type"].as_str().map_or_else(|| format!("{key}_out_of_range"), str::to_string),
            key,
        }
    }

    /// The limit `value` crosses, if any (high first): (direction, limit).
    fn violation(&self, value: f64) -> Option<(&'static str, f64)> {
        if let Some(high) = self.high.filter(|&h| value > h) {
            return Some(("high", high));
        }
        self.low.filter(|&l| value < l).map(|l| ("low", l))
    }

    /// Whether `value` is inside the limits narrowed by the deadband.
    fn clears(&self, value: f64) -> bool {
        self.high.is_none_or(|h| value <= h - self.deadband) && self.low.is_none_or(|l| value >= l + self.deadband)
    }
}

/// What the rule remembers between calls.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct State {
    active: bool,
    pending_since: Option<i64>,
}

/// The watched key's columns as the component's series holds them:
/// timestamps and numbers side by side, in `ts` order.
#[derive(Debug, Clone, Default)]
pub struct Column {
    ts: Vec<i64>,
    values: Vec<f64>,
}

/// The numeric samples of the watched key, as [`Column`]s.
pub fn column(config: &Config, readings: &[Reading]) -> Column {
    let mut rows: Vec<(i64, f64)> =
        readings.iter().filter(|r| r.key == config.key).filter_map(|r| Some((r.ts, r.value.as_f64()?))).collect();
    rows.sort_by_key(|&(ts, _)| ts);
    Column { ts: rows.iter().map(|r| r.0).collect(), values: rows.iter().map(|r| r.1).collect() }
}

/// The rule over one device's column: raises once a violation has lasted
/// `min_duration_ms`, clears once back inside the deadband. As the plugin
/// does, it passes over the samples that change nothing (inside the limits
/// while idle, not clearing while raised, non-finite) in one tight loop each
/// and steps through the rest one by one.
pub fn evaluate(config: &Config, state: &mut State, device_id: &str, column: &Column) -> Vec<AlarmSignal> {
    let high = config.high.unwrap_or(f64::INFINITY);
    let low = config.low.unwrap_or(f64::NEG_INFINITY);
    let clear_high = config.high.map_or(f64::INFINITY, |h| h - config.deadband);
    let clear_low = config.low.map_or(f64::NEG_INFINITY, |l| l + config.deadband);
    let mut signals = Vec::new();
    let mut i = 0;
    while i < column.values.len() {
        let rest = &column.values[i..];
        let next = if state.active {
            rest.iter().position(|&v| (v <= clear_high) & (v >= clear_low) & v.is_finite())
        } else if state.pending_since.is_none() {
            rest.iter().position(|&v| ((v > high) | (v < low)) & v.is_finite())
        } else {
            rest.iter().position(|v| v.is_finite())
        };
        let Some(at) = next else { break };
        i += at;
        step(config, state, device_id, column.ts[i], column.values[i], &mut signals);
        i += 1;
    }
    signals
}

/// One finite sample's effect on `state`, pushing the signal it causes.
fn step(config: &Config, state: &mut State, device_id: &str, ts: i64, value: f64, signals: &mut Vec<AlarmSignal>) {
    if state.active {
        if config.clears(value) {
            let details =
                ClearDetails { key: &config.key, value, high: config.high, low: config.low, deadband: config.deadband };
            signals.push(signal(config, AlarmAction::Clear, Severity::Indeterminate, device_id, ts, details));
            *state = State::default();
        }
        return;
    }
    let Some((crossed, limit)) = config.violation(value) else {
        state.pending_since = None;
        return;
    };
    let since = *state.pending_since.get_or_insert(ts);
    let lasted = ts.saturating_sub(since);
    if lasted >= config.min_duration_ms {
        let details = RaiseDetails { key: &config.key, value, limit, crossed, since, duration_ms: lasted };
        signals.push(signal(config, AlarmAction::Raise, config.severity, device_id, ts, details));
        state.active = true;
    }
}

#[derive(serde::Serialize)]
struct ClearDetails<'a> {
    key: &'a str,
    value: f64,
    high: Option<f64>,
    low: Option<f64>,
    deadband: f64,
}

/// A raise signal's details, as the component builds them.
#[derive(serde::Serialize)]
struct RaiseDetails<'a> {
    key: &'a str,
    value: f64,
    limit: f64,
    crossed: &'static str,
    since: i64,
    duration_ms: i64,
}

fn signal(
    config: &Config,
    action: AlarmAction,
    severity: Severity,
    device_id: &str,
    ts: i64,
    details: impl serde::Serialize,
) -> AlarmSignal {
    AlarmSignal {
        action,
        device_id: device_id.into(),
        alarm_type: config.alarm_type.clone(),
        severity,
        ts,
        // As the SDK writes it (`serde_json::to_string`, not `Display`).
        details: serde_json::to_string(&details).expect("details serialize"),
    }
}

/// Panics unless the reference gives the component's signals (details
/// compared as JSON) and ends in the state the component saved under its
/// key `threshold` (nothing saved: the state did not change from the
/// default), for a call on `readings` from an empty state.
pub fn check_against(
    config_json: &str,
    device_id: &str,
    readings: &[Reading],
    component: &[AlarmSignal],
    saved: Option<&[u8]>,
) {
    let config = Config::parse(config_json);
    let mut state = State::default();
    let native = evaluate(&config, &mut state, device_id, &column(&config, readings));
    let comparable = |signals: &[AlarmSignal]| -> Vec<(AlarmAction, String, String, Severity, i64, serde_json::Value)> {
        signals
            .iter()
            .map(|s| {
                let details = serde_json::from_str(&s.details).expect("details are JSON");
                (s.action, s.device_id.to_string(), s.alarm_type.clone(), s.severity, s.ts, details)
            })
            .collect()
    };
    assert!(native.len() >= 2, "the benchmark batch should raise and clear, got {} signals", native.len());
    assert_eq!(comparable(&native), comparable(component), "the native reference and the component disagree");
    let saved: serde_json::Value = match saved {
        Some(bytes) => serde_json::from_slice(bytes).expect("the saved state is JSON"),
        None => json!({ "active": false, "pending_since": null }),
    };
    let expected = json!({ "active": state.active, "pending_since": state.pending_since });
    assert_eq!(saved, expected, "the native reference and the component end in different states");
}
