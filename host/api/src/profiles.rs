//! Tenant profiles: monthly caps, limits of plugin calls, REST API rate
//! limits, ingest limits and entity quotas.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use nexus_model::{Principal, TenantId, TenantProfile};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Json;

/// `GET /api/tenant/profile`: the caller's tenant's profile.
pub(crate) async fn get_own(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<TenantProfile>, ApiError> {
    Ok(JsonResponse(state.services.limits().profile(&principal.tenant_id).await?))
}

/// `PUT /api/tenants/{tenant_id}/profile`: replaces a tenant's whole
/// profile (the system administrator's). Unknown fields, a bad window
/// (naming its field) and a value that makes no sense are 400
/// `invalid-request`; a limit above the host's ceilings is 400
/// `limit-above-ceiling`; an unknown tenant is 404.
pub(crate) async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    Json(profile): Json<TenantProfile>,
) -> Result<JsonResponse<TenantProfile>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    Ok(JsonResponse(state.services.limits().set_profile(&tenant, profile, &principal.actor()).await?))
}
