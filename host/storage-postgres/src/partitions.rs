//! How telemetry is laid out, and the upkeep of its daily partitions.
//!
//! Migration 0002 chose the layout: a TimescaleDB hypertable when the
//! extension is there, which manages its own chunks, or a table partitioned
//! by UTC day with a default partition. In the second case the store
//! creates the partitions of the days around now when it connects, and
//! again every hour while it lives, through `pf.ensure_telemetry_partition`
//! (which moves a day's rows out of the default partition when it creates
//! the day). The days follow the wall clock: they decide where rows are
//! kept, never what a row says.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nexus_storage::Result;
use sqlx::{PgConnection, PgPool};

use crate::db;

/// One day, ms.
const DAY_MS: i64 = 86_400_000;
/// Partitions kept ready before today (late samples of yesterday).
const DAYS_BEHIND: i64 = 1;
/// Partitions kept ready after today.
const DAYS_AHEAD: i64 = 7;
/// How often the maintainer makes sure of them.
const EVERY: Duration = Duration::from_secs(3600);

/// How `pf.telemetry` is stored; the queries are the same on both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TelemetryLayout {
    /// A TimescaleDB hypertable: 1-day chunks, compression after 7 days, a
    /// 1-minute continuous aggregate.
    Hypertable,
    /// Native range partitioning by day, a default partition, a BRIN index
    /// on `ts`.
    Partitioned,
}

/// The layout the migrations chose for this database.
pub(crate) async fn layout(conn: &mut PgConnection) -> Result<TelemetryLayout> {
    let kind: String = sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = 'pf.telemetry'::regclass")
        .fetch_one(conn)
        .await
        .map_err(db)?;
    Ok(if kind == "p" { TelemetryLayout::Partitioned } else { TelemetryLayout::Hypertable })
}

/// Now by the wall clock, ms.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Creates the missing partitions of the days from `start` to `end` (ms,
/// both included); returns how many it created.
pub(crate) async fn ensure(conn: &mut PgConnection, start: i64, end: i64) -> Result<u32> {
    let mut created = 0;
    for day in start.div_euclid(DAY_MS)..=end.div_euclid(DAY_MS) {
        let made: bool = sqlx::query_scalar("SELECT pf.ensure_telemetry_partition($1)")
            .bind(day)
            .fetch_one(&mut *conn)
            .await
            .map_err(db)?;
        created += u32::from(made);
    }
    Ok(created)
}

/// The partitions of the days around `now`.
pub(crate) async fn ensure_around(conn: &mut PgConnection, now: i64) -> Result<u32> {
    ensure(conn, now - DAYS_BEHIND * DAY_MS, now + DAYS_AHEAD * DAY_MS).await
}

/// Drops the partitions of the days that end at or before `before`.
pub(crate) async fn drop_before(conn: &mut PgConnection, before: i64) -> Result<u32> {
    let dropped: i32 =
        sqlx::query_scalar("SELECT pf.drop_telemetry_partitions($1)").bind(before).fetch_one(conn).await.map_err(db)?;
    Ok(u32::try_from(dropped).unwrap_or(0))
}

/// Keeps the coming days' partitions created while any store clone lives.
pub(crate) fn spawn_maintainer(pool: PgPool, alive: std::sync::Weak<()>) {
    tokio::spawn(async move {
        let tick = Duration::from_secs(1);
        let mut waited = Duration::ZERO;
        while alive.strong_count() > 0 {
            tokio::time::sleep(tick).await;
            waited += tick;
            if waited < EVERY {
                continue;
            }
            waited = Duration::ZERO;
            let ensured = match pool.acquire().await {
                Ok(mut conn) => ensure_around(&mut conn, now_ms()).await,
                Err(error) => Err(db(error)),
            };
            if let Err(error) = ensured {
                tracing::warn!(%error, "Creating the coming days' telemetry partitions failed; retrying in an hour.");
            }
        }
    });
}
