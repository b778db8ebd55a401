//! Who calls the API: a [`Principal`] is a credential (a user's session or
//! an API key), the scope it acts in (the whole system, one tenant, one
//! vendor) and its [`Role`]. Tenancy is a property of the credential, never
//! of a header or a body.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Actor, ApiKeyId, SessionId, TenantId, UserId, VendorId};

/// What a principal may do. Written as ThingsBoard writes authorities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Runs the installation: creates tenants, vendors and their first users,
    /// assigns tenant profiles; may act inside a tenant (audited).
    SysAdmin,
    /// Everything inside one tenant.
    TenantAdmin,
    /// Reads; acknowledges, assigns, comments on and clears alarms; approves
    /// or rejects recommendations. No uploads, bindings or entities.
    Operator,
    /// Reads a tenant's data.
    Viewer,
    /// A vendor's developer: sees no tenant's data at all.
    VendorDeveloper,
}

impl Role {
    /// Every role, in the order tables list them.
    pub const ALL: [Role; 5] = [Role::SysAdmin, Role::TenantAdmin, Role::Operator, Role::Viewer, Role::VendorDeveloper];

    /// The wire name, e.g. `TENANT_ADMIN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SysAdmin => "SYS_ADMIN",
            Role::TenantAdmin => "TENANT_ADMIN",
            Role::Operator => "OPERATOR",
            Role::Viewer => "VIEWER",
            Role::VendorDeveloper => "VENDOR_DEVELOPER",
        }
    }

    /// Whether a user or key of this role belongs to a tenant.
    pub fn is_tenant_role(self) -> bool {
        matches!(self, Role::TenantAdmin | Role::Operator | Role::Viewer)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a role: `{0}` (expected SYS_ADMIN, TENANT_ADMIN, OPERATOR, VIEWER or VENDOR_DEVELOPER)")]
pub struct ParseRoleError(String);

impl FromStr for Role {
    type Err = ParseRoleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|role| role.as_str() == text).ok_or_else(|| ParseRoleError(text.to_string()))
    }
}

/// Where a principal acts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Scope {
    /// The installation (the system administrator).
    System,
    /// One tenant.
    Tenant(TenantId),
    /// One vendor.
    Vendor(VendorId),
}

/// The credential a request was authenticated with.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A user's access token, from one login session.
    User {
        /// The user.
        user_id: UserId,
        /// The session (refresh-token family) the access token belongs to.
        session_id: SessionId,
    },
    /// A machine API key.
    ApiKey(ApiKeyId),
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The credential.
    pub credential: Credential,
    /// Where it acts.
    pub scope: Scope,
    /// What it may do.
    pub role: Role,
    /// A user's email or an API key's name, for the record.
    pub name: String,
}

impl Principal {
    /// The tenant the principal belongs to, if any.
    pub fn tenant_id(&self) -> Option<&TenantId> {
        match &self.scope {
            Scope::Tenant(tenant) => Some(tenant),
            _ => None,
        }
    }

    /// The vendor the principal belongs to, if any.
    pub fn vendor_id(&self) -> Option<&VendorId> {
        match &self.scope {
            Scope::Vendor(vendor) => Some(vendor),
            _ => None,
        }
    }

    /// A stable key for per-principal limits: `user:<id>` or `key:<id>`.
    pub fn subject(&self) -> String {
        match &self.credential {
            Credential::User { user_id, .. } => format!("user:{user_id}"),
            Credential::ApiKey(key) => format!("key:{key}"),
        }
    }

    /// Who, on records the principal changes (`user:<email>`, `user:key:<name>`).
    pub fn actor(&self) -> Actor {
        match &self.credential {
            Credential::User { .. } => Actor::user(self.name.clone()),
            Credential::ApiKey(_) => Actor::user(format!("key:{}", self.name)),
        }
    }
}

/// A vendor organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vendor {
    /// Its id.
    pub id: VendorId,
    /// Its name.
    pub name: String,
    /// When it was created.
    pub created_time: crate::TimestampMs,
}

/// A person who logs in. Never carries the password hash out of storage
/// and the identity service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// The login name (unique, lower case).
    pub email: String,
    /// What it may do.
    pub role: Role,
    /// Where it acts.
    pub scope: Scope,
    /// argon2id PHC string.
    pub password_hash: String,
    /// When it was created.
    pub created_time: crate::TimestampMs,
}

/// A machine credential. The key itself is shown once; only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Where it acts.
    pub scope: Scope,
    /// When it stops working; `None`: never.
    pub expires_time: Option<crate::TimestampMs>,
    /// When it was revoked, if it was.
    pub revoked_time: Option<crate::TimestampMs>,
    /// When it was created.
    pub created_time: crate::TimestampMs,
}

/// One login session: the family of refresh tokens that login started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (the access token's `sid`).
    pub id: SessionId,
    /// Whose.
    pub user_id: UserId,
    /// When the family stops refreshing.
    pub expires_time: crate::TimestampMs,
    /// When it was revoked (logout, or a refresh token reused), if it was.
    pub revoked_time: Option<crate::TimestampMs>,
}

/// One change made through the API, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log (increasing).
    pub seq: i64,
    /// When.
    pub time: crate::TimestampMs,
    /// The tenant the change was made in, if any.
    pub tenant_id: Option<TenantId>,
    /// Who (`user:<email>`, `user:key:<name>`).
    pub actor: String,
    /// With which role.
    pub role: Role,
    /// What: the operation, e.g. `POST /api/alarms/{id}/ack`.
    pub action: String,
    /// On what: the path's ids, e.g. `alarm_id=…`; empty for collections.
    pub object: String,
    /// The answer's status code.
    pub status: u16,
    /// A short summary of the request and of the result.
    pub summary: serde_json::Value,
    /// The request id (`x-request-id`).
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_wire_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::Value::String(role.as_str().into()));
        }
        assert!("ROOT".parse::<Role>().is_err());
        assert!(Role::Operator.is_tenant_role() && !Role::VendorDeveloper.is_tenant_role());
    }
}
