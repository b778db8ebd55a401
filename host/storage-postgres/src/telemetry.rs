//! Telemetry (`pf.telemetry`) and the latest value per key
//! (`pf.telemetry_latest`).
//!
//! A commit writes its samples with one multi-row statement per chunk of
//! [`CHUNK`] rows (columns bound as arrays, unpacked by `UNNEST`), upserting
//! on (tenant, device, key, ts): a re-delivered sample replaces the stored
//! one. Duplicates inside one batch are resolved before (the last written
//! wins, as on SQLite), since one statement may not update a row twice.
//! Then one upsert of every series' latest value. Rows are written in key
//! order, so concurrent commits lock shared rows in the same order.

use std::collections::HashMap;

use async_trait::async_trait;
use nexus_model::{Bucket, Column, DeviceId, Reading, TenantId, TimestampMs, Value};
use nexus_storage::{DeviceSeries, Result, StorageError, TelemetryStore};
use sqlx::postgres::PgRow;

use crate::rows::get;
use crate::{PostgresStore, db};

/// Most rows one statement writes.
const CHUNK: usize = 8192;

/// A series: (tenant, device, key).
type SeriesKey<'a> = (&'a str, &'a str, &'a str);

/// One sample to write.
#[derive(Clone, Copy)]
struct Sample<'a> {
    series: usize,
    ts: i64,
    column: &'a Column,
    i: usize,
    quality: f32,
}

/// Columns of rows to write, bound as arrays.
#[derive(Default)]
struct Columns<'a> {
    tenant: Vec<&'a str>,
    device: Vec<&'a str>,
    key: Vec<&'a str>,
    ts: Vec<Option<i64>>,
    numeric: Vec<Option<f64>>,
    long: Vec<Option<i64>>,
    boolean: Vec<Option<bool>>,
    text: Vec<Option<&'a str>>,
    quality: Vec<Option<f32>>,
}

impl<'a> Columns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            tenant: Vec::with_capacity(n),
            device: Vec::with_capacity(n),
            key: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            numeric: Vec::with_capacity(n),
            long: Vec::with_capacity(n),
            boolean: Vec::with_capacity(n),
            text: Vec::with_capacity(n),
            quality: Vec::with_capacity(n),
        }
    }

    /// Adds a row of `series`, with a sample or (latest rows only) without.
    fn push(&mut self, (tenant, device, key): SeriesKey<'a>, sample: Option<&Sample<'a>>) {
        self.tenant.push(tenant);
        self.device.push(device);
        self.key.push(key);
        let Some(s) = sample else {
            self.ts.push(None);
            self.numeric.push(None);
            self.long.push(None);
            self.boolean.push(None);
            self.text.push(None);
            self.quality.push(None);
            return;
        };
        let (numeric, long, boolean, text) = match s.column {
            Column::Number(v) => (Some(v[s.i]), None, None, None),
            Column::Integer(v) => (None, Some(v[s.i]), None, None),
            Column::Boolean(v) => (None, None, Some(v[s.i]), None),
            Column::Text(v) => (None, None, None, Some(v[s.i].as_str())),
        };
        self.ts.push(Some(s.ts));
        self.numeric.push(numeric);
        self.long.push(long);
        self.boolean.push(boolean);
        self.text.push(text);
        self.quality.push(Some(s.quality));
    }

    /// Runs `sql` with the columns bound as `$1`..`$9`.
    async fn execute(&self, tx: &mut sqlx::PgConnection, sql: &'static str) -> Result<()> {
        sqlx::query(sql)
            .bind(&self.tenant)
            .bind(&self.device)
            .bind(&self.key)
            .bind(&self.ts)
            .bind(&self.numeric)
            .bind(&self.long)
            .bind(&self.boolean)
            .bind(&self.text)
            .bind(&self.quality)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        Ok(())
    }
}

const INSERT_SAMPLES: &str = "INSERT INTO pf.telemetry
    (tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::float8[], $6::int8[], $7::bool[],
                         $8::text[], $9::float4[])
    ON CONFLICT (tenant_id, device_id, key, ts) DO UPDATE SET
        value_numeric = excluded.value_numeric, value_long = excluded.value_long,
        value_boolean = excluded.value_boolean, value_string = excluded.value_string, quality = excluded.quality";

/// A series without an eligible sample is still registered (its key is
/// listed); one with a sample replaces the stored latest unless that is
/// newer.
const UPSERT_LATEST: &str = "INSERT INTO pf.telemetry_latest AS l
    (tenant_id, device_id, key, ts, value_numeric, value_long, value_boolean, value_string, quality)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::float8[], $6::int8[], $7::bool[],
                         $8::text[], $9::float4[])
    ON CONFLICT (tenant_id, device_id, key) DO UPDATE SET
        ts = excluded.ts, value_numeric = excluded.value_numeric, value_long = excluded.value_long,
        value_boolean = excluded.value_boolean, value_string = excluded.value_string, quality = excluded.quality
    WHERE excluded.ts IS NOT NULL AND (l.ts IS NULL OR excluded.ts >= l.ts)";

/// Stores the telemetry of a batch (of any tenants) inside a transaction:
/// the samples, and per series the newest sample not stamped past its
/// device's `latest_until` as the latest value, kept only if it is not older
/// than the stored one.
pub(crate) async fn insert(tx: &mut sqlx::PgConnection, batch: &[(&TenantId, &DeviceSeries)]) -> Result<()> {
    let mut index: HashMap<SeriesKey<'_>, usize> = HashMap::new();
    let mut series: Vec<SeriesKey<'_>> = Vec::new();
    let mut samples: Vec<Sample<'_>> = Vec::new();
    let mut newest: Vec<Option<Sample<'_>>> = Vec::new();
    for (tenant, device) in batch {
        let until = device.latest_until.unwrap_or(i64::MAX);
        for s in &device.series {
            if s.is_empty() {
                continue;
            }
            let name = (tenant.as_str(), device.device_id.as_str(), s.key.as_str());
            let id = *index.entry(name).or_insert_with(|| {
                series.push(name);
                newest.push(None);
                series.len() - 1
            });
            for (i, &ts) in s.ts.iter().enumerate() {
                let sample = Sample { series: id, ts, column: &s.values, i, quality: s.quality_at(i) };
                // A sample stamped past `until` is stored but never latest;
                // of equal stamps the later written wins.
                if ts <= until && newest[id].is_none_or(|n| ts >= n.ts) {
                    newest[id] = Some(sample);
                }
                samples.push(sample);
            }
        }
    }
    if samples.is_empty() {
        return Ok(());
    }
    // Key order: series by name, samples by time; the stable sort keeps
    // equal stamps in the order written, and the last of them is kept.
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_unstable_by_key(|&id| series[id]);
    let mut rank = vec![0; series.len()];
    for (r, &id) in order.iter().enumerate() {
        rank[id] = r;
    }
    samples.sort_by_key(|s| (rank[s.series], s.ts));
    let mut rows: Vec<Sample<'_>> = Vec::with_capacity(samples.len());
    for sample in samples {
        match rows.last_mut() {
            Some(last) if last.series == sample.series && last.ts == sample.ts => *last = sample,
            _ => rows.push(sample),
        }
    }
    for chunk in rows.chunks(CHUNK) {
        let mut columns = Columns::with_capacity(chunk.len());
        for sample in chunk {
            columns.push(series[sample.series], Some(sample));
        }
        columns.execute(tx, INSERT_SAMPLES).await?;
    }
    for ids in order.chunks(CHUNK) {
        let mut columns = Columns::with_capacity(ids.len());
        for &id in ids {
            columns.push(series[id], newest[id].as_ref());
        }
        columns.execute(tx, UPSERT_LATEST).await?;
    }
    Ok(())
}

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
/// `[$4, $5)`: per key the first (or last) `$6` in time, one index range
/// scan each, then merged by (ts, key) and cut to `$6`.
const OLDEST: &str = "SELECT k.key, t.ts, t.value_numeric, t.value_long, t.value_boolean, t.value_string, t.quality
    FROM pf.telemetry_latest k CROSS JOIN LATERAL (
        SELECT ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry t
        WHERE t.tenant_id = k.tenant_id AND t.device_id = k.device_id AND t.key = k.key
          AND t.ts >= $4 AND t.ts < $5
        ORDER BY t.ts LIMIT $6) t
    WHERE k.tenant_id = $1 AND k.device_id = $2 AND ($3::text IS NULL OR k.key = $3)
    ORDER BY t.ts, k.key LIMIT $6";

/// [`OLDEST`] from the newest end (newest first).
const NEWEST: &str = "SELECT k.key, t.ts, t.value_numeric, t.value_long, t.value_boolean, t.value_string, t.quality
    FROM pf.telemetry_latest k CROSS JOIN LATERAL (
        SELECT ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry t
        WHERE t.tenant_id = k.tenant_id AND t.device_id = k.device_id AND t.key = k.key
          AND t.ts >= $4 AND t.ts < $5
        ORDER BY t.ts DESC LIMIT $6) t
    WHERE k.tenant_id = $1 AND k.device_id = $2 AND ($3::text IS NULL OR k.key = $3)
    ORDER BY t.ts DESC, k.key DESC LIMIT $6";

/// Time buckets of a device's keys (`$3`, all when empty) in `[$4, $5)`,
/// `$6` ms wide from `$4`, always from the raw samples (on a hypertable
/// `pf.telemetry_1min` could serve whole-minute queries; not used yet, so
/// both layouts answer alike). Integers count as numbers.
const AGGREGATE: &str = "SELECT key, (ts - $4) / $6 AS bucket, avg(v) AS avg_value, min(v) AS min_value,
        max(v) AS max_value, sum(v) AS sum_value, count(*) AS samples
    FROM (SELECT key, ts, coalesce(value_numeric, value_long::float8) AS v FROM pf.telemetry
          WHERE tenant_id = $1 AND device_id = $2 AND (cardinality($3::text[]) = 0 OR key = ANY($3))
            AND ts >= $4 AND ts < $5) s
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
        let deleted = sqlx::query("DELETE FROM pf.telemetry WHERE tenant_id = $1 AND ts < $2")
            .bind(tenant.as_str())
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db)?
            .rows_affected();
        Ok(deleted)
    }

    async fn recent(&self, tenant: &TenantId, device: &DeviceId, limit: u32) -> Result<Vec<Reading>> {
        let mut readings = self.read(NEWEST, (tenant, device, None), (i64::MIN, i64::MAX), limit).await?;
        readings.reverse();
        Ok(readings)
    }

    async fn count_readings(&self, tenant: &TenantId, device: &DeviceId) -> Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM pf.telemetry WHERE tenant_id = $1 AND device_id = $2")
            .bind(tenant.as_str())
            .bind(device.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db)
    }
}
