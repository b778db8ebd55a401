//! Vendors, users, sessions and refresh tokens, API keys, the audit log.

use async_trait::async_trait;
use nexus_model::{
    ApiKey, ApiKeyId, AuditEntry, Page, Role, Scope, Session, SessionId, Tenant, TenantId, TimestampMs, User, UserId,
    Vendor, VendorId,
};
use nexus_storage::{AuditQuery, IdentityStore, NewApiKey, NewAuditEntry, NewUser, Refreshed, Result, StorageError};
use sqlx::postgres::PgRow;

use crate::rows::get;
use crate::{PostgresStore, conflict_or, corrupt, db, page_limit};

/// A scope as its two columns.
fn scope_columns(scope: &Scope) -> (&'static str, Option<&str>) {
    match scope {
        Scope::System => ("system", None),
        Scope::Tenant(tenant) => ("tenant", Some(tenant.as_str())),
        Scope::Vendor(vendor) => ("vendor", Some(vendor.as_str())),
    }
}

fn scope_of(row: &PgRow) -> Result<Scope> {
    let kind: String = get(row, "scope_kind")?;
    let id: Option<String> = get(row, "scope_id")?;
    match (kind.as_str(), id) {
        ("system", None) => Ok(Scope::System),
        ("tenant", Some(id)) => Ok(Scope::Tenant(id.into())),
        ("vendor", Some(id)) => Ok(Scope::Vendor(id.into())),
        (kind, _) => Err(corrupt(format!("scope {kind}"))),
    }
}

fn role_of(row: &PgRow) -> Result<Role> {
    get::<String>(row, "role")?.parse().map_err(corrupt)
}

fn user(row: &PgRow) -> Result<User> {
    Ok(User {
        id: get::<String>(row, "id")?.into(),
        email: get(row, "email")?,
        role: role_of(row)?,
        scope: scope_of(row)?,
        password_hash: get(row, "password_hash")?,
        created_time: get(row, "created_time")?,
    })
}

fn api_key(row: &PgRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: get::<String>(row, "id")?.into(),
        name: get(row, "name")?,
        role: role_of(row)?,
        scope: scope_of(row)?,
        expires_time: get(row, "expires_time")?,
        revoked_time: get(row, "revoked_time")?,
        created_time: get(row, "created_time")?,
    })
}

fn session(row: &PgRow) -> Result<Session> {
    Ok(Session {
        id: get::<String>(row, "id")?.into(),
        user_id: get::<String>(row, "user_id")?.into(),
        expires_time: get(row, "expires_time")?,
        revoked_time: get(row, "revoked_time")?,
    })
}

fn tenant(row: &PgRow) -> Result<Tenant> {
    Ok(Tenant {
        id: get::<String>(row, "id")?.into(),
        name: get(row, "name")?,
        created_time: get(row, "created_time")?,
    })
}

fn vendor(row: &PgRow) -> Result<Vendor> {
    Ok(Vendor {
        id: get::<String>(row, "id")?.into(),
        name: get(row, "name")?,
        created_time: get(row, "created_time")?,
    })
}

const USER: &str = "SELECT id, email, role, scope_kind, scope_id, password_hash, created_time FROM host.app_user";
const API_KEY: &str =
    "SELECT id, name, role, scope_kind, scope_id, expires_time, revoked_time, created_time FROM host.api_key";

impl PostgresStore {
    /// A keyset page of a scope's rows of `table` (`select` reads from it)
    /// in the order of `key` (columns ending in `id`), after the row whose
    /// id is `page.after`.
    async fn scoped_page(
        &self,
        select: &str,
        table: &str,
        key: &str,
        scope: &Scope,
        page: &Page,
    ) -> Result<Vec<PgRow>> {
        let (kind, scope_id) = scope_columns(scope);
        let sql = format!(
            "{select} WHERE scope_kind = $1 AND scope_id IS NOT DISTINCT FROM $2 AND ($3::text IS NULL OR \
             ({key}) > (SELECT {key} FROM {table} WHERE id = $3 AND scope_kind = $1 \
             AND scope_id IS NOT DISTINCT FROM $2)) ORDER BY {key} LIMIT $4"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(kind)
            .bind(scope_id)
            .bind(page.after.as_deref())
            .bind(page_limit(page))
            .fetch_all(&self.pool)
            .await
            .map_err(db)
    }
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn tenants(&self, page: &Page) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(
            "SELECT id, name, created_time FROM pf.tenant WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
        )
        .bind(page.after.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(tenant).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Tenant> {
        let row = sqlx::query("SELECT id, name, created_time FROM pf.tenant WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(tenant).transpose()?.ok_or_else(|| StorageError::not_found("tenant", id))
    }

    async fn create_vendor(&self, name: &str, now: TimestampMs) -> Result<Vendor> {
        let id = VendorId::random();
        sqlx::query("INSERT INTO host.vendor (id, name, created_time) VALUES ($1, $2, $3)")
            .bind(id.as_str())
            .bind(name)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e, || format!("a vendor named `{name}` exists")))?;
        Ok(Vendor { id, name: name.to_string(), created_time: now })
    }

    async fn vendor(&self, id: &VendorId) -> Result<Vendor> {
        let row = sqlx::query("SELECT id, name, created_time FROM host.vendor WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(vendor).transpose()?.ok_or_else(|| StorageError::not_found("vendor", id))
    }

    async fn vendors(&self, page: &Page) -> Result<Vec<Vendor>> {
        let rows = sqlx::query(
            "SELECT id, name, created_time FROM host.vendor WHERE $1::text IS NULL OR (name, id) > \
             (SELECT name, id FROM host.vendor WHERE id = $1) ORDER BY name, id LIMIT $2",
        )
        .bind(page.after.as_deref())
        .bind(page_limit(page))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter().map(vendor).collect()
    }

    async fn insert_user(&self, new: &NewUser, now: TimestampMs) -> Result<User> {
        let id = UserId::random();
        let (kind, scope_id) = scope_columns(&new.scope);
        sqlx::query(
            "INSERT INTO host.app_user (id, email, role, scope_kind, scope_id, password_hash, created_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(&new.email)
        .bind(new.role.as_str())
        .bind(kind)
        .bind(scope_id)
        .bind(&new.password_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| conflict_or(e, || format!("a user with email `{}` exists", new.email)))?;
        Ok(User {
            id,
            email: new.email.clone(),
            role: new.role,
            scope: new.scope.clone(),
            password_hash: new.password_hash.clone(),
            created_time: now,
        })
    }

    async fn user(&self, id: &UserId) -> Result<User> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{USER} WHERE id = $1")))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(user).transpose()?.ok_or_else(|| StorageError::not_found("user", id))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{USER} WHERE email = $1")))
            .bind(email)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(user).transpose()
    }

    async fn users(&self, scope: &Scope, page: &Page) -> Result<Vec<User>> {
        let rows = self.scoped_page(USER, "host.app_user", "email, id", scope, page).await?;
        rows.iter().map(user).collect()
    }

    async fn any_user_with_role(&self, role: Role) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM host.app_user WHERE role = $1 LIMIT 1")
            .bind(role.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        Ok(found.is_some())
    }

    async fn delete_user(&self, scope: &Scope, id: &UserId) -> Result<()> {
        let (kind, scope_id) = scope_columns(scope);
        let done = sqlx::query(
            "DELETE FROM host.app_user WHERE id = $1 AND scope_kind = $2 AND scope_id IS NOT DISTINCT FROM $3",
        )
        .bind(id.as_str())
        .bind(kind)
        .bind(scope_id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("user", id));
        }
        Ok(())
    }

    async fn insert_session(&self, session: &Session, refresh_hash: &str, now: TimestampMs) -> Result<()> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO host.session (id, user_id, created_time, expires_time) VALUES ($1, $2, $3, $4)")
            .bind(session.id.as_str())
            .bind(session.user_id.as_str())
            .bind(now)
            .bind(session.expires_time)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO host.refresh_token (hash, session_id, issued_time) VALUES ($1, $2, $3)")
            .bind(refresh_hash)
            .bind(session.id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn session(&self, id: &SessionId) -> Result<Option<Session>> {
        let row = sqlx::query("SELECT id, user_id, expires_time, revoked_time FROM host.session WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(session).transpose()
    }

    async fn refresh_session(&self, hash: &str, new_hash: &str, now: TimestampMs) -> Result<Refreshed> {
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(
            "SELECT s.id, s.user_id, s.expires_time, s.revoked_time, r.used_time \
             FROM host.refresh_token r JOIN host.session s ON s.id = r.session_id WHERE r.hash = $1 \
             FOR UPDATE OF r, s",
        )
        .bind(hash)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let Some(row) = row else { return Ok(Refreshed::Refused) };
        let found = session(&row)?;
        let used: Option<TimestampMs> = get(&row, "used_time")?;
        if found.revoked_time.is_some() || found.expires_time <= now {
            return Ok(Refreshed::Refused);
        }
        if used.is_some() {
            sqlx::query("UPDATE host.session SET revoked_time = $1 WHERE id = $2")
                .bind(now)
                .bind(found.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            return Ok(Refreshed::Reused(found.id));
        }
        sqlx::query("UPDATE host.refresh_token SET used_time = $1 WHERE hash = $2")
            .bind(now)
            .bind(hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::query("INSERT INTO host.refresh_token (hash, session_id, issued_time) VALUES ($1, $2, $3)")
            .bind(new_hash)
            .bind(found.id.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Refreshed::Rotated(found))
    }

    async fn revoke_session(&self, id: &SessionId, now: TimestampMs) -> Result<()> {
        sqlx::query("UPDATE host.session SET revoked_time = COALESCE(revoked_time, $1) WHERE id = $2")
            .bind(now)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn insert_api_key(&self, new: &NewApiKey, now: TimestampMs) -> Result<ApiKey> {
        let id = ApiKeyId::random();
        let (kind, scope_id) = scope_columns(&new.scope);
        sqlx::query(
            "INSERT INTO host.api_key (id, hash, name, role, scope_kind, scope_id, expires_time, created_time) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.as_str())
        .bind(&new.hash)
        .bind(&new.name)
        .bind(new.role.as_str())
        .bind(kind)
        .bind(scope_id)
        .bind(new.expires_time)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(ApiKey {
            id,
            name: new.name.clone(),
            role: new.role,
            scope: new.scope.clone(),
            expires_time: new.expires_time,
            revoked_time: None,
            created_time: now,
        })
    }

    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{API_KEY} WHERE hash = $1")))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?;
        row.as_ref().map(api_key).transpose()
    }

    async fn api_keys(&self, scope: &Scope, page: &Page) -> Result<Vec<ApiKey>> {
        let rows = self.scoped_page(API_KEY, "host.api_key", "created_time, id", scope, page).await?;
        rows.iter().map(api_key).collect()
    }

    async fn revoke_api_key(&self, scope: &Scope, id: &ApiKeyId, now: TimestampMs) -> Result<ApiKey> {
        let (kind, scope_id) = scope_columns(scope);
        let done = sqlx::query(
            "UPDATE host.api_key SET revoked_time = COALESCE(revoked_time, $1) \
             WHERE id = $2 AND scope_kind = $3 AND scope_id IS NOT DISTINCT FROM $4",
        )
        .bind(now)
        .bind(id.as_str())
        .bind(kind)
        .bind(scope_id)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        if done.rows_affected() == 0 {
            return Err(StorageError::not_found("api key", id));
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{API_KEY} WHERE id = $1")))
            .bind(id.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db)?;
        api_key(&row)
    }

    async fn append_audit(&self, entry: &NewAuditEntry, now: TimestampMs) -> Result<i64> {
        let seq = sqlx::query_scalar(
            "INSERT INTO host.audit_log (time, tenant_id, actor, role, action, object, status, summary, request_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING seq",
        )
        .bind(now)
        .bind(entry.tenant_id.as_ref().map(TenantId::as_str))
        .bind(&entry.actor)
        .bind(entry.role.as_str())
        .bind(&entry.action)
        .bind(&entry.object)
        .bind(i32::from(entry.status))
        .bind(&entry.summary)
        .bind(&entry.request_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok(seq)
    }

    async fn audit(&self, tenant: Option<&TenantId>, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        // Two statements rather than `IS NOT DISTINCT FROM`, which no index serves.
        let whose = if tenant.is_some() { "tenant_id = $1" } else { "tenant_id IS NULL AND $1::text IS NULL" };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT seq, time, tenant_id, actor, role, action, object, status, summary, request_id \
             FROM host.audit_log WHERE {whose} AND seq > $2 \
             AND ($3::text IS NULL OR actor = $3) AND ($4::text IS NULL OR starts_with(action, $4)) \
             AND ($5::int8 IS NULL OR time >= $5) AND ($6::int8 IS NULL OR time < $6) ORDER BY seq LIMIT $7"
        )))
        .bind(tenant.map(TenantId::as_str))
        .bind(query.after)
        .bind(query.actor.as_deref())
        .bind(query.action.as_deref())
        .bind(query.start_ts)
        .bind(query.end_ts)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        rows.iter()
            .map(|row| {
                let status: i32 = get(row, "status")?;
                Ok(AuditEntry {
                    seq: get(row, "seq")?,
                    time: get(row, "time")?,
                    tenant_id: get::<Option<String>>(row, "tenant_id")?.map(Into::into),
                    actor: get(row, "actor")?,
                    role: role_of(row)?,
                    action: get(row, "action")?,
                    object: get(row, "object")?,
                    status: u16::try_from(status).map_err(corrupt)?,
                    summary: get(row, "summary")?,
                    request_id: get(row, "request_id")?,
                })
            })
            .collect()
    }
}
