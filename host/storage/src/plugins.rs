//! Plugins (uploaded components), bindings and per-(binding, device) state.

use std::collections::BTreeMap;

use nexus_model::{Limits, PluginInfo, PluginKind};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Storage, StorageError, new_id};

/// A plugin to store.
pub struct NewPlugin<'a> {
    /// Owning tenant.
    pub tenant_id: &'a str,
    /// Kind (world).
    pub kind: PluginKind,
    /// Name.
    pub name: &'a str,
    /// Version.
    pub version: &'a str,
    /// sha256 of the bytes.
    pub hash: &'a str,
    /// The component.
    pub bytes: &'a [u8],
    /// What `describe` returned.
    pub info: &'a PluginInfo,
}

/// A stored plugin, without its bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPlugin {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Kind.
    pub kind: PluginKind,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// sha256 of the bytes.
    pub hash: String,
    /// Size in bytes.
    pub size_bytes: i64,
    /// What `describe` returned.
    pub info: PluginInfo,
    /// Upload time, ms.
    pub created_time: i64,
}

/// A binding to create.
pub struct NewBinding<'a> {
    /// Owning tenant.
    pub tenant_id: &'a str,
    /// The plugin version to run.
    pub plugin_id: &'a str,
    /// Configuration JSON.
    pub config: &'a serde_json::Value,
    /// Limits (the kind's defaults with overrides applied).
    pub limits: &'a Limits,
    /// Optimizers: interval in ms.
    pub schedule_ms: Option<i64>,
    /// Alarm rules: whether alarms propagate to the well and wellpad.
    pub propagate: bool,
    /// Devices it applies to.
    pub device_ids: &'a [String],
}

/// A plugin version bound to devices with a configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binding {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The plugin version it runs.
    pub plugin_id: String,
    /// Kind of the plugin.
    pub kind: PluginKind,
    /// Configuration JSON.
    pub config: serde_json::Value,
    /// Limits of each call.
    pub limits: Limits,
    /// Optimizers: interval in ms.
    pub schedule_ms: Option<i64>,
    /// Whether it runs.
    pub enabled: bool,
    /// Alarm rules: whether alarms propagate to the well and wellpad.
    pub propagate: bool,
    /// Why the circuit breaker stopped it, if it did.
    pub quarantine_reason: Option<String>,
    /// Devices it applies to.
    pub device_ids: Vec<String>,
    /// Creation time, ms.
    pub created_time: i64,
}

fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

fn plugin_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<StoredPlugin> {
    let kind: String = row.try_get("kind")?;
    let info: String = row.try_get("info")?;
    Ok(StoredPlugin {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("plugin kind {kind}")))?,
        name: row.try_get("name")?,
        version: row.try_get("version")?,
        hash: row.try_get("hash")?,
        size_bytes: row.try_get("size_bytes")?,
        info: serde_json::from_str(&info).map_err(corrupt)?,
        created_time: row.try_get("created_time")?,
    })
}

const PLUGIN_COLUMNS: &str = "id, tenant_id, kind, name, version, hash, size_bytes, info, created_time";

impl Storage {
    /// Stores an uploaded plugin version; name + version are unique per tenant and kind.
    pub async fn insert_plugin(&self, new: NewPlugin<'_>) -> Result<StoredPlugin> {
        let plugin = StoredPlugin {
            id: new_id(),
            tenant_id: new.tenant_id.into(),
            kind: new.kind,
            name: new.name.into(),
            version: new.version.into(),
            hash: new.hash.into(),
            size_bytes: new.bytes.len() as i64,
            info: new.info.clone(),
            created_time: nexus_model::now_ms(),
        };
        sqlx::query(
            "INSERT INTO plugin (id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&plugin.id)
        .bind(&plugin.tenant_id)
        .bind(plugin.kind.as_str())
        .bind(&plugin.name)
        .bind(&plugin.version)
        .bind(&plugin.hash)
        .bind(plugin.size_bytes)
        .bind(new.bytes)
        .bind(serde_json::to_string(&plugin.info).map_err(corrupt)?)
        .bind(plugin.created_time)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StorageError::conflict_or(e, || {
                format!("{} {}@{} is already uploaded; upload a new version", new.kind, new.name, new.version)
            })
        })?;
        Ok(plugin)
    }

    /// A plugin of the tenant, without bytes.
    pub async fn plugin(&self, tenant_id: &str, id: &str) -> Result<StoredPlugin> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugin WHERE id = ? AND tenant_id = ?"
        )))
        .bind(id)
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StorageError::not_found("plugin", id))?;
        plugin_from_row(&row)
    }

    /// The tenant's plugins.
    pub async fn plugins(&self, tenant_id: &str) -> Result<Vec<StoredPlugin>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLUGIN_COLUMNS} FROM plugin WHERE tenant_id = ? ORDER BY kind, name, created_time"
        )))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(plugin_from_row).collect()
    }

    /// The bytes of a plugin.
    pub async fn plugin_bytes(&self, tenant_id: &str, id: &str) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT bytes FROM plugin WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::not_found("plugin", id))
    }

    /// Creates a binding; the plugin and every device must be the tenant's.
    pub async fn insert_binding(&self, new: NewBinding<'_>) -> Result<Binding> {
        let plugin = self.plugin(new.tenant_id, new.plugin_id).await?;
        let mut tx = self.write_tx().await?;
        for device_id in new.device_ids {
            let found = sqlx::query("SELECT 1 FROM device WHERE id = ? AND tenant_id = ?")
                .bind(device_id)
                .bind(new.tenant_id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StorageError::not_found("device", device_id));
            }
        }
        let binding = Binding {
            id: new_id(),
            tenant_id: new.tenant_id.into(),
            plugin_id: plugin.id.clone(),
            kind: plugin.kind,
            config: new.config.clone(),
            limits: *new.limits,
            schedule_ms: new.schedule_ms,
            enabled: true,
            propagate: new.propagate,
            quarantine_reason: None,
            device_ids: new.device_ids.to_vec(),
            created_time: nexus_model::now_ms(),
        };
        sqlx::query(
            "INSERT INTO binding (id, tenant_id, plugin_id, kind, config, limits, schedule_ms, enabled, created_time, propagate)
             VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
        )
        .bind(&binding.id)
        .bind(&binding.tenant_id)
        .bind(&binding.plugin_id)
        .bind(binding.kind.as_str())
        .bind(binding.config.to_string())
        .bind(serde_json::to_string(&binding.limits).map_err(corrupt)?)
        .bind(binding.schedule_ms)
        .bind(binding.created_time)
        .bind(binding.propagate)
        .execute(&mut *tx)
        .await?;
        for device_id in new.device_ids {
            sqlx::query("INSERT OR IGNORE INTO binding_device (binding_id, device_id) VALUES (?, ?)")
                .bind(&binding.id)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(binding)
    }

    /// The tenant's bindings, all kinds.
    pub async fn bindings(&self, tenant_id: &str) -> Result<Vec<Binding>> {
        let rows = sqlx::query("SELECT * FROM binding WHERE tenant_id = ? ORDER BY created_time")
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        self.bindings_from_rows(&rows).await
    }

    /// Every enabled binding of every tenant (the scheduler and start-up).
    pub async fn enabled_bindings(&self) -> Result<Vec<Binding>> {
        let rows =
            sqlx::query("SELECT * FROM binding WHERE enabled = 1 ORDER BY created_time").fetch_all(&self.pool).await?;
        self.bindings_from_rows(&rows).await
    }

    /// Enabled bindings of one kind that apply to a device.
    pub async fn bindings_for_device(
        &self,
        tenant_id: &str,
        device_id: &str,
        kind: PluginKind,
    ) -> Result<Vec<Binding>> {
        self.device_bindings(tenant_id, device_id, kind, false).await
    }

    /// Bindings of one kind that apply to a device but are quarantined.
    pub async fn quarantined_bindings_for_device(
        &self,
        tenant_id: &str,
        device_id: &str,
        kind: PluginKind,
    ) -> Result<Vec<Binding>> {
        self.device_bindings(tenant_id, device_id, kind, true).await
    }

    async fn device_bindings(
        &self,
        tenant_id: &str,
        device_id: &str,
        kind: PluginKind,
        quarantined: bool,
    ) -> Result<Vec<Binding>> {
        let rows = sqlx::query(
            "SELECT b.* FROM binding b JOIN binding_device bd ON bd.binding_id = b.id
             WHERE b.tenant_id = ?1 AND bd.device_id = ?2 AND b.kind = ?3
               AND ((?4 = 0 AND b.enabled = 1) OR (?4 = 1 AND b.enabled = 0 AND b.quarantine_reason IS NOT NULL))
             ORDER BY b.created_time",
        )
        .bind(tenant_id)
        .bind(device_id)
        .bind(kind.as_str())
        .bind(quarantined)
        .fetch_all(&self.pool)
        .await?;
        self.bindings_from_rows(&rows).await
    }

    async fn bindings_from_rows(&self, rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<Binding>> {
        let mut bindings = Vec::with_capacity(rows.len());
        for row in rows {
            bindings.push(self.binding_from_row(row).await?);
        }
        Ok(bindings)
    }

    async fn binding_from_row(&self, row: &sqlx::sqlite::SqliteRow) -> Result<Binding> {
        let id: String = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let config: String = row.try_get("config")?;
        let limits: String = row.try_get("limits")?;
        let enabled: i64 = row.try_get("enabled")?;
        let device_ids =
            sqlx::query_scalar("SELECT device_id FROM binding_device WHERE binding_id = ? ORDER BY device_id")
                .bind(&id)
                .fetch_all(&self.pool)
                .await?;
        Ok(Binding {
            id,
            tenant_id: row.try_get("tenant_id")?,
            plugin_id: row.try_get("plugin_id")?,
            kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("binding kind {kind}")))?,
            config: serde_json::from_str(&config).map_err(corrupt)?,
            limits: serde_json::from_str(&limits).map_err(corrupt)?,
            schedule_ms: row.try_get("schedule_ms")?,
            enabled: enabled != 0,
            propagate: row.try_get::<i64, _>("propagate")? != 0,
            quarantine_reason: row.try_get("quarantine_reason")?,
            device_ids,
            created_time: row.try_get("created_time")?,
        })
    }

    /// One binding of the tenant.
    pub async fn binding(&self, tenant_id: &str, id: &str) -> Result<Binding> {
        let row = sqlx::query("SELECT * FROM binding WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::not_found("binding", id))?;
        self.binding_from_row(&row).await
    }

    /// Points a binding at another version of the same kind of plugin, in
    /// one statement: the batch in flight finishes on the old version, the
    /// next one runs the new. Configuration, limits and state stay.
    pub async fn swap_binding_plugin(&self, tenant_id: &str, id: &str, plugin_id: &str) -> Result<Binding> {
        let binding = self.binding(tenant_id, id).await?;
        let plugin = self.plugin(tenant_id, plugin_id).await?;
        if plugin.kind != binding.kind {
            return Err(StorageError::Conflict(format!(
                "binding `{id}` runs a {} plugin; `{plugin_id}` is a {}",
                binding.kind, plugin.kind
            )));
        }
        sqlx::query("UPDATE binding SET plugin_id = ? WHERE id = ? AND tenant_id = ?")
            .bind(plugin_id)
            .bind(id)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        self.binding(tenant_id, id).await
    }

    /// Disables a binding with the circuit breaker's reason.
    pub async fn quarantine_binding(&self, tenant_id: &str, id: &str, reason: &str) -> Result<()> {
        sqlx::query(
            "UPDATE binding SET enabled = 0, quarantine_reason = ?, quarantined_time = ? WHERE id = ? AND tenant_id = ?",
        )
        .bind(reason)
        .bind(nexus_model::now_ms())
        .bind(id)
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Re-enables a binding (clearing any quarantine).
    pub async fn enable_binding(&self, tenant_id: &str, id: &str) -> Result<Binding> {
        let done = sqlx::query(
            "UPDATE binding SET enabled = 1, quarantine_reason = NULL, quarantined_time = NULL WHERE id = ? AND tenant_id = ?",
        )
        .bind(id)
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("binding", id));
        }
        self.binding(tenant_id, id).await
    }

    /// The state of a (binding, device).
    pub async fn plugin_state(&self, binding_id: &str, device_id: &str) -> Result<BTreeMap<String, Vec<u8>>> {
        let rows = sqlx::query("SELECT key, value FROM plugin_state WHERE binding_id = ? AND device_id = ?")
            .bind(binding_id)
            .bind(device_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("value")?))).collect()
    }

    /// Replaces the state of a (binding, device).
    pub async fn save_plugin_state(
        &self,
        binding_id: &str,
        device_id: &str,
        state: &BTreeMap<String, Vec<u8>>,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("DELETE FROM plugin_state WHERE binding_id = ? AND device_id = ?")
            .bind(binding_id)
            .bind(device_id)
            .execute(&mut *tx)
            .await?;
        for (key, value) in state {
            sqlx::query("INSERT INTO plugin_state (binding_id, device_id, key, value) VALUES (?, ?, ?, ?)")
                .bind(binding_id)
                .bind(device_id)
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
