//! Authentication and authorization in one place. The [`authorize`] layer
//! turns `Authorization: Bearer …` (an access JWT or an API key) into a
//! [`Principal`], checks the route's [`Access`](crate::access::Access)
//! against its role, picks the tenant the request acts in — the principal's
//! own, or for the system administrator the one `X-Nexus-Tenant` names —
//! applies the rate limits, runs the handler, and appends every change to
//! the audit log. Handlers never read a tenant from a header, a path or a
//! body: they take a [`TenantPrincipal`] or a [`Principal`].

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use nexus_model::{Actor, Principal, Role, TenantId};

use crate::AppState;
use crate::access::{Access, access_of};
use crate::audit;
use crate::error::ApiError;

/// The header a system administrator names a tenant with.
pub const TENANT_HEADER: &str = "x-nexus-tenant";

/// An authenticated caller, acting inside one tenant.
#[derive(Debug, Clone)]
pub struct TenantPrincipal {
    /// The tenant every query is confined to.
    pub tenant_id: TenantId,
    /// Who, for the record (alarm acknowledgements, ...).
    pub actor: Actor,
    /// The authenticated principal.
    pub principal: Principal,
}

/// The tenant a request acts in, as the layer resolved it.
#[derive(Debug, Clone)]
pub(crate) struct ActingTenant(pub(crate) TenantId);

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::unauthenticated("send `Authorization: Bearer <access token or API key>`"))
}

/// The tenant a request acts in.
async fn acting_tenant(state: &AppState, principal: &Principal, headers: &HeaderMap) -> Result<TenantId, ApiError> {
    let named = headers.get(TENANT_HEADER).map(|v| v.to_str().unwrap_or_default().to_string());
    match (principal.role, principal.tenant_id(), named) {
        (Role::SysAdmin, _, Some(tenant)) => {
            let tenant = TenantId::new(tenant);
            state.services.identity().tenant(&tenant).await?;
            Ok(tenant)
        }
        (Role::SysAdmin, _, None) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tenant-required",
            "the system administrator names the tenant to act in with X-Nexus-Tenant",
        )),
        (_, Some(_), Some(_)) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tenant-header-not-allowed",
            "only the system administrator names a tenant; yours comes with your credential",
        )),
        (_, Some(tenant), None) => Ok(tenant.clone()),
        (_, None, _) => Err(ApiError::forbidden("this credential belongs to no tenant")),
    }
}

/// The layer in front of every route: authenticate, authorize, limit, audit.
pub(crate) async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let Some(route) = route else {
        // No route matched: the fallback answers 404.
        return next.run(request).await;
    };
    let Some(access) = access_of(method.as_str(), &route) else {
        if crate::access::OPERATIONS.iter().any(|(_, known, _)| *known == route) {
            // Another method of a known route: the router answers 405.
            return next.run(request).await;
        }
        tracing::error!(%method, route, "A route has no access rule; refused.");
        return ApiError::forbidden("this operation has no access rule").into_response();
    };
    if access == Access::Public {
        return next.run(request).await;
    }
    match admit(&state, access, request).await {
        Ok((principal, tenant, request)) => audit::run(&state, principal, tenant, route, request, next).await,
        Err(error) => error.into_response(),
    }
}

async fn admit(
    state: &AppState,
    access: Access,
    mut request: Request,
) -> Result<(Principal, Option<TenantId>, Request), ApiError> {
    let credential = bearer(request.headers())?;
    let principal = state.services.identity().authenticate(credential).await?;
    if !access.allows(principal.role) {
        return Err(ApiError::forbidden(format!("a {} may not do this", principal.role)));
    }
    let tenant = if access.in_tenant() {
        Some(acting_tenant(state, &principal, request.headers()).await?)
    } else if access == Access::Monitor
        && (principal.role != Role::SysAdmin || request.headers().contains_key(TENANT_HEADER))
    {
        // The system administrator monitors the whole host unless naming a
        // tenant; everyone else monitors their own tenant.
        Some(acting_tenant(state, &principal, request.headers()).await?)
    } else {
        None
    };
    crate::limits::check_request(state, &principal).await?;
    request.extensions_mut().insert(principal.clone());
    if let Some(tenant) = &tenant {
        request.extensions_mut().insert(ActingTenant(tenant.clone()));
    }
    Ok((principal, tenant, request))
}

impl FromRequestParts<AppState> for TenantPrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let principal = parts.extensions.get::<Principal>().cloned();
        let tenant = parts.extensions.get::<ActingTenant>().cloned();
        match (principal, tenant) {
            (Some(principal), Some(ActingTenant(tenant_id))) => {
                Ok(TenantPrincipal { tenant_id, actor: principal.actor(), principal })
            }
            _ => {
                tracing::error!("A tenant handler ran on a route that is not tenant-scoped.");
                Err(ApiError::forbidden("this operation acts in no tenant"))
            }
        }
    }
}

/// What a `/metrics` caller may see: one tenant (`Some`), or the whole
/// host (`None`: the system administrator without `X-Nexus-Tenant`).
#[derive(Debug, Clone)]
pub(crate) struct MonitorScope(pub(crate) Option<TenantId>);

impl FromRequestParts<AppState> for MonitorScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let principal = parts.extensions.get::<Principal>();
        let tenant = parts.extensions.get::<ActingTenant>();
        match (principal.map(|p| p.role), tenant) {
            (Some(_), Some(ActingTenant(tenant))) => Ok(MonitorScope(Some(tenant.clone()))),
            (Some(Role::SysAdmin), None) => Ok(MonitorScope(None)),
            _ => {
                tracing::error!("A monitoring handler ran without a monitoring scope.");
                Err(ApiError::forbidden("this operation monitors no scope"))
            }
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or_else(|| ApiError::unauthenticated("not authenticated"))
    }
}

/// Whether a method changes something (and so is audited).
pub(crate) fn is_change(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
