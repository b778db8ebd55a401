//! Tenancy and device credentials.

use nexus_model::{
    AlarmAction, AlarmFilter, AlarmSignal, EntityAction, EntityKind, EventBody, EventSeq, FieldConstraints,
    InjectionBounds, OperatorAction, PluginKind, Reading, Severity, TenantId, Value, token_hash,
};

use super::fixture::{T0, admin, field};
use crate::{Effects, NewBinding, NewDevice, NewWell, SignalWrite, StateWrite, StorageError, Store};

/// Nothing of tenant A is visible to, or changeable by, tenant B.
pub async fn tenants_see_nothing_of_each_other(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    // A's telemetry, state and an alarm.
    let mut effects = Effects::new(&a.tenant, T0 + 1);
    effects.add_readings(&[Reading {
        device_id: a.device.id.clone(),
        key: "t".into(),
        ts: T0 + 1,
        value: Value::Number(1.0),
        quality: 1.0,
    }]);
    effects.states.push(StateWrite {
        binding_id: a.binding.id.clone(),
        device_id: a.device.id.clone(),
        state: [("k".to_string(), b"v".to_vec())].into(),
    });
    effects.signals.push(SignalWrite {
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
    });
    let committed = store.commit(effects).await.expect("commit");
    let alarm = committed.transitions[0].alarm.clone();

    let not_found = |r: Result<_, StorageError>| matches!(r, Err(StorageError::NotFound { .. }));
    let t = &b.tenant;
    assert!(not_found(store.device(t, &a.device.id).await.map(|_| ())));
    assert!(not_found(store.well(t, &a.well.id).await.map(|_| ())));
    assert!(not_found(store.plugin(t, &a.plugin.id).await.map(|_| ())));
    assert!(not_found(store.plugin_bytes(t, &a.plugin.id).await.map(|_| ())));
    assert!(not_found(store.binding(t, &a.binding.id).await.map(|_| ())));
    assert!(not_found(store.alarm(t, &alarm.id).await.map(|_| ())));
    assert!(not_found(
        store.apply_operator(t, &alarm.id, &OperatorAction::Acknowledge, &admin(), T0).await.map(|_| ())
    ));
    assert!(store.alarm_events(t, &alarm.id).await.expect("events").is_empty());
    assert!(store.alarm_comments(t, &alarm.id).await.expect("comments").is_empty());
    let filter = AlarmFilter { device_id: Some(a.device.id.clone()), ..AlarmFilter::default() };
    assert!(store.alarms(t, &filter).await.expect("alarms").is_empty());
    assert!(store.latest(t, &a.device.id, &[]).await.expect("latest").is_empty());
    assert_eq!(store.count_readings(t, &a.device.id).await.expect("count"), 0);
    assert!(store.history(t, &a.device.id, None, 0, i64::MAX, 100).await.expect("history").is_empty());
    assert!(store.plugin_state(t, &a.binding.id, &a.device.id).await.expect("state").is_empty());
    assert!(store.device_bindings(t, &a.device.id, PluginKind::AlarmRule).await.expect("bindings").is_empty());
    for id in [a.device.id.as_str(), a.binding.id.as_str(), alarm.id.as_str()] {
        let events = store.tenant_events(t, EventSeq(0), 1000).await.expect("events");
        assert!(events.iter().all(|e| e.tenant_id == *t && !serde_json::to_string(e).expect("json").contains(id)));
    }
    // B cannot attach to A's things.
    let well = NewWell { name: "W".into(), wellpad_id: Some(a.pad.id.clone()), static_data: serde_json::json!({}) };
    assert!(not_found(store.create_well(t, &well, &admin(), T0).await.map(|_| ())));
    let device = NewDevice { name: "D".into(), well_id: Some(a.well.id.clone()), token_hash: token_hash("x") };
    assert!(not_found(store.create_device(t, &device, &admin(), T0).await.map(|_| ())));
    let binding = NewBinding {
        tenant_id: t,
        plugin_id: &b.plugin.id,
        config: &serde_json::json!({}),
        limits: &b.binding.limits,
        schedule_ms: None,
        schedule_cron: None,
        auto_approve: None,
        propagate: true,
        device_ids: std::slice::from_ref(&a.device.id),
    };
    assert!(not_found(store.insert_binding(&binding, &admin(), T0).await.map(|_| ())));
    assert!(not_found(store.swap_binding_plugin(t, &a.binding.id, &b.plugin.id, &admin(), T0).await.map(|_| ())));
    assert!(not_found(store.enable_binding(t, &a.binding.id, &admin(), T0).await.map(|_| ())));
    // B cannot write state into A's binding: the whole commit is refused.
    let mut sneaky = Effects::new(t, T0 + 2);
    sneaky.states.push(StateWrite {
        binding_id: a.binding.id.clone(),
        device_id: a.device.id.clone(),
        state: [("k".to_string(), b"stolen".to_vec())].into(),
    });
    assert!(store.commit(sneaky).await.is_err());
    let state = store.plugin_state(&a.tenant, &a.binding.id, &a.device.id).await.expect("state");
    assert_eq!(state.get("k").map(Vec::as_slice), Some(&b"v"[..]));
    // Lists are per tenant.
    assert_eq!(store.devices(t, &nexus_model::Page::all()).await.expect("devices").len(), 1);
    assert_eq!(store.wells(t, &nexus_model::Page::all()).await.expect("wells").len(), 1);
    assert_eq!(store.plugins(t, &nexus_model::Page::all()).await.expect("plugins").len(), 1);
    assert_eq!(store.bindings(t, &nexus_model::Page::all()).await.expect("bindings").len(), 1);
    assert!(store.alarms(t, &AlarmFilter::default()).await.expect("alarms").is_empty());
    let profile = store.tenant_profile(&TenantId::new("nobody")).await.expect("profile");
    assert_eq!(profile, nexus_model::TenantProfile::default());
}

/// A tenant's profile is stored whole (its windows and quotas included),
/// read back as set, and is the tenant's alone; an unknown tenant's is
/// refused.
pub async fn profiles_are_stored_whole_per_tenant(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let mut profile = nexus_model::TenantProfile { max_executions_per_month: Some(7), ..Default::default() };
    profile.rate_limits.per_tenant = "20:1,600:60".parse().expect("windows");
    profile.ingest_limits.device_points = "1000:60".parse().expect("windows");
    profile.quotas.max_devices = Some(2);
    store.set_tenant_profile(&a.tenant, &profile, &admin(), T0).await.expect("set");
    assert_eq!(store.tenant_profile(&a.tenant).await.expect("a"), profile);
    assert_eq!(store.tenant_profile(&b.tenant).await.expect("b"), nexus_model::TenantProfile::default());
    let missing = store.set_tenant_profile(&TenantId::new("nobody"), &profile, &admin(), T0).await;
    assert!(matches!(missing, Err(StorageError::NotFound { .. })), "{missing:?}");
}

/// Only a token's hash is stored; rotation makes the old token useless.
pub async fn device_tokens_are_stored_hashed_and_rotate(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let old = token_hash("token-of-tenant-a");
    let found = store.device_by_token_hash(&old).await.expect("lookup").expect("found by hash");
    assert_eq!(found.id, a.device.id);
    assert!(store.device_by_token_hash("token-of-tenant-a").await.expect("lookup").is_none(), "raw token matched");
    let new = token_hash("a-new-token");
    let rotated = store.rotate_device_token(&a.tenant, &a.device.id, &new, &admin(), T0 + 5).await.expect("rotate");
    assert_eq!(rotated.token_issued_time, T0 + 5);
    assert!(store.device_by_token_hash(&old).await.expect("lookup").is_none(), "the old token still works");
    assert_eq!(store.device_by_token_hash(&new).await.expect("lookup").map(|d| d.id), Some(a.device.id.clone()));
    // A token hash is unique across tenants.
    let b = field(store, "tenant-b").await;
    let clash = store.rotate_device_token(&b.tenant, &b.device.id, &new, &admin(), T0).await;
    assert!(matches!(clash, Err(StorageError::Conflict(_))), "{clash:?}");
    let events = store.tenant_events(&a.tenant, EventSeq(0), 1000).await.expect("events");
    let rotations = events
        .iter()
        .filter(|e| matches!(&e.body, EventBody::Entity(c) if c.action == EntityAction::TokenRotated))
        .count();
    assert_eq!(rotations, 1);
    assert!(events.iter().all(|e| !serde_json::to_string(e).expect("json").contains("sha256:")), "a hash in an event");
}

/// Entity lists come in pages, in their order, after a cursor (the last
/// id); a cursor of another tenant's row gives nothing.
pub async fn entity_lists_page_after_a_cursor(store: &dyn Store) {
    let a = TenantId::new("tenant-a");
    let b = field(store, "tenant-b").await;
    store.ensure_tenant(&a, "a", T0).await.expect("tenant");
    for name in ["c", "a", "b"] {
        let new = NewWell { name: name.into(), wellpad_id: None, static_data: serde_json::json!({}) };
        store.create_well(&a, &new, &admin(), T0).await.expect("well");
    }
    let names = |wells: &[nexus_model::Well]| wells.iter().map(|w| w.name.clone()).collect::<Vec<_>>();
    let first = store.wells(&a, &nexus_model::Page::first(2)).await.expect("page");
    assert_eq!(names(&first), ["a", "b"]);
    let after = nexus_model::Page { after: Some(first[1].id.to_string()), limit: 2 };
    assert_eq!(names(&store.wells(&a, &after).await.expect("page")), ["c"]);
    let everything = store.wells(&a, &nexus_model::Page::all()).await.expect("all");
    assert_eq!(names(&everything), ["a", "b", "c"]);
    let foreign = nexus_model::Page { after: Some(b.device.id.to_string()), limit: 10 };
    assert!(store.devices(&a, &foreign).await.expect("page").is_empty(), "another tenant's cursor");
}

/// A wellpad's constraints are stored whole, start empty, are the tenant's
/// only and each change is an entity event.
pub async fn wellpad_constraints_are_kept_whole_per_tenant(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    assert_eq!(a.pad.constraints, FieldConstraints::default());
    let read = store.wellpad(&a.tenant, &a.pad.id).await.expect("wellpad");
    assert_eq!(read, a.pad, "a new wellpad reads back as created");
    let constraints = FieldConstraints {
        lift_gas_available: Some(1000.0),
        compressor_capacity: Some(1200.5),
        water_handling: None,
        separator_liquid: Some(8000.0),
        injection_bounds: vec![InjectionBounds { well_id: a.well.id.clone(), min: 50.0, max: 900.0 }],
    };
    let head = store.events_after(EventSeq(0), 10_000).await.expect("events").last().map_or(EventSeq(0), |e| e.seq);
    let set = store.set_wellpad_constraints(&a.tenant, &a.pad.id, &constraints, &admin(), T0 + 5).await.expect("set");
    assert_eq!(set.constraints, constraints);
    assert_eq!(store.wellpad(&a.tenant, &a.pad.id).await.expect("read").constraints, constraints);
    let events = store.events_after(head, 100).await.expect("events");
    assert!(
        events.iter().any(|e| matches!(&e.body, EventBody::Entity(c) if c.kind == EntityKind::Wellpad
            && c.action == EntityAction::Updated)),
        "the change is an event: {events:?}"
    );
    // B neither reads nor changes A's wellpad; its own stays empty.
    let not_found = |r: Result<_, StorageError>| matches!(r, Err(StorageError::NotFound { .. }));
    assert!(not_found(store.wellpad(&b.tenant, &a.pad.id).await.map(|_| ())));
    let empty = FieldConstraints::default();
    assert!(not_found(store.set_wellpad_constraints(&b.tenant, &a.pad.id, &empty, &admin(), T0).await.map(|_| ())));
    assert_eq!(store.wellpad(&a.tenant, &a.pad.id).await.expect("read").constraints, constraints);
    assert_eq!(store.wellpad(&b.tenant, &b.pad.id).await.expect("B's").constraints, empty);
}
