//! What keeps one device or tenant from growing without bound: latest
//! values read in pages, samples stamped ahead of the clock that do not
//! pin "latest", and the retention of dead letters.

use nexus_model::{DeadLetter, Reading, Stage, Value};

use super::fixture::{T0, field};
use crate::{DeviceSeries, Effects, Store};

/// Pages of latest values walk every key once, in key order; a device's
/// keys are listed; a sample past `latest_until` is stored but not latest.
pub async fn latest_pages_and_samples_ahead_of_the_clock(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let reading = |key: String, ts: i64| Reading {
        device_id: a.device.id.clone(),
        key,
        ts,
        value: Value::Number(ts as f64),
        quality: 1.0,
    };
    let mut effects = Effects::new(&a.tenant, T0);
    effects.add_readings(&(0..25).map(|i| reading(format!("k{i:02}"), T0 + i)).collect::<Vec<_>>());
    store.commit(effects).await.expect("commit");
    let (mut seen, mut after) = (Vec::new(), None::<String>);
    loop {
        let page = store.latest_page(&a.tenant, &a.device.id, after.as_deref(), 10).await.expect("page");
        assert!(page.len() <= 10);
        let Some(last) = page.last() else { break };
        after = Some(last.key.clone());
        seen.extend(page.into_iter().map(|r| r.key));
    }
    let expected: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
    assert_eq!(seen, expected, "every key once, in order");
    assert!(
        store.latest_page(&b.tenant, &a.device.id, None, 10).await.expect("page").is_empty(),
        "tenant b sees a's keys"
    );
    let mut keys = store.device_keys(&a.tenant, &a.device.id).await.expect("keys");
    keys.sort();
    assert_eq!(keys, expected);
    assert!(store.device_keys(&b.tenant, &a.device.id).await.expect("keys").is_empty());

    // A sample stamped a day ahead is stored but does not become latest.
    let ahead = T0 + 86_400_000;
    let mut effects = Effects::new(&a.tenant, T0);
    effects.telemetry.push(DeviceSeries {
        device_id: a.device.id.clone(),
        series: nexus_model::series_of(&[reading("k00".into(), ahead), reading("k00".into(), T0 + 100)]),
        latest_until: Some(T0 + 1000),
    });
    store.commit(effects).await.expect("commit");
    let latest = store.latest(&a.tenant, &a.device.id, &["k00".into()]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0 + 100]);
    let stored = store.history(&a.tenant, &a.device.id, Some("k00"), 0, i64::MAX, 10).await.expect("history");
    assert_eq!(stored.iter().map(|r| r.ts).collect::<Vec<_>>(), [T0, T0 + 100, ahead]);
}

/// Dead letters older than the cut-off go, then each tenant's oldest past
/// its byte budget; another tenant's letters are measured on their own.
pub async fn dead_letter_retention_by_age_and_size(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let letter = |tenant: &nexus_model::TenantId, i: i64, bytes: usize| DeadLetter {
        tenant_id: tenant.clone(),
        binding_id: None,
        device_id: None,
        stage: Stage::Decode,
        error_code: "decode-failed".into(),
        error: format!("letter {i}"),
        payload: vec![b'x'; bytes],
        ts: T0 + i * 1000,
    };
    let mut effects = Effects::new(&a.tenant, T0);
    effects.dead_letters = (0..10).map(|i| letter(&a.tenant, i, 100)).collect();
    store.commit(effects).await.expect("commit");
    let mut effects = Effects::new(&b.tenant, T0);
    effects.dead_letters = (0..3).map(|i| letter(&b.tenant, i, 100)).collect();
    store.commit(effects).await.expect("commit");
    // Letters 0 and 1 of each tenant are older than the cut-off; of a's
    // remaining eight (800 bytes), the newest five fit in 500.
    let deleted = store.prune_dead_letters(T0 + 2000, 500).await.expect("prune");
    assert_eq!(deleted, 2 + 3 + 2);
    let kept: Vec<String> =
        store.dead_letters(&a.tenant, 100).await.expect("letters").into_iter().map(|l| l.error).collect();
    assert_eq!(kept, ["letter 9", "letter 8", "letter 7", "letter 6", "letter 5"]);
    assert_eq!(store.dead_letters(&b.tenant, 100).await.expect("letters").len(), 1);
    assert_eq!(store.prune_dead_letters(T0 + 2000, 500).await.expect("prune"), 0, "a second sweep finds nothing");
}
