//! Tests of the harness and of the state handling every stateful rule gets.

use super::*;
use crate::{PluginInfo, Severity};

/// Counts the samples of key `n` seen so far and raises at every call that
/// saw any; fails on a batch holding key `fail` (after counting). Reads
/// only batches that hold `n` or `fail`.
struct Counter;

impl StatefulAlarmRule for Counter {
    type Config = ();
    type State = usize;
    const STATE_KEY: &'static str = "n";

    fn describe() -> PluginInfo {
        PluginInfo {
            name: "counter".into(),
            version: "0".into(),
            description: String::new(),
            config_schema: "{}".into(),
        }
    }

    fn evaluate(
        _config: &(),
        n: &mut usize,
        device_id: &str,
        now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        let seen = crate::series(batch, "n").map_or(0, |s| s.len());
        *n += seen;
        if crate::series(batch, "fail").is_some() {
            return Err(PluginError::new("boom", "asked to fail"));
        }
        Ok(if seen > 0 {
            vec![AlarmSignal::raise_at(device_id, now, "T", Severity::Major, serde_json::json!({}))]
        } else {
            Vec::new()
        })
    }

    fn is_relevant(_config: &(), batch: &[Series]) -> bool {
        ["n", "fail"].iter().any(|key| crate::series(batch, key).is_some())
    }
}

/// A store that records what is written, for checking when the state is saved.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    saves: Vec<String>,
}

impl StateStore for Recording {
    fn load<T: DeserializeOwned>(&mut self, key: &str) -> Option<T> {
        self.inner.load(key)
    }

    fn save<T: Serialize>(&mut self, key: &str, value: &T) -> Result<(), PluginError> {
        self.saves.push(key.to_string());
        self.inner.save(key, value)
    }

    fn delete(&mut self, key: &str) {
        self.inner.delete(key);
    }
}

fn run(store: &mut Recording, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
    <Counter as StoreAlarmRule>::evaluate(&(), store, "dev", 7, batch)
}

#[test]
fn batches_are_grouped_by_key_and_sorted_by_ts() {
    let batch = batch([
        (30, "b", Value::from(3.0)),
        (20, "a", Value::from(2_i64)),
        (10, "b", Value::from(true)),
        (10, "a", Value::from("x")),
        (30, "b", Value::from(4.0)),
    ]);
    // One series per key and value type, keys sorted.
    let keys: Vec<&str> = batch.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(keys, ["a", "a", "b", "b"]);
    let a: Vec<(i64, Value)> = crate::samples(&batch, "a").expect("a").into_iter().map(|s| (s.ts, s.value)).collect();
    assert_eq!(a, [(10, Value::Text("x".into())), (20, Value::Integer(2))]);
    let b: Vec<(i64, Option<f64>)> =
        crate::samples(&batch, "b").expect("b").iter().map(|s| (s.ts, s.as_f64())).collect();
    assert_eq!(b, [(10, Some(1.0)), (30, Some(3.0)), (30, Some(4.0))]);
    assert!(batch.iter().all(|s| s.quality.is_empty()), "quality 1 everywhere: omitted");
    assert!(super::batch::<f64>([]).is_empty());
}

#[test]
fn the_state_is_saved_only_when_it_changes() {
    let mut store = Recording::default();
    run(&mut store, &batch([(1, "n", 1.0), (2, "n", 1.0)])).expect("runs");
    assert_eq!(store.saves, ["n"]);
    assert_eq!(store.inner.bytes("n"), Some(&b"2"[..]));
    // Relevant, but nothing to count: loaded, unchanged, not saved.
    run(&mut store, &[Series::from_samples("n", [])]).expect("runs");
    assert_eq!(store.saves, ["n"]);
}

#[test]
fn an_irrelevant_batch_skips_the_state() {
    let mut store = Recording::default();
    store.inner.save("n", &"not a number").expect("saved");
    assert!(run(&mut store, &batch([(1, "other", 1.0)])).expect("runs").is_empty());
    assert!(store.saves.is_empty());
    assert_eq!(store.inner.bytes("n"), Some(&br#""not a number""#[..]), "not even loaded and saved back");
    // An unreadable value reads as the default.
    run(&mut store, &batch([(2, "n", 1.0)])).expect("runs");
    assert_eq!(store.inner.get::<usize>("n"), Some(1));
}

#[test]
fn state_is_kept_on_success_dropped_on_error_and_cleared_on_reset() {
    let mut rule = Harness::<Counter>::new(()).with_device("well-9");
    let signals = rule.evaluate(7, &batch([(1, "n", 1.0), (2, "n", 1.0)])).expect("first call");
    assert_eq!(
        signals.iter().map(|s| (s.device_id.as_str(), s.ts, s.action)).collect::<Vec<_>>(),
        [("well-9", 7, AlarmAction::Raise)]
    );
    assert_eq!(rule.state(), 2);

    let error = rule.evaluate(8, &batch([(3, "n", 1.0), (3, "fail", 1.0)])).expect_err("second call fails");
    assert_eq!((error.code.as_str(), error.message.as_str()), ("boom", "asked to fail"));
    assert_eq!(rule.state(), 2, "the failed call's write is dropped");
    assert_eq!(rule.raises(), 1);

    rule.evaluate(9, &batch([(4, "n", 1.0)])).expect("third call");
    assert_eq!((rule.state(), rule.raises(), rule.clears()), (3, 2, 0));
    assert_eq!(rule.store().largest(), 1);

    rule.store_mut().delete("n");
    assert_eq!(rule.state(), 0, "a lost value reads as the default");
    rule.reset();
    assert!(rule.store().is_empty());
    assert_eq!((rule.raises(), rule.store().largest()), (0, 0));
}

#[test]
fn configurations_parse_as_in_the_component() {
    #[derive(Debug, serde::Deserialize)]
    struct Limit {
        limit: f64,
    }
    struct Limited;
    impl StatefulAlarmRule for Limited {
        type Config = Limit;
        type State = ();
        const STATE_KEY: &'static str = "unused";
        fn describe() -> PluginInfo {
            <Counter as StatefulAlarmRule>::describe()
        }
        fn evaluate(_: &Limit, _: &mut (), _: &str, _: i64, _: &[Series]) -> Result<Vec<AlarmSignal>, PluginError> {
            Ok(Vec::new())
        }
    }
    let rule = Harness::<Limited>::from_json(r#"{"limit": 2}"#).expect("valid");
    assert_eq!(rule.config().limit, 2.0);
    let error = Harness::<Limited>::from_json("[2]").err().expect("not an object");
    assert_eq!(error.code, "invalid-config");
}

#[test]
fn the_memory_store_keeps_the_host_caps() {
    let mut store = MemoryStore::default();
    store.save("big", &"x".repeat(VALUE_CAP - 5)).expect("at the cap: key + quotes + text");
    assert_eq!(store.largest(), VALUE_CAP - 3);
    let error = store.save("big", &"x".repeat(VALUE_CAP - 4)).expect_err("over the cap");
    assert_eq!(error.code, "host-limit-exceeded");
    for i in 1..MAX_KEYS {
        store.save(&format!("k{i}"), &i).expect("under the key cap");
    }
    assert_eq!(store.save("one-more", &0).map_err(|e| e.code), Err("host-limit-exceeded".to_string()));
    store.save("k1", &2).expect("an existing key may be rewritten");
    assert_eq!(store.values().len(), MAX_KEYS);
}
