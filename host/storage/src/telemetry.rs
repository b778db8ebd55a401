//! Telemetry (pf.telemetry) and the latest value per key.

use nexus_model::{Reading, TimestampMs, Value};
use sqlx::Row;

use crate::{Result, Storage, StorageError};

/// The four typed columns of a value (ThingsBoard's ts_kv layout).
fn columns(value: &Value) -> (Option<f64>, Option<i64>, Option<bool>, Option<&str>) {
    match value {
        Value::Number(n) => (Some(*n), None, None, None),
        Value::Integer(i) => (None, Some(*i), None, None),
        Value::Boolean(b) => (None, None, Some(*b), None),
        Value::Text(t) => (None, None, None, Some(t.as_str())),
    }
}

fn reading_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Reading> {
    let value = if let Some(n) = row.try_get::<Option<f64>, _>("value_numeric")? {
        Value::Number(n)
    } else if let Some(i) = row.try_get::<Option<i64>, _>("value_long")? {
        Value::Integer(i)
    } else if let Some(b) = row.try_get::<Option<bool>, _>("value_boolean")? {
        Value::Boolean(b)
    } else if let Some(t) = row.try_get::<Option<String>, _>("value_string")? {
        Value::Text(t)
    } else {
        return Err(StorageError::Corrupt("telemetry row without a value".into()));
    };
    Ok(Reading {
        device_id: row.try_get("device_id")?,
        key: row.try_get("key")?,
        ts: row.try_get("ts")?,
        value,
        quality: row.try_get::<f64, _>("quality")? as f32,
    })
}

impl Storage {
    /// Stores readings of the tenant's devices in one transaction; when it
    /// returns they are durable. A reading with the same (device, key, ts)
    /// replaces the stored one, so re-delivery stores nothing twice.
    pub async fn insert_readings(&self, tenant_id: &str, readings: &[Reading]) -> Result<()> {
        let mut tx = self.write_tx().await?;
        for r in readings {
            let (numeric, long, boolean, string) = columns(&r.value);
            sqlx::query(
                "INSERT OR REPLACE INTO telemetry
                 (tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(tenant_id)
            .bind(&r.device_id)
            .bind(&r.key)
            .bind(r.ts)
            .bind(numeric)
            .bind(long)
            .bind(boolean)
            .bind(string)
            .bind(f64::from(r.quality))
            .execute(&mut *tx)
            .await?;
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
            .bind(tenant_id)
            .bind(&r.device_id)
            .bind(&r.key)
            .bind(r.ts)
            .bind(numeric)
            .bind(long)
            .bind(boolean)
            .bind(string)
            .bind(f64::from(r.quality))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest reading of every key of a device (or of the given keys).
    pub async fn latest(&self, tenant_id: &str, device_id: &str, keys: &[String]) -> Result<Vec<Reading>> {
        let rows = sqlx::query("SELECT * FROM telemetry_latest WHERE tenant_id = ? AND device_id = ? ORDER BY key")
            .bind(tenant_id)
            .bind(device_id)
            .fetch_all(&self.pool)
            .await?;
        let readings: Result<Vec<Reading>> = rows.iter().map(reading_from_row).collect();
        Ok(readings?.into_iter().filter(|r| keys.is_empty() || keys.contains(&r.key)).collect())
    }

    /// Readings of a device in `[start, end)`, oldest first, at most `limit`;
    /// all keys when `key` is `None`.
    pub async fn history(
        &self,
        tenant_id: &str,
        device_id: &str,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT * FROM telemetry WHERE tenant_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR key = ?3)
             AND ts >= ?4 AND ts < ?5 ORDER BY ts, key LIMIT ?6",
        )
        .bind(tenant_id)
        .bind(device_id)
        .bind(key)
        .bind(start)
        .bind(end)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reading_from_row).collect()
    }

    /// The newest readings of a device (all keys), oldest first.
    pub async fn recent(&self, tenant_id: &str, device_id: &str, limit: u32) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT * FROM telemetry WHERE tenant_id = ? AND device_id = ? ORDER BY ts DESC LIMIT ?)
             ORDER BY ts, key",
        )
        .bind(tenant_id)
        .bind(device_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(reading_from_row).collect()
    }

    /// Number of stored readings of a device (tests, operators).
    pub async fn count_readings(&self, tenant_id: &str, device_id: &str) -> Result<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM telemetry WHERE tenant_id = ? AND device_id = ?")
            .bind(tenant_id)
            .bind(device_id)
            .fetch_one(&self.pool)
            .await?)
    }
}
