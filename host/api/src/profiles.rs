//! Tenant profiles: monthly caps, limits of plugin calls, REST API rate
//! limits, ingest limits and entity quotas.

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::{Principal, TenantId, TenantProfile};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::Problem;

/// `GET /api/tenant/profile`: the caller's tenant's profile.
#[utoipa::path(get, path = "/api/tenant/profile", tag = "tenant", operation_id = "get_profile",
    responses((status = 200, description = "The profile", body = crate::schema::TenantProfile)),
    security(("bearer" = [])))]
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
#[utoipa::path(put, path = "/api/tenants/{tenant_id}/profile", tag = "tenant", operation_id = "put_profile",
    params(("tenant_id" = String, Path, description = "The tenant")),
    request_body = crate::schema::TenantProfile,
    responses(
        (status = 200, description = "The profile", body = crate::schema::TenantProfile),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"), (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"), (status = 404, description = "No such tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    Json(profile): Json<TenantProfile>,
) -> Result<JsonResponse<TenantProfile>, ApiError> {
    let tenant = TenantId::new(tenant_id);
    Ok(JsonResponse(state.services.limits().set_profile(&tenant, profile, &principal.actor()).await?))
}
