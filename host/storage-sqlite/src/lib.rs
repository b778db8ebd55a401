//! # nexus-storage-sqlite
//!
//! The embedded backend of the storage ports: SQLite in WAL mode in the
//! data directory, migrated from `migrations/sqlite`. Every query takes the
//! tenant; write transactions begin `IMMEDIATE`. It implements every trait
//! of `nexus-storage` and passes its conformance suite
//! (`tests/conformance.rs`).

mod alarms;
mod checkpoint;
mod chunks;
mod codec;
mod commit;
mod connectors;
mod entities;
mod fold;
mod forecasts;
mod identity;
mod lifecycle;
mod monitor;
mod notifications;
mod outbox;
mod plugins;
mod records;
mod releases;
mod rows;
mod setpoints;
mod signals;
mod telemetry;
mod values;
mod well_tests;

use std::path::Path;
use std::str::FromStr;

use nexus_storage::{Result, StorageError, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The SQLite store. Cheap to clone.
///
/// Reads go through a pool of connections; every write goes through one
/// writer connection (SQLite has one writer at a time anyway), so its large
/// page cache stays warm with the pages the write path touches: the newest
/// leaves of `telemetry`, `telemetry_latest`, the alarm tables. A file's
/// log is copied into it by a background checkpointer on a connection of
/// its own, not inside the writer's commits.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
    /// Committed series ids by (device, key).
    series: telemetry::SeriesIds,
    /// Per series, a stamp nothing stored of it is newer than (see
    /// [`chunks::Newest`]).
    newest: std::sync::Arc<chunks::Newest>,
    /// The database file (`None` in memory), which [`MonitorStore::ping`]
    /// opens afresh.
    ///
    /// [`MonitorStore::ping`]: nexus_storage::MonitorStore::ping
    file: Option<std::path::PathBuf>,
    /// The background folder of recent telemetry runs while a clone lives.
    _alive: std::sync::Arc<()>,
    /// Tells the background folder when commits end (see [`fold::Pace`]).
    pace: std::sync::Arc<fold::Pace>,
}

/// Page cache of the writer connection, KiB. Not larger: SQLite ends every
/// transaction that split a b-tree page with a walk of the whole cache
/// (`balance_nonroot` renumbers pages through the pending-byte page, which
/// leaves the cache believing it holds a page past the end of the
/// database, and `pcache1Truncate` then visits every cached page). With
/// 64 MiB that walk cost a 1 000-reading commit about a millisecond; pages
/// the writer misses come from the operating system's cache (README,
/// "Performance").
const WRITER_CACHE_KIB: i64 = 16 * 1024;
/// Page cache of each reader connection, KiB.
const READER_CACHE_KIB: i64 = 8 * 1024;

impl SqliteStore {
    /// Opens (creating if needed) `nexus.db` in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Backend(format!("{}: {e}", data_dir.display())))?;
        let file = data_dir.join("nexus.db");
        let url = format!("sqlite://{}", file.display());
        let mut store = Self::connect(&url, 8, false, true).await?;
        store.file = Some(file);
        Ok(store)
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<Self> {
        Self::connect("sqlite::memory:", 1, true, true).await
    }

    /// A private in-memory database whose recent telemetry only
    /// [`SqliteStore::fold_recent`] folds (tests of what the fold finds).
    pub async fn in_memory_unfolded() -> Result<Self> {
        Self::connect("sqlite::memory:", 1, true, false).await
    }

    /// `shared`: one connection serves reads and writes (an in-memory
    /// database exists only in its connection).
    /// `folder`: whether recent telemetry is folded in the background.
    async fn connect(url: &str, max_connections: u32, shared: bool, folder: bool) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable against process crashes; FULL adds
            // power-loss durability at a cost per commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let cache = |kib: i64| options.clone().pragma("cache_size", format!("-{kib}"));
        // The background checkpointer copies the log; the writer's own
        // automatic checkpoint only starts it over (see `checkpoint`).
        let writer_options =
            cache(WRITER_CACHE_KIB).pragma("wal_autocheckpoint", checkpoint::WRITER_AUTOCHECKPOINT.to_string());
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(writer_options).await.map_err(db)?;
        SQLITE_MIGRATOR.run(&writer).await.map_err(|e| StorageError::Migration(e.to_string()))?;
        let pool = if shared {
            writer.clone()
        } else {
            SqlitePoolOptions::new()
                .max_connections(max_connections)
                .connect_with(cache(READER_CACHE_KIB))
                .await
                .map_err(db)?
        };
        let alive = std::sync::Arc::new(());
        let pace = std::sync::Arc::new(fold::Pace::default());
        if folder {
            fold::spawn_folder(writer.clone(), pace.clone(), std::sync::Arc::downgrade(&alive));
        }
        if !shared {
            checkpoint::spawn_checkpointer(options.clone(), std::sync::Arc::downgrade(&alive));
        }
        let store = Self {
            pool,
            writer,
            series: Default::default(),
            newest: Default::default(),
            file: None,
            _alive: alive,
            pace,
        };
        store.hash_legacy_tokens().await?;
        Ok(store)
    }

    /// Folds every recent telemetry row into the clustered table now (the
    /// background folder does it on its own); returns how many it moved.
    pub async fn fold_recent(&self) -> Result<u64> {
        fold::fold(&self.writer).await
    }

    /// Recent rows not yet folded into the clustered telemetry table
    /// (diagnostics; chunks are never folded).
    pub async fn recent_rows(&self) -> Result<u64> {
        let rows: i64 =
            sqlx::query_scalar("SELECT count(*) FROM telemetry_recent").fetch_one(&self.pool).await.map_err(db)?;
        Ok(rows as u64)
    }

    /// Chunks stored (diagnostics; see `chunks.rs`).
    pub async fn telemetry_chunks(&self) -> Result<u64> {
        let chunks: i64 =
            sqlx::query_scalar("SELECT count(*) FROM telemetry_chunk").fetch_one(&self.pool).await.map_err(db)?;
        Ok(chunks as u64)
    }

    /// How SQLite plans the fold's copy of recent rows, one line per step
    /// of `EXPLAIN QUERY PLAN` (diagnostics: it must read a range of the
    /// recent table's index, in order, not scan or sort the backlog).
    pub async fn fold_plan(&self) -> Result<Vec<String>> {
        fold::fold_plan(&self.writer).await
    }

    /// How SQLite plans the statements of a commit's signals that look rows
    /// up by key — the update of known alarms (`"update"`) and the devices'
    /// wells (`"homes"`) — one line per step of `EXPLAIN QUERY PLAN`
    /// (diagnostics: primary-key look-ups, never a scan of the tenant's
    /// alarms or devices).
    pub async fn signal_plans(&self) -> Result<Vec<(&'static str, Vec<String>)>> {
        signals::plans(&self.writer).await
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front,
    /// so a transaction that reads before it writes waits for other writers
    /// (busy timeout) instead of failing with `SQLITE_BUSY_SNAPSHOT`.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }
}

/// A database error as a storage error: a unique-constraint violation is a
/// conflict, a busy or unreachable database is transient.
pub(crate) fn db(error: sqlx::Error) -> StorageError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StorageError::Conflict(e.message().to_string()),
        sqlx::Error::Database(e) if e.message().contains("locked") || e.message().contains("busy") => {
            StorageError::Unavailable(e.message().to_string())
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StorageError::Unavailable(error.to_string())
        }
        _ => StorageError::Backend(error.to_string()),
    }
}

/// A unique-constraint violation as a conflict with a message for people.
pub(crate) fn conflict_or(error: sqlx::Error, message: impl FnOnce() -> String) -> StorageError {
    match &error {
        sqlx::Error::Database(e) if e.is_unique_violation() => StorageError::Conflict(message()),
        _ => db(error),
    }
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// A keyset page of `table`'s rows of a tenant in the order of `key` (a
/// comma-separated column list ending in `id`): the rows after the row
/// whose id is `page.after`, at most `page.limit`. A cursor naming no row
/// of the tenant gives an empty page.
pub(crate) fn page_sql(select: &str, table: &str, key: &str) -> String {
    format!(
        "{select} FROM {table} WHERE tenant_id = ?1 AND (?2 IS NULL OR ({key}) > \
         (SELECT {key} FROM {table} WHERE id = ?2 AND tenant_id = ?1)) ORDER BY {key} LIMIT ?3"
    )
}

/// A page's limit as SQLite takes it.
pub(crate) fn page_limit(page: &nexus_model::Page) -> i64 {
    i64::from(page.limit)
}
