//! Tenants, wellpads, wells and devices.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::{Result, Storage, StorageError, new_id};

/// A tenant: the unit of isolation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time, ms.
    pub created_time: i64,
}

/// A wellpad (pf.wellpad).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wellpad {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Creation time, ms.
    pub created_time: i64,
}

/// A well (pf.well).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Well {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Wellpad, if any.
    pub wellpad_id: Option<String>,
    /// Status, e.g. `PRODUCING`.
    pub status: String,
    /// Static data for optimizers.
    pub static_data: serde_json::Value,
    /// Creation time, ms.
    pub created_time: i64,
}

/// A device: a telemetry source with an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Device {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name, unique per tenant.
    pub name: String,
    /// The well it instruments, if any.
    pub well_id: Option<String>,
    /// Credential for the device API.
    pub access_token: String,
    /// Creation time, ms.
    pub created_time: i64,
}

fn device_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Device> {
    Ok(Device {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        well_id: row.try_get("well_id")?,
        access_token: row.try_get("access_token")?,
        created_time: row.try_get("created_time")?,
    })
}

fn well_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<Well> {
    let static_data: String = row.try_get("static_data")?;
    Ok(Well {
        id: row.try_get("id")?,
        tenant_id: row.try_get("tenant_id")?,
        name: row.try_get("name")?,
        wellpad_id: row.try_get("wellpad_id")?,
        status: row.try_get("status")?,
        static_data: serde_json::from_str(&static_data).map_err(|e| StorageError::Corrupt(e.to_string()))?,
        created_time: row.try_get("created_time")?,
    })
}

impl Storage {
    /// Creates a tenant, or returns the existing one with that id.
    pub async fn ensure_tenant(&self, id: &str, name: &str) -> Result<Tenant> {
        let now = nexus_model::now_ms();
        sqlx::query("INSERT INTO tenant (id, name, created_time) VALUES (?, ?, ?) ON CONFLICT(id) DO NOTHING")
            .bind(id)
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let row = sqlx::query("SELECT id, name, created_time FROM tenant WHERE id = ?")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Tenant { id: row.try_get("id")?, name: row.try_get("name")?, created_time: row.try_get("created_time")? })
    }

    /// The tenant's plan (empty when none was set).
    pub async fn tenant_plan(&self, tenant_id: &str) -> Result<nexus_model::TenantPlan> {
        let plan: Option<String> = sqlx::query_scalar("SELECT plan FROM tenant WHERE id = ?")
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?;
        plan.map(|p| serde_json::from_str(&p).map_err(|e| StorageError::Corrupt(e.to_string())))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Sets the tenant's plan.
    pub async fn set_tenant_plan(&self, tenant_id: &str, plan: &nexus_model::TenantPlan) -> Result<()> {
        let text = serde_json::to_string(plan).map_err(|e| StorageError::Corrupt(e.to_string()))?;
        sqlx::query("UPDATE tenant SET plan = ? WHERE id = ?").bind(text).bind(tenant_id).execute(&self.pool).await?;
        Ok(())
    }

    /// Adds metered use to a tenant's month.
    pub async fn add_usage(&self, tenant_id: &str, month: &str, executions: u64, fuel: u64) -> Result<()> {
        sqlx::query(
            "INSERT INTO tenant_usage (tenant_id, month, executions, fuel) VALUES (?, ?, ?, ?)
             ON CONFLICT(tenant_id, month) DO UPDATE SET executions = executions + excluded.executions,
             fuel = fuel + excluded.fuel",
        )
        .bind(tenant_id)
        .bind(month)
        .bind(i64::try_from(executions).unwrap_or(i64::MAX))
        .bind(i64::try_from(fuel).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A tenant's metered use in a month.
    pub async fn usage(&self, tenant_id: &str, month: &str) -> Result<nexus_model::Usage> {
        let row = sqlx::query("SELECT executions, fuel FROM tenant_usage WHERE tenant_id = ? AND month = ?")
            .bind(tenant_id)
            .bind(month)
            .fetch_optional(&self.pool)
            .await?;
        let (executions, fuel) = match row {
            Some(row) => (row.try_get::<i64, _>("executions")?, row.try_get::<i64, _>("fuel")?),
            None => (0, 0),
        };
        Ok(nexus_model::Usage { month: month.into(), executions: executions.max(0) as u64, fuel: fuel.max(0) as u64 })
    }

    /// Creates a wellpad.
    pub async fn create_wellpad(&self, tenant_id: &str, name: &str) -> Result<Wellpad> {
        let pad = Wellpad {
            id: new_id(),
            tenant_id: tenant_id.into(),
            name: name.into(),
            created_time: nexus_model::now_ms(),
        };
        sqlx::query("INSERT INTO wellpad (id, tenant_id, name, created_time) VALUES (?, ?, ?, ?)")
            .bind(&pad.id)
            .bind(&pad.tenant_id)
            .bind(&pad.name)
            .bind(pad.created_time)
            .execute(&self.pool)
            .await?;
        Ok(pad)
    }

    /// Creates a well; its wellpad must be the tenant's.
    pub async fn create_well(
        &self,
        tenant_id: &str,
        name: &str,
        wellpad_id: Option<&str>,
        static_data: &serde_json::Value,
    ) -> Result<Well> {
        if let Some(pad) = wellpad_id {
            let found = sqlx::query("SELECT 1 FROM wellpad WHERE id = ? AND tenant_id = ?")
                .bind(pad)
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
            if found.is_none() {
                return Err(StorageError::not_found("wellpad", pad));
            }
        }
        let well = Well {
            id: new_id(),
            tenant_id: tenant_id.into(),
            name: name.into(),
            wellpad_id: wellpad_id.map(str::to_string),
            status: "PRODUCING".into(),
            static_data: static_data.clone(),
            created_time: nexus_model::now_ms(),
        };
        sqlx::query(
            "INSERT INTO well (id, tenant_id, name, wellpad_id, status, static_data, created_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&well.id)
        .bind(&well.tenant_id)
        .bind(&well.name)
        .bind(&well.wellpad_id)
        .bind(&well.status)
        .bind(well.static_data.to_string())
        .bind(well.created_time)
        .execute(&self.pool)
        .await?;
        Ok(well)
    }

    /// A well of the tenant.
    pub async fn well(&self, tenant_id: &str, id: &str) -> Result<Well> {
        let row = sqlx::query("SELECT * FROM well WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::not_found("well", id))?;
        well_from_row(&row)
    }

    /// The tenant's wells.
    pub async fn wells(&self, tenant_id: &str) -> Result<Vec<Well>> {
        let rows = sqlx::query("SELECT * FROM well WHERE tenant_id = ? ORDER BY name")
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(well_from_row).collect()
    }

    /// Creates a device with a fresh access token (or the given one).
    pub async fn create_device(
        &self,
        tenant_id: &str,
        name: &str,
        well_id: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<Device> {
        if let Some(well) = well_id {
            self.well(tenant_id, well).await?;
        }
        let device = Device {
            id: new_id(),
            tenant_id: tenant_id.into(),
            name: name.into(),
            well_id: well_id.map(str::to_string),
            access_token: access_token.map(str::to_string).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string()),
            created_time: nexus_model::now_ms(),
        };
        sqlx::query(
            "INSERT INTO device (id, tenant_id, name, well_id, access_token, created_time) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&device.id)
        .bind(&device.tenant_id)
        .bind(&device.name)
        .bind(&device.well_id)
        .bind(&device.access_token)
        .bind(device.created_time)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            StorageError::conflict_or(e, || format!("a device named `{name}` or with that access token exists"))
        })?;
        Ok(device)
    }

    /// A device of the tenant.
    pub async fn device(&self, tenant_id: &str, id: &str) -> Result<Device> {
        let row = sqlx::query("SELECT * FROM device WHERE id = ? AND tenant_id = ?")
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StorageError::not_found("device", id))?;
        device_from_row(&row)
    }

    /// The tenant's devices.
    pub async fn devices(&self, tenant_id: &str) -> Result<Vec<Device>> {
        let rows = sqlx::query("SELECT * FROM device WHERE tenant_id = ? ORDER BY name")
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(device_from_row).collect()
    }

    /// The device holding an access token, across tenants (the device API).
    pub async fn device_by_token(&self, access_token: &str) -> Result<Option<Device>> {
        let row = sqlx::query("SELECT * FROM device WHERE access_token = ?")
            .bind(access_token)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }
}
