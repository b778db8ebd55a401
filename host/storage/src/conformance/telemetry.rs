//! Telemetry: idempotent re-delivery, the latest value, history windows.

use nexus_model::{Reading, Value};

use super::fixture::{T0, field};
use crate::{Effects, Store};

/// A re-delivered (device, key, ts) replaces the stored reading; "latest"
/// keeps the newest by timestamp even when an older one arrives later;
/// history is `[start, end)`, oldest first, at most `limit`.
pub async fn telemetry_latest_history_and_redelivery(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let reading = |key: &str, ts: i64, value: Value| Reading {
        device_id: a.device.id.clone(),
        key: key.into(),
        ts,
        value,
        quality: 1.0,
    };
    let commit = |readings: Vec<Reading>| {
        let mut effects = Effects::new(&a.tenant, T0);
        effects.add_readings(&readings);
        async move { store.commit(effects).await.expect("commit") }
    };
    commit((0..10).map(|i| reading("p", T0 + i * 1000, Value::Number(i as f64))).collect()).await;
    commit(vec![
        reading("p", T0 + 5000, Value::Number(55.0)),
        reading("flag", T0, Value::Boolean(true)),
        reading("name", T0, Value::Text("ESP".into())),
        reading("count", T0, Value::Integer(-3)),
    ])
    .await;
    assert_eq!(
        store.count_readings(&a.tenant, &a.device.id).await.expect("count"),
        13,
        "a re-delivery was stored twice"
    );
    // An older reading arriving late does not replace the latest.
    commit(vec![reading("p", T0 - 1000, Value::Number(-1.0))]).await;
    let latest = store.latest(&a.tenant, &a.device.id, &[]).await.expect("latest");
    let by_key: Vec<(&str, &Value)> = latest.iter().map(|r| (r.key.as_str(), &r.value)).collect();
    assert_eq!(
        by_key,
        [
            ("count", &Value::Integer(-3)),
            ("flag", &Value::Boolean(true)),
            ("name", &Value::Text("ESP".into())),
            ("p", &Value::Number(9.0))
        ]
    );
    let only_p = store.latest(&a.tenant, &a.device.id, &["p".to_string()]).await.expect("latest");
    assert_eq!(only_p.len(), 1);

    let window = store.history(&a.tenant, &a.device.id, Some("p"), T0 + 2000, T0 + 6000, 100).await.expect("history");
    let values: Vec<Option<f64>> = window.iter().map(|r| r.value.as_f64()).collect();
    assert_eq!(values, [Some(2.0), Some(3.0), Some(4.0), Some(55.0)]);
    assert_eq!(store.history(&a.tenant, &a.device.id, Some("p"), 0, i64::MAX, 3).await.expect("history").len(), 3);
    assert_eq!(store.history(&a.tenant, &a.device.id, None, T0, T0 + 1, 100).await.expect("history").len(), 4);
    let recent = store.recent(&a.tenant, &a.device.id, 2).await.expect("recent");
    assert_eq!(recent.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0 + 8000, T0 + 9000]);
}
