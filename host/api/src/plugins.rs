//! Plugins, bindings and metering.

use axum::Json as JsonResponse;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use nexus_model::{BindingId, DeviceId, PluginKind, PluginVersionId, Usage};
use nexus_services::{BindingMetrics, BindingRequest, Upload};
use serde::Deserialize;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Query, body_bytes};
use crate::views::{BindingView, PluginView, RecommendationView, all};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadQuery {
    kind: String,
    name: String,
    version: String,
}

/// `POST /api/plugins?kind=alarm-rule&name=..&version=..` with the component
/// bytes as the body. 201 with the stored plugin; 413 over 10 MiB; 422 when
/// the bytes are not a component of the declared world.
pub(crate) async fn upload(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, JsonResponse<PluginView>), ApiError> {
    let kind = PluginKind::parse(&query.kind).ok_or_else(|| {
        let allowed: Vec<&str> = PluginKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::bad_request(format!("unknown kind `{}`: use one of {}", query.kind, allowed.join(", ")))
            .with("allowed", serde_json::json!(allowed))
    })?;
    crate::json::check_declared_length(request.headers(), nexus_services::MAX_COMPONENT_BYTES)?;
    let bytes = body_bytes(request, &()).await?;
    let upload = Upload {
        tenant_id: principal.tenant_id,
        kind,
        name: query.name,
        version: query.version,
        bytes: bytes.to_vec(),
    };
    let stored = state.services.plugins().upload(upload, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(stored.into())))
}

/// `GET /api/plugins`
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Vec<PluginView>>, ApiError> {
    Ok(JsonResponse(all(state.services.plugins().list(&principal.tenant_id).await?)))
}

/// `GET /api/plugins/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<PluginVersionId>,
) -> Result<JsonResponse<PluginView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().get(&principal.tenant_id, &id).await?.into()))
}

/// `POST /api/bindings` with a [`BindingRequest`].
pub(crate) async fn bind(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(request): Json<BindingRequest>,
) -> Result<(StatusCode, JsonResponse<BindingView>), ApiError> {
    let binding = state.services.plugins().bind(&principal.tenant_id, request, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(binding.into())))
}

/// `GET /api/bindings`
pub(crate) async fn list_bindings(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Vec<BindingView>>, ApiError> {
    Ok(JsonResponse(all(state.services.plugins().bindings(&principal.tenant_id).await?)))
}

/// `GET /api/bindings/{id}`
pub(crate) async fn get_binding(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().binding(&principal.tenant_id, &id).await?.into()))
}

/// `POST /api/bindings/{id}/run`: runs an optimizer binding now.
pub(crate) async fn run_binding(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<Vec<RecommendationView>>, ApiError> {
    Ok(JsonResponse(all(state.services.optimizers().run_now(&principal.tenant_id, &id).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Swap {
    plugin_id: PluginVersionId,
}

/// `PUT /api/bindings/{id}/plugin` `{"plugin_id"}`: hot swap to another
/// version; the batch in flight finishes on the old one.
pub(crate) async fn swap(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
    Json(body): Json<Swap>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let binding = state.services.plugins().swap(&principal.tenant_id, &id, &body.plugin_id, &principal.actor).await?;
    Ok(JsonResponse(binding.into()))
}

/// `POST /api/bindings/{id}/enable`: re-enables a quarantined binding.
pub(crate) async fn enable(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().enable(&principal.tenant_id, &id, &principal.actor).await?.into()))
}

/// `POST /api/bindings/{id}/devices/{device_id}/release`: lets a device's
/// input reach the binding again after its breaker stopped it.
pub(crate) async fn release_device(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path((id, device)): Path<(BindingId, DeviceId)>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let plugins = state.services.plugins();
    Ok(JsonResponse(plugins.release_device(&principal.tenant_id, &id, &device, &principal.actor).await?.into()))
}

/// `GET /api/metering`: calls, rejections, faults, wall time and fuel per binding.
pub(crate) async fn metering(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> JsonResponse<Vec<BindingMetrics>> {
    JsonResponse(state.services.plugins().metering(&principal.tenant_id))
}

/// `GET /api/tenant/usage`: this month's executions and fuel.
pub(crate) async fn usage(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Usage>, ApiError> {
    Ok(JsonResponse(state.services.plugins().usage(&principal.tenant_id).await?))
}
