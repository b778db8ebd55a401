//! Telemetry (pf.telemetry) and the latest value per key.

use std::collections::HashMap;

use async_trait::async_trait;
use nexus_model::{Column, DeviceId, Reading, TenantId, TimestampMs};
use nexus_storage::{DeviceSeries, Result, TelemetryStore};

use crate::rows;
use crate::{SqliteStore, db};

/// Rows per multi-row statement: chunks of these sizes, largest first, so
/// a handful of statement shapes serve every batch (each one prepared once
/// and cached by the connection).
const CHUNKS: [usize; 5] = [256, 64, 16, 4, 1];
/// Columns of a telemetry row.
const COLUMNS: &str =
    "(tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)";

/// One row to write: a sample of a series of a device.
struct Row<'a> {
    device: &'a str,
    key: &'a str,
    ts: i64,
    column: &'a Column,
    i: usize,
    quality: f32,
}

impl Row<'_> {
    fn bind<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
        tenant: &'q str,
    ) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>
    where
        Self: 'q,
    {
        let (numeric, long, boolean, text) = match self.column {
            Column::Number(v) => (Some(v[self.i]), None, None, None),
            Column::Integer(v) => (None, Some(v[self.i]), None, None),
            Column::Boolean(v) => (None, None, Some(v[self.i]), None),
            Column::Text(v) => (None, None, None, Some(v[self.i].as_str())),
        };
        query
            .bind(tenant)
            .bind(self.device)
            .bind(self.key)
            .bind(self.ts)
            .bind(numeric)
            .bind(long)
            .bind(boolean)
            .bind(text)
            .bind(f64::from(self.quality))
    }
}

fn rows_of(telemetry: &[DeviceSeries]) -> Vec<Row<'_>> {
    let mut rows = Vec::with_capacity(telemetry.iter().flat_map(|t| &t.series).map(|s| s.len()).sum());
    for device in telemetry {
        for series in &device.series {
            for (i, &ts) in series.ts.iter().enumerate() {
                rows.push(Row {
                    device: device.device_id.as_str(),
                    key: &series.key,
                    ts,
                    column: &series.values,
                    i,
                    quality: series.quality_at(i),
                });
            }
        }
    }
    rows
}

fn statement(head: &str, rows: usize, tail: &str) -> String {
    let one = "(?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (one.len() + 2));
    sql.push_str(head);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(one);
    }
    sql.push_str(tail);
    sql
}

async fn write_rows(
    tx: &mut sqlx::SqliteConnection,
    head: &str,
    tail: &str,
    tenant: &str,
    rows: &[Row<'_>],
) -> Result<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = CHUNKS.into_iter().find(|&c| c <= rest.len()).unwrap_or(1);
        let (chunk, after) = rest.split_at(size);
        let sql = statement(head, size, tail);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in chunk {
            query = row.bind(query, tenant);
        }
        query.execute(&mut *tx).await.map_err(db)?;
        rest = after;
    }
    Ok(())
}

/// Stores telemetry inside a transaction, in multi-row statements. A sample
/// with the same (device, key, ts) replaces the stored one, so re-delivery
/// stores nothing twice; `telemetry_latest` gets one upsert per (device,
/// key): the newest sample of the batch, kept only if it is not older than
/// what is stored.
pub(crate) async fn insert(
    tx: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    telemetry: &[DeviceSeries],
) -> Result<()> {
    let rows = rows_of(telemetry);
    if rows.is_empty() {
        return Ok(());
    }
    let head = format!("INSERT OR REPLACE INTO telemetry {COLUMNS} VALUES ");
    write_rows(tx, &head, "", tenant.as_str(), &rows).await?;
    // The newest sample per (device, key) of this batch.
    let mut newest: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let slot = newest.entry((row.device, row.key)).or_insert(i);
        if row.ts >= rows[*slot].ts {
            *slot = i;
        }
    }
    let mut latest: Vec<usize> = newest.into_values().collect();
    latest.sort_unstable();
    let latest: Vec<Row<'_>> = latest
        .into_iter()
        .map(|i| {
            let r = &rows[i];
            Row { device: r.device, key: r.key, ts: r.ts, column: r.column, i: r.i, quality: r.quality }
        })
        .collect();
    let head = format!("INSERT INTO telemetry_latest {COLUMNS} VALUES ");
    let tail = " ON CONFLICT(device_id, key) DO UPDATE SET
               ts = excluded.ts, value_numeric = excluded.value_numeric, value_long = excluded.value_long,
               value_boolean = excluded.value_boolean, value_string = excluded.value_string,
               quality = excluded.quality
             WHERE excluded.ts >= telemetry_latest.ts";
    write_rows(tx, &head, tail, tenant.as_str(), &latest).await
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
