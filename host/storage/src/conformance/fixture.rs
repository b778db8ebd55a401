//! A small field to test against: a tenant with a wellpad, a well, a
//! device, a plugin and a binding.

use nexus_model::{
    Actor, Binding, Device, Limits, PluginInfo, PluginKind, PluginVersion, TenantId, Well, Wellpad, token_hash,
};

use crate::{NewBinding, NewDevice, NewPlugin, NewWell, Store};

/// The time the fixture's rows are created at.
pub(crate) const T0: i64 = 1_700_000_000_000;

pub(crate) struct Field {
    pub tenant: TenantId,
    pub pad: Wellpad,
    pub well: Well,
    pub device: Device,
    pub plugin: PluginVersion,
    pub binding: Binding,
}

pub(crate) fn admin() -> Actor {
    Actor::user("admin")
}

pub(crate) fn info(name: &str) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: "1.0.0".into(),
        description: "test".into(),
        config_schema: serde_json::json!({}),
    }
}

pub(crate) async fn plugin(store: &dyn Store, tenant: &TenantId, kind: PluginKind, version: &str) -> PluginVersion {
    store
        .insert_plugin(
            &NewPlugin {
                tenant_id: tenant,
                kind,
                name: "rule",
                version,
                hash: "ab12",
                bytes: b"\0asm",
                info: &info("rule"),
                contract: "0.2.0",
            },
            &admin(),
            T0,
        )
        .await
        .expect("plugin stored")
}

pub(crate) async fn field(store: &dyn Store, tenant: &str) -> Field {
    let tenant = TenantId::new(tenant);
    store.ensure_tenant(&tenant, tenant.as_str(), T0).await.expect("tenant");
    let pad = store.create_wellpad(&tenant, "Pad A", &admin(), T0).await.expect("wellpad");
    let new_well = NewWell { name: "W-1".into(), wellpad_id: Some(pad.id.clone()), static_data: serde_json::json!({}) };
    let well = store.create_well(&tenant, &new_well, &admin(), T0).await.expect("well");
    let new_device = NewDevice {
        name: "ESP-1".into(),
        well_id: Some(well.id.clone()),
        token_hash: token_hash(&format!("token-of-{tenant}")),
    };
    let device = store.create_device(&tenant, &new_device, &admin(), T0).await.expect("device");
    let plugin = plugin(store, &tenant, PluginKind::AlarmRule, "1.0.0").await;
    let binding = store
        .insert_binding(
            &NewBinding {
                tenant_id: &tenant,
                plugin_id: &plugin.id,
                config: &serde_json::json!({"k": 1}),
                limits: &Limits::for_kind(PluginKind::AlarmRule),
                schedule_ms: None,
                schedule_cron: None,
                auto_approve: None,
                propagate: true,
                device_ids: std::slice::from_ref(&device.id),
            },
            &admin(),
            T0,
        )
        .await
        .expect("binding");
    Field { tenant, pad, well, device, plugin, binding }
}
