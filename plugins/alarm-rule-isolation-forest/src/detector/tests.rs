//! Tests of the rule's logic under the SDK's test harness: each call works
//! on a copy of the state, kept only on success, as on the host.

use super::*;
use crate::IsolationForestRule;
use crate::config::parse_config;
use nexus_plugin_sdk::testing::Harness;
use nexus_plugin_sdk::{AlarmAction, Sample, StateStore};

const DEVICE: &str = "well-1";

fn config(json: &str) -> ForestConfig {
    parse_config(json).expect("valid config")
}

/// One series per key, rows `ts` of `value(key index, ts)`.
fn batch(keys: &[&str], ts: std::ops::Range<i64>, value: impl Fn(usize, i64) -> f64) -> Vec<Series> {
    keys.iter()
        .enumerate()
        .map(|(k, key)| Series::from_samples(key, ts.clone().map(|t| Sample::new(t, value(k, t)))))
        .collect()
}

/// A calm signal: a level per key plus deterministic noise.
fn calm(k: usize, t: i64) -> f64 {
    let noise = crate::forest::SplitMix64::new((k as u64) << 32 ^ t as u64).unit() - 0.5;
    100.0 * (k + 1) as f64 + noise
}

/// An anomaly no training window resembles: one key jumps up and shakes,
/// the other drops.
fn odd(k: usize, t: i64) -> f64 {
    if k == 0 { calm(k, t) + 5.0 + 2.0 * ((t as f64) * 1.3).sin() } else { calm(k, t) - 5.0 }
}

/// The rule with a configuration, an empty state and device [`DEVICE`].
fn rule(cfg: ForestConfig) -> Harness<IsolationForestRule> {
    Harness::new(cfg).with_device(DEVICE)
}

/// One call, at the time of the batch's last sample.
fn call(rule: &mut Harness<IsolationForestRule>, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
    let now = batch.iter().filter_map(|s| s.ts.last()).copied().max().unwrap_or(0);
    rule.evaluate(now, batch)
}

fn actions(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64)> {
    signals.iter().map(|s| (s.action, s.ts)).collect()
}

/// Everything a signal says, comparable.
fn full(signals: &[AlarmSignal]) -> Vec<(AlarmAction, i64, String, String)> {
    signals.iter().map(|s| (s.action, s.ts, s.alarm_type.clone(), s.details.clone())).collect()
}

#[test]
fn trains_silently_then_scores_every_window() {
    let cfg = config(r#"{"window": 10, "severity": "critical"}"#);
    let mut forest = rule(cfg);
    let keys = ["a", "b"];
    for w in 0..9 {
        assert!(call(&mut forest, &batch(&keys, w * 10..w * 10 + 10, calm)).expect("ok").is_empty());
    }
    let normal = call(&mut forest, &batch(&keys, 90..100, calm)).expect("ok");
    assert_eq!(actions(&normal), vec![(AlarmAction::Clear, 99)]);
    let details: serde_json::Value = serde_json::from_str(&normal[0].details).expect("json");
    assert_eq!(details["window_end"], 99);
    assert!(details["score"].as_f64() <= details["threshold"].as_f64());
    let odd = call(&mut forest, &batch(&keys, 100..110, odd)).expect("ok");
    assert_eq!(actions(&odd), vec![(AlarmAction::Raise, 109)]);
    assert_eq!((odd[0].alarm_type.as_str(), odd[0].severity), ("Anomaly", nexus_plugin_sdk::Severity::Critical));
    assert_eq!(odd[0].device_id, DEVICE);
}

#[test]
fn one_row_frames_give_the_same_signals_as_whole_windows() {
    let cfg = config(r#"{"window": 12, "seed": 3}"#);
    let keys = ["p", "t"];
    let value = |k: usize, t: i64| if t >= 120 { odd(k, t) } else { calm(k, t) };
    let mut whole = rule(cfg.clone());
    let mut expected = Vec::new();
    for w in 0..12 {
        expected.extend(call(&mut whole, &batch(&keys, w * 12..w * 12 + 12, value)).expect("ok"));
    }
    let mut frames = rule(cfg.clone());
    let mut got = Vec::new();
    for t in 0..144 {
        got.extend(call(&mut frames, &batch(&keys, t..t + 1, value)).expect("ok"));
    }
    assert_eq!(full(&got), full(&expected));
    assert_eq!(
        actions(&expected),
        vec![(AlarmAction::Clear, 119), (AlarmAction::Raise, 131), (AlarmAction::Raise, 143)]
    );
    // A batch that spans windows gives one signal per scored window.
    let mut spanning = rule(cfg);
    assert_eq!(full(&call(&mut spanning, &batch(&keys, 0..144, value)).expect("ok")), full(&expected));
}

#[test]
fn missing_values_count_as_zero() {
    let cfg = config(r#"{"window": 4, "train_windows": 2, "keys": ["a", "b"]}"#);
    let mut forest = rule(cfg);
    // Key `b` has one sample at ts 1; key `c` is not watched.
    let mut input = batch(&["a", "c"], 0..4, |_, t| t as f64);
    input[1] = Series::from_samples("b", [Sample::new(1, 1.0)]);
    input.push(Series::from_samples("c", [Sample::new(9, 1.0)]));
    call(&mut forest, &input).expect("ok");
    let stats: Vec<Stats> = forest.store().get(&train_key(0)).expect("trained");
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0][1], 1.5);
    assert_eq!((stats[1][4], stats[1][5], stats[1][1]), (1.0, 0.0, 0.25));
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows, meta.chunks), (1, 0, 0));
}

#[test]
fn keys_seen_during_training_join_and_later_ones_are_ignored() {
    let cfg = config(r#"{"window": 5, "train_windows": 2}"#);
    let mut forest = rule(cfg);
    call(&mut forest, &batch(&["a"], 0..5, calm)).expect("ok");
    call(&mut forest, &batch(&["a", "b"], 5..10, calm)).expect("ok");
    call(&mut forest, &batch(&["a", "b", "z"], 10..15, calm)).expect("ok");
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!(meta.keys, vec!["a".to_string(), "b".to_string()]);
    // Window 0 predates `b`: its statistics are read as zeros.
    let first: Vec<Stats> = forest.store().get(&train_key(0)).expect("trained");
    assert_eq!(first.len(), 1);
}

#[test]
fn the_buffer_is_chunked_under_the_budget() {
    let keys: Vec<String> = (0..40).map(|k| format!("key-{k}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let cfg = config(r#"{"window": 600, "train_windows": 2}"#);
    let mut forest = rule(cfg);
    // Awkward values: full-precision, negative, huge exponents.
    let value = |k: usize, t: i64| -1.234_567_890_123_456_7e-3 * (k as f64 + 1.0) - (t as f64).sqrt() * 1.234_567e5;
    let mut most_chunks = 0;
    for start in (0..1800).step_by(97) {
        call(&mut forest, &batch(&keys, start..(start + 97).min(1800), value)).expect("ok");
        most_chunks = most_chunks.max(forest.store().get::<Meta>(META_KEY).expect("meta").chunks);
    }
    assert!(forest.store().largest() < 48 << 10, "largest value {} bytes", forest.store().largest());
    // About 38 rows of 40 keys per chunk.
    assert!((14..=17).contains(&most_chunks), "{most_chunks} chunks");
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (2, 0));
    assert!(!forest.store().values().keys().any(|k| k.starts_with("buf/")), "the buffer empties");
}

#[test]
fn a_config_change_starts_over() {
    let mut forest = rule(config(r#"{"window": 5, "train_windows": 2}"#));
    call(&mut forest, &batch(&["a"], 0..13, calm)).expect("ok");
    assert!(forest.store().values().contains_key("buf/0") && forest.store().values().contains_key("train/1"));
    // A new seed keeps the training (the forest is rebuilt anyway).
    forest.set_config(config(r#"{"window": 5, "train_windows": 2, "seed": 9}"#));
    assert_eq!(call(&mut forest, &batch(&["a"], 13..15, calm)).expect("ok").len(), 1);
    // A new window length does not.
    forest.set_config(config(r#"{"window": 6, "train_windows": 2}"#));
    assert!(call(&mut forest, &batch(&["a"], 15..16, calm)).expect("ok").is_empty());
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (0, 1));
    assert!(!forest.store().values().contains_key("train/0"));
}

#[test]
fn lost_state_is_rebuilt_not_fatal() {
    let cfg = config(r#"{"window": 4, "train_windows": 2}"#);
    let mut forest = rule(cfg);
    call(&mut forest, &batch(&["a"], 0..10, calm)).expect("ok");
    forest.store_mut().delete("train/0");
    forest.store_mut().save("buf/0", &"garbage").expect("tampered");
    assert!(call(&mut forest, &batch(&["a"], 10..12, calm)).expect("ok").is_empty());
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (2, 2));
    // Training data gone when scoring: the window trains instead.
    forest.store_mut().delete("train/1");
    assert!(call(&mut forest, &batch(&["a"], 12..16, calm)).expect("ok").is_empty());
    let meta: Meta = forest.store().get(META_KEY).expect("meta");
    assert_eq!(meta.trained, 1);
}

#[test]
fn empty_or_foreign_batches_touch_nothing() {
    let cfg = config(r#"{"keys": ["a"]}"#);
    let mut forest = rule(cfg);
    assert!(call(&mut forest, &[]).expect("ok").is_empty());
    assert!(call(&mut forest, &batch(&["other"], 0..5, calm)).expect("ok").is_empty());
    assert!(forest.store().is_empty());
}

#[test]
fn too_many_keys_is_an_error() {
    let keys: Vec<String> = (0..=MAX_KEYS).map(|k| format!("k{k}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut forest = rule(ForestConfig::default());
    let err = call(&mut forest, &batch(&keys, 0..1, calm)).expect_err("too many");
    assert_eq!(err.code, "too-many-keys");
    assert!(forest.store().is_empty());
}
