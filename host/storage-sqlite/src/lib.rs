//! # nexus-storage-sqlite
//!
//! The embedded backend of the storage ports: SQLite in WAL mode in the
//! data directory, migrated from `migrations/sqlite`. Every query takes the
//! tenant; write transactions begin `IMMEDIATE`. It implements every trait
//! of `nexus-storage` and passes its conformance suite
//! (`tests/conformance.rs`).

mod alarms;
mod commit;
mod entities;
mod outbox;
mod plugins;
mod records;
mod rows;
mod telemetry;

use std::path::Path;
use std::str::FromStr;

use nexus_storage::{Result, StorageError, Store};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The SQLite store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) `nexus.db` in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Backend(format!("{}: {e}", data_dir.display())))?;
        let url = format!("sqlite://{}", data_dir.join("nexus.db").display());
        Self::connect(&url, 8).await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<Self> {
        Self::connect("sqlite::memory:", 1).await
    }

    async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(db)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable against process crashes; FULL adds
            // power-loss durability at a cost per commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(max_connections).connect_with(options).await.map_err(db)?;
        SQLITE_MIGRATOR.run(&pool).await.map_err(|e| StorageError::Migration(e.to_string()))?;
        let store = Self { pool };
        store.hash_legacy_tokens().await?;
        Ok(store)
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front,
    /// so a transaction that reads before it writes waits for other writers
    /// (busy timeout) instead of failing with `SQLITE_BUSY_SNAPSHOT`.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)
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
