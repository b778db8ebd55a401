//! Tests of the rule's logic: calls go through a `MemoryStore` copied per
//! call and kept only on success, as on the host.

use super::*;
use crate::config::parse_config;
use nexus_plugin_sdk::{AlarmAction, Sample, Value};

const DEVICE: &str = "well-1";

fn config(json: &str) -> ForestConfig {
    parse_config(json).expect("valid config")
}

/// One series per key, rows `ts` of `value(key index, ts)`.
fn batch(keys: &[&str], ts: std::ops::Range<i64>, value: impl Fn(usize, i64) -> f64) -> Vec<Series> {
    keys.iter()
        .enumerate()
        .map(|(k, key)| Series {
            key: key.to_string(),
            samples: ts.clone().map(|t| Sample { ts: t, value: Value::Number(value(k, t)), quality: 1.0 }).collect(),
        })
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

/// Feeds one call the way the host does: on a copy of the state, kept only on success.
fn call(cfg: &ForestConfig, store: &mut MemoryStore, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
    let mut copy = store.clone();
    let signals = evaluate(cfg, &mut copy, DEVICE, batch)?;
    *store = copy;
    Ok(signals)
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
    let mut store = MemoryStore::default();
    let keys = ["a", "b"];
    for w in 0..9 {
        assert!(call(&cfg, &mut store, &batch(&keys, w * 10..w * 10 + 10, calm)).expect("ok").is_empty());
    }
    let normal = call(&cfg, &mut store, &batch(&keys, 90..100, calm)).expect("ok");
    assert_eq!(actions(&normal), vec![(AlarmAction::Clear, 99)]);
    let details: serde_json::Value = serde_json::from_str(&normal[0].details).expect("json");
    assert_eq!(details["window_end"], 99);
    assert!(details["score"].as_f64() <= details["threshold"].as_f64());
    let odd = call(&cfg, &mut store, &batch(&keys, 100..110, odd)).expect("ok");
    assert_eq!(actions(&odd), vec![(AlarmAction::Raise, 109)]);
    assert_eq!((odd[0].alarm_type.as_str(), odd[0].severity), ("Anomaly", nexus_plugin_sdk::Severity::Critical));
    assert_eq!(odd[0].device_id, DEVICE);
}

#[test]
fn one_row_frames_give_the_same_signals_as_whole_windows() {
    let cfg = config(r#"{"window": 12, "seed": 3}"#);
    let keys = ["p", "t"];
    let value = |k: usize, t: i64| if t >= 120 { odd(k, t) } else { calm(k, t) };
    let mut whole = MemoryStore::default();
    let mut expected = Vec::new();
    for w in 0..12 {
        expected.extend(call(&cfg, &mut whole, &batch(&keys, w * 12..w * 12 + 12, value)).expect("ok"));
    }
    let mut frames = MemoryStore::default();
    let mut got = Vec::new();
    for t in 0..144 {
        got.extend(call(&cfg, &mut frames, &batch(&keys, t..t + 1, value)).expect("ok"));
    }
    assert_eq!(full(&got), full(&expected));
    assert_eq!(
        actions(&expected),
        vec![(AlarmAction::Clear, 119), (AlarmAction::Raise, 131), (AlarmAction::Raise, 143)]
    );
    // A batch that spans windows gives one signal per scored window.
    let mut spanning = MemoryStore::default();
    assert_eq!(full(&call(&cfg, &mut spanning, &batch(&keys, 0..144, value)).expect("ok")), full(&expected));
}

#[test]
fn missing_values_count_as_zero() {
    let cfg = config(r#"{"window": 4, "train_windows": 2, "keys": ["a", "b"]}"#);
    let mut store = MemoryStore::default();
    // Key `b` has one sample at ts 1; key `c` is not watched.
    let mut input = batch(&["a", "c"], 0..4, |_, t| t as f64);
    input[1].key = "b".into();
    input[1].samples.truncate(2);
    input[1].samples.remove(0);
    input.push(Series { key: "c".into(), samples: vec![Sample { ts: 9, value: Value::Number(1.0), quality: 1.0 }] });
    call(&cfg, &mut store, &input).expect("ok");
    let stats: Vec<Stats> = store.load(&train_key(0)).expect("trained");
    assert_eq!(stats.len(), 2);
    assert_eq!(stats[0][1], 1.5);
    assert_eq!((stats[1][4], stats[1][5], stats[1][1]), (1.0, 0.0, 0.25));
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows, meta.chunks), (1, 0, 0));
}

#[test]
fn keys_seen_during_training_join_and_later_ones_are_ignored() {
    let cfg = config(r#"{"window": 5, "train_windows": 2}"#);
    let mut store = MemoryStore::default();
    call(&cfg, &mut store, &batch(&["a"], 0..5, calm)).expect("ok");
    call(&cfg, &mut store, &batch(&["a", "b"], 5..10, calm)).expect("ok");
    call(&cfg, &mut store, &batch(&["a", "b", "z"], 10..15, calm)).expect("ok");
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!(meta.keys, vec!["a".to_string(), "b".to_string()]);
    // Window 0 predates `b`: its statistics are read as zeros.
    let first: Vec<Stats> = store.load(&train_key(0)).expect("trained");
    assert_eq!(first.len(), 1);
}

#[test]
fn the_buffer_is_chunked_under_the_budget() {
    let keys: Vec<String> = (0..40).map(|k| format!("key-{k}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let cfg = config(r#"{"window": 600, "train_windows": 2}"#);
    let mut store = MemoryStore::default();
    // Awkward values: full-precision, negative, huge exponents.
    let value = |k: usize, t: i64| -1.234_567_890_123_456_7e-3 * (k as f64 + 1.0) - (t as f64).sqrt() * 1.234_567e5;
    let mut most_chunks = 0;
    for start in (0..1800).step_by(97) {
        call(&cfg, &mut store, &batch(&keys, start..(start + 97).min(1800), value)).expect("ok");
        most_chunks = most_chunks.max(store.load::<Meta>(META_KEY).expect("meta").chunks);
    }
    assert!(store.largest < 48 << 10, "largest value {} bytes", store.largest);
    // About 38 rows of 40 keys per chunk.
    assert!((14..=17).contains(&most_chunks), "{most_chunks} chunks");
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (2, 0));
    assert!(!store.values.keys().any(|k| k.starts_with("buf/")), "the buffer empties");
}

#[test]
fn a_config_change_starts_over() {
    let mut store = MemoryStore::default();
    let first = config(r#"{"window": 5, "train_windows": 2}"#);
    call(&first, &mut store, &batch(&["a"], 0..13, calm)).expect("ok");
    assert!(store.values.contains_key("buf/0") && store.values.contains_key("train/1"));
    // A new seed keeps the training (the forest is rebuilt anyway).
    let reseeded = config(r#"{"window": 5, "train_windows": 2, "seed": 9}"#);
    assert_eq!(call(&reseeded, &mut store, &batch(&["a"], 13..15, calm)).expect("ok").len(), 1);
    // A new window length does not.
    let second = config(r#"{"window": 6, "train_windows": 2}"#);
    assert!(call(&second, &mut store, &batch(&["a"], 15..16, calm)).expect("ok").is_empty());
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (0, 1));
    assert!(!store.values.contains_key("train/0"));
}

#[test]
fn lost_state_is_rebuilt_not_fatal() {
    let cfg = config(r#"{"window": 4, "train_windows": 2}"#);
    let mut store = MemoryStore::default();
    call(&cfg, &mut store, &batch(&["a"], 0..10, calm)).expect("ok");
    store.values.remove("train/0");
    store.values.insert("buf/0".into(), b"garbage".to_vec());
    assert!(call(&cfg, &mut store, &batch(&["a"], 10..12, calm)).expect("ok").is_empty());
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!((meta.trained, meta.rows), (2, 2));
    // Training data gone when scoring: the window trains instead.
    store.values.remove("train/1");
    assert!(call(&cfg, &mut store, &batch(&["a"], 12..16, calm)).expect("ok").is_empty());
    let meta: Meta = store.load(META_KEY).expect("meta");
    assert_eq!(meta.trained, 1);
}

#[test]
fn empty_or_foreign_batches_touch_nothing() {
    let cfg = config(r#"{"keys": ["a"]}"#);
    let mut store = MemoryStore::default();
    assert!(call(&cfg, &mut store, &[]).expect("ok").is_empty());
    assert!(call(&cfg, &mut store, &batch(&["other"], 0..5, calm)).expect("ok").is_empty());
    assert!(store.values.is_empty());
}

#[test]
fn too_many_keys_is_an_error() {
    let keys: Vec<String> = (0..=MAX_KEYS).map(|k| format!("k{k}")).collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut store = MemoryStore::default();
    let err = call(&ForestConfig::default(), &mut store, &batch(&keys, 0..1, calm)).expect_err("too many");
    assert_eq!(err.code, "too-many-keys");
    assert!(store.values.is_empty());
}
