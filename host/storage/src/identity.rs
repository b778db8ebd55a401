//! The identity port: vendors, users, login sessions with their refresh
//! tokens, API keys, and the append-only audit log. Secrets arrive hashed;
//! nothing here sees a password or a token.

use async_trait::async_trait;
use nexus_model::{
    ApiKey, ApiKeyId, AuditEntry, Page, Role, Scope, Session, SessionId, Tenant, TenantId, TimestampMs, User, UserId,
    Vendor, VendorId,
};

use crate::Result;

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Login name, lower case.
    pub email: String,
    /// Its role; must fit the scope.
    pub role: Role,
    /// Where it acts.
    pub scope: Scope,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// An API key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// A name for people.
    pub name: String,
    /// Its role; must fit the scope.
    pub role: Role,
    /// Where it acts.
    pub scope: Scope,
    /// sha256 of the key.
    pub hash: String,
    /// When it stops working.
    pub expires_time: Option<TimestampMs>,
}

/// An audit entry to append.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    /// The tenant the change was made in.
    pub tenant_id: Option<TenantId>,
    /// Who.
    pub actor: String,
    /// With which role.
    pub role: Role,
    /// The operation.
    pub action: String,
    /// The path's ids.
    pub object: String,
    /// The answer's status.
    pub status: u16,
    /// Request and result, summarised.
    pub summary: serde_json::Value,
    /// The request id.
    pub request_id: String,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries after this position (a cursor).
    pub after: i64,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this text (e.g. `POST /api/alarms`).
    pub action: Option<String>,
    /// At or after (ms).
    pub start_ts: Option<TimestampMs>,
    /// Before (ms).
    pub end_ts: Option<TimestampMs>,
    /// At most this many.
    pub limit: u32,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// It was current: it is now used and the new hash is the family's
    /// current token.
    Rotated(Session),
    /// It had been used already: the whole family is now revoked.
    Reused(SessionId),
    /// No live session has it (unknown, expired or revoked).
    Refused,
}

/// Vendors, users, sessions, API keys and the audit log.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// A page of the tenants, by id.
    async fn tenants(&self, page: &Page) -> Result<Vec<Tenant>>;
    /// One tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Tenant>;
    /// Creates a vendor; names are unique.
    async fn create_vendor(&self, name: &str, now: TimestampMs) -> Result<Vendor>;
    /// One vendor.
    async fn vendor(&self, id: &VendorId) -> Result<Vendor>;
    /// A page of the vendors, by name.
    async fn vendors(&self, page: &Page) -> Result<Vec<Vendor>>;
    /// Creates a user; emails are unique over the installation.
    async fn insert_user(&self, new: &NewUser, now: TimestampMs) -> Result<User>;
    /// A user by id (any scope: the identity service checks the scope).
    async fn user(&self, id: &UserId) -> Result<User>;
    /// A user by email.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>>;
    /// A page of the users of a scope, by email.
    async fn users(&self, scope: &Scope, page: &Page) -> Result<Vec<User>>;
    /// Whether any user has this role (e.g. a system administrator exists).
    async fn any_user_with_role(&self, role: Role) -> Result<bool>;
    /// Deletes a user of the scope, and with it its sessions.
    async fn delete_user(&self, scope: &Scope, id: &UserId) -> Result<()>;
    /// Starts a session with its first refresh token.
    async fn insert_session(&self, session: &Session, refresh_hash: &str, now: TimestampMs) -> Result<()>;
    /// A session (for checking an access token: revoked, or its user gone).
    async fn session(&self, id: &SessionId) -> Result<Option<Session>>;
    /// Presents a refresh token: rotates it to `new_hash`, or revokes its
    /// family when it was used before. Atomic.
    async fn refresh_session(&self, hash: &str, new_hash: &str, now: TimestampMs) -> Result<Refreshed>;
    /// Revokes a session (logout).
    async fn revoke_session(&self, id: &SessionId, now: TimestampMs) -> Result<()>;
    /// Creates an API key.
    async fn insert_api_key(&self, new: &NewApiKey, now: TimestampMs) -> Result<ApiKey>;
    /// The key with this hash, revoked or not.
    async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>>;
    /// A page of the keys of a scope, oldest first.
    async fn api_keys(&self, scope: &Scope, page: &Page) -> Result<Vec<ApiKey>>;
    /// Revokes a key of the scope.
    async fn revoke_api_key(&self, scope: &Scope, id: &ApiKeyId, now: TimestampMs) -> Result<ApiKey>;
    /// Appends to the audit log.
    async fn append_audit(&self, entry: &NewAuditEntry, now: TimestampMs) -> Result<i64>;
    /// A tenant's audit entries, oldest first (`None`: the system's own).
    async fn audit(&self, tenant: Option<&TenantId>, query: &AuditQuery) -> Result<Vec<AuditEntry>>;
}
