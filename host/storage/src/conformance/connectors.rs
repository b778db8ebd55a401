//! Connector configurations.

use nexus_model::{
    Connector, ConnectorId, ConnectorSettings, EntityKind, EventBody, MqttSettings, Page, TenantId, default_topics,
};

use super::fixture::{T0, admin, field};
use crate::{StorageError, Store};

fn mqtt(tenant: &TenantId, name: &str, enabled: bool) -> Connector {
    Connector {
        id: ConnectorId::random(),
        tenant_id: tenant.clone(),
        name: name.into(),
        enabled,
        settings: ConnectorSettings::Mqtt(MqttSettings {
            url: "mqtt://127.0.0.1:1883".into(),
            client_id: None,
            username: Some("field".into()),
            password: Some("a-broker-password".into()),
            topics: default_topics(),
            max_payload_bytes: 1024,
            content_type: "application/json".into(),
            rpc_timeout_ms: 5_000,
        }),
        created_time: T0,
        updated_time: T0,
    }
}

/// Connectors are the tenant's alone, unique by name, stored whole (the
/// password too, which events never carry); every tenant's enabled ones
/// are listed for the host to start; changes and deletions are events.
pub async fn connectors_stay_in_their_tenant_and_their_events_carry_no_secret(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let broker = store.insert_connector(&mqtt(&a.tenant, "broker", true), &admin()).await.expect("insert");
    let spare = store.insert_connector(&mqtt(&a.tenant, "spare", false), &admin()).await.expect("insert");
    let other = store.insert_connector(&mqtt(&b.tenant, "broker", true), &admin()).await.expect("insert");
    let twin = store.insert_connector(&mqtt(&a.tenant, "broker", false), &admin()).await;
    assert!(matches!(twin, Err(StorageError::Conflict(_))), "{twin:?}");

    assert_eq!(store.connector(&a.tenant, &broker.id).await.expect("own"), broker, "stored whole");
    let foreign = store.connector(&b.tenant, &broker.id).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    let first = store.connectors(&a.tenant, &Page::first(1)).await.expect("page");
    assert_eq!(first, vec![broker.clone()]);
    let next = Page { after: Some(first[0].id.to_string()), limit: 10 };
    assert_eq!(store.connectors(&a.tenant, &next).await.expect("page"), vec![spare.clone()]);
    let mut enabled: Vec<ConnectorId> =
        store.enabled_connectors().await.expect("enabled").into_iter().map(|c| c.id).collect();
    enabled.sort();
    let mut expected = vec![broker.id.clone(), other.id.clone()];
    expected.sort();
    assert_eq!(enabled, expected, "every tenant's enabled connectors");

    let changed = Connector { enabled: true, name: "standby".into(), updated_time: T0 + 5, ..spare.clone() };
    assert_eq!(store.update_connector(&changed, &admin()).await.expect("update"), changed);
    let stolen = Connector { tenant_id: b.tenant.clone(), ..changed.clone() };
    let stolen = store.update_connector(&stolen, &admin()).await;
    assert!(matches!(stolen, Err(StorageError::NotFound { .. })), "{stolen:?}");
    let clash = Connector { name: "broker".into(), ..changed.clone() };
    let clash = store.update_connector(&clash, &admin()).await;
    assert!(matches!(clash, Err(StorageError::Conflict(_))), "{clash:?}");

    let denied = store.delete_connector(&b.tenant, &broker.id, &admin(), T0 + 6).await;
    assert!(matches!(denied, Err(StorageError::NotFound { .. })), "{denied:?}");
    store.delete_connector(&a.tenant, &broker.id, &admin(), T0 + 7).await.expect("delete");
    let gone = store.connector(&a.tenant, &broker.id).await;
    assert!(matches!(gone, Err(StorageError::NotFound { .. })), "{gone:?}");
    assert_eq!(store.connector(&b.tenant, &other.id).await.expect("untouched"), other);

    let events = store.events_after(nexus_model::EventSeq(0), 1_000).await.expect("events");
    let changes: Vec<_> = events
        .iter()
        .filter_map(|event| match &event.body {
            EventBody::Entity(change) if change.kind == EntityKind::Connector => Some((event, change)),
            _ => None,
        })
        .collect();
    assert_eq!(changes.len(), 5, "three created, one updated, one deleted: {changes:?}");
    for (event, _) in &changes {
        let text = serde_json::to_string(&event.body).expect("json");
        assert!(!text.contains("a-broker-password"), "an event carries the password: {text}");
    }
}
