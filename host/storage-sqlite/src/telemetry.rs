//! Telemetry (pf.telemetry) and the latest value per key.
//!
//! A **series** is one (device, key), named by an integer id (`series`);
//! rows carry the id, not the tenant, device and key text. A commit's new
//! samples of a series go as one chunk (see [`crate::chunks`]); others go
//! to `telemetry_recent`, a small table keyed by (series, ts) — one B-tree
//! insert per row, a re-delivered sample replacing the recent one (the last
//! written wins). [`crate::fold`] moves the rows, a piece at a time, into
//! `telemetry`, the large table clustered the same way, in the background:
//! a commit's inserts land in tables small enough to stay cached. Chunks
//! stay as they are: they are the samples' stored form. A read
//! sees all three inside one snapshot, a recent row replacing a folded one
//! with the same (series, ts) — so re-delivery stores nothing twice.

use std::collections::HashMap;

use async_trait::async_trait;
use nexus_model::{Bucket, Column, DeviceId, Reading, TenantId, TimestampMs, Value};
use nexus_storage::{DeviceSeries, Expired, Result, StorageError, TelemetryStore};
use sqlx::sqlite::SqliteRow;

use crate::chunks::From;
use crate::rows::get;
use crate::values::{self, Statements};
use crate::{SqliteStore, chunks, db};

/// Columns of a row of `telemetry`, `telemetry_recent` and `telemetry_latest`.
pub(crate) const COLUMNS: &str = "(series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)";
/// The value columns, for selects.
pub(crate) const VALUES: &str = "ts, value_numeric, value_long, value_boolean, value_string, quality";

/// Series ids by (device, key), as committed. Shared by the store's clones.
pub(crate) type SeriesIds = std::sync::Arc<std::sync::Mutex<HashMap<(String, String), i64>>>;

/// One row to write: a sample of a series.
#[derive(Clone, Copy)]
struct Row<'a> {
    series: i64,
    ts: i64,
    column: &'a Column,
    i: usize,
    quality: f32,
}

impl Row<'_> {
    fn bind<'q>(&self, query: values::Query<'q>) -> values::Query<'q>
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
            .bind(self.series)
            .bind(self.ts)
            .bind(numeric)
            .bind(long)
            .bind(boolean)
            .bind(text)
            .bind(f64::from(self.quality))
    }
}

/// A commit's recent rows: `column1` is a row's series, never `NULL` but
/// in the padding ([`crate::values`]). SQLite reads a `VALUES` list in
/// order, so of two samples of a (series, ts) in one batch the later
/// replaces the earlier, as a later commit's would.
const RECENT: (&str, &str) = (
    "INSERT OR REPLACE INTO telemetry_recent (series_id, ts, value_numeric, value_long, value_boolean, value_string,
        quality) SELECT column1, column2, column3, column4, column5, column6, column7 FROM ",
    " WHERE column1 IS NOT NULL",
);

/// A commit's latest value per series, kept only if not older than what is
/// stored.
const LATEST: (&str, &str) = (
    "INSERT INTO telemetry_latest (series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
        SELECT column1, column2, column3, column4, column5, column6, column7 FROM ",
    " WHERE column1 IS NOT NULL ON CONFLICT(series_id) DO UPDATE SET
        ts = excluded.ts, value_numeric = excluded.value_numeric, value_long = excluded.value_long,
        value_boolean = excluded.value_boolean, value_string = excluded.value_string, quality = excluded.quality
     WHERE excluded.ts >= telemetry_latest.ts",
);

/// Parameters of a row of [`RECENT`] and [`LATEST`].
const WIDTH: usize = 7;

/// Binds a row of [`RECENT`] or [`LATEST`].
fn bind_row<'q, 'a: 'q>(query: values::Query<'q>, _: usize, row: &'q Row<'a>) -> values::Query<'q> {
    row.bind(query)
}

/// The id of every series of `telemetry`, creating the missing ones inside
/// `tx`. Returns the ids and the newly created ones, which the caller
/// remembers in `known` only once the transaction committed.
async fn series_ids(
    tx: &mut sqlx::SqliteConnection,
    known: &SeriesIds,
    tenant: &TenantId,
    telemetry: &[&DeviceSeries],
) -> Result<(HashMap<(String, String), i64>, Vec<((String, String), i64)>)> {
    let mut ids = HashMap::new();
    let mut missing = Vec::new();
    {
        let known = known.lock().unwrap_or_else(|e| e.into_inner());
        for device in telemetry {
            for series in &device.series {
                let key = (device.device_id.as_str().to_string(), series.key.clone());
                match known.get(&key) {
                    Some(&id) => {
                        ids.insert(key, id);
                    }
                    None if !ids.contains_key(&key) => {
                        ids.insert(key.clone(), 0);
                        missing.push(key);
                    }
                    None => {}
                }
            }
        }
    }
    let mut created = Vec::with_capacity(missing.len());
    for key in missing {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO series (tenant_id, device_id, key) VALUES (?, ?, ?)
             ON CONFLICT (device_id, key) DO UPDATE SET key = excluded.key RETURNING id",
        )
        .bind(tenant.as_str())
        .bind(&key.0)
        .bind(&key.1)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        ids.insert(key.clone(), id);
        created.push((key, id));
    }
    Ok((ids, created))
}

/// Stores telemetry inside a transaction. Per series, the samples of the
/// batch in time order (of equal stamps the last written): as one chunk
/// (one per [`chunks::MAX_CHUNK`] samples) when there are
/// [`chunks::MIN_CHUNK`] or more and nothing stored of the
/// series falls within their span, else as rows of `telemetry_recent`
/// (replacing one of the same (series, ts) already there), after the
/// chunks whose spans overlap them are unpacked (see [`crate::chunks`]).
/// And per series its newest sample not stamped past its device's
/// `latest_until` into `telemetry_latest` (kept only if it is not older
/// than what is stored). Two round trips — the check of what the samples
/// overlap, then the writes — a third when chunks are unpacked, and one
/// more per [`values::LARGEST`] rows; the check only for the series whose
/// samples are not all newer than anything stored of them, which `stored`
/// knows for the series this store wrote or checked ([`chunks::Newest`]),
/// so a commit of samples that go on in time is one round trip. Returns
/// the series it created, for
/// [`remember`], and the rows it wrote (what the fold has to move).
pub(crate) async fn insert(
    tx: &mut sqlx::SqliteConnection,
    (known, stored): (&SeriesIds, &chunks::Newest),
    tenant: &TenantId,
    telemetry: &[&DeviceSeries],
) -> Result<(Vec<((String, String), i64)>, u64)> {
    if telemetry.iter().all(|d| d.series.iter().all(|s| s.is_empty())) {
        return Ok((Vec::new(), 0));
    }
    let (ids, created) = series_ids(tx, known, tenant, telemetry).await?;
    let total = telemetry.iter().flat_map(|t| &t.series).map(|s| s.len()).sum();
    let mut rows = Vec::with_capacity(total);
    let mut newest: HashMap<i64, usize> = HashMap::new();
    for device in telemetry {
        for series in &device.series {
            let id = ids[&(device.device_id.as_str().to_string(), series.key.clone())];
            let until = device.latest_until.unwrap_or(i64::MAX);
            for (i, &ts) in series.ts.iter().enumerate() {
                // A sample stamped past `until` is stored but never latest.
                if ts <= until {
                    let slot = newest.entry(id).or_insert(rows.len());
                    if ts >= rows.get(*slot).map_or(i64::MIN, |r: &Row<'_>| r.ts) {
                        *slot = rows.len();
                    }
                }
                rows.push(Row { series: id, ts, column: &series.values, i, quality: series.quality_at(i) });
            }
        }
    }
    let mut latest: Vec<usize> = newest.into_values().collect();
    latest.sort_unstable();
    let latest: Vec<Row<'_>> = latest.into_iter().map(|i| rows[i]).collect();
    // Each series' samples in time order, of equal stamps the last written
    // (the sort is stable).
    rows.sort_by_key(|r| (r.series, r.ts));
    let mut sorted: Vec<Row<'_>> = Vec::with_capacity(rows.len());
    for row in rows {
        match sorted.last_mut() {
            Some(last) if last.series == row.series && last.ts == row.ts => *last = row,
            _ => sorted.push(row),
        }
    }
    let runs: Vec<&[Row<'_>]> = sorted.chunk_by(|a, b| a.series == b.series).collect();
    let planned: Vec<chunks::Planned> = runs
        .iter()
        .map(|run| (run[0].series, run[0].ts, run[run.len() - 1].ts, run.len() >= chunks::MIN_CHUNK))
        .collect();
    let blocked = chunks::not_addable(tx, &planned, stored).await?;
    if !blocked.is_empty() {
        let spans: Vec<(i64, i64, i64)> = planned
            .iter()
            .filter(|(series, ..)| blocked.contains(series))
            .map(|&(series, first, last, _)| (series, first, last))
            .collect();
        chunks::unpack(tx, &spans).await?;
    }
    let mut new_chunks = Vec::new();
    let mut recent: Vec<Row<'_>> = Vec::new();
    for (run, &(series, .., chunk)) in runs.iter().zip(&planned) {
        if chunk && !blocked.contains(&series) {
            for piece in run.chunks(chunks::MAX_CHUNK) {
                let mut encoder = crate::codec::Encoder::with_capacity(piece.len());
                for r in piece {
                    encoder.push(r.ts, r.quality, crate::codec::ValueRef::of(r.column, r.i));
                }
                let (first, last, samples) = (piece[0].ts, piece[piece.len() - 1].ts, piece.len() as i64);
                new_chunks.push(chunks::NewChunk { series, first, last, samples, data: encoder.finish() });
            }
        } else {
            recent.extend_from_slice(run);
        }
    }
    // Whole lists of recent rows one round trip each (one statement text
    // however many), the rest with the chunks and latest values in one more.
    let whole = recent.len() / values::LARGEST * values::LARGEST;
    for list in recent[..whole].chunks(values::LARGEST) {
        let mut statements = Statements::default();
        statements.rows(RECENT, WIDTH, list, bind_row);
        statements.execute(tx).await?;
    }
    let mut statements = Statements::default();
    statements.rows(chunks::INSERT, chunks::WIDTH, &new_chunks, chunks::bind_chunk);
    statements.rows(RECENT, WIDTH, &recent[whole..], bind_row);
    statements.rows(LATEST, WIDTH, &latest, bind_row);
    statements.execute(tx).await?;
    Ok((created, recent.len() as u64))
}

/// Remembers committed series ids.
pub(crate) fn remember(known: &SeriesIds, created: Vec<((String, String), i64)>) {
    if !created.is_empty() {
        known.lock().unwrap_or_else(|e| e.into_inner()).extend(created);
    }
}

fn value(row: &SqliteRow) -> Result<Value> {
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

/// The series of a device (of one key, if given): `(id, key)`.
async fn device_series(
    conn: &mut sqlx::SqliteConnection,
    tenant: &TenantId,
    device: &DeviceId,
    key: Option<&str>,
) -> Result<Vec<(i64, String)>> {
    sqlx::query_as("SELECT id, key FROM series WHERE tenant_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR key = ?3)")
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(key)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)
}

/// Up to `limit` samples of one series in `[start, end)` from the given
/// end, folded, recent and chunked together (a recent row replacing a
/// folded one), in time order.
async fn read_series(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    start: TimestampMs,
    end: TimestampMs,
    from: From,
    limit: u32,
) -> Result<Vec<(i64, Value, f32)>> {
    let order = if from == From::Oldest { "ASC" } else { "DESC" };
    let folded = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VALUES} FROM telemetry WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts {order} LIMIT ?"
    )))
    .bind(id)
    .bind(start)
    .bind(end)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let recent = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {VALUES} FROM telemetry_recent WHERE series_id = ? AND ts >= ? AND ts < ? ORDER BY ts {order}"
    )))
    .bind(id)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut samples: std::collections::BTreeMap<i64, (Value, f32)> = std::collections::BTreeMap::new();
    for row in folded.iter().chain(&recent) {
        let quality = get::<f64>(row, "quality")? as f32;
        samples.insert(get(row, "ts")?, (value(row)?, quality));
    }
    // Chunks hold no (series, ts) that a row holds.
    for (ts, value, quality) in chunks::read(conn, id, (start, end), from, limit as usize).await? {
        samples.insert(ts, (value, quality));
    }
    let all = samples.into_iter().map(|(ts, (v, q))| (ts, v, q));
    Ok(match from {
        From::Oldest => all.take(limit as usize).collect(),
        From::Newest => {
            let mut newest: Vec<_> = all.rev().take(limit as usize).collect();
            newest.reverse();
            newest
        }
    })
}

/// Samples of several series of a device, merged by (ts, key); the first
/// or last `limit` of them.
async fn read_device(
    store: &SqliteStore,
    tenant: &TenantId,
    device: &DeviceId,
    key: Option<&str>,
    (start, end): (TimestampMs, TimestampMs),
    from: From,
    limit: u32,
) -> Result<Vec<Reading>> {
    // One snapshot: a fold between two reads neither hides nor doubles rows.
    let mut tx = store.pool.begin().await.map_err(db)?;
    let mut readings = Vec::new();
    for (id, key) in device_series(&mut tx, tenant, device, key).await? {
        for (ts, value, quality) in read_series(&mut tx, id, start, end, from, limit).await? {
            readings.push(Reading { device_id: device.clone(), key: key.clone(), ts, value, quality });
        }
    }
    tx.rollback().await.map_err(db)?;
    readings.sort_by(|a, b| a.ts.cmp(&b.ts).then_with(|| a.key.cmp(&b.key)));
    let limit = limit as usize;
    if readings.len() > limit {
        match from {
            From::Oldest => readings.truncate(limit),
            From::Newest => {
                readings.drain(..readings.len() - limit);
            }
        }
    }
    Ok(readings)
}

/// Time buckets of a device's series (`?3`: a JSON array of keys, or NULL
/// for all) in `[?4, ?5)`, `?6` ms wide from `?4`, of its rows: the folded
/// rows not replaced by a recent one, and the recent rows (the chunks'
/// samples are added in [`TelemetryStore::aggregate`]). Integers count as
/// numbers.
const AGGREGATE: &str = "WITH s AS (
        SELECT id, key FROM series WHERE tenant_id = ?1 AND device_id = ?2
          AND (?3 IS NULL OR key IN (SELECT value FROM json_each(?3)))),
    samples AS (
        SELECT series_id, ts, coalesce(value_numeric, CAST(value_long AS REAL)) AS v FROM telemetry t
        WHERE series_id IN (SELECT id FROM s) AND ts >= ?4 AND ts < ?5
          AND NOT EXISTS (SELECT 1 FROM telemetry_recent n WHERE n.series_id = t.series_id AND n.ts = t.ts)
        UNION ALL
        SELECT series_id, ts, coalesce(value_numeric, CAST(value_long AS REAL)) AS v
        FROM telemetry_recent WHERE series_id IN (SELECT id FROM s) AND ts >= ?4 AND ts < ?5)
    SELECT s.key AS key, (samples.ts - ?4) / ?6 AS bucket, avg(v) AS avg_value, min(v) AS min_value,
           max(v) AS max_value, sum(v) AS sum_value, count(*) AS samples, count(v) AS numbers
    FROM samples JOIN s ON s.id = samples.series_id
    GROUP BY s.key, bucket ORDER BY s.key, bucket";

/// The latest-value columns, qualified for a join with `series`.
fn latest_columns() -> String {
    VALUES.split(", ").map(|c| format!("l.{c}")).collect::<Vec<_>>().join(", ")
}

fn latest_reading(device: &DeviceId, row: &SqliteRow) -> Result<Reading> {
    let quality = get::<f64>(row, "quality")? as f32;
    Ok(Reading { device_id: device.clone(), key: get(row, "key")?, ts: get(row, "ts")?, value: value(row)?, quality })
}

#[async_trait]
impl TelemetryStore for SqliteStore {
    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>> {
        // The keys asked for, as a JSON array: the filter runs in SQL, so a
        // device with many keys costs a reader of one key nothing.
        let wanted = (!keys.is_empty()).then(|| serde_json::Value::from(keys.to_vec()).to_string());
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.key, {} FROM telemetry_latest l JOIN series s ON s.id = l.series_id
             WHERE s.tenant_id = ?1 AND s.device_id = ?2
               AND (?3 IS NULL OR s.key IN (SELECT value FROM json_each(?3)))
             ORDER BY s.key",
            latest_columns()
        )))
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(wanted)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|row| latest_reading(device, row)).collect()
    }

    async fn latest_page(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Reading>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT s.key, {} FROM series s JOIN telemetry_latest l ON l.series_id = s.id
             WHERE s.device_id = ?2 AND s.tenant_id = ?1 AND (?3 IS NULL OR s.key > ?3)
             ORDER BY s.key LIMIT ?4",
            latest_columns()
        )))
        .bind(tenant.as_str())
        .bind(device.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(|row| latest_reading(device, row)).collect()
    }

    async fn device_keys(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<String>> {
        sqlx::query_scalar("SELECT key FROM series WHERE tenant_id = ? AND device_id = ?")
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
        read_device(self, tenant, device, key, (start, end), From::Oldest, limit).await
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
        let mut readings = read_device(self, tenant, device, key, (start, end), From::Newest, limit).await?;
        readings.reverse();
        Ok(readings)
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
        let wanted = (!keys.is_empty()).then(|| serde_json::Value::from(keys.to_vec()).to_string());
        let interval = interval.max(1);
        // One snapshot: a fold between the two reads neither hides nor
        // doubles samples.
        let mut tx = self.pool.begin().await.map_err(db)?;
        let rows = sqlx::query(AGGREGATE)
            .bind(tenant.as_str())
            .bind(device.as_str())
            .bind(wanted.as_deref())
            .bind(start)
            .bind(end)
            .bind(interval)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        let mut buckets = chunks::Buckets::new();
        for row in &rows {
            let bucket = Bucket {
                key: get(row, "key")?,
                index: get(row, "bucket")?,
                avg: get(row, "avg_value")?,
                min: get(row, "min_value")?,
                max: get(row, "max_value")?,
                sum: get(row, "sum_value")?,
                count: get(row, "samples")?,
            };
            let numbers = get::<i64>(row, "numbers")?;
            buckets.entry(bucket.key.clone()).or_default().insert(bucket.index, (bucket, numbers, false));
        }
        let device_key = (tenant.as_str(), device.as_str());
        chunks::add_to_buckets(&mut tx, device_key, wanted.as_deref(), (start, end), interval, &mut buckets).await?;
        tx.rollback().await.map_err(db)?;
        Ok(buckets
            .into_values()
            .flat_map(std::collections::BTreeMap::into_values)
            .map(|(mut bucket, numbers, changed)| {
                if changed {
                    bucket.avg = bucket.sum.map(|sum| sum / numbers as f64);
                }
                bucket
            })
            .collect())
    }

    async fn delete_telemetry_before(&self, tenant: &TenantId, before: TimestampMs) -> Result<u64> {
        delete_before(self, before, Some(tenant)).await
    }

    /// Row by row: SQLite keeps every time in one table (and the recent
    /// rows not yet folded in another).
    async fn expire_telemetry_before(&self, before: TimestampMs) -> Result<Expired> {
        Ok(Expired { partitions: 0, rows: delete_before(self, before, None).await? })
    }

    async fn recent(&self, tenant: &TenantId, device: &DeviceId, limit: u32) -> Result<Vec<Reading>> {
        read_device(self, tenant, device, None, (i64::MIN, i64::MAX), From::Newest, limit).await
    }

    async fn count_readings(&self, tenant: &TenantId, device: &DeviceId) -> Result<i64> {
        sqlx::query_scalar(
            "WITH s AS (SELECT id FROM series WHERE tenant_id = ? AND device_id = ?)
             SELECT (SELECT count(*) FROM telemetry WHERE series_id IN s)
                  + (SELECT count(*) FROM telemetry_recent n WHERE series_id IN s
                       AND NOT EXISTS (SELECT 1 FROM telemetry t WHERE t.series_id = n.series_id AND t.ts = n.ts))
                  + (SELECT coalesce(sum(samples), 0) FROM telemetry_chunk WHERE series_id IN s)",
        )
        .bind(tenant.as_str())
        .bind(device.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }
}

/// Deletes the readings stamped before `before` — of one tenant, or of
/// every one — from both tables and the chunks, in one transaction;
/// returns how many went.
async fn delete_before(store: &SqliteStore, before: TimestampMs, tenant: Option<&TenantId>) -> Result<u64> {
    let mut tx = store.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    let mut deleted = 0;
    // Two statements, not one with an `OR`: the tenant's series stay an
    // index look-up.
    let of_tenant = if tenant.is_some() { "AND series_id IN (SELECT id FROM series WHERE tenant_id = ?2)" } else { "" };
    for table in ["telemetry", "telemetry_recent"] {
        let query = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE ts < ?1 {of_tenant}")));
        let query = match tenant {
            Some(tenant) => query.bind(before).bind(tenant.as_str()),
            None => query.bind(before),
        };
        deleted += query.execute(&mut *tx).await.map_err(db)?.rows_affected();
    }
    deleted += chunks::delete_before(&mut tx, before, tenant.map(TenantId::as_str), of_tenant).await?;
    tx.commit().await.map_err(db)?;
    Ok(deleted)
}
