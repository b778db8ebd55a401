//! Recommendations, failed plugin runs and dead letters.

use nexus_model::{Recommendation, TimestampMs};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Storage, new_id};

/// A stored recommendation (po.recommendations).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredRecommendation {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// The optimizer binding that produced it.
    pub binding_id: String,
    /// The well, if the device has one.
    pub well_id: Option<String>,
    /// What was recommended.
    #[serde(flatten)]
    pub recommendation: Recommendation,
    /// `PENDING` until an operator acts.
    pub status: String,
    /// When, ms.
    pub created_ts: TimestampMs,
}

/// A failed plugin call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PluginRun {
    /// Owning tenant.
    pub tenant_id: String,
    /// The binding, if the call ran one.
    pub binding_id: Option<String>,
    /// Plugin name.
    pub plugin: String,
    /// Plugin version.
    pub version: String,
    /// Stable error code.
    pub error_code: String,
    /// Error message.
    pub error: String,
    /// Wall time, µs.
    pub duration_us: i64,
    /// Fuel used.
    pub fuel_used: i64,
    /// When, ms.
    pub ts: TimestampMs,
}

/// Something that could not be processed, kept with its reason.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Owning tenant.
    pub tenant_id: String,
    /// The binding, if a plugin failed.
    pub binding_id: Option<String>,
    /// The device, if known.
    pub device_id: Option<String>,
    /// `decode`, `validate` or `evaluate`.
    pub stage: String,
    /// Stable error code.
    pub error_code: String,
    /// The reason.
    pub error: String,
    /// The frame or batch as received.
    #[serde(skip)]
    pub payload: Vec<u8>,
    /// When, ms.
    pub ts: TimestampMs,
}

impl Storage {
    /// Stores recommendations of a binding.
    pub async fn insert_recommendations(
        &self,
        tenant_id: &str,
        binding_id: &str,
        well_id: Option<&str>,
        recommendations: &[Recommendation],
        ts: TimestampMs,
    ) -> Result<Vec<StoredRecommendation>> {
        let mut tx = self.write_tx().await?;
        let mut stored = Vec::with_capacity(recommendations.len());
        for r in recommendations {
            let rec = StoredRecommendation {
                id: new_id(),
                tenant_id: tenant_id.into(),
                binding_id: binding_id.into(),
                well_id: well_id.map(str::to_string),
                recommendation: r.clone(),
                status: "PENDING".into(),
                created_ts: ts,
            };
            sqlx::query(
                "INSERT INTO recommendation (id, tenant_id, binding_id, well_id, device_id, parameter, current_value,
                 proposed_value, unit, expected_gain, gain_unit, confidence, rationale, status, created_ts)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&rec.id)
            .bind(tenant_id)
            .bind(binding_id)
            .bind(well_id)
            .bind(&r.device_id)
            .bind(&r.parameter)
            .bind(r.current_value)
            .bind(r.proposed_value)
            .bind(&r.unit)
            .bind(r.expected_gain)
            .bind(&r.gain_unit)
            .bind(f64::from(r.confidence))
            .bind(&r.rationale)
            .bind(&rec.status)
            .bind(ts)
            .execute(&mut *tx)
            .await?;
            stored.push(rec);
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// The tenant's recommendations, newest first.
    pub async fn recommendations(&self, tenant_id: &str, limit: u32) -> Result<Vec<StoredRecommendation>> {
        let rows = sqlx::query("SELECT * FROM recommendation WHERE tenant_id = ? ORDER BY created_ts DESC LIMIT ?")
            .bind(tenant_id)
            .bind(i64::from(limit.min(1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredRecommendation {
                    id: row.try_get("id")?,
                    tenant_id: row.try_get("tenant_id")?,
                    binding_id: row.try_get("binding_id")?,
                    well_id: row.try_get("well_id")?,
                    recommendation: Recommendation {
                        device_id: row.try_get("device_id")?,
                        parameter: row.try_get("parameter")?,
                        current_value: row.try_get("current_value")?,
                        proposed_value: row.try_get("proposed_value")?,
                        unit: row.try_get("unit")?,
                        expected_gain: row.try_get("expected_gain")?,
                        gain_unit: row.try_get("gain_unit")?,
                        confidence: row.try_get::<f64, _>("confidence")? as f32,
                        rationale: row.try_get("rationale")?,
                    },
                    status: row.try_get("status")?,
                    created_ts: row.try_get("created_ts")?,
                })
            })
            .collect()
    }

    /// Records a failed plugin call.
    pub async fn insert_plugin_run(&self, run: &PluginRun) -> Result<()> {
        sqlx::query(
            "INSERT INTO plugin_run (tenant_id, binding_id, plugin, version, error_code, error, duration_us, fuel_used, ts)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&run.tenant_id)
        .bind(&run.binding_id)
        .bind(&run.plugin)
        .bind(&run.version)
        .bind(&run.error_code)
        .bind(&run.error)
        .bind(run.duration_us)
        .bind(run.fuel_used)
        .bind(run.ts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's failed plugin calls, newest first.
    pub async fn plugin_runs(&self, tenant_id: &str, limit: u32) -> Result<Vec<PluginRun>> {
        let rows = sqlx::query("SELECT * FROM plugin_run WHERE tenant_id = ? ORDER BY id DESC LIMIT ?")
            .bind(tenant_id)
            .bind(i64::from(limit.min(1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(PluginRun {
                    tenant_id: row.try_get("tenant_id")?,
                    binding_id: row.try_get("binding_id")?,
                    plugin: row.try_get("plugin")?,
                    version: row.try_get("version")?,
                    error_code: row.try_get("error_code")?,
                    error: row.try_get("error")?,
                    duration_us: row.try_get("duration_us")?,
                    fuel_used: row.try_get("fuel_used")?,
                    ts: row.try_get("ts")?,
                })
            })
            .collect()
    }

    /// Keeps something that could not be processed, with its reason.
    pub async fn insert_dead_letter(&self, letter: &DeadLetter) -> Result<()> {
        sqlx::query(
            "INSERT INTO dead_letter (tenant_id, binding_id, device_id, stage, error_code, error, payload, ts)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&letter.tenant_id)
        .bind(&letter.binding_id)
        .bind(&letter.device_id)
        .bind(&letter.stage)
        .bind(&letter.error_code)
        .bind(&letter.error)
        .bind(&letter.payload)
        .bind(letter.ts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's dead letters, newest first.
    pub async fn dead_letters(&self, tenant_id: &str, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query("SELECT * FROM dead_letter WHERE tenant_id = ? ORDER BY id DESC LIMIT ?")
            .bind(tenant_id)
            .bind(i64::from(limit.min(1000)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(DeadLetter {
                    tenant_id: row.try_get("tenant_id")?,
                    binding_id: row.try_get("binding_id")?,
                    device_id: row.try_get("device_id")?,
                    stage: row.try_get("stage")?,
                    error_code: row.try_get("error_code")?,
                    error: row.try_get("error")?,
                    payload: row.try_get("payload")?,
                    ts: row.try_get("ts")?,
                })
            })
            .collect()
    }
}
