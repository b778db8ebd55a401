//! Reading telemetry (`pf.telemetry`'s rows and `pf.telemetry_chunk`'s
//! chunks, keyed by series; see [`crate::chunks`]) and the latest value
//! per key (`pf.telemetry_latest`, which also numbers the series); writing
//! it is [`crate::series`].

use async_trait::async_trait;
use nexus_model::{Bucket, DeviceId, Reading, TenantId, TimestampMs, Value};
use nexus_storage::{Expired, Result, StorageError, TelemetryStore};
use sqlx::postgres::PgRow;

use crate::rows::get;
use crate::{PostgresStore, TelemetryLayout, db};

fn value(row: &PgRow) -> Result<Value> {
    Ok(if let Some(n) = get::<Option<f64>>(row, "value_numeric")? {
        Value::Number(n)
    } else if let Some(i) = get::<Option<i64>>(row, "value_long")? {
        Value::Integer(i)
    } else if let Some(b) = get::<Option<bool>>(row, "value_boolean")? {
        Value::Boolean(b)
    } else if let Some(t) = get::<Option<String>>(row, "value_string")? {
        Value::Text(t)
    } else {
        return Err(StorageError::Corrupt("telemetry row without a value".into()));
    })
}

fn reading(device: &DeviceId, row: &PgRow) -> Result<Reading> {
    Ok(Reading {
        device_id: device.clone(),
        key: get(row, "key")?,
        ts: get(row, "ts")?,
        value: value(row)?,
        quality: get(row, "quality")?,
    })
}

/// Samples of a device's keys (of one key, if `$3` is given) in
/// `[$4, $5)`: per key the first (or last) `$6` in time of its rows (one
/// index range scan) and of its chunks (the first or last `$6 + 2` chunks
/// whose spans meet the range: all but the two at its ends lie inside it,
/// so they hold `$6` samples in it if the chunks do), then merged by
/// (ts, key) and cut to `$6`.
const OLDEST: &str = "SELECT k.key, t.ts, t.value_numeric, t.value_long, t.value_boolean, t.value_string, t.quality
    FROM pf.telemetry_latest k CROSS JOIN LATERAL (
        SELECT * FROM (
            (SELECT ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry t
             WHERE t.series_id = k.series_id AND t.ts >= $4 AND t.ts < $5
             ORDER BY t.ts LIMIT $6)
            UNION ALL
            SELECT u.ts, u.value_numeric, u.value_long, u.value_boolean, u.value_string, u.quality
            FROM (SELECT * FROM pf.telemetry_chunk c
                  WHERE c.series_id = k.series_id AND c.last_ts >= $4 AND c.first_ts < $5
                  ORDER BY c.last_ts LIMIT $6 + 2) c
            CROSS JOIN LATERAL unnest(c.ts, c.value_numeric, c.value_long, c.value_boolean, c.value_string, c.quality)
                AS u(ts, value_numeric, value_long, value_boolean, value_string, quality)
            WHERE u.ts >= $4 AND u.ts < $5) s
        ORDER BY ts LIMIT $6) t
    WHERE k.tenant_id = $1 AND k.device_id = $2 AND ($3::text IS NULL OR k.key = $3)
    ORDER BY t.ts, k.key LIMIT $6";

/// [`OLDEST`] from the newest end (newest first).
const NEWEST: &str = "SELECT k.key, t.ts, t.value_numeric, t.value_long, t.value_boolean, t.value_string, t.quality
    FROM pf.telemetry_latest k CROSS JOIN LATERAL (
        SELECT * FROM (
            (SELECT ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry t
             WHERE t.series_id = k.series_id AND t.ts >= $4 AND t.ts < $5
             ORDER BY t.ts DESC LIMIT $6)
            UNION ALL
            SELECT u.ts, u.value_numeric, u.value_long, u.value_boolean, u.value_string, u.quality
            FROM (SELECT * FROM pf.telemetry_chunk c
                  WHERE c.series_id = k.series_id AND c.first_ts < $5 AND c.last_ts >= $4
                  ORDER BY c.first_ts DESC LIMIT $6 + 2) c
            CROSS JOIN LATERAL unnest(c.ts, c.value_numeric, c.value_long, c.value_boolean, c.value_string, c.quality)
                AS u(ts, value_numeric, value_long, value_boolean, value_string, quality)
            WHERE u.ts >= $4 AND u.ts < $5) s
        ORDER BY ts DESC LIMIT $6) t
    WHERE k.tenant_id = $1 AND k.device_id = $2 AND ($3::text IS NULL OR k.key = $3)
    ORDER BY t.ts DESC, k.key DESC LIMIT $6";

/// Time buckets of a device's keys (`$3`, all when empty) in `[$4, $5)`,
/// `$6` ms wide from `$4`, always from the raw samples, rows and chunks (on
/// a hypertable `pf.telemetry_1min_series` could serve whole-minute
/// queries; not used yet, so both layouts answer alike). Integers count as
/// numbers.
const AGGREGATE: &str = "SELECT key, (ts - $4) / $6 AS bucket, avg(v) AS avg_value, min(v) AS min_value,
        max(v) AS max_value, sum(v) AS sum_value, count(*) AS samples
    FROM (SELECT k.key, t.ts, coalesce(t.value_numeric, t.value_long::float8) AS v
          FROM pf.telemetry_latest k JOIN pf.telemetry t ON t.series_id = k.series_id
          WHERE k.tenant_id = $1 AND k.device_id = $2 AND (cardinality($3::text[]) = 0 OR k.key = ANY($3))
            AND t.ts >= $4 AND t.ts < $5
          UNION ALL
          SELECT k.key, u.ts, coalesce(u.value_numeric, u.value_long::float8) AS v
          FROM pf.telemetry_latest k JOIN pf.telemetry_chunk c ON c.series_id = k.series_id
          CROSS JOIN LATERAL unnest(c.ts, c.value_numeric, c.value_long) AS u(ts, value_numeric, value_long)
          WHERE k.tenant_id = $1 AND k.device_id = $2 AND (cardinality($3::text[]) = 0 OR k.key = ANY($3))
            AND c.last_ts >= $4 AND c.first_ts < $5 AND u.ts >= $4 AND u.ts < $5) s
    GROUP BY key, bucket ORDER BY key, bucket";

impl PostgresStore {
    async fn read(
        &self,
        sql: &'static str,
        (tenant, device, key): (&TenantId, &DeviceId, Option<&str>),
        (start, end): (TimestampMs, TimestampMs),
        limit: u32,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(sql)
            .bind(tenant.as_str())
            .bind(device.as_str())
            .bind(key)
            .bind(start)
            .bind(end)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(|row| reading(device, row)).collect()
    }
}

#[async_trait]
impl TelemetryStore for PostgresStore {
    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT key, ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry_latest
             WHERE tenant_id = $1 AND device_id = $2 AND ts IS NOT NULL
               AND (cardinality($3::text[]) = 0 OR key = ANY($3))
             ORDER BY key",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(keys)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|row| reading(device, row)).collect()
    }

    async fn latest_page(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(
            "SELECT key, ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry_latest
             WHERE tenant_id = $1 AND device_id = $2 AND ts IS NOT NULL AND ($3::text IS NULL OR key > $3)
             ORDER BY key LIMIT $4",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|row| reading(device, row)).collect()
    }

    async fn device_keys(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT key FROM pf.telemetry_latest WHERE tenant_id = $1 AND device_id = $2")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db)
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
        self.read(OLDEST, (tenant, device, key), (start, end), limit).await
    }

    async fn history_newest(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        self.read(NEWEST, (tenant, device, key), (start, end), limit).await
    }

    async fn aggregate(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        keys: &[String],
        start: TimestampMs,
        end: TimestampMs,
        interval: i64,
    ) -> Result<Vec<Bucket>> {
        let rows = sqlx::query(AGGREGATE)
            .bind(tenant.as_str())
            .bind(device.as_str())
            .bind(keys)
            .bind(start)
            .bind(end)
            .bind(interval.max(1))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                Ok(Bucket {
                    key: get(row, "key")?,
                    index: get(row, "bucket")?,
                    avg: get(row, "avg_value")?,
                    min: get(row, "min_value")?,
                    max: get(row, "max_value")?,
                    sum: get(row, "sum_value")?,
                    count: get(row, "samples")?,
                })
            })
            .collect()
    }

    async fn delete_telemetry_before(&self, tenant: &TenantId, before: TimestampMs) -> Result<u64> {
        let in_chunks = crate::chunks::delete_before(&self.pool, Some(tenant.as_str()), before).await?;
        let deleted = sqlx::query(
            "DELETE FROM pf.telemetry t USING pf.telemetry_latest k
             WHERE t.series_id = k.series_id AND k.tenant_id = $1 AND t.ts < $2",
        )
        .bind(tenant.as_str())
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(db)?
        .rows_affected();
        Ok(deleted + in_chunks)
    }

    /// The day partitions that end by `before` are dropped whole; the rest
    /// before it — the default partition's rows and those of `before`'s
    /// own day, or all of them on a hypertable — are deleted row by row.
    /// Each step is its own transaction: dropping a partition locks out
    /// every writer of `pf.telemetry`, so that lock is held for the drop
    /// alone, never for a delete.
    async fn expire_telemetry_before(&self, before: TimestampMs) -> Result<Expired> {
        let delete = |table: &'static str| async move {
            let query = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE ts < $1")));
            Ok::<_, StorageError>(query.bind(before).execute(&self.pool).await.map_err(db)?.rows_affected())
        };
        let mut expired = Expired::default();
        // Chunks first: a chunk reaching past `before` puts its later
        // samples back as rows, which the deletes below then leave alone.
        expired.rows += crate::chunks::delete_before(&self.pool, None, before).await?;
        if self.telemetry_layout() == TelemetryLayout::Partitioned {
            // First, so the drop's own clearing of the default partition
            // finds nothing left to delete under its lock.
            expired.rows += delete("pf.telemetry_default").await?;
            expired.partitions = self.drop_partitions_before(before).await?;
        }
        expired.rows += delete("pf.telemetry").await?;
        Ok(expired)
    }

    async fn recent(&self, tenant: &TenantId, device: &DeviceId, limit: u32) -> Result<Vec<Reading>> {
        let mut readings = self.read(NEWEST, (tenant, device, None), (i64::MIN, i64::MAX), limit).await?;
        readings.reverse();
        Ok(readings)
    }

    async fn count_readings(&self, tenant: &TenantId, device: &DeviceId) -> Result<i64> {
        sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM pf.telemetry t JOIN pf.telemetry_latest k ON t.series_id = k.series_id
                     WHERE k.tenant_id = $1 AND k.device_id = $2)
                  + (SELECT coalesce(sum(cardinality(c.ts)), 0)
                     FROM pf.telemetry_chunk c JOIN pf.telemetry_latest k ON c.series_id = k.series_id
                     WHERE k.tenant_id = $1 AND k.device_id = $2)::int8",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }
}
