//! Setpoints: each (device, parameter)'s current value, unit, limits and
//! source; a confirmed write sets the value in the commit that records it.

use async_trait::async_trait;
use nexus_model::{
    Actor, DeviceId, EntityAction, EntityKind, Readback, Setpoint, SetpointSource, SetpointWriteRecord, TenantId,
    TimestampMs,
};
use nexus_storage::{Result, SetpointStore, StorageError, entity_event};
use sqlx::sqlite::SqliteRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{SqliteStore, corrupt, db};

const UPSERT: &str = "INSERT INTO setpoint (tenant_id, device_id, parameter, value, unit, min_value, max_value,
     max_step, min_interval_ms, source, updated_at, readback_key, readback_tolerance)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (tenant_id, device_id, parameter) DO UPDATE SET value = excluded.value, unit = excluded.unit,
     min_value = excluded.min_value, max_value = excluded.max_value, max_step = excluded.max_step,
     min_interval_ms = excluded.min_interval_ms, source = excluded.source, updated_at = excluded.updated_at,
     readback_key = excluded.readback_key, readback_tolerance = excluded.readback_tolerance";

/// A write the device confirmed sets the setpoint's value (what it read
/// back, else what was written), source `written`; its limits stay.
pub(crate) async fn apply_writes(
    tx: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    records: &[SetpointWriteRecord],
    now: TimestampMs,
) -> Result<()> {
    for record in records {
        let Some(outcome) = record.outcome.as_ref().filter(|o| o.confirmed) else { continue };
        sqlx::query(
            "INSERT INTO setpoint (tenant_id, device_id, parameter, value, source, updated_at)
             SELECT ?1, id, ?2, ?3, 'written', ?4 FROM device WHERE id = ?5 AND tenant_id = ?1
             ON CONFLICT (tenant_id, device_id, parameter) DO UPDATE SET value = excluded.value,
             source = excluded.source, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(&record.write.parameter)
        .bind(outcome.read_back.unwrap_or(record.write.value))
        .bind(now)
        .bind(record.write.device_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl SetpointStore for SqliteStore {
    async fn put_setpoint(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        setpoint: &Setpoint,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Setpoint> {
        if !self.has_row("device", tenant, device.as_str()).await? {
            return Err(StorageError::not_found("device", device));
        }
        let mut tx = self.write_tx().await?;
        sqlx::query(UPSERT)
            .bind(tenant.as_str())
            .bind(device.as_str())
            .bind(&setpoint.parameter)
            .bind(setpoint.value)
            .bind(&setpoint.unit)
            .bind(setpoint.min)
            .bind(setpoint.max)
            .bind(setpoint.max_step)
            .bind(setpoint.min_interval_ms)
            .bind(source_text(setpoint.source))
            .bind(setpoint.updated_at)
            .bind(setpoint.readback.as_ref().map(|r| r.key.as_str()))
            .bind(setpoint.readback.as_ref().map(|r| r.tolerance))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let summary = serde_json::json!({"device_id": device, "setpoint": setpoint});
        let id = format!("{device}/{}", setpoint.parameter);
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Setpoint, id, EntityAction::Updated, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(setpoint.clone())
    }

    async fn setpoints(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<Setpoint>> {
        if !self.has_row("device", tenant, device.as_str()).await? {
            return Err(StorageError::not_found("device", device));
        }
        let rows = sqlx::query("SELECT * FROM setpoint WHERE tenant_id = ? AND device_id = ? ORDER BY parameter")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(row).collect()
    }
}

pub(crate) fn source_text(source: SetpointSource) -> &'static str {
    match source {
        SetpointSource::Device => "device",
        SetpointSource::Written => "written",
        SetpointSource::Manual => "manual",
    }
}

pub(crate) fn source_of(text: &str) -> Result<SetpointSource> {
    match text {
        "device" => Ok(SetpointSource::Device),
        "written" => Ok(SetpointSource::Written),
        "manual" => Ok(SetpointSource::Manual),
        other => Err(corrupt(format!("setpoint source `{other}`"))),
    }
}

fn row(row: &SqliteRow) -> Result<Setpoint> {
    Ok(Setpoint {
        parameter: get(row, "parameter")?,
        value: get(row, "value")?,
        unit: get(row, "unit")?,
        min: get(row, "min_value")?,
        max: get(row, "max_value")?,
        max_step: get(row, "max_step")?,
        min_interval_ms: get(row, "min_interval_ms")?,
        source: source_of(&get::<String>(row, "source")?)?,
        updated_at: get(row, "updated_at")?,
        readback: match (get::<Option<String>>(row, "readback_key")?, get::<Option<f64>>(row, "readback_tolerance")?) {
            (Some(key), Some(tolerance)) => Some(Readback { key, tolerance }),
            _ => None,
        },
    })
}
