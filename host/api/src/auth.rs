//! Who is calling the admin API. Handlers see only a [`Principal`]; the
//! [`Authenticator`] behind it is replaceable (real multi-tenant auth).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use nexus_model::{Actor, TenantId};

use crate::AppState;
use crate::error::ApiError;

/// An authenticated caller, acting inside one tenant.
#[derive(Debug, Clone)]
pub struct TenantPrincipal {
    /// The tenant every query is confined to.
    pub tenant_id: TenantId,
    /// Who, for the record (alarm acknowledgements, ...).
    pub actor: Actor,
}

/// Turns request headers into a tenant principal.
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticates a request, or says why not.
    fn authenticate(&self, headers: &HeaderMap) -> Result<TenantPrincipal, ApiError>;
}

/// One shared admin bearer token (`NEXUS_ADMIN_TOKEN`); the tenant is chosen
/// with the `X-Nexus-Tenant` header (default `default`). Stands in until
/// per-user, per-tenant credentials land.
pub struct StaticToken {
    token: String,
}

impl StaticToken {
    /// Accepts `Authorization: Bearer <token>`.
    pub fn new(token: impl Into<String>) -> Self {
        Self { token: token.into() }
    }
}

/// The tenant used when a request names none.
pub const DEFAULT_TENANT: &str = "default";

impl Authenticator for StaticToken {
    fn authenticate(&self, headers: &HeaderMap) -> Result<TenantPrincipal, ApiError> {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "send `Authorization: Bearer <admin token>`")
            })?;
        if !constant_time_eq(presented.as_bytes(), self.token.as_bytes()) {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", "the admin token is not valid"));
        }
        let tenant_id = match headers.get("x-nexus-tenant") {
            None => DEFAULT_TENANT.to_string(),
            Some(value) => {
                let tenant = value.to_str().unwrap_or_default();
                let ok = !tenant.is_empty()
                    && tenant.len() <= 64
                    && tenant.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
                if !ok {
                    return Err(ApiError::bad_request(
                        "X-Nexus-Tenant must be 1-64 characters of a-z, 0-9, '-' and '_'",
                    ));
                }
                tenant.to_string()
            }
        };
        Ok(TenantPrincipal { tenant_id: tenant_id.into(), actor: Actor::user("admin") })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for TenantPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let principal = state.auth.authenticate(&parts.headers)?;
        state.services.assets().ensure_tenant(&principal.tenant_id).await?;
        Ok(principal)
    }
}
