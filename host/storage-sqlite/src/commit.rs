//! The unit of work: a frame's (or a run's) effects in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{DeviceId, TenantId};
use nexus_storage::{Committed, DeviceSeries, Effects, Result, StorageError, UnitOfWork, UsageDelta, outbox_events};

use crate::{SqliteStore, alarms, db, outbox, records, telemetry};

#[async_trait]
impl UnitOfWork for SqliteStore {
    async fn commit(&self, effects: Effects) -> Result<Committed> {
        Ok(self.commit_all(vec![effects]).await?.pop().unwrap_or_default())
    }

    async fn commit_all(&self, batch: Vec<Effects>) -> Result<Vec<Committed>> {
        if batch.iter().all(Effects::is_empty) {
            return Ok(batch.iter().map(|_| Committed::default()).collect());
        }
        let mut tx = self.write_tx().await?;
        // Telemetry and usage of the whole batch first, merged per tenant:
        // a handful of multi-row statements however many devices it holds.
        let mut telemetry: BTreeMap<&str, Vec<&DeviceSeries>> = BTreeMap::new();
        let mut usage: BTreeMap<(&str, &str), UsageDelta> = BTreeMap::new();
        for effects in &batch {
            let tenant = effects.tenant_id.as_str();
            telemetry.entry(tenant).or_default().extend(effects.telemetry.iter());
            if let Some(delta) = &effects.usage {
                let sum = usage
                    .entry((tenant, delta.month.as_str()))
                    .or_insert_with(|| UsageDelta { month: delta.month.clone(), ..UsageDelta::default() });
                sum.executions += delta.executions;
                sum.fuel = sum.fuel.saturating_add(delta.fuel);
            }
        }
        let mut created = Vec::new();
        for (tenant, series) in telemetry {
            created.extend(telemetry::insert(&mut tx, &self.series, &TenantId::from(tenant), &series).await?);
        }
        for ((tenant, _), delta) in usage {
            records::add_usage(&mut tx, &TenantId::from(tenant), &delta).await?;
        }
        let mut committed = Vec::with_capacity(batch.len());
        for effects in &batch {
            committed.push(apply(&mut tx, effects).await?);
        }
        tx.commit().await.map_err(db)?;
        telemetry::remember(&self.series, created);
        Ok(committed)
    }
}

/// Writes one unit of work's effects but its telemetry and usage (which
/// [`UnitOfWork::commit_all`] writes for the whole batch), and their events,
/// inside `tx`.
async fn apply(tx: &mut sqlx::SqliteConnection, effects: &Effects) -> Result<Committed> {
    if effects.is_empty() {
        return Ok(Committed::default());
    }
    {
        let tenant = &effects.tenant_id;
        for write in &effects.states {
            // The binding must be the tenant's: state never crosses tenants.
            let owned = sqlx::query("SELECT 1 FROM binding WHERE id = ? AND tenant_id = ?")
                .bind(write.binding_id.as_str())
                .bind(tenant.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
            if owned.is_none() {
                return Err(StorageError::not_found("binding", &write.binding_id));
            }
            sqlx::query("DELETE FROM plugin_state WHERE tenant_id = ? AND binding_id = ? AND device_id = ?")
                .bind(tenant.as_str())
                .bind(write.binding_id.as_str())
                .bind(write.device_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            for (key, value) in &write.state {
                sqlx::query(
                    "INSERT INTO plugin_state (tenant_id, binding_id, device_id, key, value) VALUES (?, ?, ?, ?, ?)",
                )
                .bind(tenant.as_str())
                .bind(write.binding_id.as_str())
                .bind(write.device_id.as_str())
                .bind(key)
                .bind(value)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        let mut transitions = Vec::new();
        for write in &effects.signals {
            if let Some(transition) = alarms::apply_signal(&mut *tx, tenant, write).await? {
                transitions.push(transition);
            }
        }
        let mut recommendations = Vec::with_capacity(effects.recommendations.len());
        let mut superseded = Vec::new();
        for new in &effects.recommendations {
            let stored = records::insert_recommendation(&mut *tx, tenant, new, effects.now).await?;
            superseded.extend(crate::lifecycle::supersede(&mut *tx, tenant, &stored).await?);
            recommendations.push(stored);
        }
        for run in &effects.plugin_runs {
            records::insert_plugin_run(&mut *tx, run).await?;
        }
        for letter in &effects.dead_letters {
            records::insert_dead_letter(&mut *tx, letter).await?;
        }
        for q in effects.quarantines.iter().filter(|q| q.device_id.is_some()) {
            sqlx::query(
                "INSERT INTO binding_device_quarantine (tenant_id, binding_id, device_id, reason, quarantined_time)
                 SELECT ?1, id, ?2, ?3, ?4 FROM binding WHERE id = ?5 AND tenant_id = ?1
                 ON CONFLICT (binding_id, device_id) DO UPDATE SET reason = excluded.reason,
                 quarantined_time = excluded.quarantined_time",
            )
            .bind(tenant.as_str())
            .bind(q.device_id.as_ref().map(DeviceId::as_str))
            .bind(&q.reason)
            .bind(effects.now)
            .bind(q.binding_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        for q in effects.quarantines.iter().filter(|q| q.device_id.is_none()) {
            sqlx::query(
                "UPDATE binding SET enabled = 0, quarantine_reason = ?, quarantined_time = ? WHERE id = ? AND tenant_id = ?",
            )
            .bind(&q.reason)
            .bind(effects.now)
            .bind(q.binding_id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        crate::setpoints::apply_writes(&mut *tx, tenant, &effects.setpoint_writes, effects.now).await?;
        crate::forecasts::apply(&mut *tx, tenant, &effects.forecasts, effects.now).await?;
        let events =
            outbox::append(&mut *tx, outbox_events(effects, &transitions, &recommendations, &superseded)).await?;
        Ok(Committed { transitions, recommendations, events })
    }
}
