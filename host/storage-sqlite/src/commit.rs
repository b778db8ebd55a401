//! The unit of work: a frame's (or a run's) effects in one transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{DeviceId, TenantId};
use nexus_storage::{
    Committed, DeviceSeries, Effects, Result, StateWrite, StorageError, UnitOfWork, UsageDelta, last_state_writes,
    outbox_events,
};
use serde_json::json;

use crate::{SqliteStore, db, outbox, records, telemetry, values};

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
        let (mut created, mut rows) = (Vec::new(), 0);
        for (tenant, series) in telemetry {
            let tenant = TenantId::from(tenant);
            let (new, written) = telemetry::insert(&mut tx, (&self.series, &self.newest), &tenant, &series).await?;
            created.extend(new);
            rows += written;
        }
        for ((tenant, _), delta) in usage {
            records::add_usage(&mut tx, &TenantId::from(tenant), &delta).await?;
        }
        write_states(&mut tx, &batch).await?;
        let mut committed = Vec::with_capacity(batch.len());
        for effects in &batch {
            committed.push(apply(&mut tx, effects).await?);
        }
        tx.commit().await.map_err(db)?;
        self.pace.committed(rows);
        telemetry::remember(&self.series, created);
        Ok(committed)
    }
}

/// Writes one unit of work's effects but its telemetry, usage and plugin
/// states (which [`UnitOfWork::commit_all`] writes for the whole batch), and
/// their events, inside `tx`.
async fn apply(tx: &mut sqlx::SqliteConnection, effects: &Effects) -> Result<Committed> {
    if effects.is_empty() {
        return Ok(Committed::default());
    }
    {
        let tenant = &effects.tenant_id;
        let transitions = crate::signals::apply(&mut *tx, tenant, &effects.signals).await?;
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

/// Plugin states' rows, bound as a `VALUES` list ([`values`]).
const STATES: (&str, &str) = (
    "INSERT INTO plugin_state (tenant_id, binding_id, device_id, key, value)
     SELECT column2, column3, column4, column5, column6 FROM ",
    " WHERE column1 IS NOT NULL",
);

/// The batch's plugin states, in two round trips however many: their
/// bindings checked to be their tenants' (state never crosses tenants), then
/// the old states of each (binding, device) deleted and the new inserted. A
/// later write of a (binding, device) in the batch replaces an earlier one.
async fn write_states(tx: &mut sqlx::SqliteConnection, batch: &[Effects]) -> Result<()> {
    let last = last_state_writes(batch);
    if last.is_empty() {
        return Ok(());
    }
    let mut bindings: Vec<&str> = last.keys().map(|(binding, _)| *binding).collect();
    bindings.dedup();
    let owners: BTreeMap<String, String> =
        sqlx::query_as("SELECT id, tenant_id FROM binding WHERE id IN (SELECT value FROM json_each(?1))")
            .bind(json!(bindings).to_string())
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?
            .into_iter()
            .collect();
    for (tenant, write) in last.values() {
        if owners.get(write.binding_id.as_str()).map(String::as_str) != Some(*tenant) {
            return Err(StorageError::not_found("binding", &write.binding_id));
        }
    }
    let pairs = json!(last.keys().collect::<Vec<_>>()).to_string();
    let rows: Vec<(&str, &StateWrite, &String, &Vec<u8>)> = last
        .values()
        .flat_map(|&(tenant, write)| write.state.iter().map(move |(key, value)| (tenant, write, key, value)))
        .collect();
    // The old states deleted and the new inserted in one round trip.
    let mut statements = values::Statements::default();
    statements.push(
        "DELETE FROM plugin_state WHERE (binding_id, device_id) IN
         (SELECT value ->> 0, value ->> 1 FROM json_each(?))",
        move |q| q.bind(pairs),
    );
    statements.rows(STATES, 6, &rows, |q, n, (tenant, write, key, value)| {
        q.bind(n as i64)
            .bind(*tenant)
            .bind(write.binding_id.as_str())
            .bind(write.device_id.as_str())
            .bind(key.as_str())
            .bind(value.as_slice())
    });
    statements.execute(tx).await
}
