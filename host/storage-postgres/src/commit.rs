//! The unit of work: a frame's (or a run's) effects in one transaction, and
//! group commit: several units of work in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{AlarmTransition, DeviceId, NewEvent, StoredRecommendation, TenantId};
use nexus_storage::{Committed, DeviceSeries, Effects, Result, StorageError, UnitOfWork, UsageDelta, outbox_events};

use crate::{PostgresStore, db, outbox, records, series, signals};

#[async_trait]
impl UnitOfWork for PostgresStore {
    async fn commit(&self, effects: Effects) -> Result<Committed> {
        Ok(self.commit_all(vec![effects]).await?.pop().unwrap_or_default())
    }

    async fn commit_all(&self, batch: Vec<Effects>) -> Result<Vec<Committed>> {
        if batch.iter().all(Effects::is_empty) {
            return Ok(batch.iter().map(|_| Committed::default()).collect());
        }
        let mut tx = self.write_tx().await?;
        // Telemetry and usage of the whole batch first: one statement of
        // samples and one of latest values however many devices it holds.
        let mut telemetry: Vec<(&TenantId, &DeviceSeries)> = Vec::new();
        let mut usage: BTreeMap<(&str, &str), UsageDelta> = BTreeMap::new();
        for effects in &batch {
            telemetry.extend(effects.telemetry.iter().map(|t| (&effects.tenant_id, t)));
            if let Some(delta) = &effects.usage {
                let sum = usage
                    .entry((effects.tenant_id.as_str(), delta.month.as_str()))
                    .or_insert_with(|| UsageDelta { month: delta.month.clone(), ..UsageDelta::default() });
                sum.executions += delta.executions;
                sum.fuel = sum.fuel.saturating_add(delta.fuel);
            }
        }
        let chunked = self.layout == crate::TelemetryLayout::Partitioned;
        let created = series::insert(&mut tx, &self.series, &telemetry, chunked).await?;
        for ((tenant, _), delta) in usage {
            records::add_usage(&mut tx, &TenantId::from(tenant), &delta).await?;
        }
        let mut applied = Vec::with_capacity(batch.len());
        for effects in &batch {
            applied.push(apply(&mut tx, effects).await?);
        }
        // The events of the whole batch in one append, the transaction's last
        // write (it serializes appenders until the commit).
        let events: Vec<NewEvent> = applied.iter_mut().flat_map(|a| std::mem::take(&mut a.events)).collect();
        let mut events = outbox::append(&mut tx, events).await?.into_iter();
        tx.commit().await.map_err(db)?;
        self.series.remember(created);
        Ok(applied
            .into_iter()
            .map(|a| Committed {
                events: events.by_ref().take(a.event_count).collect(),
                transitions: a.transitions,
                recommendations: a.recommendations,
            })
            .collect())
    }
}

/// What one unit of work wrote, and the events it is to append.
struct Applied {
    transitions: Vec<AlarmTransition>,
    recommendations: Vec<StoredRecommendation>,
    events: Vec<NewEvent>,
    event_count: usize,
}

/// Writes one unit of work's effects but its telemetry and usage (which
/// [`UnitOfWork::commit_all`] writes for the whole batch) inside `tx`, and
/// returns the events they make.
async fn apply(tx: &mut sqlx::PgConnection, effects: &Effects) -> Result<Applied> {
    let tenant = &effects.tenant_id;
    for write in &effects.states {
        // The binding must be the tenant's: state never crosses tenants.
        let owned = sqlx::query("SELECT 1 FROM host.binding WHERE id = $1 AND tenant_id = $2")
            .bind(write.binding_id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        if owned.is_none() {
            return Err(StorageError::not_found("binding", &write.binding_id));
        }
        sqlx::query("DELETE FROM host.plugin_state WHERE tenant_id = $1 AND binding_id = $2 AND device_id = $3")
            .bind(tenant.as_str())
            .bind(write.binding_id.as_str())
            .bind(write.device_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if write.state.is_empty() {
            continue;
        }
        let keys: Vec<&str> = write.state.keys().map(String::as_str).collect();
        let values: Vec<&[u8]> = write.state.values().map(Vec::as_slice).collect();
        sqlx::query(
            "INSERT INTO host.plugin_state (tenant_id, binding_id, device_id, key, value)
             SELECT $1, $2, $3, key, value FROM UNNEST($4::text[], $5::bytea[]) AS s (key, value)",
        )
        .bind(tenant.as_str())
        .bind(write.binding_id.as_str())
        .bind(write.device_id.as_str())
        .bind(&keys)
        .bind(&values)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    let transitions = signals::apply(&mut *tx, tenant, &effects.signals).await?;
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
            "INSERT INTO host.binding_device_quarantine (tenant_id, binding_id, device_id, reason, quarantined_time)
             SELECT $1, id, $2, $3, $4 FROM host.binding WHERE id = $5 AND tenant_id = $1
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
            "UPDATE host.binding SET enabled = false, quarantine_reason = $1, quarantined_time = $2
             WHERE id = $3 AND tenant_id = $4",
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
    let events = outbox_events(effects, &transitions, &recommendations, &superseded);
    Ok(Applied { transitions, recommendations, event_count: events.len(), events })
}
