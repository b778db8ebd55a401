//! What the host observes of the SQLite store: a ping on the pools and on
//! a fresh connection to the file, the pools' sizes, and the tenant gauges.

use async_trait::async_trait;
use nexus_model::{DeviceId, Severity, TenantId, TimestampMs, WellId};
use nexus_storage::{MonitorStore, PoolStats, Result, StorageError};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use crate::{SqliteStore, db};

/// How long the fresh connection of a ping waits for a lock.
const PING_BUSY: std::time::Duration = std::time::Duration::from_secs(2);

fn stats(pool: &'static str, of: &SqlitePool) -> PoolStats {
    let idle = u32::try_from(of.num_idle()).unwrap_or(u32::MAX);
    PoolStats { pool, idle, in_use: of.size().saturating_sub(idle), max: of.options().get_max_connections() }
}

#[async_trait]
impl MonitorStore for SqliteStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.pool).await.map_err(db)?;
        sqlx::query_scalar::<_, i64>("SELECT 1").fetch_one(&self.writer).await.map_err(db)?;
        let Some(file) = &self.file else { return Ok(()) };
        // The pools' connections keep answering from an open file that was
        // deleted or moved; a new connection opens what is there now.
        let options = SqliteConnectOptions::new()
            .filename(file)
            .read_only(true)
            .create_if_missing(false)
            .busy_timeout(PING_BUSY)
            .disable_statement_logging();
        let mut connection = options.connect().await.map_err(|e| unavailable(file, e))?;
        // An empty or short file opens as an empty database: ask for a table
        // every Nexus database has.
        let read =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tenant'")
                .fetch_one(&mut connection)
                .await;
        let _ = connection.close().await;
        match read.map_err(|e| unavailable(file, e))? {
            1 => Ok(()),
            _ => Err(StorageError::Unavailable(format!("{} holds no Nexus database", file.display()))),
        }
    }

    fn pools(&self) -> Vec<PoolStats> {
        if self.file.is_none() {
            // In memory: one connection serves reads and writes.
            return vec![stats("shared", &self.writer)];
        }
        vec![stats("read", &self.pool), stats("write", &self.writer)]
    }

    async fn wells_reporting(&self, tenant: &TenantId, since: TimestampMs) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT d.well_id) FROM series s
             JOIN telemetry_latest l ON l.series_id = s.id
             JOIN device d ON d.id = s.device_id AND d.tenant_id = s.tenant_id
             WHERE s.tenant_id = ? AND l.ts >= ? AND d.well_id IS NOT NULL",
        )
        .bind(tenant.as_str())
        .bind(since)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn well_last_report(&self, tenant: &TenantId, well: &WellId) -> Result<Option<(TimestampMs, DeviceId)>> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT l.ts, s.device_id FROM series s
             JOIN telemetry_latest l ON l.series_id = s.id
             JOIN device d ON d.id = s.device_id AND d.tenant_id = s.tenant_id
             WHERE s.tenant_id = ? AND d.well_id = ? ORDER BY l.ts DESC, s.device_id LIMIT 1",
        )
        .bind(tenant.as_str())
        .bind(well.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|(ts, device)| (ts, DeviceId::from(device))))
    }

    async fn open_alarms_by_severity(&self, tenant: &TenantId) -> Result<Vec<(Severity, u64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT severity, count(*) FROM alarm
             WHERE tenant_id = ? AND status IN ('ACTIVE_UNACK', 'ACTIVE_ACK') GROUP BY severity",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(severity, n)| {
                let severity = Severity::parse(&severity)
                    .ok_or_else(|| StorageError::Corrupt(format!("alarm severity `{severity}`")))?;
                Ok((severity, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}

fn unavailable(file: &std::path::Path, error: sqlx::Error) -> StorageError {
    StorageError::Unavailable(format!("{}: {error}", file.display()))
}
