//! Tenants, wellpads, wells and devices.

use async_trait::async_trait;
use nexus_model::{
    Actor, Device, DeviceId, EntityAction, EntityKind, FieldConstraints, Page, Tenant, TenantId, TenantProfile,
    TimestampMs, Well, WellId, Wellpad, WellpadId, is_token_hash, token_hash,
};
use nexus_storage::{EntityStore, NewDevice, NewWell, Result, StorageError, entity_event};
use serde_json::json;

use crate::outbox::append;
use crate::rows::{self, get};
use crate::{SqliteStore, conflict_or, corrupt, db, page_limit, page_sql};

impl SqliteStore {
    /// Replaces any raw access token left from before tokens were hashed.
    pub(crate) async fn hash_legacy_tokens(&self) -> Result<()> {
        let rows = sqlx::query("SELECT id, token_hash FROM device").fetch_all(&self.pool).await.map_err(db)?;
        for row in rows {
            let stored: String = get(&row, "token_hash")?;
            if is_token_hash(&stored) {
                continue;
            }
            sqlx::query("UPDATE device SET token_hash = ? WHERE id = ?")
                .bind(token_hash(&stored))
                .bind(get::<String>(&row, "id")?)
                .execute(&self.writer)
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    pub(crate) async fn has_row(&self, table: &'static str, tenant: &TenantId, id: &str) -> Result<bool> {
        let sql = format!("SELECT 1 FROM {table} WHERE id = ? AND tenant_id = ?");
        let found = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl EntityStore for SqliteStore {
    async fn ensure_tenant(&self, id: &TenantId, name: &str, now: TimestampMs) -> Result<Tenant> {
        sqlx::query("INSERT INTO tenant (id, name, created_time) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING")
            .bind(id.as_str())
            .bind(name)
            .bind(now)
            .execute(&self.writer)
            .await
            .map_err(db)?;
        let row = sqlx::query("SELECT id, name, created_time FROM tenant WHERE id = ?")
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        Ok(Tenant {
            id: get::<String>(&row, "id")?.into(),
            name: get(&row, "name")?,
            created_time: get(&row, "created_time")?,
        })
    }

    async fn tenant_profile(&self, tenant: &TenantId) -> Result<TenantProfile> {
        let profile: Option<String> = sqlx::query_scalar("SELECT profile FROM tenant WHERE id = ?")
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        profile.map(|p| serde_json::from_str(&p).map_err(corrupt)).transpose().map(Option::unwrap_or_default)
    }

    async fn set_tenant_profile(
        &self,
        tenant: &TenantId,
        profile: &TenantProfile,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()> {
        let text = serde_json::to_string(profile).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE tenant SET profile = ? WHERE id = ?")
            .bind(&text)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("tenant", tenant));
        }
        let summary = serde_json::to_value(profile).map_err(corrupt)?;
        let event = entity_event(tenant, now, EntityKind::Tenant, tenant, EntityAction::Updated, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_wellpad(&self, tenant: &TenantId, name: &str, actor: &Actor, now: TimestampMs) -> Result<Wellpad> {
        let pad = Wellpad {
            id: WellpadId::random(),
            tenant_id: tenant.clone(),
            name: name.into(),
            constraints: FieldConstraints::default(),
            created_time: now,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO wellpad (id, tenant_id, name, created_time) VALUES (?, ?, ?, ?)")
            .bind(pad.id.as_str())
            .bind(tenant.as_str())
            .bind(&pad.name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let summary = json!({"name": pad.name});
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Wellpad, &pad.id, EntityAction::Created, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(pad)
    }

    async fn wellpad(&self, tenant: &TenantId, id: &WellpadId) -> Result<Wellpad> {
        let row = sqlx::query("SELECT * FROM wellpad WHERE id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("wellpad", id))?;
        rows::wellpad(&row)
    }

    async fn set_wellpad_constraints(
        &self,
        tenant: &TenantId,
        id: &WellpadId,
        constraints: &FieldConstraints,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Wellpad> {
        let value = serde_json::to_value(constraints).map_err(corrupt)?;
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE wellpad SET constraints = ? WHERE id = ? AND tenant_id = ?")
            .bind(value.to_string())
            .bind(id.as_str())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("wellpad", id));
        }
        let summary = json!({"constraints": value});
        let event = entity_event(tenant, now, EntityKind::Wellpad, id, EntityAction::Updated, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        self.wellpad(tenant, id).await
    }

    async fn create_well(&self, tenant: &TenantId, new: &NewWell, actor: &Actor, now: TimestampMs) -> Result<Well> {
        if let Some(pad) = &new.wellpad_id
            && !self.has_row("wellpad", tenant, pad.as_str()).await?
        {
            return Err(StorageError::not_found("wellpad", pad));
        }
        let well = Well {
            id: WellId::random(),
            tenant_id: tenant.clone(),
            name: new.name.clone(),
            wellpad_id: new.wellpad_id.clone(),
            status: "PRODUCING".into(),
            static_data: new.static_data.clone(),
            created_time: now,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO well (id, tenant_id, name, wellpad_id, status, static_data, created_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(well.id.as_str())
        .bind(tenant.as_str())
        .bind(&well.name)
        .bind(well.wellpad_id.as_ref().map(|p| p.as_str()))
        .bind(&well.status)
        .bind(well.static_data.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let summary = json!({"name": well.name, "wellpad_id": well.wellpad_id});
        append(
            &mut tx,
            vec![entity_event(tenant, now, EntityKind::Well, &well.id, EntityAction::Created, actor, summary)],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(well)
    }

    async fn well(&self, tenant: &TenantId, id: &WellId) -> Result<Well> {
        let row = sqlx::query("SELECT * FROM well WHERE id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("well", id))?;
        rows::well(&row)
    }

    async fn wells(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Well>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql("SELECT *", "well", "name, id")))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rows::well).collect()
    }

    async fn create_device(
        &self,
        tenant: &TenantId,
        new: &NewDevice,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Device> {
        if let Some(well) = &new.well_id
            && !self.has_row("well", tenant, well.as_str()).await?
        {
            return Err(StorageError::not_found("well", well));
        }
        let device = Device {
            id: DeviceId::random(),
            tenant_id: tenant.clone(),
            name: new.name.clone(),
            well_id: new.well_id.clone(),
            created_time: now,
            token_issued_time: now,
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO device (id, tenant_id, name, well_id, token_hash, created_time, token_issued_time)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(device.id.as_str())
        .bind(tenant.as_str())
        .bind(&device.name)
        .bind(device.well_id.as_ref().map(|w| w.as_str()))
        .bind(&new.token_hash)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("a device named `{}` or with that access token exists", new.name)))?;
        let summary = json!({"name": device.name, "well_id": device.well_id});
        let event = entity_event(tenant, now, EntityKind::Device, &device.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(device)
    }

    async fn device(&self, tenant: &TenantId, id: &DeviceId) -> Result<Device> {
        let row = sqlx::query("SELECT * FROM device WHERE id = ? AND tenant_id = ?")
            .bind(id.as_str())
            .bind(tenant.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .ok_or_else(|| StorageError::not_found("device", id))?;
        rows::device(&row)
    }

    async fn devices(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Device>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(page_sql("SELECT *", "device", "name, id")))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(rows::device).collect()
    }

    async fn device_by_token_hash(&self, hash: &str) -> Result<Option<Device>> {
        let row = sqlx::query("SELECT * FROM device WHERE token_hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(rows::device).transpose()
    }

    async fn rotate_device_token(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        hash: &str,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Device> {
        let mut tx = self.write_tx().await?;
        let done =
            sqlx::query("UPDATE device SET token_hash = ?, token_issued_time = ? WHERE id = ? AND tenant_id = ?")
                .bind(hash)
                .bind(now)
                .bind(id.as_str())
                .bind(tenant.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, || "that access token is taken".into()))?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("device", id));
        }
        let event = entity_event(tenant, now, EntityKind::Device, id, EntityAction::TokenRotated, actor, json!({}));
        append(&mut tx, vec![event]).await?;
        let row =
            sqlx::query("SELECT * FROM device WHERE id = ?").bind(id.as_str()).fetch_one(&mut *tx).await.map_err(db)?;
        let device = rows::device(&row)?;
        tx.commit().await.map_err(db)?;
        Ok(device)
    }
}
