//! Telemetry (pf.telemetry) and the latest value per key.

use async_trait::async_trait;
use nexus_model::{DeviceId, Reading, TenantId, TimestampMs};
use nexus_storage::{Result, TelemetryStore};

use crate::rows::{self, value_columns};
use crate::{SqliteStore, db};

/// Stores readings inside a transaction. A reading with the same (device,
/// key, ts) replaces the stored one, so re-delivery stores nothing twice;
/// `telemetry_latest` keeps the newest per key.
pub(crate) async fn insert(tx: &mut sqlx::SqliteConnection, tenant: &TenantId, readings: &[Reading]) -> Result<()> {
    for r in readings {
        let (numeric, long, boolean, string) = value_columns(&r.value);
        sqlx::query(
            "INSERT OR REPLACE INTO telemetry
             (tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(tenant.as_str())
        .bind(r.device_id.as_str())
        .bind(&r.key)
        .bind(r.ts)
        .bind(numeric)
        .bind(long)
        .bind(boolean)
        .bind(string)
        .bind(f64::from(r.quality))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        sqlx::query(
            "INSERT INTO telemetry_latest
             (tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT(device_id, key) DO UPDATE SET
               ts = excluded.ts, value_numeric = excluded.value_numeric, value_long = excluded.value_long,
               value_boolean = excluded.value_boolean, value_string = excluded.value_string,
               quality = excluded.quality
             WHERE excluded.ts >= telemetry_latest.ts",
        )
        .bind(tenant.as_str())
        .bind(r.device_id.as_str())
        .bind(&r.key)
        .bind(r.ts)
        .bind(numeric)
        .bind(long)
        .bind(boolean)
        .bind(string)
        .bind(f64::from(r.quality))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    Ok(())
}

#[async_trait]
impl TelemetryStore for SqliteStore {
    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>> {
        let rows = sqlx::query("SELECT * FROM telemetry_latest WHERE tenant_id = ? AND device_id = ? ORDER BY key")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        let readings: Result<Vec<Reading>> = rows.iter().map(rows::reading).collect();
        Ok(readings?.into_iter().filter(|r| keys.is_empty() || keys.contains(&r.key)).collect())
    }

    async fn history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT * FROM telemetry WHERE tenant_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR key = ?3)
             AND ts >= ?4 AND ts < ?5 ORDER BY ts, key LIMIT ?6",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(key)
        .bind(start)
        .bind(end)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(rows::reading).collect()
    }

    async fn recent(&self, tenant: &TenantId, device: &DeviceId, limit: u32) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT * FROM telemetry WHERE tenant_id = ? AND device_id = ? ORDER BY ts DESC LIMIT ?)
             ORDER BY ts, key",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(rows::reading).collect()
    }

    async fn count_readings(&self, tenant: &TenantId, device: &DeviceId) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM telemetry WHERE tenant_id = ? AND device_id = ?")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }
}
