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
