//! Well tests.

use async_trait::async_trait;
use nexus_model::{
    Actor, EntityAction, EntityKind, RecordedWellTest, TenantId, TimestampMs, WellId, WellTest, WellTestId,
};
use nexus_storage::{Result, StorageError, WellTestStore, entity_event};
use serde_json::json;
use sqlx::postgres::PgRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{PostgresStore, conflict_or, db};

#[async_trait]
impl WellTestStore for PostgresStore {
    async fn record_well_test(
        &self,
        tenant: &TenantId,
        well: &WellId,
        test: &WellTest,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<RecordedWellTest> {
        if !self.has_row("pf.well", tenant, well.as_str()).await? {
            return Err(StorageError::not_found("well", well));
        }
        let recorded = RecordedWellTest {
            id: WellTestId::random(),
            tenant_id: tenant.clone(),
            well_id: well.clone(),
            test: test.clone(),
            created_time: now,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO pf.well_test (id, tenant_id, well_id, ts, duration_h, oil_bbl_d, water_bbl_d, gas_mscf_d,
             conditions, created_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(recorded.id.as_str())
        .bind(tenant.as_str())
        .bind(well.as_str())
        .bind(test.ts)
        .bind(test.duration_h)
        .bind(test.oil_bbl_d)
        .bind(test.water_bbl_d)
        .bind(test.gas_mscf_d)
        .bind(&test.conditions)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("well {well} has a test at {}", test.ts)))?;
        let summary = json!({"well_id": well, "ts": test.ts});
        let event =
            entity_event(tenant, now, EntityKind::WellTest, &recorded.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(recorded)
    }

    async fn well_tests(&self, tenant: &TenantId, well: &WellId, limit: u32) -> Result<Vec<RecordedWellTest>> {
        if !self.has_row("pf.well", tenant, well.as_str()).await? {
            return Err(StorageError::not_found("well", well));
        }
        let rows = sqlx::query(
            "SELECT * FROM pf.well_test WHERE tenant_id = $1 AND well_id = $2 ORDER BY ts DESC, id LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(well.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(row).collect()
    }
}

fn row(row: &PgRow) -> Result<RecordedWellTest> {
    Ok(RecordedWellTest {
        id: get::<String>(row, "id")?.into(),
        tenant_id: get::<String>(row, "tenant_id")?.into(),
        well_id: get::<String>(row, "well_id")?.into(),
        test: WellTest {
            ts: get(row, "ts")?,
            duration_h: get(row, "duration_h")?,
            oil_bbl_d: get(row, "oil_bbl_d")?,
            water_bbl_d: get(row, "water_bbl_d")?,
            gas_mscf_d: get(row, "gas_mscf_d")?,
            conditions: get(row, "conditions")?,
        },
        created_time: get(row, "created_time")?,
    })
}
