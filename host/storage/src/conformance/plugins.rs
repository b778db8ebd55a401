//! Plugin versions and bindings: uniqueness, hot swap, quarantine, enable.

use nexus_model::{EventBody, EventSeq, PluginKind};

use super::fixture::{T0, admin, field, plugin};
use crate::{Effects, Quarantine, StorageError, Store};

/// A version is unique per (tenant, kind, name); a binding swaps only to the
/// same kind; a quarantine stops it until it is enabled again.
pub async fn bindings_swap_quarantine_and_enable(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let again = store
        .insert_plugin(
            &crate::NewPlugin {
                tenant_id: &a.tenant,
                kind: PluginKind::AlarmRule,
                name: "rule",
                version: "1.0.0",
                hash: "cd34",
                bytes: b"\0asm",
                info: &super::fixture::info("rule"),
                contract: "0.1.0",
            },
            &admin(),
            T0,
        )
        .await;
    assert!(matches!(again, Err(StorageError::Conflict(_))), "{again:?}");
    assert_eq!(store.plugin_bytes(&a.tenant, &a.plugin.id).await.expect("bytes"), b"\0asm");
    assert_eq!(store.plugin(&a.tenant, &a.plugin.id).await.expect("plugin").contract, "0.2.0");
    let v2 = plugin(store, &a.tenant, PluginKind::AlarmRule, "2.0.0").await;
    let decoder = plugin(store, &a.tenant, PluginKind::Decoder, "1.0.0").await;

    let for_device = store.device_bindings(&a.tenant, &a.device.id, PluginKind::AlarmRule).await.expect("bindings");
    assert_eq!(for_device.iter().map(|b| &b.id).collect::<Vec<_>>(), [&a.binding.id]);
    assert!(store.device_bindings(&a.tenant, &a.device.id, PluginKind::Decoder).await.expect("bindings").is_empty());
    assert_eq!(a.binding.device_ids, std::slice::from_ref(&a.device.id));

    let swapped = store.swap_binding_plugin(&a.tenant, &a.binding.id, &v2.id, &admin(), T0).await.expect("swap");
    assert_eq!((swapped.plugin_id, swapped.config.clone()), (v2.id.clone(), a.binding.config.clone()));
    let wrong = store.swap_binding_plugin(&a.tenant, &a.binding.id, &decoder.id, &admin(), T0).await;
    assert!(matches!(wrong, Err(StorageError::Conflict(_))), "{wrong:?}");

    let mut effects = Effects::new(&a.tenant, T0 + 7);
    effects.quarantines.push(Quarantine {
        binding_id: a.binding.id.clone(),
        device_id: None,
        reason: "10 faults in a row".into(),
    });
    let committed = store.commit(effects).await.expect("commit");
    assert!(
        matches!(&committed.events[0].body, EventBody::BindingQuarantined { reason, .. } if reason == "10 faults in a row")
    );
    let stopped = store.binding(&a.tenant, &a.binding.id).await.expect("binding");
    assert_eq!((stopped.enabled, stopped.quarantine_reason.as_deref()), (false, Some("10 faults in a row")));
    assert!(store.enabled_bindings().await.expect("enabled").iter().all(|b| b.id != a.binding.id));
    let for_device = store.device_bindings(&a.tenant, &a.device.id, PluginKind::AlarmRule).await.expect("bindings");
    assert_eq!(for_device.len(), 1, "a quarantined binding is still listed for its device");
    assert!(!for_device[0].enabled);

    let enabled = store.enable_binding(&a.tenant, &a.binding.id, &admin(), T0 + 8).await.expect("enable");
    assert_eq!((enabled.enabled, enabled.quarantine_reason), (true, None));
    assert!(store.enabled_bindings().await.expect("enabled").iter().any(|b| b.id == a.binding.id));
    let kinds: Vec<&str> = store
        .tenant_events(&a.tenant, EventSeq(0), 1000)
        .await
        .expect("events")
        .iter()
        .map(|e| e.body.type_name())
        .collect();
    assert!(kinds.ends_with(&["entity", "binding_quarantined", "entity"]), "{kinds:?}");

    // One device's input stopped: the binding stays enabled for the others.
    let mut effects = Effects::new(&a.tenant, T0 + 9);
    effects.quarantines.push(Quarantine {
        binding_id: a.binding.id.clone(),
        device_id: Some(a.device.id.clone()),
        reason: "10 rejected inputs in a row".into(),
    });
    let committed = store.commit(effects).await.expect("commit");
    assert!(matches!(
        &committed.events[0].body,
        EventBody::BindingQuarantined { device_id: Some(d), .. } if *d == a.device.id
    ));
    let bound = store.binding(&a.tenant, &a.binding.id).await.expect("binding");
    assert!(bound.enabled && bound.quarantine_reason.is_none());
    assert_eq!(bound.quarantined_devices.get(&a.device.id).map(String::as_str), Some("10 rejected inputs in a row"));
    let for_device = store.device_bindings(&a.tenant, &a.device.id, PluginKind::AlarmRule).await.expect("bindings");
    assert!(for_device[0].quarantined_devices.contains_key(&a.device.id));
    // Another tenant cannot release it; the owner can, once.
    let other = field(store, "tenant-b").await;
    let foreign = store.release_device(&other.tenant, &a.binding.id, &a.device.id, &admin(), T0 + 10).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    let released =
        store.release_device(&a.tenant, &a.binding.id, &a.device.id, &admin(), T0 + 10).await.expect("release");
    assert!(released.quarantined_devices.is_empty());
    let again = store.release_device(&a.tenant, &a.binding.id, &a.device.id, &admin(), T0 + 11).await;
    assert!(matches!(again, Err(StorageError::NotFound { .. })), "{again:?}");
    // Re-enabling the binding lifts every device's quarantine too.
    let mut effects = Effects::new(&a.tenant, T0 + 12);
    effects.quarantines.push(Quarantine {
        binding_id: a.binding.id.clone(),
        device_id: Some(a.device.id.clone()),
        reason: "again".into(),
    });
    store.commit(effects).await.expect("commit");
    let enabled = store.enable_binding(&a.tenant, &a.binding.id, &admin(), T0 + 13).await.expect("enable");
    assert!(enabled.quarantined_devices.is_empty());
}
