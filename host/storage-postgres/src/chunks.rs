//! Chunks: a commit's run of at least [`MIN_CHUNK`] new samples of one
//! series, all newer than anything stored of it, written as one row of
//! `pf.telemetry_chunk` (stamps and values as arrays) instead of a row of
//! `pf.telemetry` each (migration 0014). A commit of 100-sample series then
//! writes about a hundredth of the primary-key entries, which is most of
//! what its samples cost.
//!
//! Every other sample is a row. A row stamped at or before its series'
//! `stored_until` (a re-delivery, a late sample) may fall inside a chunk's
//! span: such chunks are first unpacked into rows ([`unpack`]). So a
//! (series, ts) is never both in a chunk and in a row, chunks never overlap,
//! and reads add the chunks' samples to the rows without precedence. The
//! series' rows of `pf.telemetry_latest` are locked while a commit decides,
//! so concurrent commits of one series decide one after the other.
//!
//! Only the partitioned layout writes chunks; on a hypertable every sample
//! stays a row, for TimescaleDB to compress.

use nexus_storage::Result;

use crate::db;

/// Fewest samples of a series a commit writes as a chunk.
pub(crate) const MIN_CHUNK: usize = 16;

/// Most samples in one chunk; a longer run (a backfill) is cut.
pub(crate) const MAX_CHUNK: usize = 1024;

/// Locks the series' rows of `pf.telemetry_latest` (in series order),
/// raises each one's `stored_until` to `$2`, sets its latest value to the
/// newest sample `$3`..`$8` unless that is missing or older than the stored
/// one (as `crate::series`' update of latest values does), and returns each
/// series' `stored_until` from before (`None`: nothing stored yet). One new
/// row version per series.
///
/// In the same statement, it inserts the candidate chunks whose run is new:
/// `$9`..`$14` are the candidates' samples' columns end to end (as a row
/// insert binds them), `$15`..`$18` each chunk's series, its first and last
/// sample's positions in them (1-based) and its run's first stamp (a run
/// longer than [`MAX_CHUNK`] is several chunks). A chunk is written when its
/// run's first stamp is after the series' `stored_until` from before: the
/// caller applies the same test to the returned values, and writes the
/// other candidates' samples as rows.
pub(crate) const LATEST: &str = "WITH old AS (
        SELECT series_id, stored_until FROM pf.telemetry_latest
        WHERE series_id = ANY($1) ORDER BY series_id FOR UPDATE
    ), latest AS (
        UPDATE pf.telemetry_latest l SET
            stored_until = greatest(old.stored_until, n.until),
            ts = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.ts ELSE l.ts END,
            value_numeric = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.value_numeric ELSE l.value_numeric END,
            value_long = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.value_long ELSE l.value_long END,
            value_boolean = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.value_boolean ELSE l.value_boolean END,
            value_string = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.value_string ELSE l.value_string END,
            quality = CASE WHEN n.ts IS NOT NULL AND (l.ts IS NULL OR n.ts >= l.ts) THEN n.quality ELSE l.quality END
        FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::float8[], $5::int8[], $6::bool[], $7::text[], $8::float4[])
            AS n(series_id, until, ts, value_numeric, value_long, value_boolean, value_string, quality)
        JOIN old ON old.series_id = n.series_id
        WHERE l.series_id = n.series_id
        RETURNING l.series_id, old.stored_until
    ), chunks AS (
        INSERT INTO pf.telemetry_chunk
            (series_id, first_ts, last_ts, ts, value_numeric, value_long, value_boolean, value_string, quality)
        SELECT c.series_id, ($9::int8[])[c.lo], ($9::int8[])[c.hi], ($9::int8[])[c.lo:c.hi],
               ($10::float8[])[c.lo:c.hi], ($11::int8[])[c.lo:c.hi], ($12::bool[])[c.lo:c.hi],
               ($13::text[])[c.lo:c.hi], ($14::float4[])[c.lo:c.hi]
        FROM UNNEST($15::int8[], $16::int4[], $17::int4[], $18::int8[]) AS c(series_id, lo, hi, run_first)
        JOIN latest ON latest.series_id = c.series_id
        WHERE latest.stored_until IS NULL OR c.run_first > latest.stored_until
    )
    SELECT series_id, stored_until FROM latest";

/// Per series (sorted, distinct): the newest stamp a commit brings, and
/// its newest sample that may be the latest value (all `None` when it has
/// none).
#[derive(Default)]
pub(crate) struct Latest<'a> {
    pub(crate) series: Vec<i64>,
    pub(crate) until: Vec<i64>,
    pub(crate) ts: Vec<Option<i64>>,
    pub(crate) numeric: Vec<Option<f64>>,
    pub(crate) long: Vec<Option<i64>>,
    pub(crate) boolean: Vec<Option<bool>>,
    pub(crate) text: Vec<Option<&'a str>>,
    pub(crate) quality: Vec<Option<f32>>,
}

/// Unpacks into rows the chunks of series `$1` whose spans meet
/// `[$2, $3]`.
const UNPACK: &str = "WITH gone AS (
        DELETE FROM pf.telemetry_chunk c USING UNNEST($1::int8[], $2::int8[], $3::int8[]) AS r(series_id, lo, hi)
        WHERE c.series_id = r.series_id AND c.first_ts <= r.hi AND c.last_ts >= r.lo
        RETURNING c.*)
    INSERT INTO pf.telemetry (series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
    SELECT g.series_id, u.ts, u.value_numeric, u.value_long, u.value_boolean, u.value_string, u.quality
    FROM gone g CROSS JOIN LATERAL
        unnest(g.ts, g.value_numeric, g.value_long, g.value_boolean, g.value_string, g.quality)
        AS u(ts, value_numeric, value_long, value_boolean, value_string, quality)";

/// Unpacks the chunks of each `series[i]` whose span meets
/// `[lo[i], hi[i]]` into rows (before rows in that span are written).
pub(crate) async fn unpack(tx: &mut sqlx::PgConnection, series: &[i64], lo: &[i64], hi: &[i64]) -> Result<()> {
    sqlx::query(UNPACK).bind(series).bind(lo).bind(hi).execute(&mut *tx).await.map_err(db)?;
    Ok(())
}

/// Deletes the chunks of tenant `$1` (every tenant's when `NULL`) that
/// begin before `$2`; the samples of those that reach past it are put back
/// as rows. Returns how many samples before `$2` went.
pub(crate) const DELETE_BEFORE: &str = "WITH gone AS (
        DELETE FROM pf.telemetry_chunk c
        WHERE c.first_ts < $2
          AND ($1::text IS NULL OR c.series_id IN (SELECT series_id FROM pf.telemetry_latest WHERE tenant_id = $1))
        RETURNING c.*),
    kept AS (
        INSERT INTO pf.telemetry (series_id, ts, value_numeric, value_long, value_boolean, value_string, quality)
        SELECT g.series_id, u.ts, u.value_numeric, u.value_long, u.value_boolean, u.value_string, u.quality
        FROM gone g CROSS JOIN LATERAL
            unnest(g.ts, g.value_numeric, g.value_long, g.value_boolean, g.value_string, g.quality)
            AS u(ts, value_numeric, value_long, value_boolean, value_string, quality)
        WHERE g.last_ts >= $2 AND u.ts >= $2
        RETURNING 1)
    SELECT (SELECT coalesce(sum(cardinality(ts)), 0) FROM gone)::int8 - (SELECT count(*) FROM kept)";

/// Deletes the chunks' samples before `before`, of one tenant or of all;
/// returns how many.
pub(crate) async fn delete_before(pool: impl sqlx::PgExecutor<'_>, tenant: Option<&str>, before: i64) -> Result<u64> {
    let deleted: i64 = sqlx::query_scalar(DELETE_BEFORE).bind(tenant).bind(before).fetch_one(pool).await.map_err(db)?;
    Ok(u64::try_from(deleted).unwrap_or(0))
}
