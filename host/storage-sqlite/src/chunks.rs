//! Chunks: a commit's new samples of one series as one row of
//! `telemetry_chunk` (migration 0022), instead of one row each.
//!
//! A commit writes a series' samples as a chunk (one per [`MAX_CHUNK`]
//! samples) when there are at least [`MIN_CHUNK`] of them and nothing
//! stored of the series falls within their span (no row of `telemetry` or
//! `telemetry_recent`, no other chunk's span) — devices report forward in
//! time, so that is the normal case. Any other sample goes to `telemetry_recent` as a row; the chunks
//! whose spans overlap those rows' (a re-delivery, a late sample) are first
//! unpacked there too ([`unpack`]). So a (series, ts) is never
//! both in a chunk and in a row, and reads add the chunks' samples to the
//! rows without any precedence between them. Chunks are not folded into
//! `telemetry`: like a compressed chunk of a hypertable, a chunk is the
//! samples' stored form, read in place ([`read`] fetches only as many
//! chunks as a limited read needs), cut by retention
//! ([`delete_before`]) and unpacked only when a late sample lands in its
//! span. So a sample that arrives in time is written once, in its chunk,
//! and never copied again.
//!
//! A chunk's blob is encoded by [`crate::codec`].

use std::collections::{BTreeMap, HashMap, HashSet};

use nexus_model::{Bucket, Value};
use nexus_storage::Result;
use sqlx::Row;

use crate::codec::{Encoder, Sample, ValueRef, decode};
use crate::db;
use crate::values::{Query, Statements};

/// Fewest samples of a series a commit writes as a chunk: below that a row
/// each costs about as little, and a read would decode many tiny chunks.
pub(crate) const MIN_CHUNK: usize = 16;

/// Most samples in one chunk: a commit cuts a longer run (a backfill) into
/// chunks of this many, so a page of chunks a read holds stays a few MiB
/// (text values aside), and a late sample unpacks at most this many.
pub(crate) const MAX_CHUNK: usize = 1024;

/// A chunk to insert.
pub(crate) struct NewChunk {
    pub(crate) series: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
    pub(crate) samples: i64,
    pub(crate) data: Vec<u8>,
}

/// A commit's chunks (`column1` is never `NULL` but in the padding).
pub(crate) const INSERT: (&str, &str) = (
    "INSERT INTO telemetry_chunk (series_id, first_ts, last_ts, samples, data)
        SELECT column1, column2, column3, column4, column5 FROM ",
    " WHERE column1 IS NOT NULL",
);
/// Parameters of a row of [`INSERT`].
pub(crate) const WIDTH: usize = 5;

/// Binds a row of [`INSERT`].
pub(crate) fn bind_chunk<'q>(query: Query<'q>, _: usize, chunk: &'q NewChunk) -> Query<'q> {
    query.bind(chunk.series).bind(chunk.first).bind(chunk.last).bind(chunk.samples).bind(chunk.data.as_slice())
}

/// What a commit is about to write of a series: its number, its earliest
/// and latest new stamps, and whether it would go as a chunk.
pub(crate) type Planned = (i64, i64, i64, bool);

/// Per series, a stamp no stored sample of it is newer than, for the series
/// this store has written or checked since it opened: an upper bound
/// (deletes leave it as it is). [`not_addable`] skips the check for a series
/// whose new samples are all newer than it — nothing stored can fall
/// within their span — and raises it inside the commit's transaction,
/// before the commit ends: so the next commit, which can only begin once
/// this one let go of the single writer, never finds it below what this one
/// stored, and a commit rolled back leaves it too high, which costs only a
/// check. (It assumes this store is the database's only writer of
/// telemetry, as [`crate::telemetry::SeriesIds`] does.)
#[derive(Debug, Default)]
pub(crate) struct Newest(std::sync::Mutex<HashMap<i64, i64>>);

impl Newest {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, i64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Of the series a commit is about to write, those whose samples cannot
/// simply be added: a chunk candidate with a stored sample (a row) within
/// its new samples' span, or any series with a chunk whose span overlaps
/// it. Their samples go as rows, after the chunks that overlap them are
/// unpacked ([`unpack`]). One round trip, for the series whose samples are
/// not all newer than what [`Newest`] knows of them (none when they all
/// are); it also tells [`Newest`] the newest stored stamp of each series it
/// checks.
pub(crate) async fn not_addable(
    tx: &mut sqlx::SqliteConnection,
    planned: &[Planned],
    newest: &Newest,
) -> Result<HashSet<i64>> {
    const CHECK: (&str, &str) = (
        "SELECT column1,
            EXISTS (SELECT 1 FROM telemetry_chunk c
                    WHERE c.series_id = column1 AND c.last_ts >= column2 AND c.first_ts <= column3)
            OR (column4 AND (
                EXISTS (SELECT 1 FROM telemetry t WHERE t.series_id = column1 AND t.ts >= column2 AND t.ts <= column3)
                OR EXISTS (SELECT 1 FROM telemetry_recent r
                           WHERE r.series_id = column1 AND r.ts >= column2 AND r.ts <= column3))),
            max(coalesce((SELECT max(last_ts) FROM telemetry_chunk WHERE series_id = column1), -9223372036854775808),
                coalesce((SELECT max(ts) FROM telemetry WHERE series_id = column1), -9223372036854775808),
                coalesce((SELECT max(ts) FROM telemetry_recent WHERE series_id = column1), -9223372036854775808))
         FROM ",
        " WHERE column1 IS NOT NULL",
    );
    let unsure: Vec<&Planned> = {
        let known = newest.lock();
        planned
            .iter()
            .filter(|&&(series, first, ..)| known.get(&series).is_none_or(|&stored| first <= stored))
            .collect()
    };
    let mut statements = Statements::default();
    statements.rows(CHECK, 4, &unsure, |query, _, &&(series, first, last, chunk)| {
        query.bind(series).bind(first).bind(last).bind(chunk)
    });
    let rows = statements.fetch_all(tx).await?;
    let mut blocked = HashSet::new();
    let mut known = newest.lock();
    for row in &rows {
        let series: i64 = row.try_get(0).map_err(db)?;
        if row.try_get::<bool, _>(1).map_err(db)? {
            blocked.insert(series);
        }
        let stored: i64 = row.try_get(2).map_err(db)?;
        let at = known.entry(series).or_insert(stored);
        *at = (*at).max(stored);
    }
    // What this commit is about to store.
    for &(series, _, last, _) in planned {
        let at = known.entry(series).or_insert(last);
        *at = (*at).max(last);
    }
    Ok(blocked)
}

/// A decoded sample of a series, to write as a row.
pub(crate) struct SeriesSample {
    series: i64,
    ts: i64,
    value: Value,
    quality: f32,
}

/// Binds a [`SeriesSample`] as a row of `(series_id, ts, value_numeric,
/// value_long, value_boolean, value_string, quality)`.
pub(crate) fn bind_sample<'q>(query: Query<'q>, _: usize, s: &'q SeriesSample) -> Query<'q> {
    let (numeric, long, boolean, text) = match &s.value {
        Value::Number(n) => (Some(*n), None, None, None),
        Value::Integer(i) => (None, Some(*i), None, None),
        Value::Boolean(b) => (None, None, Some(*b), None),
        Value::Text(t) => (None, None, None, Some(t.as_str())),
    };
    query.bind(s.series).bind(s.ts).bind(numeric).bind(long).bind(boolean).bind(text).bind(f64::from(s.quality))
}

/// Rows into `table` from a `VALUES` list of [`bind_sample`]'s rows.
fn into(table: &str) -> String {
    format!(
        "INSERT OR REPLACE INTO {table} (series_id, ts, value_numeric, value_long, value_boolean, value_string,
            quality) SELECT column1, column2, column3, column4, column5, column6, column7 FROM "
    )
}

/// The samples of chunk rows `(series, blob)`, in the rows' order.
fn samples_of(rows: &[(i64, Vec<u8>)]) -> Result<Vec<SeriesSample>> {
    let mut out = Vec::new();
    for (series, data) in rows {
        for (ts, value, quality) in decode(data)? {
            out.push(SeriesSample { series: *series, ts, value, quality });
        }
    }
    Ok(out)
}

/// Unpacks the chunks that overlap the spans `(series, first, last)` into
/// `telemetry_recent` and deletes them, inside the commit's transaction:
/// the series' new rows in those spans may then replace any of their
/// samples. Chunks outside the spans stay: they hold none of those times.
pub(crate) async fn unpack(tx: &mut sqlx::SqliteConnection, spans: &[(i64, i64, i64)]) -> Result<()> {
    const OVERLAPPING: (&str, &str) = (
        "SELECT c.rowid, c.series_id, c.data FROM ",
        " AS v JOIN telemetry_chunk c
            ON v.column1 IS NOT NULL AND c.series_id = v.column1 AND c.last_ts >= v.column2 AND c.first_ts <= v.column3",
    );
    let mut statements = Statements::default();
    statements
        .rows(OVERLAPPING, 3, spans, |query, _, &(series, first, last)| query.bind(series).bind(first).bind(last));
    let rows = statements.fetch_all(tx).await?;
    let mut found: Vec<(i64, (i64, Vec<u8>))> = Vec::with_capacity(rows.len());
    for row in &rows {
        found.push((row.try_get(0).map_err(db)?, (row.try_get(1).map_err(db)?, row.try_get(2).map_err(db)?)));
    }
    if found.is_empty() {
        return Ok(());
    }
    // A chunk overlapping two spans is found twice.
    found.sort_by_key(|(rowid, _)| *rowid);
    found.dedup_by_key(|(rowid, _)| *rowid);
    let ids = serde_json::Value::from(found.iter().map(|(rowid, _)| *rowid).collect::<Vec<i64>>()).to_string();
    let blobs: Vec<(i64, Vec<u8>)> = found.into_iter().map(|(_, blob)| blob).collect();
    let samples = samples_of(&blobs)?;
    let head = into("telemetry_recent");
    let mut statements = Statements::default();
    statements.rows((&head, " WHERE column1 IS NOT NULL"), 7, &samples, bind_sample);
    statements.push("DELETE FROM telemetry_chunk WHERE rowid IN (SELECT value FROM json_each(?))", |q| q.bind(ids));
    statements.execute(tx).await
}

/// Which end of a range a limited read starts from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum From {
    /// The oldest samples first.
    Oldest,
    /// The newest samples first.
    Newest,
}

/// Chunks a read fetches in its first round trip; each further one fetches
/// four times as many, up to [`READ_PAGE_MAX`].
const READ_PAGE_MIN: usize = 8;
const READ_PAGE_MAX: usize = 512;

/// At least the `limit` oldest (or newest) samples of series `id` in
/// `[start, end)` held in chunks, or all of them if there are fewer, in
/// time order: the read stops at the chunk that brings it to `limit`, so a
/// read of the newest samples of a long history decodes its last chunks,
/// not all of them (see [`pages`]).
pub(crate) async fn read(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    range: (i64, i64),
    from: From,
    limit: usize,
) -> Result<Vec<Sample>> {
    let mut samples = Vec::new();
    pages(conn, id, range, from, |chunk| {
        samples.extend(chunk);
        samples.len() < limit
    })
    .await?;
    samples.sort_unstable_by_key(|(ts, ..)| *ts);
    Ok(samples)
}

/// Hands `each` the samples in `[start, end)` of each chunk of series `id`
/// that overlaps the range, chunk by chunk from the end `from`, until it
/// returns `false` or the chunks run out. A series' chunks have disjoint
/// spans, so from one end they come in time order. They are fetched a page
/// at a time — [`READ_PAGE_MIN`] chunks first, four times as many each
/// time after, up to [`READ_PAGE_MAX`] — so a short read costs one small
/// round trip and a long one holds a page in memory, whatever the range.
async fn pages(
    conn: &mut sqlx::SqliteConnection,
    id: i64,
    (start, end): (i64, i64),
    from: From,
    mut each: impl FnMut(Vec<Sample>) -> bool,
) -> Result<()> {
    // (The page size is a literal: see `crate::fold`.) `?4` bounds the
    // chunks' last stamps from the side the read starts at.
    let sql = |page: usize| match from {
        From::Oldest => format!(
            "SELECT last_ts, data FROM telemetry_chunk WHERE series_id = ?1 AND last_ts >= max(?2, ?4)
               AND first_ts < ?3 ORDER BY last_ts LIMIT {page}"
        ),
        From::Newest => format!(
            "SELECT last_ts, data FROM telemetry_chunk WHERE series_id = ?1 AND last_ts >= ?2
               AND last_ts <= ?4 AND first_ts < ?3 ORDER BY last_ts DESC LIMIT {page}"
        ),
    };
    let mut bound = if from == From::Oldest { i64::MIN } else { i64::MAX };
    let mut page = READ_PAGE_MIN;
    loop {
        let chunks: Vec<(i64, Vec<u8>)> = sqlx::query_as(sqlx::AssertSqlSafe(sql(page)))
            .bind(id)
            .bind(start)
            .bind(end)
            .bind(bound)
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
        let more = chunks.len() == page;
        for (last, blob) in chunks {
            let go_on = each(decode_in(&blob, (start, end))?.collect());
            let next = match from {
                From::Oldest => last.checked_add(1),
                From::Newest => last.checked_sub(1),
            };
            match next {
                Some(next) if go_on => bound = next,
                _ => return Ok(()),
            }
        }
        if !more {
            return Ok(());
        }
        page = (page * 4).min(READ_PAGE_MAX);
    }
}

/// The samples of a chunk's blob stamped in `[start, end)`.
fn decode_in(data: &[u8], (start, end): (i64, i64)) -> Result<impl Iterator<Item = Sample>> {
    Ok(decode(data)?.into_iter().filter(move |(ts, ..)| (start..end).contains(ts)))
}

/// Per key, per bucket index: the bucket, its numeric samples, and whether
/// chunks added to it (its average is then computed again).
pub(crate) type Buckets = BTreeMap<String, BTreeMap<i64, (Bucket, i64, bool)>>;

/// Adds the samples in `[start, end)` held in chunks of a device's series
/// (`keys`: a JSON array, or `None` for all) to `buckets`, `interval` ms
/// wide from `start` (integers count as numbers; other values only in the
/// count), a page of chunks at a time: memory holds the buckets and one
/// page, whatever the range.
pub(crate) async fn add_to_buckets(
    conn: &mut sqlx::SqliteConnection,
    device: (&str, &str),
    keys: Option<&str>,
    (start, end): (i64, i64),
    interval: i64,
    buckets: &mut Buckets,
) -> Result<()> {
    each_of_keys(conn, device, keys, (start, end), |key, (ts, value, _)| {
        let index = (ts - start) / interval;
        if !buckets.contains_key(key) {
            buckets.insert(key.to_string(), BTreeMap::new());
        }
        let Some(of_key) = buckets.get_mut(key) else { return };
        let (bucket, numbers, changed) = of_key.entry(index).or_insert_with(|| {
            (Bucket { key: key.to_string(), index, avg: None, min: None, max: None, sum: None, count: 0 }, 0, false)
        });
        bucket.count += 1;
        let v = match value {
            Value::Number(n) => n,
            Value::Integer(i) => i as f64,
            _ => return,
        };
        *numbers += 1;
        *changed = true;
        bucket.sum = Some(bucket.sum.unwrap_or(0.0) + v);
        bucket.min = Some(bucket.min.map_or(v, |m| m.min(v)));
        bucket.max = Some(bucket.max.map_or(v, |m| m.max(v)));
    })
    .await
}

/// Hands `each` every sample in `[start, end)` held in chunks of a device's
/// series (`keys`: a JSON array, or `None` for all), with its key: series by
/// series, each in time order, a page of chunks at a time (see [`pages`]).
async fn each_of_keys(
    conn: &mut sqlx::SqliteConnection,
    (tenant, device): (&str, &str),
    keys: Option<&str>,
    range: (i64, i64),
    mut each: impl FnMut(&str, Sample),
) -> Result<()> {
    let series: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, key FROM series WHERE tenant_id = ?1 AND device_id = ?2
           AND (?3 IS NULL OR key IN (SELECT value FROM json_each(?3)))",
    )
    .bind(tenant)
    .bind(device)
    .bind(keys)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    for (id, key) in &series {
        pages(conn, *id, range, From::Oldest, |samples| {
            samples.into_iter().for_each(|sample| each(key, sample));
            true
        })
        .await?;
    }
    Ok(())
}

/// Deletes the samples stamped before `before` from chunks (of one
/// tenant's series, when `of_tenant` holds its filter on `?2`), inside
/// `tx`; returns how many went. A chunk that straddles `before` keeps its
/// later samples.
pub(crate) async fn delete_before(
    tx: &mut sqlx::SqliteConnection,
    before: i64,
    tenant: Option<&str>,
    of_tenant: &str,
) -> Result<u64> {
    let bind = |sql: String| {
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(before);
        match tenant {
            Some(tenant) => query.bind(tenant.to_string()),
            None => query,
        }
    };
    let whole: Vec<i64> = {
        let rows = bind(format!("DELETE FROM telemetry_chunk WHERE last_ts < ?1 {of_tenant} RETURNING samples"))
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        rows.iter().map(|row| row.try_get(0).map_err(db)).collect::<Result<_>>()?
    };
    let mut deleted: u64 = whole.iter().map(|&n| n as u64).sum();
    let straddling: Vec<(i64, Vec<u8>)> = {
        let rows =
            bind(format!("SELECT rowid, data FROM telemetry_chunk WHERE first_ts < ?1 AND last_ts >= ?1 {of_tenant}"))
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        rows.iter().map(|row| Ok((row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?))).collect::<Result<_>>()?
    };
    for (rowid, data) in straddling {
        let samples = decode(&data)?;
        let kept: Vec<&Sample> = samples.iter().filter(|(ts, ..)| *ts >= before).collect();
        deleted += (samples.len() - kept.len()) as u64;
        let mut encoder = Encoder::with_capacity(kept.len());
        for (ts, value, quality) in &kept {
            encoder.push(*ts, *quality, ValueRef::from_value(value));
        }
        let first = kept.first().map_or(before, |(ts, ..)| *ts);
        sqlx::query("UPDATE telemetry_chunk SET first_ts = ?, samples = ?, data = ? WHERE rowid = ?")
            .bind(first)
            .bind(kept.len() as i64)
            .bind(encoder.finish())
            .bind(rowid)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    Ok(deleted)
}
