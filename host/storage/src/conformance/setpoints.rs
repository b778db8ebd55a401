//! Setpoints: set whole by hand, listed by parameter, moved by a confirmed
//! write in the commit that records it, never by an unconfirmed one, and
//! never seen or set across tenants.

use nexus_model::{
    ConnectorId, EntityKind, EventBody, Readback, Setpoint, SetpointSource, SetpointWrite, SetpointWriteRecord,
    WriteOutcome,
};

use super::fixture::{T0, admin, field};
use crate::{Effects, StorageError, Store};

fn frequency(value: f64) -> Setpoint {
    Setpoint {
        parameter: "frequency_hz".into(),
        value,
        unit: "Hz".into(),
        min: Some(35.0),
        max: Some(62.0),
        max_step: Some(1.0),
        min_interval_ms: Some(600_000),
        source: SetpointSource::Manual,
        updated_at: T0,
        readback: Some(Readback { key: "frequency".into(), tolerance: 0.1 }),
    }
}

fn written(device: &nexus_model::DeviceId, parameter: &str, value: f64, confirmed: bool) -> SetpointWriteRecord {
    SetpointWriteRecord {
        write: SetpointWrite { device_id: device.clone(), parameter: parameter.into(), value },
        outcome: Some(WriteOutcome {
            connector_id: ConnectorId::new("c-1"),
            confirmed,
            read_back: confirmed.then_some(value + 0.001),
            elapsed_ms: 20,
        }),
        error_code: None,
        error: None,
    }
}

/// A setpoint put by hand reads back whole (with its telemetry read-back); putting it again replaces it;
/// a confirmed write sets its value (the read-back) and source and keeps
/// its limits, and makes a setpoint of a parameter not put before; an
/// unconfirmed or failed write changes nothing; another tenant's device is
/// not found.
pub async fn setpoints_are_data_moved_only_by_confirmed_writes(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let device = &a.device.id;
    assert!(store.setpoints(&a.tenant, device).await.expect("none yet").is_empty());
    let put = store.put_setpoint(&a.tenant, device, &frequency(50.0), &admin(), T0).await.expect("put");
    assert_eq!(put, frequency(50.0));
    assert_eq!(store.setpoints(&a.tenant, device).await.expect("read"), [frequency(50.0)]);
    let mut replaced = frequency(51.0);
    replaced.max_step = None;
    replaced.readback = Some(Readback { key: "drive_frequency".into(), tolerance: 0.05 });
    store.put_setpoint(&a.tenant, device, &replaced, &admin(), T0 + 1).await.expect("replace");
    assert_eq!(store.setpoints(&a.tenant, device).await.expect("read"), [replaced.clone()]);

    let mut effects = Effects::new(&a.tenant, T0 + 10);
    effects.setpoint_writes.push(written(device, "frequency_hz", 52.0, true));
    effects.setpoint_writes.push(written(device, "choke_64ths", 32.0, true));
    effects.setpoint_writes.push(written(device, "pump_stroke_spm", 9.0, false));
    let mut failed = written(device, "pump_stroke_spm", 9.0, false);
    failed.outcome = None;
    failed.error_code = Some("write-timeout".into());
    effects.setpoint_writes.push(failed);
    store.commit(effects).await.expect("commit");
    let now = store.setpoints(&a.tenant, device).await.expect("read");
    let by = |p: &str| now.iter().find(|s| s.parameter == p).cloned();
    let frequency_now = by("frequency_hz").expect("frequency");
    assert_eq!(
        frequency_now,
        Setpoint { value: 52.001, source: SetpointSource::Written, updated_at: T0 + 10, ..replaced },
        "value, source and time moved; limits kept"
    );
    let choke = by("choke_64ths").expect("a confirmed write of a new parameter makes it");
    assert_eq!(
        (choke.value, choke.source, choke.unit.as_str(), choke.min),
        (32.001, SetpointSource::Written, "", None)
    );
    assert!(by("pump_stroke_spm").is_none(), "unconfirmed writes change nothing: {now:?}");
    assert_eq!(now.iter().map(|s| s.parameter.as_str()).collect::<Vec<_>>(), ["choke_64ths", "frequency_hz"]);

    // Across tenants: B cannot put on or read A's device; A's write record
    // committed under B's tenant moves nothing.
    let foreign = store.put_setpoint(&b.tenant, device, &frequency(40.0), &admin(), T0).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    assert!(matches!(store.setpoints(&b.tenant, device).await, Err(StorageError::NotFound { .. })));
    let mut sneaky = Effects::new(&b.tenant, T0 + 20);
    sneaky.setpoint_writes.push(written(device, "frequency_hz", 40.0, true));
    store.commit(sneaky).await.expect("commit");
    assert_eq!(
        by("frequency_hz"),
        store.setpoints(&a.tenant, device).await.expect("read").into_iter().find(|s| s.parameter == "frequency_hz")
    );
    assert!(store.setpoints(&b.tenant, &b.device.id).await.expect("b's").is_empty());

    let events = store.events_after(nexus_model::EventSeq(0), 1000).await.expect("events");
    let puts =
        events.iter().filter(|e| matches!(&e.body, EventBody::Entity(c) if c.kind == EntityKind::Setpoint)).count();
    assert_eq!(puts, 2, "one event per put");
}
