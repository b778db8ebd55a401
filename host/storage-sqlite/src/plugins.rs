//! Plugin versions, bindings and per-(binding, device) state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{
    Actor, Binding, BindingId, DeviceId, EntityAction, EntityKind, Page, PluginKind, PluginVersion, PluginVersionId,
    TenantId, TimestampMs,
};
use nexus_storage::{NewBinding, NewPlugin, PluginStore, Result, StateStore, StorageError, entity_event};
use serde_json::json;
use sqlx::sqlite::SqliteRow;

use crate::outbox::append;
use crate::rows::{self, get};
use crate::{SqliteStore, conflict_or, corrupt, db, page_limit, page_sql};

pub(crate) const PLUGIN_COLUMNS: &str =
    "id, tenant_id, kind, name, version, hash, size_bytes, info, created_time, contract, release_id";

impl SqliteStore {
    pub(crate) async fn bindings_from_rows(&self, rows: &[SqliteRow]) -> Result<Vec<Binding>> {
        let mut bindings = Vec::with_capacity(rows.len());
        for row in rows {
            bindings.push(self.binding_from_row(row).await?);
        }
        Ok(bindings)
    }

    async fn binding_from_row(&self, row: &SqliteRow) -> Result<Binding> {
        let id: String = get(row, "id")?;
        let kind: String = get(row, "kind")?;
        let config: String = get(row, "config")?;
        let limits: String = get(row, "limits")?;
        let devices: Vec<String> =
            sqlx::query_scalar("SELECT device_id FROM binding_device WHERE binding_id = ? ORDER BY device_id")
                .bind(&id)
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        let quarantined: Vec<(String, String)> = sqlx::query_as(
            "SELECT device_id, reason FROM binding_device_quarantine WHERE binding_id = ? ORDER BY device_id",
        )
        .bind(&id)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(Binding {
            id: id.into(),
            tenant_id: get::<String>(row, "tenant_id")?.into(),
            plugin_id: get::<String>(row, "plugin_id")?.into(),
            previous_plugin_id: get::<Option<String>>(row, "previous_plugin_id")?.map(Into::into),
            kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("binding kind {kind}")))?,
            config: serde_json::from_str(&config).map_err(corrupt)?,
            limits: serde_json::from_str(&limits).map_err(corrupt)?,
            schedule_ms: get(row, "schedule_ms")?,
            schedule_cron: cron(get(row, "schedule_cron")?, get(row, "schedule_tz")?),
            auto_approve: get::<Option<String>>(row, "auto_approve")?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(corrupt)?,
            enabled: get::<i64>(row, "enabled")? != 0,
            propagate: get::<i64>(row, "propagate")? != 0,
            quarantine_reason: get(row, "quarantine_reason")?,
            device_ids: devices.into_iter().map(Into::into).collect(),
            quarantined_devices: quarantined.into_iter().map(|(d, r)| (d.into(), r)).collect(),
            rollout: get::<Option<String>>(row, "rollout")?
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(corrupt)?,
            created_time: get(row, "created_time")?,
        })
    }
}

#[async_trait]
impl PluginStore for SqliteStore {
    async fn insert_plugin(&self, new: &NewPlugin<'_>, actor: &Actor, now: TimestampMs) -> Result<PluginVersion> {
        let plugin = PluginVersion {
            id: PluginVersionId::random(),
            tenant_id: new.tenant_id.clone(),
            kind: new.kind,
            name: new.name.into(),
            version: new.version.into(),
            hash: new.hash.into(),
            size_bytes: new.bytes.len() as i64,
            info: new.info.clone(),
            created_time: now,
            contract: new.contract.into(),
            release_id: None,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO plugin (id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time, contract)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(plugin.id.as_str())
        .bind(plugin.tenant_id.as_str())
        .bind(plugin.kind.as_str())
        .bind(&plugin.name)
        .bind(&plugin.version)
        .bind(&plugin.hash)
        .bind(plugin.size_bytes)
        .bind(new.bytes)
        .bind(serde_json::to_string(&plugin.info).map_err(corrupt)?)
        .bind(now)
        .bind(&plugin.contract)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            conflict_or(e, || {
                format!("{} {}@{} is already uploaded; upload a new version", new.kind, new.name, new.version)
            })
        })?;
        let summary = json!({"kind": plugin.kind, "name": plugin.name, "version": plugin.version, "hash": plugin.hash});
        let event =
            entity_event(new.tenant_id, now, EntityKind::Plugin, &plugin.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(plugin)
    }

    async fn plugin(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<PluginVersion> {
        let sql = format!("SELECT {PLUGIN_COLUMNS} FROM plugin WHERE id = ? AND tenant_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("plugin", id))?;
        rows::plugin(&row)
    }

    async fn plugins(&self, tenant: &TenantId, page: &Page) -> Result<Vec<PluginVersion>> {
        let sql = page_sql(&format!("SELECT {PLUGIN_COLUMNS}"), "plugin", "kind, name, created_time, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rows::plugin).collect()
    }

    async fn plugin_bytes(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<Vec<u8>> {
        sqlx::query_scalar("SELECT bytes FROM plugin WHERE id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("plugin", id))
    }

    async fn insert_binding(&self, new: &NewBinding<'_>, actor: &Actor, now: TimestampMs) -> Result<Binding> {
        let plugin = self.plugin(new.tenant_id, new.plugin_id).await?;
        let mut tx = self.write_tx().await?;
        for device in new.device_ids {
            let found = sqlx::query("SELECT 1 FROM device WHERE id = ? AND tenant_id = ?")
                .bind(device.as_str())
                .bind(new.tenant_id.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if found.is_none() {
                return Err(StorageError::not_found("device", device));
            }
        }
        let mut device_ids = new.device_ids.to_vec();
        device_ids.sort();
        device_ids.dedup();
        let binding = Binding {
            id: BindingId::random(),
            tenant_id: new.tenant_id.clone(),
            plugin_id: plugin.id.clone(),
            previous_plugin_id: None,
            kind: plugin.kind,
            config: new.config.clone(),
            limits: *new.limits,
            schedule_ms: new.schedule_ms,
            schedule_cron: new.schedule_cron.clone(),
            auto_approve: new.auto_approve.clone(),
            enabled: true,
            propagate: new.propagate,
            quarantine_reason: None,
            device_ids,
            quarantined_devices: Default::default(),
            rollout: None,
            created_time: now,
        };
        sqlx::query(
            "INSERT INTO binding (id, tenant_id, plugin_id, kind, config, limits, schedule_ms, enabled, created_time, propagate,
             schedule_cron, schedule_tz, auto_approve) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        )
        .bind(binding.id.as_str())
        .bind(binding.tenant_id.as_str())
        .bind(binding.plugin_id.as_str())
        .bind(binding.kind.as_str())
        .bind(binding.config.to_string())
        .bind(serde_json::to_string(&binding.limits).map_err(corrupt)?)
        .bind(binding.schedule_ms)
        .bind(now)
        .bind(binding.propagate)
        .bind(binding.schedule_cron.as_ref().map(|c| c.expression.as_str()))
        .bind(binding.schedule_cron.as_ref().map(|c| c.time_zone.as_str()))
        .bind(binding.auto_approve.as_ref().map(serde_json::to_string).transpose().map_err(corrupt)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for device in &binding.device_ids {
            sqlx::query("INSERT INTO binding_device (binding_id, device_id, tenant_id) VALUES (?, ?, ?)")
                .bind(binding.id.as_str())
                .bind(device.as_str())
                .bind(binding.tenant_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        let summary = json!({"plugin": plugin.name, "version": plugin.version, "devices": binding.device_ids.len()});
        let event =
            entity_event(new.tenant_id, now, EntityKind::Binding, &binding.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(binding)
    }

    async fn binding(&self, tenant: &TenantId, id: &BindingId) -> Result<Binding> {
        let row = sqlx::query("SELECT * FROM binding WHERE id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("binding", id))?;
        self.binding_from_row(&row).await
    }

    async fn bindings(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Binding>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql("SELECT *", "binding", "created_time, id")))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        self.bindings_from_rows(&rows).await
    }

    async fn enabled_bindings(&self) -> Result<Vec<Binding>> {
        let rows = sqlx::query("SELECT * FROM binding WHERE enabled = 1 ORDER BY created_time, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        self.bindings_from_rows(&rows).await
    }

    async fn device_bindings(&self, tenant: &TenantId, device: &DeviceId, kind: PluginKind) -> Result<Vec<Binding>> {
        let rows = sqlx::query(
            "SELECT b.* FROM binding b JOIN binding_device bd ON bd.binding_id = b.id
             WHERE bd.tenant_id = ?1 AND bd.device_id = ?2 AND b.tenant_id = ?1 AND b.kind = ?3
             ORDER BY b.created_time, b.id",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        self.bindings_from_rows(&rows).await
    }

    async fn swap_binding_plugin(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        plugin_id: &PluginVersionId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding> {
        let binding = self.binding(tenant, id).await?;
        let plugin = self.plugin(tenant, plugin_id).await?;
        if plugin.kind != binding.kind {
            return Err(StorageError::Conflict(format!(
                "binding `{id}` runs a {} plugin; `{plugin_id}` is a {}",
                binding.kind, plugin.kind
            )));
        }
        let mut tx = self.write_tx().await?;
        sqlx::query("UPDATE binding SET previous_plugin_id = plugin_id, plugin_id = ? WHERE id = ? AND tenant_id = ?")
            .bind(plugin_id.as_str())
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let summary = json!({"plugin_id": plugin.id, "plugin": plugin.name, "version": plugin.version,
                             "previous_plugin_id": binding.plugin_id});
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Binding, id, EntityAction::Updated, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        self.binding(tenant, id).await
    }

    async fn change_rollout(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        change: &nexus_storage::RolloutChange<'_>,
        now: TimestampMs,
    ) -> Result<Binding> {
        let mut tx = self.write_tx().await?;
        let current: Option<Option<String>> =
            sqlx::query_scalar("SELECT rollout FROM binding WHERE id = ? AND tenant_id = ?")
                .bind(id.as_str())
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let current = current.ok_or_else(|| StorageError::not_found("binding", id))?;
        let current: Option<nexus_model::Rollout> =
            current.map(|text| serde_json::from_str(&text)).transpose().map_err(corrupt)?;
        change.check(id, current.as_ref())?;
        let rollout = change.rollout.map(serde_json::to_string).transpose().map_err(corrupt)?;
        let sql = match change.promote_to {
            Some(_) => {
                "UPDATE binding SET rollout = ?, previous_plugin_id = plugin_id, plugin_id = ? WHERE id = ? AND tenant_id = ?"
            }
            None => "UPDATE binding SET rollout = ?, plugin_id = COALESCE(?, plugin_id) WHERE id = ? AND tenant_id = ?",
        };
        sqlx::query(sql)
            .bind(rollout)
            .bind(change.promote_to.map(PluginVersionId::as_str))
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        append(&mut tx, vec![change.new_event(tenant, now)]).await?;
        tx.commit().await.map_err(db)?;
        self.binding(tenant, id).await
    }

    async fn set_auto_approve(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        policy: Option<&nexus_model::AutoApprove>,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE binding SET auto_approve = ? WHERE id = ? AND tenant_id = ?")
            .bind(policy.map(serde_json::to_string).transpose().map_err(corrupt)?)
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("binding", id));
        }
        let summary = json!({"auto_approve": policy});
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Binding, id, EntityAction::Updated, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        self.binding(tenant, id).await
    }

    async fn enable_binding(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE binding SET enabled = 1, quarantine_reason = NULL, quarantined_time = NULL WHERE id = ? AND tenant_id = ?",
        )
        .bind(id.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("binding", id));
        }
        // Re-enabling lifts the quarantine of every device's input as well.
        let released = sqlx::query("DELETE FROM binding_device_quarantine WHERE binding_id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        append(
            &mut tx,
            vec![entity_event(
                tenant,
                now,
                EntityKind::Binding,
                id,
                EntityAction::Enabled,
                actor,
                json!({"released_devices": released}),
            )],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        self.binding(tenant, id).await
    }

    async fn release_device(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        device: &DeviceId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding> {
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "DELETE FROM binding_device_quarantine WHERE binding_id = ? AND device_id = ? AND tenant_id = ?",
        )
        .bind(id.as_str())
        .bind(device.as_str())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("device quarantine", format!("{id}/{device}")));
        }
        let summary = json!({"released_device": device});
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Binding, id, EntityAction::Enabled, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        self.binding(tenant, id).await
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn plugin_state(
        &self,
        tenant: &TenantId,
        binding: &BindingId,
        device: &DeviceId,
    ) -> Result<BTreeMap<String, Vec<u8>>> {
        let rows =
            sqlx::query("SELECT key, value FROM plugin_state WHERE tenant_id = ? AND binding_id = ? AND device_id = ?")
                .bind(tenant.as_str())
                .bind(binding.as_str())
                .bind(device.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(|r| Ok((get(r, "key")?, get(r, "value")?))).collect()
    }
}

/// A stored cron schedule (both columns, or none).
fn cron(expression: Option<String>, time_zone: Option<String>) -> Option<nexus_model::CronSchedule> {
    Some(nexus_model::CronSchedule { expression: expression?, time_zone: time_zone.unwrap_or_else(|| "UTC".into()) })
}
