//! Folding recent telemetry into the clustered table, in the background.
//!
//! Commits write rows to `telemetry_recent`, a small table keyed by
//! (series, ts) (see [`crate::telemetry`]); the folder moves them into
//! `telemetry`, the large table clustered by (series, ts), a piece at a
//! time. Chunks (`telemetry_chunk`, see [`crate::chunks`]) are not folded:
//! they are the stored form of the samples they hold, read in place.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use nexus_storage::Result;
use tokio::sync::Notify;

use crate::db;
use crate::telemetry::{COLUMNS, VALUES};

/// Folds every recent row into `telemetry`, in the recent table's
/// `(series_id, ts)` order — a re-delivered sample replacing the stored
/// one — and deletes them. Returns how many rows it folded.
///
/// A fold dirties about one leaf of `telemetry` per series it touches and
/// holds the write lock while it runs. So it runs in pieces, each one
/// transaction moving the next [`PIECE_ROWS`] rows of the recent table, or
/// fewer when those rows span more than [`PIECE_SERIES`] series: a commit
/// waiting for the writer waits for one piece, not the whole fold, however
/// many series or rows of one series there are. A piece reads its rows as a
/// range of the table's key, in the order it writes them, and deletes that
/// range, so its cost is its own rows: not a scan of the backlog, nor a
/// sort. The background folder starts a fold every [`FOLD_EVERY`], so that
/// a series gathers rows between them and the leaf a fold dirties takes
/// many at once, and takes its pieces in the wake of commits ([`Pace`]).
pub(crate) async fn fold(writer: &sqlx::SqlitePool) -> Result<u64> {
    let mut cursor = Some(START);
    let mut folded = 0;
    while let Some(after) = cursor {
        let (moved, next) = fold_piece(writer, after).await?;
        folded += moved;
        cursor = next;
    }
    Ok(folded)
}

/// The key before every row: where a fold starts.
const START: (i64, i64) = (i64::MIN, i64::MIN);

/// Folds the next rows after the (series, ts) `after` in the table, about
/// [`PIECE_ROWS`] of them or those of the next [`PIECE_SERIES`] series if
/// fewer, in one transaction. Returns the rows moved and
/// the (series, ts) the piece ended at, `None` when it took all the rest.
async fn fold_piece(writer: &sqlx::SqlitePool, after: (i64, i64)) -> Result<(u64, Option<(i64, i64)>)> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
    // The piece ends before the first series past PIECE_SERIES among the
    // next PIECE_ROWS rows, if there is one; (The counts are literals, not
    // parameters: SQLite compiles a statement again at every run when a
    // parameter bound anew is its LIMIT or OFFSET, which its planner uses.)
    let next_series: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT series_id FROM (SELECT series_id FROM telemetry_recent WHERE (series_id, ts) > (?1, ?2)
                                ORDER BY series_id, ts LIMIT {PIECE_ROWS})
         GROUP BY series_id ORDER BY series_id LIMIT 1 OFFSET {PIECE_SERIES}"
    )))
    .bind(after.0)
    .bind(after.1)
    .fetch_optional(&mut *tx)
    .await
    .map_err(db)?;
    // else the key PIECE_ROWS rows on ends it; past the end of the table, it
    // takes the rest.
    let last: Option<(i64, i64)> = match next_series {
        Some(series) => Some((series, i64::MIN)),
        None => sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT series_id, ts FROM telemetry_recent WHERE (series_id, ts) > (?1, ?2)
             ORDER BY series_id, ts LIMIT 1 OFFSET {}",
            PIECE_ROWS - 1
        )))
        .bind(after.0)
        .bind(after.1)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?,
    };
    let end = last.unwrap_or((i64::MAX, i64::MAX));
    between(fold_piece_sql(), after, end).execute(&mut *tx).await.map_err(db)?;
    let delete = "DELETE FROM telemetry_recent WHERE (series_id, ts) > (?1, ?2) AND (series_id, ts) <= (?3, ?4)";
    let folded = between(delete.into(), after, end).execute(&mut *tx).await.map_err(db)?.rows_affected();
    tx.commit().await.map_err(db)?;
    Ok((folded, last))
}

/// `sql` over the recent table's keys after `after` up to `end` (its
/// `?1`–`?4`).
fn between(
    sql: String,
    after: (i64, i64),
    end: (i64, i64),
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.0).bind(after.1).bind(end.0).bind(end.1)
}

/// A fold piece's copy: the rows between two keys of the recent table,
/// along its `(series_id, ts)` key — the order they are written in, so
/// nothing is sorted.
fn fold_piece_sql() -> String {
    format!(
        "INSERT OR REPLACE INTO telemetry {COLUMNS}
         SELECT series_id, {VALUES} FROM telemetry_recent
         WHERE (series_id, ts) > (?1, ?2) AND (series_id, ts) <= (?3, ?4) ORDER BY series_id, ts"
    )
}

/// How SQLite plans a fold piece's copy (`EXPLAIN QUERY PLAN`, one line per
/// step).
pub(crate) async fn fold_plan(writer: &sqlx::SqlitePool) -> Result<Vec<String>> {
    let rows: Vec<(i64, i64, i64, String)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {}", fold_piece_sql())))
            .bind(0i64)
            .bind(0i64)
            .bind(1i64)
            .bind(0i64)
            .fetch_all(writer)
            .await
            .map_err(db)?;
    Ok(rows.into_iter().map(|(.., detail)| detail).collect())
}

/// Rows a fold piece moves (it holds the write lock while it runs).
const PIECE_ROWS: i64 = 1024;

/// Series a fold piece moves at most. A piece dirties about one leaf of
/// `telemetry` per series, so when each series has gathered only a few
/// rows since the last fold (many devices at a few samples a second), this
/// bound, not [`PIECE_ROWS`], keeps a piece short: at 10 000 readings a
/// second over 1 000 series, 1 024 rows span a hundred series and held
/// the writer long enough to double the p99 of the commits behind them.
/// When series gather hundreds of rows, pieces stay at [`PIECE_ROWS`]:
/// smaller ones would write the same index pages into the log again and
/// again.
const PIECE_SERIES: i64 = 16;

/// How often a fold starts (from one start to the next; a fold that takes
/// longer is followed at once by the next).
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// How long without a commit the folder counts as quiet: it then takes
/// pieces one after another until a commit comes. Longer than the gap
/// between commits of a steady load, so that under load pieces run only in
/// the wake of commits.
const QUIET: Duration = Duration::from_millis(50);

/// After a commit of n recent rows, the folder owes `CATCH_UP × n` rows:
/// folding faster than commits write ends a fold before the next is due,
/// so the recent table holds about a [`FOLD_EVERY`] of readings.
const CATCH_UP: i64 = 2;

/// When the folder takes the writer: in the wake of commits.
///
/// A piece holds the writer for a millisecond or so, and a commit that
/// arrives during one waits for it. Started as soon as the last one ended,
/// a fold's pieces ran back to back for a tenth of every second at
/// 75 000 readings a second, and about one commit in ten waited for a
/// piece: that was most of the p99's distance from the p50. So a commit
/// tells the folder when it ends and how many recent rows it wrote, and the
/// folder takes its pieces right then, as many as it owes (see
/// [`CATCH_UP`]): the next commit of a steady load is most likely still
/// being processed, and finds the writer free. When no commit comes for
/// [`QUIET`], pieces run one after another.
#[derive(Debug, Default)]
pub(crate) struct Pace {
    /// Recent rows committed since the folder last took them into account.
    rows: AtomicU64,
    /// Commits so far.
    commits: AtomicU64,
    /// Wakes the folder when a commit ends.
    committed: Notify,
}

impl Pace {
    /// A commit that wrote `rows` recent rows ended.
    pub(crate) fn committed(&self, rows: u64) {
        self.rows.fetch_add(rows, Relaxed);
        self.commits.fetch_add(1, Relaxed);
        self.committed.notify_one();
    }
}

/// Folds recent rows in the background while any store clone lives, a fold
/// every [`FOLD_EVERY`], its pieces paced by [`Pace`].
pub(crate) fn spawn_folder(writer: sqlx::SqlitePool, pace: Arc<Pace>, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        while alive.strong_count() > 0 {
            let started = tokio::time::Instant::now();
            match paced_fold(&writer, &pace, &alive).await {
                Ok(()) => tokio::time::sleep_until(started + FOLD_EVERY).await,
                Err(error) => {
                    tracing::warn!(%error, "Folding recent telemetry failed; retrying in a second.");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
}

/// One fold over the recent table, its pieces taken in the wake of commits
/// or while the writer is quiet (see [`Pace`]).
async fn paced_fold(writer: &sqlx::SqlitePool, pace: &Pace, alive: &std::sync::Weak<()>) -> Result<()> {
    // What was committed before the fold starts is in it.
    pace.rows.store(0, Relaxed);
    let mut cursor = START;
    let mut owed = 0i64;
    while alive.strong_count() > 0 {
        let commits = pace.commits.load(Relaxed);
        let quiet = tokio::time::timeout(QUIET, pace.committed.notified()).await.is_err();
        if !quiet {
            owed += CATCH_UP * pace.rows.swap(0, Relaxed) as i64;
        }
        while (quiet && pace.commits.load(Relaxed) == commits) || (!quiet && owed > 0) {
            let (moved, next) = fold_piece(writer, cursor).await?;
            owed -= moved as i64;
            match next {
                Some(next) => cursor = next,
                None => return Ok(()),
            }
        }
    }
    Ok(())
}
