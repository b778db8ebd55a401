//! # nexus-storage
//!
//! Durable state, and the only crate that knows SQL: tenants, wells and
//! devices, plugins and bindings, plugin state, telemetry, alarms,
//! recommendations, failed plugin runs and dead letters.
//!
//! The embedded default is SQLite (WAL) in the data directory, migrated from
//! `migrations/sqlite`. Every query takes the tenant id, so one tenant's rows
//! are never visible to another. The methods of [`Storage`] are the storage
//! interface the rest of the host uses; PostgreSQL and Redis back ends
//! implement the same methods.

mod alarms;
mod entities;
mod error;
mod plugins;
mod records;
mod telemetry;

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use alarms::{AlarmComment, AlarmEvent, AlarmFilter, AlarmTransition};
pub use entities::{Device, Tenant, Well, Wellpad};
pub use error::StorageError;
pub use plugins::{Binding, NewBinding, NewPlugin, StoredPlugin};
pub use records::{DeadLetter, PluginRun, StoredRecommendation};

/// Storage results.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The storage interface, backed by SQLite.
#[derive(Clone, Debug)]
pub struct Storage {
    pool: SqlitePool,
}

impl Storage {
    /// Opens (creating if needed) `nexus.db` in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StorageError::Io(format!("{}: {e}", data_dir.display())))?;
        let url = format!("sqlite://{}", data_dir.join("nexus.db").display());
        Self::connect(&url, 8).await
    }

    /// A private in-memory database (tests).
    pub async fn in_memory() -> Result<Self> {
        Self::connect("sqlite::memory:", 1).await
    }

    async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL is durable against process crashes; FULL adds
            // power-loss durability at a cost per commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(max_connections).connect_with(options).await?;
        SQLITE_MIGRATOR.run(&pool).await.map_err(|e| StorageError::Migration(e.to_string()))?;
        Ok(Self { pool })
    }
}

impl Storage {
    /// A write transaction. `BEGIN IMMEDIATE` takes the write lock up front,
    /// so a transaction that reads before it writes waits for other writers
    /// (busy timeout) instead of failing with `SQLITE_BUSY_SNAPSHOT` when its
    /// read snapshot went stale.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// A new random id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
