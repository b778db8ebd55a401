//! What the host observes of the PostgreSQL store: a ping through the pool,
//! the pool's size, and the tenant gauges.

use async_trait::async_trait;
use nexus_model::{DeviceId, Severity, TenantId, TimestampMs, WellId};
use nexus_storage::{MonitorStore, PoolStats, Result, StorageError};

use crate::{PostgresStore, db};

#[async_trait]
impl MonitorStore for PostgresStore {
    async fn ping(&self) -> Result<()> {
        // A pooled connection is checked by the pool before it is lent; the
        // query also finds the migrated schema, not just a server.
        let tables: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'pf' AND tablename = 'tenant'",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        match tables {
            1 => Ok(()),
            _ => Err(StorageError::Unavailable("the database holds no Nexus schema".into())),
        }
    }

    fn pools(&self) -> Vec<PoolStats> {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        vec![PoolStats {
            pool: "shared",
            idle,
            in_use: self.pool.size().saturating_sub(idle),
            max: self.pool.options().get_max_connections(),
        }]
    }

    async fn wells_reporting(&self, tenant: &TenantId, since: TimestampMs) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT d.well_id) FROM pf.telemetry_latest l
             JOIN pf.device d ON d.id = l.device_id AND d.tenant_id = l.tenant_id
             WHERE l.tenant_id = $1 AND l.ts >= $2 AND d.well_id IS NOT NULL",
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
            "SELECT l.ts, l.device_id FROM pf.telemetry_latest l
             JOIN pf.device d ON d.id = l.device_id AND d.tenant_id = l.tenant_id
             WHERE l.tenant_id = $1 AND d.well_id = $2 ORDER BY l.ts DESC, l.device_id LIMIT 1",
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
            "SELECT severity, count(*) FROM pf.alarm
             WHERE tenant_id = $1 AND status IN ('ACTIVE_UNACK', 'ACTIVE_ACK') GROUP BY severity",
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
