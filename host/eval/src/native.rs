//! Driving a rule's pure Rust logic natively, as the runtime drives its
//! component: the batch grouped into the SDK's columnar [`sdk::Series`], the
//! SDK's signals turned back into model signals, and the state carried
//! between calls as JSON bytes, kept only when a call succeeds.
//!
//! ```
//! use nexus_eval::native::{JsonState, NativeRule};
//! use nexus_eval::replay::Rule;
//! use nexus_plugin_sdk as sdk;
//!
//! // Counts the samples seen so far; raises nothing.
//! let mut rule = NativeRule::new(|_device: &str, _now, batch: &[sdk::Series], state: &mut JsonState| {
//!     let seen: usize = state.load("seen")?.unwrap_or_default();
//!     state.save("seen", &(seen + batch.iter().map(|s| s.samples.len()).sum::<usize>()))?;
//!     Ok(Vec::new())
//! });
//! assert!(rule.evaluate(0, &[]).expect("runs").is_empty());
//! assert_eq!(rule.state().bytes("seen"), Some(&b"0"[..]));
//! ```

use std::collections::BTreeMap;

use nexus_model::{AlarmAction, AlarmSignal, Reading, Severity, TimestampMs, Value};
use nexus_plugin_sdk::{self as sdk, PluginError};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::EvalError;
use crate::dataset::Instance;
use crate::detect::{self, Detection, Summary};
use crate::replay::{DEVICE, Rule};

/// A batch in the SDK's columns, as the runtime passes it to an alarm rule:
/// one series per key (sorted by key), its samples sorted by `ts` (stable, so
/// samples with the same `ts` keep the batch order).
pub fn to_series(readings: &[Reading]) -> Vec<sdk::Series> {
    let mut by_key: BTreeMap<&str, Vec<sdk::Sample>> = BTreeMap::new();
    for r in readings {
        let value = match &r.value {
            Value::Number(n) => sdk::Value::Number(*n),
            Value::Integer(i) => sdk::Value::Integer(*i),
            Value::Boolean(b) => sdk::Value::Boolean(*b),
            Value::Text(t) => sdk::Value::Text(t.clone()),
        };
        by_key.entry(r.key.as_str()).or_default().push(sdk::Sample { ts: r.ts, value, quality: r.quality });
    }
    by_key
        .into_iter()
        .map(|(key, mut samples)| {
            samples.sort_by_key(|s| s.ts);
            sdk::Series { key: key.to_string(), samples }
        })
        .collect()
}

/// An SDK signal as the host model's signal.
pub fn from_signal(signal: sdk::AlarmSignal) -> AlarmSignal {
    AlarmSignal {
        action: match signal.action {
            sdk::AlarmAction::Raise => AlarmAction::Raise,
            sdk::AlarmAction::Clear => AlarmAction::Clear,
        },
        device_id: signal.device_id.into(),
        alarm_type: signal.alarm_type,
        severity: match signal.severity {
            sdk::Severity::Critical => Severity::Critical,
            sdk::Severity::Major => Severity::Major,
            sdk::Severity::Minor => Severity::Minor,
            sdk::Severity::Warning => Severity::Warning,
            sdk::Severity::Indeterminate => Severity::Indeterminate,
        },
        ts: signal.ts,
        details: signal.details,
    }
}

/// The shape of a rule's logic for [`NativeRule`]: called with the device,
/// the virtual time, the batch and the state to work on; any `FnMut` of that
/// signature is one (handy for naming it: `NativeRule<impl Logic>`).
pub trait Logic<S = JsonState>:
    FnMut(&str, TimestampMs, &[sdk::Series], &mut S) -> Result<Vec<sdk::AlarmSignal>, PluginError>
{
}

impl<S, F> Logic<S> for F where
    F: FnMut(&str, TimestampMs, &[sdk::Series], &mut S) -> Result<Vec<sdk::AlarmSignal>, PluginError>
{
}

/// A rule's state as the host holds it: JSON bytes by key. Also remembers
/// the largest value saved since it was created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonState {
    values: BTreeMap<String, Vec<u8>>,
    largest: usize,
}

impl JsonState {
    /// The value of `key`, decoded; `Ok(None)` when there is none.
    pub fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, PluginError> {
        self.values
            .get(key)
            .map(|bytes| serde_json::from_slice(bytes))
            .transpose()
            .map_err(|e| PluginError::new("state-decode", format!("{key}: {e}")))
    }

    /// Stores `value` under `key` as JSON.
    pub fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError> {
        let bytes = serde_json::to_vec(value).map_err(|e| PluginError::new("state-encode", format!("{key}: {e}")))?;
        self.largest = self.largest.max(bytes.len());
        self.values.insert(key.to_string(), bytes);
        Ok(())
    }

    /// Deletes `key` (nothing happens when it is missing).
    pub fn delete(&mut self, key: &str) {
        self.values.remove(key);
    }

    /// The stored bytes of `key`.
    pub fn bytes(&self, key: &str) -> Option<&[u8]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The largest value saved (bytes of JSON) since the state was created.
    pub fn largest(&self) -> usize {
        self.largest
    }
}

/// A rule's pure logic as a [`Rule`], with the host's state handling: each
/// call runs on a copy of the state (a [`JsonState`] by default, or any
/// `Clone + Default` store) that replaces it only if the call succeeds, and
/// [`Rule::reset`] starts from an empty state. The logic is called with the
/// replay [`DEVICE`], the virtual time and the batch as [`to_series`] groups
/// it. Also counts the raises and clears since the last reset.
pub struct NativeRule<F, S = JsonState> {
    logic: F,
    state: S,
    raises: usize,
    clears: usize,
}

impl<F, S> NativeRule<F, S>
where
    F: FnMut(&str, TimestampMs, &[sdk::Series], &mut S) -> Result<Vec<sdk::AlarmSignal>, PluginError>,
    S: Clone + Default,
{
    /// A rule around `logic`, with an empty state.
    pub fn new(logic: F) -> Self {
        Self { logic, state: S::default(), raises: 0, clears: 0 }
    }

    /// The state after the last successful call.
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Raises emitted since the last reset.
    pub fn raises(&self) -> usize {
        self.raises
    }

    /// Clears emitted since the last reset.
    pub fn clears(&self) -> usize {
        self.clears
    }
}

impl<F, S> Rule for NativeRule<F, S>
where
    F: FnMut(&str, TimestampMs, &[sdk::Series], &mut S) -> Result<Vec<sdk::AlarmSignal>, PluginError>,
    S: Clone + Default,
{
    fn evaluate(&mut self, now: TimestampMs, readings: &[Reading]) -> Result<Vec<AlarmSignal>, String> {
        let mut state = self.state.clone();
        let signals = (self.logic)(DEVICE, now, &to_series(readings), &mut state)
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        self.state = state;
        let signals: Vec<AlarmSignal> = signals.into_iter().map(from_signal).collect();
        self.raises += signals.iter().filter(|s| s.action == AlarmAction::Raise).count();
        self.clears += signals.iter().filter(|s| s.action == AlarmAction::Clear).count();
        Ok(signals)
    }

    fn reset(&mut self) {
        self.state = S::default();
        self.raises = 0;
        self.clears = 0;
    }
}

/// What a native rule did on one replayed instance.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The detection report.
    pub detection: Detection,
    /// Raises emitted on the instance.
    pub raises: usize,
    /// Clears emitted on the instance.
    pub clears: usize,
    /// The largest state value saved, bytes.
    pub max_state_bytes: usize,
}

/// Replays each instance through a native rule ([`detect::run`]) and reports.
pub fn detect_all<F>(rule: &mut NativeRule<F>, instances: &[Instance]) -> Result<Vec<Outcome>, EvalError>
where
    F: FnMut(&str, TimestampMs, &[sdk::Series], &mut JsonState) -> Result<Vec<sdk::AlarmSignal>, PluginError>,
{
    instances
        .iter()
        .map(|instance| {
            let detection = detect::run(instance, rule)?;
            Ok(Outcome {
                detection,
                raises: rule.raises(),
                clears: rule.clears(),
                max_state_bytes: rule.state().largest(),
            })
        })
        .collect()
}

/// Prints a per-instance table of outcomes and their totals; returns the totals.
pub fn print_outcomes(title: &str, outcomes: &[Outcome]) -> Summary {
    println!("\n## {title}\n");
    println!("| instance | class | hours | detected | delay (s) | false alarms | raises | clears | max state (B) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for o in outcomes {
        let d = &o.detection;
        let detected = match (d.class, d.detected) {
            (0, _) => "–",
            (_, true) => "yes",
            (_, false) => "no",
        };
        let delay = d.delay_s.map_or("–".to_string(), |s| format!("{s:.0}"));
        println!(
            "| {} | {} | {:.1} | {detected} | {delay} | {} | {} | {} | {} |",
            d.instance, d.class, d.hours, d.false_alarms, o.raises, o.clears, o.max_state_bytes
        );
    }
    let s = Summary::of(outcomes.iter().map(|o| &o.detection));
    let median = s.median_delay_s.map_or("–".to_string(), |d| format!("{d:.0}"));
    let detected = if outcomes.iter().all(|o| o.detection.class == 0) {
        String::new()
    } else {
        format!("detected {}/{}, median delay {median} s, ", s.detected, s.instances)
    };
    println!(
        "\n{detected}false alarms {} in {:.1} h of normal data ({:.2} / 24 h)",
        s.false_alarms,
        s.normal_hours,
        s.false_alarms_per_day()
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(key: &str, ts: i64, value: Value) -> Reading {
        Reading { device_id: DEVICE.into(), key: key.into(), ts, value, quality: 1.0 }
    }

    #[test]
    fn groups_by_key_and_sorts_by_ts() {
        let batch = to_series(&[
            reading("b", 30, Value::Number(3.0)),
            reading("a", 20, Value::Integer(2)),
            reading("b", 10, Value::Boolean(true)),
            reading("a", 10, Value::Text("x".into())),
            reading("b", 30, Value::Number(4.0)),
        ]);
        let keys: Vec<&str> = batch.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["a", "b"]);
        let a: Vec<(i64, String)> = batch[0].samples.iter().map(|s| (s.ts, format!("{:?}", s.value))).collect();
        assert_eq!(
            a,
            [(10, format!("{:?}", sdk::Value::Text("x".into()))), (20, format!("{:?}", sdk::Value::Integer(2)))]
        );
        let b: Vec<(i64, Option<f64>)> = batch[1].samples.iter().map(|s| (s.ts, s.as_f64())).collect();
        assert_eq!(b, [(10, Some(1.0)), (30, Some(3.0)), (30, Some(4.0))]);
        assert!(to_series(&[]).is_empty());
    }

    #[test]
    fn converts_signals() {
        let signal = sdk::AlarmSignal::raise_at("d", 5, "T", sdk::Severity::Minor, serde_json::json!({"v": 1}));
        let model = from_signal(signal);
        assert_eq!(
            (model.action, model.device_id.as_str(), model.ts, model.severity),
            (AlarmAction::Raise, "d", 5, Severity::Minor)
        );
    }

    /// Adds the batch's sample count to `n` and raises; fails when the batch
    /// holds key `fail` (after writing the state).
    #[allow(clippy::type_complexity)]
    fn counter() -> NativeRule<impl Logic> {
        NativeRule::new(|device: &str, now, batch: &[sdk::Series], state: &mut JsonState| {
            let n: usize = state.load("n")?.unwrap_or_default();
            state.save("n", &(n + batch.iter().map(|s| s.samples.len()).sum::<usize>()))?;
            if sdk::series(batch, "fail").is_some() {
                return Err(PluginError::new("boom", "asked to fail"));
            }
            Ok(vec![sdk::AlarmSignal::raise_at(device, now, "T", sdk::Severity::Major, serde_json::json!({}))])
        })
    }

    #[test]
    fn state_is_kept_on_success_dropped_on_error_and_cleared_on_reset() {
        let mut rule = counter();
        let ok = rule.evaluate(7, &[reading("x", 1, Value::Number(1.0)), reading("x", 2, Value::Number(1.0))]);
        let signals = ok.expect("first call");
        assert_eq!((signals.len(), signals[0].device_id.as_str(), signals[0].ts), (1, DEVICE, 7));
        assert_eq!(rule.state().bytes("n"), Some(&b"2"[..]));

        let err = rule.evaluate(8, &[reading("fail", 3, Value::Number(1.0))]).expect_err("second call fails");
        assert_eq!(err, "boom: asked to fail");
        assert_eq!(rule.state().load::<usize>("n").ok(), Some(Some(2)), "the failed call's write is dropped");
        assert_eq!(rule.raises(), 1);

        rule.evaluate(9, &[reading("x", 4, Value::Number(1.0))]).expect("third call");
        assert_eq!(rule.state().load::<usize>("n").ok(), Some(Some(3)));
        assert_eq!((rule.raises(), rule.clears()), (2, 0));

        rule.reset();
        assert!(rule.state().is_empty());
        assert_eq!((rule.raises(), rule.state().largest()), (0, 0));
    }

    #[test]
    fn undecodable_state_fails_the_call() {
        let mut state = JsonState::default();
        state.save("k", &"text").expect("saved");
        assert_eq!(state.load::<u32>("k").map_err(|e| e.code), Err("state-decode".to_string()));
        assert_eq!(state.load::<u32>("missing").ok(), Some(None));
        state.delete("k");
        assert!(state.is_empty());
    }
}
