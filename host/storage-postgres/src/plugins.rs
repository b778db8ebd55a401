//! Plugin versions, bindings and per-(binding, device) state.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{
    Actor, Binding, BindingId, DeviceId, EntityAction, EntityKind, Page, PluginKind, PluginVersion, PluginVersionId,
    TenantId, TimestampMs,
};
use nexus_storage::{NewBinding, NewPlugin, PluginStore, Result, StateStore, StorageError, entity_event};
use serde_json::json;
use sqlx::postgres::PgRow;

use crate::outbox::append;
use crate::rows::{self, get, typed};
use crate::{PostgresStore, conflict_or, corrupt, db, page_limit, page_sql};

const PLUGIN_COLUMNS: &str =
    "id, tenant_id, kind, name, version, hash, size_bytes, info, created_time, contract, release_id";

/// A binding's columns with its devices and quarantined devices, in device
/// order: one round trip per list of bindings.
pub(crate) const BINDING_COLUMNS: &str = "b.*,
    ARRAY(SELECT device_id FROM host.binding_device d WHERE d.binding_id = b.id ORDER BY device_id) AS devices,
    ARRAY(SELECT device_id FROM host.binding_device_quarantine q WHERE q.binding_id = b.id ORDER BY device_id)
        AS quarantined,
    ARRAY(SELECT reason FROM host.binding_device_quarantine q WHERE q.binding_id = b.id ORDER BY device_id)
        AS quarantine_reasons";

pub(crate) fn binding(row: &PgRow) -> Result<Binding> {
    let kind: String = get(row, "kind")?;
    let devices: Vec<String> = get(row, "devices")?;
    let quarantined: Vec<String> = get(row, "quarantined")?;
    let reasons: Vec<String> = get(row, "quarantine_reasons")?;
    Ok(Binding {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        plugin_id: get::<String>(row, "plugin_id")?.into(),
        previous_plugin_id: get::<Option<String>>(row, "previous_plugin_id")?.map(Into::into),
        kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("binding kind {kind}")))?,
        config: get(row, "config")?,
        limits: typed(row, "limits")?,
        schedule_ms: get(row, "schedule_ms")?,
        schedule_cron: cron(get(row, "schedule_cron")?, get(row, "schedule_tz")?),
        auto_approve: get::<Option<serde_json::Value>>(row, "auto_approve")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(corrupt)?,
        enabled: get(row, "enabled")?,
        propagate: get(row, "propagate")?,
        quarantine_reason: get(row, "quarantine_reason")?,
        device_ids: devices.into_iter().map(Into::into).collect(),
        quarantined_devices: quarantined.into_iter().map(Into::into).zip(reasons).collect(),
        rollout: get::<Option<serde_json::Value>>(row, "rollout")?
            .map(serde_json::from_value)
            .transpose()
            .map_err(corrupt)?,
        created_time: get(row, "created_time")?,
    })
}

#[async_trait]
impl PluginStore for PostgresStore {
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
            "INSERT INTO host.plugin (id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time,
             contract) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(plugin.id.as_str())
        .bind(plugin.tenant_id.as_str())
        .bind(plugin.kind.as_str())
        .bind(&plugin.name)
        .bind(&plugin.version)
        .bind(&plugin.hash)
        .bind(plugin.size_bytes)
        .bind(new.bytes)
        .bind(serde_json::to_value(&plugin.info).map_err(corrupt)?)
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
        let sql = format!("SELECT {PLUGIN_COLUMNS} FROM host.plugin WHERE id = $1 AND tenant_id = $2");
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
        let sql = page_sql(&format!("SELECT {PLUGIN_COLUMNS}"), "host.plugin", "kind, name, created_time, id");
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
        sqlx::query_scalar("SELECT bytes FROM host.plugin WHERE id = $1 AND tenant_id = $2")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("plugin", id))
    }

    async fn insert_binding(&self, new: &NewBinding<'_>, actor: &Actor, now: TimestampMs) -> Result<Binding> {
        let plugin = self.plugin(new.tenant_id, new.plugin_id).await?;
        let mut device_ids = new.device_ids.to_vec();
        device_ids.sort();
        device_ids.dedup();
        let ids: Vec<&str> = device_ids.iter().map(DeviceId::as_str).collect();
        let mut tx = self.write_tx().await?;
        // Every device must be the tenant's: the first that is not is named.
        let owned: Vec<String> =
            sqlx::query_scalar("SELECT id FROM pf.device WHERE tenant_id = $1 AND id = ANY($2::text[])")
                .bind(new.tenant_id.as_str())
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        if let Some(missing) = new.device_ids.iter().find(|d| !owned.iter().any(|o| o == d.as_str())) {
            return Err(StorageError::not_found("device", missing));
        }
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
            device_ids: device_ids.clone(),
            quarantined_devices: Default::default(),
            rollout: None,
            created_time: now,
        };
        sqlx::query(
            "INSERT INTO host.binding (id, tenant_id, plugin_id, kind, config, limits, schedule_ms, enabled,
             created_time, propagate, schedule_cron, schedule_tz, auto_approve)
             VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, $9, $10, $11, $12)",
        )
        .bind(binding.id.as_str())
        .bind(binding.tenant_id.as_str())
        .bind(binding.plugin_id.as_str())
        .bind(binding.kind.as_str())
        .bind(&binding.config)
        .bind(serde_json::to_value(binding.limits).map_err(corrupt)?)
        .bind(binding.schedule_ms)
        .bind(now)
        .bind(binding.propagate)
        .bind(binding.schedule_cron.as_ref().map(|c| c.expression.as_str()))
        .bind(binding.schedule_cron.as_ref().map(|c| c.time_zone.as_str()))
        .bind(binding.auto_approve.as_ref().map(serde_json::to_value).transpose().map_err(corrupt)?)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO host.binding_device (binding_id, device_id, tenant_id)
             SELECT $1, device_id, $2 FROM UNNEST($3::text[]) AS d (device_id)",
        )
        .bind(binding.id.as_str())
        .bind(binding.tenant_id.as_str())
        .bind(&ids)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let summary = json!({"plugin": plugin.name, "version": plugin.version, "devices": binding.device_ids.len()});
        let event =
            entity_event(new.tenant_id, now, EntityKind::Binding, &binding.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(binding)
    }

    async fn binding(&self, tenant: &TenantId, id: &BindingId) -> Result<Binding> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BINDING_COLUMNS} FROM host.binding b WHERE b.id = $1 AND b.tenant_id = $2"
        )))
        .bind(id.as_str())
        .bind(tenant.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .ok_or_else(|| StorageError::not_found("binding", id))?;
        binding(&row)
    }

    async fn bindings(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Binding>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql(
            &format!("SELECT {BINDING_COLUMNS}"),
            "host.binding b",
            "created_time, id",
        )))
        .bind(tenant.as_str())
        .bind(page.after.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(binding).collect()
    }

    async fn enabled_bindings(&self) -> Result<Vec<Binding>> {
        let sql = format!("SELECT {BINDING_COLUMNS} FROM host.binding b WHERE b.enabled ORDER BY b.created_time, b.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(binding).collect()
    }

    async fn device_bindings(&self, tenant: &TenantId, device: &DeviceId, kind: PluginKind) -> Result<Vec<Binding>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BINDING_COLUMNS} FROM host.binding b JOIN host.binding_device bd ON bd.binding_id = b.id
             WHERE bd.tenant_id = $1 AND bd.device_id = $2 AND b.tenant_id = $1 AND b.kind = $3
             ORDER BY b.created_time, b.id"
        )))
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(binding).collect()
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
        sqlx::query(
            "UPDATE host.binding SET previous_plugin_id = plugin_id, plugin_id = $1 WHERE id = $2 AND tenant_id = $3",
        )
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
        let current: Option<Option<serde_json::Value>> =
            sqlx::query_scalar("SELECT rollout FROM host.binding WHERE id = $1 AND tenant_id = $2 FOR UPDATE")
                .bind(id.as_str())
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let current = current.ok_or_else(|| StorageError::not_found("binding", id))?;
        let current: Option<nexus_model::Rollout> = current.map(serde_json::from_value).transpose().map_err(corrupt)?;
        change.check(id, current.as_ref())?;
        let rollout = change.rollout.map(serde_json::to_value).transpose().map_err(corrupt)?;
        let sql = match change.promote_to {
            Some(_) => {
                "UPDATE host.binding SET rollout = $1, previous_plugin_id = plugin_id, plugin_id = $2 \
                        WHERE id = $3 AND tenant_id = $4"
            }
            None => {
                "UPDATE host.binding SET rollout = $1, plugin_id = COALESCE($2, plugin_id) \
                     WHERE id = $3 AND tenant_id = $4"
            }
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
        let done = sqlx::query("UPDATE host.binding SET auto_approve = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(policy.map(serde_json::to_value).transpose().map_err(corrupt)?)
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
            "UPDATE host.binding SET enabled = true, quarantine_reason = NULL, quarantined_time = NULL
             WHERE id = $1 AND tenant_id = $2",
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
        let released =
            sqlx::query("DELETE FROM host.binding_device_quarantine WHERE binding_id = $1 AND tenant_id = $2")
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
            "DELETE FROM host.binding_device_quarantine WHERE binding_id = $1 AND device_id = $2 AND tenant_id = $3",
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
impl StateStore for PostgresStore {
    async fn plugin_state(
        &self,
        tenant: &TenantId,
        binding: &BindingId,
        device: &DeviceId,
    ) -> Result<BTreeMap<String, Vec<u8>>> {
        let rows = sqlx::query(
            "SELECT key, value FROM host.plugin_state WHERE tenant_id = $1 AND binding_id = $2 AND device_id = $3",
        )
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
