//! Well tests.

use async_trait::async_trait;
use nexus_model::{
    Actor, EntityAction, EntityKind, RecordedWellTest, TenantId, TimestampMs, WellId, WellTest, WellTestId,
};
use nexus_storage::{Result, StorageError, WellTestStore, entity_event};
use serde_json::json;
use sqlx::sqlite::SqliteRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{SqliteStore, conflict_or, corrupt, db};

#[async_trait]
impl WellTestStore for SqliteStore {
    async fn record_well_test(
        &self,
        tenant: &TenantId,
        well: &WellId,
        test: &WellTest,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<RecordedWellTest> {
        if !self.has_row("well", tenant, well.as_str()).await? {
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
            "INSERT INTO well_test (id, tenant_id, well_id, ts, duration_h, oil_bbl_d, water_bbl_d, gas_mscf_d,
             conditions, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(recorded.id.as_str())
        .bind(tenant.as_str())
        .bind(well.as_str())
        .bind(test.ts)
        .bind(test.duration_h)
        .bind(test.oil_bbl_d)
        .bind(test.water_bbl_d)
        .bind(test.gas_mscf_d)
        .bind(test.conditions.to_string())
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
        if !self.has_row("well", tenant, well.as_str()).await? {
            return Err(StorageError::not_found("well", well));
        }
        let rows =
            sqlx::query("SELECT * FROM well_test WHERE tenant_id = ? AND well_id = ? ORDER BY ts DESC, id LIMIT ?")
                .bind(tenant.as_str())
                .bind(well.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db)?;
        rows.iter().map(row).collect()
    }
}

fn row(row: &SqliteRow) -> Result<RecordedWellTest> {
    let conditions: String = get(row, "conditions")?;
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
            conditions: serde_json::from_str(&conditions).map_err(corrupt)?,
        },
        created_time: get(row, "created_time")?,
    })
}
