//! What the host observes of a store: ping, pools, wells that report and a
//! well's last report, open alarms by severity, the outbox head.

use nexus_model::{Actor, AlarmAction, AlarmSignal, EventSeq, OperatorAction, Reading, Severity, TenantId, Value};

use super::fixture::{Field, T0, admin, field};
use crate::{Effects, NewDevice, NewWell, SignalWrite, Store};

async fn raise(store: &dyn Store, f: &Field, alarm_type: &str, severity: Severity) {
    let mut effects = Effects::new(&f.tenant, T0 + 1);
    effects.signals.push(SignalWrite {
        binding_id: f.binding.id.clone(),
        actor: Actor::Rule { binding_id: f.binding.id.clone(), plugin: "rule".into(), version: "1.0.0".into() },
        propagate: true,
        signal: AlarmSignal {
            action: AlarmAction::Raise,
            device_id: f.device.id.clone(),
            alarm_type: alarm_type.into(),
            severity,
            ts: T0 + 1,
            details: "{}".into(),
        },
    });
    store.commit(effects).await.expect("commit");
}

async fn report(store: &dyn Store, tenant: &TenantId, device: &nexus_model::DeviceId, ts: i64) {
    let mut effects = Effects::new(tenant, ts);
    effects.add_readings(&[Reading {
        device_id: device.clone(),
        key: "p".into(),
        ts,
        value: Value::Number(1.0),
        quality: 1.0,
    }]);
    store.commit(effects).await.expect("commit");
}

/// The store answers a ping and reports its pools; a tenant's reporting
/// wells are those with a device whose newest reading is recent enough (a
/// well with two such devices counts once); open alarms count per
/// severity, cleared ones not at all; neither sees another tenant; the
/// outbox head is the last event's seq.
pub async fn monitoring_reads_pools_wells_alarms_and_the_outbox_head(store: &dyn Store) {
    store.ping().await.expect("the store answers");
    let pools = store.pools();
    assert!(!pools.is_empty(), "a store has a pool");
    assert!(pools.iter().all(|p| p.max > 0 && p.idle + p.in_use <= p.max), "{pools:?}");
    assert_eq!(store.head().await.expect("head"), EventSeq(0), "an empty outbox");

    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    // A second device on A's well, and a second well whose device reports late.
    let twin = NewDevice { name: "ESP-2".into(), well_id: Some(a.well.id.clone()), token_hash: "sha256:twin".into() };
    let twin = store.create_device(&a.tenant, &twin, &admin(), T0).await.expect("device");
    let new_well = NewWell { name: "W-2".into(), wellpad_id: None, static_data: serde_json::json!({}) };
    let other = store.create_well(&a.tenant, &new_well, &admin(), T0).await.expect("well");
    let late = NewDevice { name: "ESP-3".into(), well_id: Some(other.id.clone()), token_hash: "sha256:late".into() };
    let late = store.create_device(&a.tenant, &late, &admin(), T0).await.expect("device");
    assert_eq!(store.wells_reporting(&a.tenant, T0).await.expect("wells"), 0, "nothing reported yet");
    assert_eq!(store.well_last_report(&a.tenant, &a.well.id).await.expect("last"), None, "nothing reported yet");
    report(store, &a.tenant, &a.device.id, T0 + 10_000).await;
    report(store, &a.tenant, &twin.id, T0 + 20_000).await;
    report(store, &a.tenant, &late.id, T0 + 1_000).await;
    assert_eq!(store.wells_reporting(&a.tenant, T0 + 5_000).await.expect("wells"), 1, "W-1 once; W-2 too old");
    assert_eq!(store.wells_reporting(&a.tenant, T0).await.expect("wells"), 2);
    assert_eq!(store.wells_reporting(&a.tenant, T0 + 30_000).await.expect("wells"), 0);
    assert_eq!(store.wells_reporting(&b.tenant, T0).await.expect("wells"), 0, "B's wells did not report");
    // A well's last report is its newest device's, whatever the key.
    let last = store.well_last_report(&a.tenant, &a.well.id).await.expect("last");
    assert_eq!(last, Some((T0 + 20_000, twin.id.clone())), "W-1's newest device");
    let last = store.well_last_report(&a.tenant, &other.id).await.expect("last");
    assert_eq!(last, Some((T0 + 1_000, late.id.clone())));
    assert_eq!(store.well_last_report(&b.tenant, &b.well.id).await.expect("last"), None, "B's well did not report");
    assert_eq!(store.well_last_report(&b.tenant, &a.well.id).await.expect("last"), None, "A's well seen from B");
    report(store, &a.tenant, &a.device.id, T0 + 5_000).await;
    let last = store.well_last_report(&a.tenant, &a.well.id).await.expect("last");
    assert_eq!(last.map(|l| l.0), Some(T0 + 20_000), "an older sample changes nothing");

    raise(store, &a, "High", Severity::Major).await;
    raise(store, &a, "Low", Severity::Major).await;
    raise(store, &a, "Trip", Severity::Critical).await;
    raise(store, &b, "High", Severity::Warning).await;
    let mut open = store.open_alarms_by_severity(&a.tenant).await.expect("alarms");
    open.sort();
    assert_eq!(open, [(Severity::Critical, 1), (Severity::Major, 2)]);
    let trip = store.alarms(&a.tenant, &Default::default()).await.expect("alarms");
    let trip = trip.iter().find(|x| x.alarm_type == "Trip").expect("trip");
    store.apply_operator(&a.tenant, &trip.id, &OperatorAction::Clear, &admin(), T0 + 2).await.expect("clear");
    assert_eq!(store.open_alarms_by_severity(&a.tenant).await.expect("alarms"), [(Severity::Major, 2)]);
    assert_eq!(store.open_alarms_by_severity(&b.tenant).await.expect("alarms"), [(Severity::Warning, 1)]);

    let all = store.events_after(EventSeq(0), 100_000).await.expect("events");
    assert_eq!(Some(store.head().await.expect("head")), all.last().map(|e| e.seq));
}
