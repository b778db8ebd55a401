//! Recommendations, failed plugin runs, dead letters and metered use.

use async_trait::async_trait;
use nexus_model::{
    DeadLetter, PluginRun, Recommendation, RecommendationId, RecommendationStatus, StoredRecommendation, TenantId,
    TimestampMs, Usage,
};
use nexus_storage::{NewRecommendation, RecordStore, Result, UsageDelta};

use crate::rows::{self, get};
use crate::{PostgresStore, corrupt, db};

pub(crate) async fn insert_recommendation(
    tx: &mut sqlx::PgConnection,
    tenant: &TenantId,
    new: &NewRecommendation,
    now: TimestampMs,
) -> Result<StoredRecommendation> {
    let r = &new.recommendation;
    let stored = StoredRecommendation {
        id: RecommendationId::random(),
        tenant_id: tenant.clone(),
        binding_id: new.binding_id.clone(),
        well_id: new.well_id.clone(),
        recommendation: r.clone(),
        status: RecommendationStatus::Proposed,
        created_ts: now,
    };
    sqlx::query(
        "INSERT INTO po.recommendation (id, tenant_id, binding_id, well_id, device_id, parameter, current_value,
         proposed_value, unit, expected_gain, gain_unit, confidence, rationale, status, created_ts, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(stored.id.as_str())
    .bind(tenant.as_str())
    .bind(new.binding_id.as_str())
    .bind(new.well_id.as_ref().map(|w| w.as_str()))
    .bind(r.device_id.as_str())
    .bind(&r.parameter)
    .bind(r.current_value)
    .bind(r.proposed_value)
    .bind(&r.unit)
    .bind(r.expected_gain)
    .bind(&r.gain_unit)
    .bind(r.confidence)
    .bind(&r.rationale)
    .bind(stored.status.as_str())
    .bind(now)
    .bind(&r.details)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(stored)
}

pub(crate) async fn insert_plugin_run(tx: &mut sqlx::PgConnection, run: &PluginRun) -> Result<()> {
    sqlx::query(
        "INSERT INTO host.plugin_run (tenant_id, binding_id, device_id, plugin, version, error_code, error,
         duration_us, fuel_used, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(run.tenant_id.as_str())
    .bind(run.binding_id.as_ref().map(|b| b.as_str()))
    .bind(run.device_id.as_ref().map(|d| d.as_str()))
    .bind(&run.plugin)
    .bind(&run.version)
    .bind(&run.error_code)
    .bind(&run.error)
    .bind(run.duration_us)
    .bind(run.fuel_used)
    .bind(run.ts)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn insert_dead_letter(tx: &mut sqlx::PgConnection, letter: &DeadLetter) -> Result<()> {
    sqlx::query(
        "INSERT INTO host.dead_letter (tenant_id, binding_id, device_id, stage, error_code, error, payload, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(letter.tenant_id.as_str())
    .bind(letter.binding_id.as_ref().map(|b| b.as_str()))
    .bind(letter.device_id.as_ref().map(|d| d.as_str()))
    .bind(letter.stage.as_str())
    .bind(&letter.error_code)
    .bind(&letter.error)
    .bind(&letter.payload)
    .bind(letter.ts)
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) async fn add_usage(tx: &mut sqlx::PgConnection, tenant: &TenantId, usage: &UsageDelta) -> Result<()> {
    sqlx::query(
        "INSERT INTO host.tenant_usage (tenant_id, month, executions, fuel) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, month) DO UPDATE SET executions = host.tenant_usage.executions + excluded.executions,
         fuel = host.tenant_usage.fuel + excluded.fuel",
    )
    .bind(tenant.as_str())
    .bind(&usage.month)
    .bind(i64::try_from(usage.executions).unwrap_or(i64::MAX))
    .bind(i64::try_from(usage.fuel).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    Ok(())
}

pub(crate) fn recommendation(row: &sqlx::postgres::PgRow) -> Result<StoredRecommendation> {
    let status: String = get(row, "status")?;
    Ok(StoredRecommendation {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        binding_id: get::<String>(row, "binding_id")?.into(),
        well_id: get::<Option<String>>(row, "well_id")?.map(Into::into),
        recommendation: Recommendation {
            device_id: get::<String>(row, "device_id")?.into(),
            parameter: get(row, "parameter")?,
            current_value: get(row, "current_value")?,
            proposed_value: get(row, "proposed_value")?,
            unit: get(row, "unit")?,
            expected_gain: get(row, "expected_gain")?,
            gain_unit: get(row, "gain_unit")?,
            confidence: get(row, "confidence")?,
            rationale: get(row, "rationale")?,
            details: get(row, "details")?,
        },
        status: RecommendationStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
        created_ts: get(row, "created_ts")?,
    })
}

#[async_trait]
impl RecordStore for PostgresStore {
    async fn recommendations(&self, tenant: &TenantId, limit: u32) -> Result<Vec<StoredRecommendation>> {
        let rows = sqlx::query(
            "SELECT * FROM po.recommendation WHERE tenant_id = $1 ORDER BY created_ts DESC, seq DESC LIMIT $2",
        )
        .bind(tenant.as_str())
        .bind(i64::from(limit.min(1000)))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(recommendation).collect()
    }

    async fn plugin_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<PluginRun>> {
        let rows = sqlx::query("SELECT * FROM host.plugin_run WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(tenant.as_str())
            .bind(i64::from(limit.min(1000)))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rows::plugin_run).collect()
    }

    async fn dead_letters(&self, tenant: &TenantId, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM host.dead_letter WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2")
            .bind(tenant.as_str())
            .bind(i64::from(limit.min(1000)))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rows::dead_letter).collect()
    }

    async fn prune_dead_letters(&self, before: TimestampMs, max_bytes_per_tenant: u64) -> Result<u64> {
        let mut tx = self.write_tx().await?;
        let old = sqlx::query("DELETE FROM host.dead_letter WHERE ts < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        // Newest first per tenant, a running sum of payload bytes: letters
        // past the budget go.
        let over = sqlx::query(
            "DELETE FROM host.dead_letter WHERE id IN (
                 SELECT id FROM (SELECT id, sum(octet_length(payload)) OVER (
                     PARTITION BY tenant_id ORDER BY id DESC ROWS UNBOUNDED PRECEDING) AS newer_bytes
                 FROM host.dead_letter) AS d WHERE newer_bytes > $1)",
        )
        .bind(i64::try_from(max_bytes_per_tenant).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        tx.commit().await.map_err(db)?;
        Ok(old + over)
    }

    async fn usage(&self, tenant: &TenantId, month: &str) -> Result<Usage> {
        let row = sqlx::query("SELECT executions, fuel FROM host.tenant_usage WHERE tenant_id = $1 AND month = $2")
            .bind(tenant.as_str())
            .bind(month)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        let (executions, fuel) = match row {
            Some(row) => (get::<i64>(&row, "executions")?, get::<i64>(&row, "fuel")?),
            None => (0, 0),
        };
        Ok(Usage { month: month.into(), executions: executions.max(0) as u64, fuel: fuel.max(0) as u64 })
    }
}
