//! Writing telemetry: samples into `pf.telemetry`, keyed by series, and
//! each series' latest value into `pf.telemetry_latest`.
//!
//! A series is a (tenant, device, key), numbered once by
//! `pf.telemetry_latest` (migration 0013); the store remembers the numbers
//! it has committed, so a batch of known series costs no lookup. A commit
//! writes its samples with one multi-row statement per chunk of [`CHUNK`]
//! rows (columns bound as arrays, unpacked by `UNNEST`). A re-delivered
//! sample replaces the stored one, but re-deliveries are rare and an upsert
//! (`ON CONFLICT … DO UPDATE`) costs every row PostgreSQL's speculative
//! insertion: about half again the plain insert's time on 1 000 rows. So
//! the samples are first inserted plainly after a savepoint, and only when
//! one of them is already stored is that undone and the batch upserted
//! ([`write_samples`]). Duplicates inside one batch are resolved before (the
//! last written wins, as on SQLite), since one statement may not update a
//! row twice. Then one update of every series' latest value. Rows are
//! written in series order, so concurrent commits lock shared rows in the
//! same order. In the partitioned layout the latest values come first,
//! with each series' `stored_until`, and the runs of new samples become
//! chunks ([`crate::chunks`]); only the other samples are rows.

use std::collections::HashMap;
use std::sync::Mutex;

use nexus_model::{Column, TenantId};
use nexus_storage::{DeviceSeries, Result};
use sqlx::Row;

use crate::{UNIQUE_VIOLATION, chunks, db};

/// Most rows one statement writes.
const CHUNK: usize = 8192;

/// A series: (tenant, device, key).
type SeriesKey<'a> = (&'a str, &'a str, &'a str);

/// A series' name, owned, with its number: what a commit created.
pub(crate) type Created = Vec<((String, String, String), i64)>;

/// The numbers of the series this store has committed, per tenant, device
/// and key. Numbers never change and series are never deleted, so an entry
/// stays true; one is added only after its transaction committed.
#[derive(Debug, Default)]
pub(crate) struct SeriesIds(Mutex<HashMap<String, DeviceSeriesIds>>);

/// A tenant's series numbers: per device, per key.
type DeviceSeriesIds = HashMap<String, HashMap<String, i64>>;

impl SeriesIds {
    /// Remembers committed series numbers.
    pub(crate) fn remember(&self, created: Created) {
        if created.is_empty() {
            return;
        }
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for ((tenant, device, key), id) in created {
            known.entry(tenant).or_default().entry(device).or_default().insert(key, id);
        }
    }
}

/// One sample to write.
#[derive(Clone, Copy)]
struct Sample<'a> {
    series: usize,
    ts: i64,
    column: &'a Column,
    i: usize,
    quality: f32,
}

/// A sample's value as the four nullable value columns.
fn value_of<'a>(s: &Sample<'a>) -> (Option<f64>, Option<i64>, Option<bool>, Option<&'a str>) {
    match s.column {
        Column::Number(v) => (Some(v[s.i]), None, None, None),
        Column::Integer(v) => (None, Some(v[s.i]), None, None),
        Column::Boolean(v) => (None, None, Some(v[s.i]), None),
        Column::Text(v) => (None, None, None, Some(v[s.i].as_str())),
    }
}

/// A statement with its parameters.
type Query<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// Columns of rows to write, bound as arrays.
#[derive(Default)]
struct Columns<'a> {
    series: Vec<i64>,
    ts: Vec<i64>,
    numeric: Vec<Option<f64>>,
    long: Vec<Option<i64>>,
    boolean: Vec<Option<bool>>,
    text: Vec<Option<&'a str>>,
    quality: Vec<f32>,
}

impl<'a> Columns<'a> {
    fn with_capacity(n: usize) -> Self {
        Self {
            series: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            numeric: Vec::with_capacity(n),
            long: Vec::with_capacity(n),
            boolean: Vec::with_capacity(n),
            text: Vec::with_capacity(n),
            quality: Vec::with_capacity(n),
        }
    }

    /// Adds a sample of series number `series`.
    fn push(&mut self, series: i64, s: &Sample<'a>) {
        let (numeric, long, boolean, text) = value_of(s);
        self.series.push(series);
        self.ts.push(s.ts);
        self.numeric.push(numeric);
        self.long.push(long);
        self.boolean.push(boolean);
        self.text.push(text);
        self.quality.push(s.quality);
    }

    /// Binds the samples' columns but their series (stamps, the four value
    /// columns, quality) as the query's next six parameters.
    fn bind_samples<'q>(&'q self, query: Query<'q>) -> Query<'q> {
        query
            .bind(&self.ts)
            .bind(&self.numeric)
            .bind(&self.long)
            .bind(&self.boolean)
            .bind(&self.text)
            .bind(&self.quality)
    }

    /// Runs `sql` with the columns bound as `$1`..`$7`.
    async fn execute(&self, tx: &mut sqlx::PgConnection, sql: &'static str) -> sqlx::Result<()> {
        self.bind_samples(sqlx::query(sql).bind(&self.series)).execute(&mut *tx).await?;
        Ok(())
    }
}

/// New samples (a stored (series, ts) among them fails the statement).
const INSERT_SAMPLES: &str = "INSERT INTO pf.telemetry
    (series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
    SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::int8[], $5::bool[], $6::text[], $7::float4[])";

/// Samples of which some may be stored: those are replaced.
const UPSERT_SAMPLES: &str = "INSERT INTO pf.telemetry
    (series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
    SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::int8[], $5::bool[], $6::text[], $7::float4[])
    ON CONFLICT (series_id, ts) DO UPDATE SET
        value_numeric = excluded.value_numeric, value_long = excluded.value_long,
        value_boolean = excluded.value_boolean, value_string = excluded.value_string, quality = excluded.quality";

/// A series' newest sample replaces the stored latest unless that is newer.
const UPDATE_LATEST: &str = "UPDATE pf.telemetry_latest l SET
        ts = n.ts, value_numeric = n.value_numeric, value_long = n.value_long,
        value_boolean = n.value_boolean, value_string = n.value_string, quality = n.quality
    FROM UNNEST($1::int8[], $2::int8[], $3::float8[], $4::int8[], $5::bool[], $6::text[], $7::float4[])
        AS n(series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
    WHERE l.series_id = n.series_id AND (l.ts IS NULL OR n.ts >= l.ts)";

/// Registers series (a row without a sample lists the key) unless known.
const REGISTER: &str = "INSERT INTO pf.telemetry_latest (tenant_id, device_id, key)
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING";

/// The numbers of series, by their position (1-based) in the arrays.
const NUMBERS: &str = "SELECT n.i, l.series_id
    FROM UNNEST($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS n(tenant_id, device_id, key, i)
    JOIN pf.telemetry_latest l ON l.tenant_id = n.tenant_id COLLATE \"C\"
        AND l.device_id = n.device_id COLLATE \"C\" AND l.key = n.key COLLATE \"C\"";

/// The number of every series of the batch, registering the new ones inside
/// `tx`; returns them and the ones it registered, which the caller
/// remembers only once the transaction committed.
async fn numbers(
    tx: &mut sqlx::PgConnection,
    known: &SeriesIds,
    series: &[SeriesKey<'_>],
) -> Result<(Vec<i64>, Created)> {
    let mut ids = vec![0; series.len()];
    let mut missing = Vec::new();
    {
        let known = known.0.lock().unwrap_or_else(|e| e.into_inner());
        for (i, &(tenant, device, key)) in series.iter().enumerate() {
            match known.get(tenant).and_then(|d| d.get(device)).and_then(|k| k.get(key)) {
                Some(&id) => ids[i] = id,
                None => missing.push(i),
            }
        }
    }
    if missing.is_empty() {
        return Ok((ids, Vec::new()));
    }
    let mut tenants = Vec::with_capacity(missing.len());
    let mut devices = Vec::with_capacity(missing.len());
    let mut keys = Vec::with_capacity(missing.len());
    for &i in &missing {
        let (tenant, device, key) = series[i];
        tenants.push(tenant);
        devices.push(device);
        keys.push(key);
    }
    sqlx::query(REGISTER).bind(&tenants).bind(&devices).bind(&keys).execute(&mut *tx).await.map_err(db)?;
    let numbered: Vec<(i64, i64)> =
        sqlx::query_as(NUMBERS).bind(&tenants).bind(&devices).bind(&keys).fetch_all(&mut *tx).await.map_err(db)?;
    let mut created = Vec::with_capacity(numbered.len());
    for (position, id) in numbered {
        let i = missing[(position - 1) as usize];
        ids[i] = id;
        let (tenant, device, key) = series[i];
        created.push(((tenant.to_string(), device.to_string(), key.to_string()), id));
    }
    if created.len() != missing.len() {
        return Err(nexus_storage::StorageError::Corrupt(format!(
            "{} of {} new series were not numbered",
            missing.len() - created.len(),
            missing.len()
        )));
    }
    Ok((ids, created))
}

/// Stores the telemetry of a batch (of any tenants) inside a transaction:
/// the samples, and per series the newest sample not stamped past its
/// device's `latest_until` as the latest value, kept only if it is not older
/// than the stored one. With `chunked`, runs of new samples go into
/// chunks ([`crate::chunks`]). Returns the series it registered, for
/// [`SeriesIds::remember`] after the commit.
pub(crate) async fn insert(
    tx: &mut sqlx::PgConnection,
    known: &SeriesIds,
    batch: &[(&TenantId, &DeviceSeries)],
    chunked: bool,
) -> Result<Created> {
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
        return Ok(Vec::new());
    }
    let (ids, created) = numbers(tx, known, &series).await?;
    // Key order: samples by series, then time; the stable sort keeps equal
    // stamps in the order written, and the last of them is kept.
    samples.sort_by_key(|s| (ids[s.series], s.ts));
    let mut rows: Vec<Sample<'_>> = Vec::with_capacity(samples.len());
    for sample in samples {
        match rows.last_mut() {
            Some(last) if last.series == sample.series && last.ts == sample.ts => *last = sample,
            _ => rows.push(sample),
        }
    }
    // Chunked, the latest values are written as the runs are split.
    let rows = if chunked { split(tx, &ids, &newest, rows).await? } else { rows };
    let chunks: Vec<Columns<'_>> = rows
        .chunks(CHUNK)
        .map(|chunk| {
            let mut columns = Columns::with_capacity(chunk.len());
            for sample in chunk {
                columns.push(ids[sample.series], sample);
            }
            columns
        })
        .collect();
    if !chunks.is_empty() {
        write_samples(tx, &chunks).await?;
    }
    if chunked {
        return Ok(created);
    }
    let mut latest: Vec<(i64, Sample<'_>)> =
        newest.iter().enumerate().filter_map(|(i, n)| n.map(|s| (ids[i], s))).collect();
    latest.sort_unstable_by_key(|(id, _)| *id);
    for chunk in latest.chunks(CHUNK) {
        let mut columns = Columns::with_capacity(chunk.len());
        for (id, sample) in chunk {
            columns.push(*id, sample);
        }
        columns.execute(tx, UPDATE_LATEST).await.map_err(db)?;
    }
    Ok(created)
}

/// Writes the series' latest values (`newest`, by series index) and
/// `stored_until`, and the runs of `samples` (sorted by series number, then
/// time) that are chunks as chunks, in one statement ([`chunks::LATEST`]);
/// then unpacks the chunks the other samples land in, and returns those
/// samples, to be written as rows.
async fn split<'a>(
    tx: &mut sqlx::PgConnection,
    ids: &[i64],
    newest: &[Option<Sample<'a>>],
    samples: Vec<Sample<'a>>,
) -> Result<Vec<Sample<'a>>> {
    let runs: Vec<&[Sample<'a>]> = samples.chunk_by(|a, b| a.series == b.series).collect();
    let mut latest = chunks::Latest::default();
    // Candidates: the runs long enough to be chunks, if new.
    let mut candidates = Columns::default();
    let (mut chunk_series, mut lo, mut hi, mut run_first) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for run in &runs {
        let id = ids[run[0].series];
        latest.series.push(id);
        latest.until.push(run[run.len() - 1].ts);
        let sample = newest[run[0].series];
        let value = sample.map(|s| value_of(&s));
        latest.ts.push(sample.map(|s| s.ts));
        latest.numeric.push(value.and_then(|v| v.0));
        latest.long.push(value.and_then(|v| v.1));
        latest.boolean.push(value.and_then(|v| v.2));
        latest.text.push(value.and_then(|v| v.3));
        latest.quality.push(sample.map(|s| s.quality));
        if run.len() >= chunks::MIN_CHUNK {
            for piece in run.chunks(chunks::MAX_CHUNK) {
                chunk_series.push(id);
                run_first.push(run[0].ts);
                lo.push(i32::try_from(candidates.ts.len() + 1).unwrap_or(i32::MAX));
                for sample in piece {
                    candidates.push(id, sample);
                }
                hi.push(i32::try_from(candidates.ts.len()).unwrap_or(i32::MAX));
            }
        }
    }
    let query = sqlx::query(chunks::LATEST)
        .bind(&latest.series)
        .bind(&latest.until)
        .bind(&latest.ts)
        .bind(&latest.numeric)
        .bind(&latest.long)
        .bind(&latest.boolean)
        .bind(&latest.text)
        .bind(&latest.quality);
    let stored = candidates
        .bind_samples(query)
        .bind(&chunk_series)
        .bind(&lo)
        .bind(&hi)
        .bind(&run_first)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
    let before = stored
        .iter()
        .map(|row| Ok((row.try_get::<i64, _>(0).map_err(db)?, row.try_get::<Option<i64>, _>(1).map_err(db)?)))
        .collect::<Result<HashMap<i64, Option<i64>>>>()?;
    let mut rows = Vec::new();
    let (mut unpack_series, mut unpack_lo, mut unpack_hi) = (Vec::new(), Vec::new(), Vec::new());
    for (run, id) in runs.iter().zip(&latest.series) {
        let stored = before.get(id).copied().flatten();
        let (first, last) = (run[0].ts, run[run.len() - 1].ts);
        // The statement's test: this run was written as chunks.
        if run.len() >= chunks::MIN_CHUNK && stored.is_none_or(|until| first > until) {
            continue;
        }
        if stored.is_some_and(|until| first <= until) {
            unpack_series.push(*id);
            unpack_lo.push(first);
            unpack_hi.push(last);
        }
        rows.extend_from_slice(run);
    }
    if !unpack_series.is_empty() {
        chunks::unpack(tx, &unpack_series, &unpack_lo, &unpack_hi).await?;
    }
    Ok(rows)
}

/// Writes the samples: inserted plainly after a savepoint, and if one of
/// them was already stored (a re-delivery), the insert is undone back to
/// the savepoint and the samples are upserted instead. The savepoint is
/// left open; the transaction's commit releases it.
async fn write_samples(tx: &mut sqlx::PgConnection, chunks: &[Columns<'_>]) -> Result<()> {
    sqlx::query("SAVEPOINT samples").execute(&mut *tx).await.map_err(db)?;
    for columns in chunks {
        match columns.execute(tx, INSERT_SAMPLES).await {
            Ok(()) => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => {
                sqlx::query("ROLLBACK TO SAVEPOINT samples").execute(&mut *tx).await.map_err(db)?;
                for columns in chunks {
                    columns.execute(tx, UPSERT_SAMPLES).await.map_err(db)?;
                }
                return Ok(());
            }
            Err(error) => return Err(db(error)),
        }
    }
    Ok(())
}
