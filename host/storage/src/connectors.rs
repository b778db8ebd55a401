//! The connector port: tenants' connector configurations. Each change
//! appends its entity event (with secrets redacted) in its transaction.

use async_trait::async_trait;
use nexus_model::{Actor, Connector, ConnectorId, Page, TenantId, TimestampMs};

use crate::Result;

/// Connector configurations.
#[async_trait]
pub trait ConnectorStore: Send + Sync {
    /// Creates a connector (its id and times are set); names are unique
    /// per tenant. Appends its entity event.
    async fn insert_connector(&self, connector: &Connector, actor: &Actor) -> Result<Connector>;
    /// A connector of the tenant.
    async fn connector(&self, tenant: &TenantId, id: &ConnectorId) -> Result<Connector>;
    /// A page of the tenant's connectors, by name.
    async fn connectors(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Connector>>;
    /// Every tenant's enabled connectors: what the host starts.
    async fn enabled_connectors(&self) -> Result<Vec<Connector>>;
    /// Replaces a connector's name, enabled flag and settings (and its
    /// `updated_time`). Appends its entity event.
    async fn update_connector(&self, connector: &Connector, actor: &Actor) -> Result<Connector>;
    /// Deletes a connector of the tenant. Appends its entity event.
    async fn delete_connector(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
}

/// The entity event of a change of a connector: its settings without
/// secrets. Both backends append it in the change's transaction.
pub fn connector_event(
    connector: &nexus_model::Connector,
    action: nexus_model::EntityAction,
    actor: &Actor,
    now: TimestampMs,
) -> nexus_model::NewEvent {
    let summary = serde_json::json!({
        "name": connector.name,
        "enabled": connector.enabled,
        "settings": connector.settings.redacted(),
    });
    let kind = nexus_model::EntityKind::Connector;
    crate::entity_event(&connector.tenant_id, now, kind, &connector.id, action, actor, summary)
}

/// A connector's settings as stored (JSON), checked against its stored kind.
pub fn connector_settings(kind: &str, settings: &str) -> Result<nexus_model::ConnectorSettings> {
    let settings: nexus_model::ConnectorSettings =
        serde_json::from_str(settings).map_err(|e| crate::StorageError::Corrupt(e.to_string()))?;
    if nexus_model::ConnectorKind::parse(kind) != Some(settings.kind()) {
        let stored = settings.kind().as_str();
        return Err(crate::StorageError::Corrupt(format!("connector kind {kind} with settings of {stored}")));
    }
    Ok(settings)
}
