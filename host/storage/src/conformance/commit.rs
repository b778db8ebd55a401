//! The unit of work: all or nothing; records and metered use.

use nexus_model::{
    AlarmAction, AlarmSignal, BindingId, DeadLetter, EventBody, EventSeq, PluginRun, Reading, Recommendation, Severity,
    Stage, Value,
};

use super::fixture::{T0, admin, field};
use crate::{Effects, NewRecommendation, SignalWrite, StateWrite, Store};

fn reading(device: &nexus_model::DeviceId, ts: i64, v: f64) -> Reading {
    Reading { device_id: device.clone(), key: "t".into(), ts, value: Value::Number(v), quality: 1.0 }
}

/// A commit that fails half-way leaves nothing behind: no readings, no
/// state, no alarm, no event.
pub async fn a_commit_is_atomic(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let before = store.tenant_events(&a.tenant, EventSeq(0), 1000).await.expect("events").len();
    let signal = SignalWrite {
        binding_id: a.binding.id.clone(),
        actor: admin(),
        propagate: true,
        signal: AlarmSignal {
            action: AlarmAction::Raise,
            device_id: a.device.id.clone(),
            alarm_type: "High".into(),
            severity: Severity::Major,
            ts: T0 + 1,
            details: "{}".into(),
        },
    };
    let mut effects = Effects::new(&a.tenant, T0 + 1);
    effects.add_readings(&[reading(&a.device.id, T0 + 1, 5.0)]);
    effects.signals.push(signal.clone());
    effects.states.push(StateWrite {
        binding_id: a.binding.id.clone(),
        device_id: a.device.id.clone(),
        state: [("k".to_string(), b"1".to_vec())].into(),
    });
    // The last write names a binding that does not exist: the commit fails.
    effects.states.push(StateWrite {
        binding_id: BindingId::new("no-such-binding"),
        device_id: a.device.id.clone(),
        state: [("k".to_string(), b"1".to_vec())].into(),
    });
    assert!(store.commit(effects.clone()).await.is_err());
    assert_eq!(store.count_readings(&a.tenant, &a.device.id).await.expect("count"), 0);
    assert!(store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state").is_empty());
    assert!(store.alarms(&a.tenant, &Default::default()).await.expect("alarms").is_empty());
    assert_eq!(store.tenant_events(&a.tenant, EventSeq(0), 1000).await.expect("events").len(), before);

    effects.states.pop();
    let committed = store.commit(effects).await.expect("commit");
    assert_eq!(store.count_readings(&a.tenant, &a.device.id).await.expect("count"), 1);
    assert_eq!(store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state").len(), 1);
    assert_eq!(committed.transitions.len(), 1);
    assert_eq!(committed.events.len(), 1);
    assert!(
        matches!(&committed.events[0].body, EventBody::Alarm(t) if t.alarm.id == committed.transitions[0].alarm.id)
    );
    let stored = store.tenant_events(&a.tenant, EventSeq(0), 1000).await.expect("events");
    assert_eq!(stored.last(), committed.events.last());
}

/// Recommendations, failed runs, dead letters and quarantines are stored,
/// listed newest first, and each is an event; usage adds up.
pub async fn records_and_usage_accumulate(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    for i in 0..3 {
        let mut effects = Effects::new(&a.tenant, T0 + i);
        effects.meter("2023-11", 10);
        effects.recommendations.push(NewRecommendation {
            binding_id: a.binding.id.clone(),
            well_id: Some(a.well.id.clone()),
            recommendation: Recommendation {
                device_id: a.device.id.clone(),
                parameter: "frequency_hz".into(),
                current_value: 50.0,
                proposed_value: 50.5 + i as f64,
                unit: "Hz".into(),
                expected_gain: 10.0,
                gain_unit: "bbl/d".into(),
                confidence: 0.8,
                rationale: "because".into(),
                details: serde_json::json!({"binding_constraint": "pip", "step": i}),
            },
        });
        effects.plugin_runs.push(PluginRun {
            tenant_id: a.tenant.clone(),
            binding_id: Some(a.binding.id.clone()),
            device_id: Some(a.device.id.clone()),
            plugin: "rule".into(),
            version: "1.0.0".into(),
            error_code: "plugin-trap".into(),
            error: format!("trap {i}"),
            duration_us: 10,
            fuel_used: 5,
            ts: T0 + i,
        });
        effects.dead_letters.push(DeadLetter {
            tenant_id: a.tenant.clone(),
            binding_id: Some(a.binding.id.clone()),
            device_id: Some(a.device.id.clone()),
            stage: Stage::Evaluate,
            error_code: "plugin-trap".into(),
            error: format!("trap {i}"),
            payload: vec![i as u8; 3],
            ts: T0 + i,
        });
        let committed = store.commit(effects).await.expect("commit");
        assert_eq!(committed.recommendations.len(), 1);
        let kinds: Vec<&str> = committed.events.iter().map(|e| e.body.type_name()).collect();
        // Each recommendation supersedes the proposed one before it.
        let superseded: &[&str] = if i == 0 { &[] } else { &["recommendation_changed"] };
        assert_eq!(kinds, [superseded, &["recommendation", "plugin_fault", "dead_letter"]].concat());
    }
    let recommendations = store.recommendations(&a.tenant, 10).await.expect("recommendations");
    assert_eq!(recommendations.iter().map(|r| r.recommendation.proposed_value).collect::<Vec<_>>(), [52.5, 51.5, 50.5]);
    assert_eq!(recommendations[0].well_id.as_ref(), Some(&a.well.id));
    let statuses: Vec<&str> = recommendations.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["PROPOSED", "SUPERSEDED", "SUPERSEDED"]);
    assert_eq!(recommendations[0].recommendation.details, serde_json::json!({"binding_constraint": "pip", "step": 2}));
    let runs = store.plugin_runs(&a.tenant, 2).await.expect("runs");
    assert_eq!(runs.iter().map(|r| r.error.as_str()).collect::<Vec<_>>(), ["trap 2", "trap 1"]);
    assert_eq!(runs[0].device_id.as_ref(), Some(&a.device.id));
    let letters = store.dead_letters(&a.tenant, 10).await.expect("letters");
    assert_eq!(letters.len(), 3);
    assert_eq!((letters[0].stage, letters[0].payload.as_slice()), (Stage::Evaluate, &[2u8, 2, 2][..]));
    let usage = store.usage(&a.tenant, "2023-11").await.expect("usage");
    assert_eq!((usage.executions, usage.fuel), (3, 30));
    assert_eq!(store.usage(&a.tenant, "2023-12").await.expect("usage").executions, 0);
}

/// Several units of work of different tenants commit in one transaction:
/// all of them, or — when one fails — none.
pub async fn group_commit_is_all_or_nothing(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let many = |device: &nexus_model::DeviceId, n: i64| -> Vec<Reading> {
        (0..n).map(|i| reading(device, T0 + i, i as f64)).collect()
    };
    let mut for_a = Effects::new(&a.tenant, T0);
    for_a.add_readings(&many(&a.device.id, 300));
    let mut for_b = Effects::new(&b.tenant, T0);
    for_b.add_readings(&many(&b.device.id, 7));
    let mut broken = Effects::new(&b.tenant, T0);
    broken.states.push(StateWrite {
        binding_id: BindingId::new("no-such-binding"),
        device_id: b.device.id.clone(),
        state: [("k".to_string(), b"1".to_vec())].into(),
    });
    assert!(store.commit_all(vec![for_a.clone(), for_b.clone(), broken]).await.is_err());
    assert_eq!(store.count_readings(&a.tenant, &a.device.id).await.expect("count"), 0, "part of a failed group stayed");
    let committed = store.commit_all(vec![for_a, for_b]).await.expect("commit");
    assert_eq!(committed.len(), 2);
    assert_eq!(store.count_readings(&a.tenant, &a.device.id).await.expect("count"), 300);
    assert_eq!(store.count_readings(&b.tenant, &b.device.id).await.expect("count"), 7);
    let latest = store.latest(&a.tenant, &a.device.id, &[]).await.expect("latest");
    assert_eq!((latest.len(), latest[0].ts), (1, T0 + 299), "the newest of the batch is the latest");
    assert_eq!(store.commit_all(Vec::new()).await.expect("empty").len(), 0);
}

/// Plugin states written by several units of work of one group commit end
/// as the last write of each (binding, device) left them; any bytes, the
/// empty value among them, come back as written, and an empty state
/// deletes what was there.
pub async fn plugin_states_of_a_batch_end_as_their_last_write(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let write = |pairs: &[(&str, &[u8])]| {
        let mut effects = Effects::new(&a.tenant, T0);
        effects.states.push(StateWrite {
            binding_id: a.binding.id.clone(),
            device_id: a.device.id.clone(),
            state: pairs.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect(),
        });
        effects
    };
    let bytes: &[u8] = &[0, 1, 0x7f, 0x80, 0xff, b'"', b'\\'];
    let batch = vec![write(&[("old", b"x"), ("k", b"1")]), write(&[("k", bytes), ("empty", b"")])];
    store.commit_all(batch).await.expect("commit");
    let state = store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state");
    let expected: std::collections::BTreeMap<String, Vec<u8>> =
        [("k".to_string(), bytes.to_vec()), ("empty".to_string(), Vec::new())].into();
    assert_eq!(state, expected, "the batch's last write, bytes intact");
    // A later commit's state replaces the stored one: a key it lacks goes.
    store.commit_all(vec![write(&[("k", b"3")])]).await.expect("commit");
    let state = store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state");
    assert_eq!(state, [("k".to_string(), b"3".to_vec())].into(), "the stored state, replaced whole");
    store.commit_all(vec![write(&[("k", b"2")]), write(&[])]).await.expect("commit");
    assert!(store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state").is_empty());
}
