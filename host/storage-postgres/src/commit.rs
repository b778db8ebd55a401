//! The unit of work: a frame's (or a run's) effects in one transaction, and
//! group commit: several units of work in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{AlarmTransition, DeviceId, NewEvent, StoredRecommendation, TenantId};
use nexus_storage::{
    Committed, DeviceSeries, Effects, Result, StorageError, UnitOfWork, UsageDelta, last_state_writes, outbox_events,
};

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
        // Telemetry of the whole batch first: one statement of samples and
        // one of latest values however many devices it holds.
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
        write_states(&mut tx, &batch).await?;
        let mut applied = Vec::with_capacity(batch.len());
        for effects in &batch {
            applied.push(apply(&mut tx, effects).await?);
        }
        // The events of the whole batch in one append (it serializes
        // appenders until the commit).
        let events: Vec<NewEvent> = applied.iter_mut().flat_map(|a| std::mem::take(&mut a.events)).collect();
        let mut events = outbox::append(&mut tx, events).await?.into_iter();
        // The usage last. A tenant's usage is one row a month that every
        // commit of the tenant updates, so a commit holds that row's lock
        // from this statement to its end: written first, it made the
        // tenant's other committer wait there for the whole rest of this
        // transaction, its `COMMIT`'s flush included. Here its lock falls
        // inside the window the outbox's lock serializes anyway.
        for ((tenant, _), delta) in usage {
            records::add_usage(&mut tx, &TenantId::from(tenant), &delta).await?;
        }
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

/// The batch's plugin states in one statement: each (binding, device)'s
/// keys that its new state lacks deleted, the others upserted, for the
/// bindings that are their tenants' (state never crosses tenants); a
/// binding that is not fails the commit. A later write of a (binding,
/// device) in the batch replaces an earlier one.
const STATES: &str = "WITH w AS (
        SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) AS w(tenant_id, binding_id, device_id)
    ), n AS (
        SELECT * FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::bytea[])
            AS n(tenant_id, binding_id, device_id, key, value)
    ), owned AS (
        SELECT w.* FROM w JOIN host.binding b ON b.id = w.binding_id COLLATE \"C\" AND b.tenant_id = w.tenant_id COLLATE \"C\"
    ), gone AS (
        DELETE FROM host.plugin_state s USING owned o
        WHERE s.tenant_id = o.tenant_id COLLATE \"C\" AND s.binding_id = o.binding_id COLLATE \"C\"
            AND s.device_id = o.device_id COLLATE \"C\"
            AND NOT EXISTS (SELECT 1 FROM n WHERE n.tenant_id = s.tenant_id AND n.binding_id = s.binding_id
                AND n.device_id = s.device_id AND n.key = s.key)
    ), put AS (
        INSERT INTO host.plugin_state (tenant_id, binding_id, device_id, key, value)
        SELECT n.tenant_id, n.binding_id, n.device_id, n.key, n.value FROM n JOIN owned o
            ON o.tenant_id = n.tenant_id AND o.binding_id = n.binding_id AND o.device_id = n.device_id
        ON CONFLICT (tenant_id, binding_id, device_id, key) DO UPDATE SET value = excluded.value
    )
    SELECT w.binding_id FROM w WHERE NOT EXISTS
        (SELECT 1 FROM owned o WHERE o.tenant_id = w.tenant_id AND o.binding_id = w.binding_id) LIMIT 1";

/// Writes the batch's plugin states with [`STATES`].
async fn write_states(tx: &mut sqlx::PgConnection, batch: &[Effects]) -> Result<()> {
    let last = last_state_writes(batch);
    if last.is_empty() {
        return Ok(());
    }
    let (mut tenants, mut bindings, mut devices) = (Vec::new(), Vec::new(), Vec::new());
    let (mut row_tenants, mut row_bindings, mut row_devices, mut keys, mut values) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (tenant, write) in last.values() {
        tenants.push(*tenant);
        bindings.push(write.binding_id.as_str());
        devices.push(write.device_id.as_str());
        for (key, value) in &write.state {
            row_tenants.push(*tenant);
            row_bindings.push(write.binding_id.as_str());
            row_devices.push(write.device_id.as_str());
            keys.push(key.as_str());
            values.push(value.as_slice());
        }
    }
    let foreign: Option<String> = sqlx::query_scalar(STATES)
        .bind(&tenants)
        .bind(&bindings)
        .bind(&devices)
        .bind(&row_tenants)
        .bind(&row_bindings)
        .bind(&row_devices)
        .bind(&keys)
        .bind(&values)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
    match foreign {
        Some(binding) => Err(StorageError::not_found("binding", &binding)),
        None => Ok(()),
    }
}

/// What one unit of work wrote, and the events it is to append.
struct Applied {
    transitions: Vec<AlarmTransition>,
    recommendations: Vec<StoredRecommendation>,
    events: Vec<NewEvent>,
    event_count: usize,
}

/// Writes one unit of work's effects but its telemetry, usage and plugin
/// states (which [`UnitOfWork::commit_all`] writes for the whole batch)
/// inside `tx`, and returns the events they make.
async fn apply(tx: &mut sqlx::PgConnection, effects: &Effects) -> Result<Applied> {
    let tenant = &effects.tenant_id;
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
