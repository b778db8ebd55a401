//! # nexus-storage-postgres
//!
//! The PostgreSQL backend of the storage ports, for a field bigger than one
//! site. It implements every trait of `nexus-storage` with the semantics of
//! the embedded SQLite backend and passes the same conformance suite
//! (`tests/postgres.rs`, each case in a fresh database).
//!
//! ```no_run
//! # async fn run() -> Result<(), nexus_storage::StorageError> {
//! use std::sync::Arc;
//! use nexus_storage::Store;
//! use nexus_storage_postgres::PostgresStore;
//!
//! // Connects, migrates (`migrations/postgres`) and creates the telemetry
//! // partitions of the coming days.
//! let store = PostgresStore::connect("postgres://nexus@db.example:5432/nexus").await?;
//! let store: Arc<dyn Store> = Arc::new(store);
//! assert_eq!(store.backend(), "postgres");
//! # Ok(()) }
//! ```
//!
//! Tables live in three schemas: `pf` (production facilities: tenants,
//! wells, devices, telemetry, alarms), `po` (production optimization:
//! recommendations) and `host` (the plugin host's own: plugins, bindings,
//! state, records, the outbox, identity, audit). Every query takes the
//! tenant. Telemetry is a TimescaleDB hypertable when the extension is
//! there, and natively partitioned by day otherwise ([`TelemetryLayout`]);
//! the queries are the same on both.
//!
//! Concurrency, where SQLite had one writer: the outbox is appended under a
//! transaction-scoped advisory lock, so `seq` order is commit order (see
//! `outbox.rs`); alarms and refresh tokens are read `FOR UPDATE` before they
//! change; metered use and cursors are single upserts.

mod alarms;
mod chunks;
mod commit;
mod connectors;
mod entities;
mod forecasts;
mod identity;
mod lifecycle;
mod monitor;
mod notifications;
mod outbox;
mod partitions;
mod plugins;
mod records;
mod releases;
mod rows;
mod series;
mod setpoints;
mod signals;
mod telemetry;
mod well_tests;

use std::str::FromStr;
use std::time::Duration;

use nexus_storage::{Result, StorageError, Store};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

pub use partitions::TelemetryLayout;

static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections in the pool.
const MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free connection (or for a new one while
/// the server is down) before the database counts as unavailable: a
/// request is refused with 503 after it rather than held.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest any one statement may run (server side).
const STATEMENT_TIMEOUT: &str = "30s";
/// Longest a transaction may sit idle (a stuck caller cannot hold locks).
const IDLE_IN_TRANSACTION_TIMEOUT: &str = "60s";

/// The PostgreSQL store. Cheap to clone (a pool of connections).
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pool: PgPool,
    layout: TelemetryLayout,
    /// Series numbers committed, shared by the clones.
    series: std::sync::Arc<series::SeriesIds>,
    /// The background partition maintainer runs while a clone lives.
    _alive: std::sync::Arc<()>,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`),
    /// migrates it to the latest schema and, when telemetry is partitioned,
    /// creates the partitions of the coming days (and keeps doing so in the
    /// background while the store lives).
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StorageError::Backend(format!("{url}: {e}")))?;
        Self::connect_with(options).await
    }

    /// [`PostgresStore::connect`] with options built in code.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        // Migrations' notices (IF NOT EXISTS ...) are not news.
        let options = options.application_name("nexus").options([("client_min_messages", "warning")]);
        // Migrating, and moving rows into new partitions, may take longer
        // than a statement of the running store may: a connection of its
        // own, without the timeouts.
        let mut setup = PgConnection::connect_with(&options).await.map_err(db)?;
        POSTGRES_MIGRATOR.run(&mut setup).await.map_err(|e| StorageError::Migration(e.to_string()))?;
        let layout = partitions::layout(&mut setup).await?;
        if layout == TelemetryLayout::Partitioned {
            partitions::ensure_around(&mut setup, partitions::now_ms()).await?;
        }
        setup.close().await.map_err(db)?;
        let options = options.options([
            ("statement_timeout", STATEMENT_TIMEOUT),
            ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db)?;
        let alive = std::sync::Arc::new(());
        if layout == TelemetryLayout::Partitioned {
            partitions::spawn_maintainer(pool.clone(), std::sync::Arc::downgrade(&alive));
        }
        Ok(Self { pool, layout, series: Default::default(), _alive: alive })
    }

    /// How telemetry is stored in this database.
    pub fn telemetry_layout(&self) -> TelemetryLayout {
        self.layout
    }

    /// Creates the telemetry partitions of the UTC days from `start` to
    /// `end` (ms, both included) that do not exist yet, moving their rows
    /// out of the default partition; returns how many it created. Nothing
    /// on a hypertable. The store already keeps the coming days covered.
    pub async fn ensure_partitions(&self, start: i64, end: i64) -> Result<u32> {
        partitions::ensure(&mut *self.pool.acquire().await.map_err(db)?, start, end).await
    }

    /// Drops telemetry stamped before `before` (ms) a whole day partition at
    /// a time (and from the default partition); returns how many partitions
    /// it dropped. Nothing on a hypertable, where Timescale's `drop_chunks`
    /// does the same.
    pub async fn drop_partitions_before(&self, before: i64) -> Result<u32> {
        partitions::drop_before(&mut *self.pool.acquire().await.map_err(db)?, before).await
    }

    /// A write transaction.
    pub(crate) async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        self.pool.begin().await.map_err(db)
    }
}

impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    /// Two: a commit's time is mostly the server writing rows, so a second
    /// one keeps the server busy while the first waits on its round trips
    /// and flush (see README, "Performance").
    fn concurrent_writers(&self) -> usize {
        2
    }
}

/// SQLSTATE of a unique-constraint violation.
pub(crate) const UNIQUE_VIOLATION: &str = "23505";

/// A database error as a storage error: a unique-constraint violation is a
/// conflict; an unreachable, restarting, overloaded or deadlocked database,
/// or a statement that ran out of time, is transient.
pub(crate) fn db(error: sqlx::Error) -> StorageError {
    match &error {
        sqlx::Error::Database(e) => {
            let code = e.code().unwrap_or_default();
            if code == UNIQUE_VIOLATION {
                StorageError::Conflict(e.message().to_string())
            } else if transient(&code) {
                StorageError::Unavailable(e.message().to_string())
            } else {
                StorageError::Backend(error.to_string())
            }
        }
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            StorageError::Unavailable(error.to_string())
        }
        _ => StorageError::Backend(error.to_string()),
    }
}

/// Whether a SQLSTATE says "retry later": connection exceptions (08),
/// serialization failures and deadlocks (40001, 40P01), insufficient
/// resources (53), lock and statement timeouts (55P03, 57014), and a server
/// shutting down or starting (57P01-57P03).
fn transient(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(code, "40001" | "40P01" | "55P03" | "57014" | "57P01" | "57P02" | "57P03")
}

/// A unique-constraint violation as a conflict with a message for people.
pub(crate) fn conflict_or(error: sqlx::Error, message: impl FnOnce() -> String) -> StorageError {
    match &error {
        sqlx::Error::Database(e) if e.code().as_deref() == Some(UNIQUE_VIOLATION) => StorageError::Conflict(message()),
        _ => db(error),
    }
}

pub(crate) fn corrupt(e: impl std::fmt::Display) -> StorageError {
    StorageError::Corrupt(e.to_string())
}

/// A keyset page of `table`'s rows of a tenant in the order of `key` (a
/// comma-separated column list ending in `id`): the rows after the row
/// whose id is `$2`, at most `$3`. A cursor naming no row of the tenant
/// gives an empty page. Binds: `$1` tenant, `$2` cursor, `$3` limit.
pub(crate) fn page_sql(select: &str, table: &str, key: &str) -> String {
    format!(
        "{select} FROM {table} WHERE tenant_id = $1 AND ($2::text IS NULL OR ({key}) > \
         (SELECT {key} FROM {table} WHERE id = $2 AND tenant_id = $1)) ORDER BY {key} LIMIT $3"
    )
}

/// A page's limit as PostgreSQL takes it.
pub(crate) fn page_limit(page: &nexus_model::Page) -> i64 {
    i64::from(page.limit)
}
