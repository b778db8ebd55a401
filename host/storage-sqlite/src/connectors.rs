//! Connector configurations: one row per connector, its settings as JSON.
//! Each change appends its entity event (secrets redacted) in its
//! transaction.

use async_trait::async_trait;
use nexus_model::{Actor, Connector, ConnectorId, EntityAction, Page, TenantId, TimestampMs};
use nexus_storage::{ConnectorStore, Result, StorageError, connector_event, connector_settings};
use sqlx::sqlite::SqliteRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{SqliteStore, conflict_or, corrupt, db, page_limit, page_sql};

const COLUMNS: &str = "SELECT id, tenant_id, name, kind, enabled, settings, created_time, updated_time";

fn connector(row: &SqliteRow) -> Result<Connector> {
    let settings = connector_settings(&get::<String>(row, "kind")?, &get::<String>(row, "settings")?)?;
    Ok(Connector {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        name: get(row, "name")?,
        enabled: get(row, "enabled")?,
        settings,
        created_time: get(row, "created_time")?,
        updated_time: get(row, "updated_time")?,
    })
}

fn returned() -> &'static str {
    COLUMNS.trim_start_matches("SELECT ")
}

#[async_trait]
impl ConnectorStore for SqliteStore {
    async fn insert_connector(&self, new: &Connector, actor: &Actor) -> Result<Connector> {
        let settings = serde_json::to_string(&new.settings).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO connector (id, tenant_id, name, kind, enabled, settings, created_time, updated_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id.as_str())
        .bind(new.tenant_id.as_str())
        .bind(&new.name)
        .bind(new.settings.kind().as_str())
        .bind(new.enabled)
        .bind(&settings)
        .bind(new.created_time)
        .bind(new.updated_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a connector named `{}` exists", new.name)))?;
        append(&mut tx, vec![connector_event(new, EntityAction::Created, actor, new.created_time)]).await?;
        tx.commit().await.map_err(db)?;
        Ok(new.clone())
    }

    async fn connector(&self, tenant: &TenantId, id: &ConnectorId) -> Result<Connector> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} FROM connector WHERE id = ? AND tenant_id = ?")))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(connector).transpose()?.ok_or_else(|| StorageError::not_found("connector", id))
    }

    async fn connectors(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Connector>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql(COLUMNS, "connector", "name, id")))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(connector).collect()
    }

    async fn enabled_connectors(&self) -> Result<Vec<Connector>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{COLUMNS} FROM connector WHERE enabled ORDER BY tenant_id, name, id"
        )))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(connector).collect()
    }

    async fn update_connector(&self, changed: &Connector, actor: &Actor) -> Result<Connector> {
        let settings = serde_json::to_string(&changed.settings).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE connector SET name = ?, kind = ?, enabled = ?, settings = ?, updated_time = ? \
             WHERE id = ? AND tenant_id = ? RETURNING {}",
            returned()
        )))
        .bind(&changed.name)
        .bind(changed.settings.kind().as_str())
        .bind(changed.enabled)
        .bind(&settings)
        .bind(changed.updated_time)
        .bind(changed.id.as_str())
        .bind(changed.tenant_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a connector named `{}` exists", changed.name)))?;
        let updated = row
            .as_ref()
            .map(connector)
            .transpose()?
            .ok_or_else(|| StorageError::not_found("connector", &changed.id))?;
        append(&mut tx, vec![connector_event(&updated, EntityAction::Updated, actor, updated.updated_time)]).await?;
        tx.commit().await.map_err(db)?;
        Ok(updated)
    }

    async fn delete_connector(
        &self,
        tenant: &TenantId,
        id: &ConnectorId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM connector WHERE id = ? AND tenant_id = ? RETURNING {}",
            returned()
        )))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let deleted =
            row.as_ref().map(connector).transpose()?.ok_or_else(|| StorageError::not_found("connector", id))?;
        append(&mut tx, vec![connector_event(&deleted, EntityAction::Deleted, actor, now)]).await?;
        tx.commit().await.map_err(db)
    }
}
