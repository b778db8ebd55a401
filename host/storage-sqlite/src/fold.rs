//! Folding recent telemetry into the clustered table, in the background.
//!
//! Commits write rows to `telemetry_recent`, a small table keyed by
//! (series, ts) (see [`crate::telemetry`]); the folder moves them into
//! `telemetry`, the large one clustered the same way, a piece at a time.

use nexus_storage::Result;

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
/// sort. Folds are paced ([`FOLD_EVERY`]) so that a series gathers rows
/// between them, and the leaf a fold dirties takes many at once.
pub(crate) async fn fold(writer: &sqlx::SqlitePool) -> Result<u64> {
    let mut after = (i64::MIN, i64::MIN);
    let mut folded = 0;
    loop {
        let (moved, last) = fold_piece(writer, after).await?;
        folded += moved;
        match last {
            Some(last) => after = last,
            None => return Ok(folded),
        }
    }
}

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

/// How long the folder waits after a fold.
const FOLD_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Folds recent rows in the background while any store clone lives, a fold
/// every [`FOLD_EVERY`].
pub(crate) fn spawn_folder(writer: sqlx::SqlitePool, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        while alive.strong_count() > 0 {
            match fold(&writer).await {
                Ok(_) => tokio::time::sleep(FOLD_EVERY).await,
                Err(error) => {
                    tracing::warn!(%error, "Folding recent telemetry failed; retrying in a second.");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
}
