//! Vendors' keys, releases, trust and approved releases.

use async_trait::async_trait;
use nexus_model::{
    Actor, Binding, BindingId, EntityAction, EntityKind, Page, PluginKind, PluginVersion, PluginVersionId, Release,
    ReleaseId, ReleaseStatus, TenantId, TimestampMs, TrustedVendor, VendorId, VendorKey, VendorKeyId,
};
use nexus_storage::{
    Installed, ReleaseStore, Result, Retirement, StorageError, entity_event, retirement_events, revoked_reason,
};
use serde_json::json;
use sqlx::sqlite::SqliteRow;

use crate::outbox::append;
use crate::rows::get;
use crate::{SqliteStore, conflict_or, corrupt, db, page_limit};

const KEY_COLUMNS: &str = "id, vendor_id, public_key, created_time, revoked_time, revoked_reason";
const RELEASE_COLUMNS: &str = "r.id, r.vendor_id, r.package, r.version, r.kind, r.digest, r.size_bytes, r.contract, \
     r.info, r.imports, r.description, r.licence, r.source_url, r.changelog, r.key_id, r.signature, r.published_by, \
     r.published_time, r.status, r.status_reason, r.status_time";

fn key(row: &SqliteRow) -> Result<VendorKey> {
    Ok(VendorKey {
        id: get::<String>(row, "id")?.into(),
        vendor_id: get::<String>(row, "vendor_id")?.into(),
        public_key: get(row, "public_key")?,
        created_time: get(row, "created_time")?,
        revoked_time: get(row, "revoked_time")?,
        revoked_reason: get(row, "revoked_reason")?,
    })
}

fn release(row: &SqliteRow) -> Result<Release> {
    let kind: String = get(row, "kind")?;
    let status: String = get(row, "status")?;
    Ok(Release {
        id: get::<String>(row, "id")?.into(),
        vendor_id: get::<String>(row, "vendor_id")?.into(),
        package: get(row, "package")?,
        version: get(row, "version")?,
        kind: PluginKind::parse(&kind).ok_or_else(|| corrupt(format!("release kind {kind}")))?,
        digest: get(row, "digest")?,
        size_bytes: get(row, "size_bytes")?,
        contract: get(row, "contract")?,
        info: serde_json::from_str(&get::<String>(row, "info")?).map_err(corrupt)?,
        imports: serde_json::from_str(&get::<String>(row, "imports")?).map_err(corrupt)?,
        description: get(row, "description")?,
        licence: get(row, "licence")?,
        source_url: get(row, "source_url")?,
        changelog: get(row, "changelog")?,
        key_id: get::<String>(row, "key_id")?.into(),
        signature: get(row, "signature")?,
        published_by: get(row, "published_by")?,
        published_time: get(row, "published_time")?,
        status: ReleaseStatus::parse(&status).ok_or_else(|| corrupt(format!("release status {status}")))?,
        status_reason: get(row, "status_reason")?,
        status_time: get(row, "status_time")?,
    })
}

#[async_trait]
impl ReleaseStore for SqliteStore {
    async fn insert_vendor_key(&self, vendor: &VendorId, public_key: &str, now: TimestampMs) -> Result<VendorKey> {
        let stored = VendorKey {
            id: VendorKeyId::random(),
            vendor_id: vendor.clone(),
            public_key: public_key.to_string(),
            created_time: now,
            revoked_time: None,
            revoked_reason: None,
        };
        let mut tx = self.write_tx().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM vendor WHERE id = ?")
            .bind(vendor.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        known.ok_or_else(|| StorageError::not_found("vendor", vendor))?;
        sqlx::query("INSERT INTO vendor_key (id, vendor_id, public_key, created_time) VALUES (?, ?, ?, ?)")
            .bind(stored.id.as_str())
            .bind(vendor.as_str())
            .bind(public_key)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(stored)
    }

    async fn vendor_keys(&self, vendor: &VendorId) -> Result<Vec<VendorKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM vendor_key WHERE vendor_id = ? ORDER BY created_time, id");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(vendor.as_str()).fetch_all(&self.pool).await.map_err(db)?;
        rows.iter().map(key).collect()
    }

    async fn vendor_key(&self, id: &VendorKeyId) -> Result<VendorKey> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM vendor_key WHERE id = ?");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(&self.pool).await.map_err(db)?;
        row.as_ref().map(key).transpose()?.ok_or_else(|| StorageError::not_found("key", id))
    }

    async fn revoke_vendor_key(
        &self,
        vendor: &VendorId,
        id: &VendorKeyId,
        reason: &str,
        now: TimestampMs,
    ) -> Result<VendorKey> {
        let mut tx = self.write_tx().await?;
        let sql = format!("SELECT {KEY_COLUMNS} FROM vendor_key WHERE id = ? AND vendor_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(vendor.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let mut found = row.as_ref().map(key).transpose()?.ok_or_else(|| StorageError::not_found("key", id))?;
        if let Some(at) = found.revoked_time {
            return Err(StorageError::Conflict(format!("key `{id}` was revoked at {at}")));
        }
        sqlx::query("UPDATE vendor_key SET revoked_time = ?, revoked_reason = ? WHERE id = ?")
            .bind(now)
            .bind(reason)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        found.revoked_time = Some(now);
        found.revoked_reason = Some(reason.to_string());
        Ok(found)
    }

    async fn insert_release(&self, new: &Release) -> Result<Release> {
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO vendor_release (id, vendor_id, package, version, kind, digest, size_bytes, contract, info, \
             imports, description, licence, source_url, changelog, key_id, signature, published_by, published_time) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.id.as_str())
        .bind(new.vendor_id.as_str())
        .bind(&new.package)
        .bind(&new.version)
        .bind(new.kind.as_str())
        .bind(&new.digest)
        .bind(new.size_bytes)
        .bind(&new.contract)
        .bind(serde_json::to_string(&new.info).map_err(corrupt)?)
        .bind(serde_json::to_string(&new.imports).map_err(corrupt)?)
        .bind(&new.description)
        .bind(&new.licence)
        .bind(&new.source_url)
        .bind(&new.changelog)
        .bind(new.key_id.as_str())
        .bind(&new.signature)
        .bind(&new.published_by)
        .bind(new.published_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            conflict_or(e, || format!("{}@{} is published already; publish a new version", new.package, new.version))
        })?;
        tx.commit().await.map_err(db)?;
        Ok(new.clone())
    }

    async fn release(&self, id: &ReleaseId) -> Result<Release> {
        let sql = format!("SELECT {RELEASE_COLUMNS} FROM vendor_release r WHERE r.id = ?");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.as_str()).fetch_optional(&self.pool).await.map_err(db)?;
        row.as_ref().map(release).transpose()?.ok_or_else(|| StorageError::not_found("release", id))
    }

    async fn vendor_releases(&self, vendor: &VendorId, page: &Page) -> Result<Vec<Release>> {
        let sql = format!(
            "SELECT {RELEASE_COLUMNS} FROM vendor_release r WHERE r.vendor_id = ?1 AND (?2 IS NULL OR \
             (r.published_time, r.id) > (SELECT published_time, id FROM vendor_release WHERE id = ?2)) \
             ORDER BY r.published_time, r.id LIMIT ?3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(vendor.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(release).collect()
    }

    async fn trusted_releases(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Release>> {
        let sql = format!(
            "SELECT {RELEASE_COLUMNS} FROM vendor_release r JOIN trusted_vendor t \
             ON t.vendor_id = r.vendor_id AND t.tenant_id = ?1 WHERE (?2 IS NULL OR \
             (r.published_time, r.id) > (SELECT published_time, id FROM vendor_release WHERE id = ?2)) \
             ORDER BY r.published_time, r.id LIMIT ?3"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(tenant.as_str())
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        rows.iter().map(release).collect()
    }

    async fn trust_vendor(
        &self,
        tenant: &TenantId,
        vendor: &VendorId,
        fallback: bool,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM vendor WHERE id = ?")
            .bind(vendor.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        known.ok_or_else(|| StorageError::not_found("vendor", vendor))?;
        let before: Option<i64> =
            sqlx::query_scalar("SELECT fallback FROM trusted_vendor WHERE tenant_id = ? AND vendor_id = ?")
                .bind(tenant.as_str())
                .bind(vendor.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db)?;
        let action = match before {
            Some(was) if (was != 0) == fallback => return tx.commit().await.map_err(db),
            Some(_) => EntityAction::Updated,
            None => EntityAction::Created,
        };
        sqlx::query(
            "INSERT INTO trusted_vendor (tenant_id, vendor_id, fallback, created_time) VALUES (?, ?, ?, ?) \
             ON CONFLICT (tenant_id, vendor_id) DO UPDATE SET fallback = excluded.fallback",
        )
        .bind(tenant.as_str())
        .bind(vendor.as_str())
        .bind(i64::from(fallback))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let summary = json!({"vendor_id": vendor, "trusted": true, "fallback": fallback});
        let event = entity_event(tenant, now, EntityKind::TrustedVendor, vendor, action, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn distrust_vendor(
        &self,
        tenant: &TenantId,
        vendor: &VendorId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()> {
        let mut tx = self.write_tx().await?;
        let removed = sqlx::query("DELETE FROM trusted_vendor WHERE tenant_id = ? AND vendor_id = ?")
            .bind(tenant.as_str())
            .bind(vendor.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?
            .rows_affected();
        if removed == 0 {
            return Err(StorageError::not_found("trusted vendor", vendor));
        }
        let summary = json!({"vendor_id": vendor, "trusted": false});
        let event = entity_event(tenant, now, EntityKind::TrustedVendor, vendor, EntityAction::Deleted, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)
    }

    async fn trusted_vendors(&self, tenant: &TenantId) -> Result<Vec<TrustedVendor>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT vendor_id, fallback, created_time FROM trusted_vendor WHERE tenant_id = ? ORDER BY vendor_id",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(vendor_id, fallback, created_time)| TrustedVendor {
                vendor_id: vendor_id.into(),
                fallback: fallback != 0,
                created_time,
            })
            .collect())
    }

    async fn release_bindings(&self, id: &ReleaseId) -> Result<Vec<Binding>> {
        let rows = sqlx::query(
            "SELECT b.* FROM binding b JOIN plugin p ON p.id = b.plugin_id WHERE p.release_id = ? \
             ORDER BY b.created_time, b.id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        self.bindings_from_rows(&rows).await
    }

    async fn retire_release(&self, retirement: &Retirement<'_>) -> Result<Release> {
        let id = retirement.release;
        let mut tx = self.write_tx().await?;
        let sql = format!("SELECT {RELEASE_COLUMNS} FROM vendor_release r WHERE r.id = ? AND r.vendor_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id.as_str())
            .bind(retirement.vendor.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let mut found = row.as_ref().map(release).transpose()?.ok_or_else(|| StorageError::not_found("release", id))?;
        if found.status == ReleaseStatus::Revoked || found.status == retirement.status {
            return Err(StorageError::Conflict(format!(
                "{}@{} is {} already",
                found.package,
                found.version,
                found.status.as_str()
            )));
        }
        sqlx::query("UPDATE vendor_release SET status = ?, status_reason = ?, status_time = ? WHERE id = ?")
            .bind(retirement.status.as_str())
            .bind(retirement.reason)
            .bind(retirement.now)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let plugins: Vec<(String, String)> =
            sqlx::query_as("SELECT tenant_id, id FROM plugin WHERE release_id = ? ORDER BY tenant_id, id")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db)?;
        let mut installed = Vec::with_capacity(plugins.len());
        for (tenant_id, plugin_id) in plugins {
            let bindings: Vec<String> =
                sqlx::query_scalar("SELECT id FROM binding WHERE plugin_id = ? ORDER BY created_time, id")
                    .bind(&plugin_id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
            installed.push(Installed {
                tenant_id: tenant_id.into(),
                plugin_id: plugin_id.into(),
                bindings: bindings.into_iter().map(BindingId::from).collect(),
            });
        }
        found.status = retirement.status;
        found.status_reason = Some(retirement.reason.to_string());
        found.status_time = Some(retirement.now);
        for moved in &retirement.moves {
            let query = match &moved.to {
                Some(to) => sqlx::query(
                    "UPDATE binding SET previous_plugin_id = plugin_id, plugin_id = ? WHERE id = ? AND tenant_id = ?",
                )
                .bind(to.as_str()),
                None => sqlx::query(
                    "UPDATE binding SET enabled = 0, quarantine_reason = ?, quarantined_time = ? \
                     WHERE id = ? AND tenant_id = ?",
                )
                .bind(revoked_reason(&found, retirement.reason))
                .bind(retirement.now),
            };
            query.bind(moved.binding_id.as_str()).bind(moved.tenant_id.as_str()).execute(&mut *tx).await.map_err(db)?;
        }
        append(&mut tx, retirement_events(retirement, &found, &installed)).await?;
        tx.commit().await.map_err(db)?;
        Ok(found)
    }

    async fn install_release(
        &self,
        tenant: &TenantId,
        release: &Release,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<PluginVersion> {
        let plugin = PluginVersion {
            id: PluginVersionId::random(),
            tenant_id: tenant.clone(),
            kind: release.kind,
            name: release.package.clone(),
            version: release.version.clone(),
            hash: release.digest.clone(),
            size_bytes: release.size_bytes,
            info: release.info.clone(),
            created_time: now,
            contract: release.contract.clone(),
            release_id: Some(release.id.clone()),
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO plugin (id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time, \
             contract, release_id) VALUES (?, ?, ?, ?, ?, ?, ?, X'', ?, ?, ?, ?)",
        )
        .bind(plugin.id.as_str())
        .bind(tenant.as_str())
        .bind(plugin.kind.as_str())
        .bind(&plugin.name)
        .bind(&plugin.version)
        .bind(&plugin.hash)
        .bind(plugin.size_bytes)
        .bind(serde_json::to_string(&plugin.info).map_err(corrupt)?)
        .bind(now)
        .bind(&plugin.contract)
        .bind(release.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("{}@{} is approved already", release.package, release.version)))?;
        let summary = json!({"kind": plugin.kind, "name": plugin.name, "version": plugin.version, "hash": plugin.hash,
                             "release_id": release.id, "vendor_id": release.vendor_id});
        let event = entity_event(tenant, now, EntityKind::Plugin, &plugin.id, EntityAction::Created, actor, summary);
        append(&mut tx, vec![event]).await?;
        tx.commit().await.map_err(db)?;
        Ok(plugin)
    }
}
