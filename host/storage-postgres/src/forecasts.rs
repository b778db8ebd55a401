//! Forecasts: the newest of each (device, key), replaced by a commit that
//! carries a newer one.

use async_trait::async_trait;
use nexus_model::{DeviceId, Forecast, StoredForecast, TenantId, TimestampMs};
use nexus_storage::{ForecastStore, ForecastWrite, Result, StorageError};
use sqlx::postgres::PgRow;

use crate::rows::get;
use crate::{PostgresStore, corrupt, db};

/// Stores a commit's forecasts; a forecast of another tenant's device is
/// not stored.
pub(crate) async fn apply(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    writes: &[ForecastWrite],
    now: TimestampMs,
) -> Result<()> {
    for write in writes {
        let f = &write.forecast;
        let points = serde_json::to_string(&f.points).map_err(corrupt)?;
        sqlx::query(
            "INSERT INTO po.forecast (tenant_id, device_id, key, binding_id, unit, points, model, issued_at)
             SELECT $1, id, $2, $3, $4, $5::jsonb, $6, $7 FROM pf.device WHERE id = $8 AND tenant_id = $1
             ON CONFLICT (tenant_id, device_id, key) DO UPDATE SET binding_id = excluded.binding_id,
             unit = excluded.unit, points = excluded.points, model = excluded.model, issued_at = excluded.issued_at",
        )
        .bind(tenant.as_str())
        .bind(&f.key)
        .bind(write.binding_id.as_str())
        .bind(&f.unit)
        .bind(points)
        .bind(&f.model)
        .bind(now)
        .bind(f.device_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl ForecastStore for PostgresStore {
    async fn forecasts(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<StoredForecast>> {
        if !self.has_row("pf.device", tenant, device.as_str()).await? {
            return Err(StorageError::not_found("device", device));
        }
        let rows = sqlx::query("SELECT *, points::text AS points_text FROM po.forecast WHERE tenant_id = $1 AND device_id = $2 ORDER BY key")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(row).collect()
    }
}

fn row(row: &PgRow) -> Result<StoredForecast> {
    // Read as text and parsed typed, as on SQLite, so every f64 comes back
    // bit for bit.
    let points: String = get(row, "points_text")?;
    Ok(StoredForecast {
        binding_id: get::<String>(row, "binding_id")?.into(),
        issued_at: get(row, "issued_at")?,
        forecast: Forecast {
            device_id: get::<String>(row, "device_id")?.into(),
            key: get(row, "key")?,
            unit: get(row, "unit")?,
            points: serde_json::from_str(&points).map_err(corrupt)?,
            model: get(row, "model")?,
        },
    })
}
