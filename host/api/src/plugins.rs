//! Plugins and bindings.

use axum::Json as JsonResponse;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use nexus_model::PluginKind;
use nexus_pipeline::{BindingMetrics, BindingRequest, Upload};
use nexus_storage::{Binding, StoredPlugin, StoredRecommendation};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::json::{Json, Query, body_bytes};

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
    principal: Principal,
    Query(query): Query<UploadQuery>,
    request: Request,
) -> Result<(StatusCode, JsonResponse<StoredPlugin>), ApiError> {
    let kind = PluginKind::parse(&query.kind).ok_or_else(|| {
        ApiError::bad_request(format!("unknown kind `{}`: use decoder, alarm-rule or optimizer", query.kind))
            .with("allowed", serde_json::json!(["decoder", "alarm-rule", "optimizer"]))
    })?;
    crate::json::check_declared_length(request.headers(), nexus_registry::DEFAULT_MAX_COMPONENT_BYTES)?;
    let bytes = body_bytes(request, &()).await?;
    let stored = state
        .pipeline
        .upload_plugin(Upload {
            tenant_id: principal.tenant_id,
            kind,
            name: query.name,
            version: query.version,
            bytes: bytes.to_vec(),
        })
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(stored)))
}

/// `GET /api/plugins`
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<Vec<StoredPlugin>>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().plugins(&principal.tenant_id).await?))
}

/// `GET /api/plugins/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<StoredPlugin>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().plugin(&principal.tenant_id, &id).await?))
}

/// `POST /api/bindings` with a [`BindingRequest`].
pub(crate) async fn bind(
    State(state): State<AppState>,
    principal: Principal,
    Json(request): Json<BindingRequest>,
) -> Result<(StatusCode, JsonResponse<Binding>), ApiError> {
    let binding = state.pipeline.create_binding(&principal.tenant_id, request).await?;
    Ok((StatusCode::CREATED, JsonResponse(binding)))
}

/// `GET /api/bindings`
pub(crate) async fn list_bindings(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<Vec<Binding>>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().bindings(&principal.tenant_id).await?))
}

/// `POST /api/bindings/{id}/run`: runs an optimizer binding now.
pub(crate) async fn run_binding(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Vec<StoredRecommendation>>, ApiError> {
    Ok(JsonResponse(state.pipeline.run_optimizer_binding(&principal.tenant_id, &id).await?))
}

/// `GET /api/bindings/{id}`
pub(crate) async fn get_binding(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Binding>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().binding(&principal.tenant_id, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Swap {
    plugin_id: String,
}

/// `PUT /api/bindings/{id}/plugin` `{"plugin_id"}`: hot swap to another
/// version; the batch in flight finishes on the old one.
pub(crate) async fn swap(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Swap>,
) -> Result<JsonResponse<Binding>, ApiError> {
    Ok(JsonResponse(state.pipeline.swap_binding_plugin(&principal.tenant_id, &id, &body.plugin_id).await?))
}

/// `POST /api/bindings/{id}/enable`: re-enables a quarantined binding.
pub(crate) async fn enable(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Binding>, ApiError> {
    Ok(JsonResponse(state.pipeline.enable_binding(&principal.tenant_id, &id).await?))
}

/// `GET /api/metering`: calls, rejections, faults, wall time and fuel per binding.
pub(crate) async fn metering(State(state): State<AppState>, principal: Principal) -> JsonResponse<Vec<BindingMetrics>> {
    JsonResponse(state.pipeline.metrics(&principal.tenant_id))
}

/// `GET /api/tenant/plan`
pub(crate) async fn get_plan(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<nexus_model::TenantPlan>, ApiError> {
    Ok(JsonResponse(state.pipeline.plan(&principal.tenant_id).await?))
}

/// `PUT /api/tenant/plan` `{"max_executions_per_month", "max_fuel_per_month", "limits"}`
pub(crate) async fn put_plan(
    State(state): State<AppState>,
    principal: Principal,
    Json(plan): Json<nexus_model::TenantPlan>,
) -> Result<JsonResponse<nexus_model::TenantPlan>, ApiError> {
    Ok(JsonResponse(state.pipeline.set_plan(&principal.tenant_id, plan).await?))
}

/// `GET /api/tenant/usage`: this month's executions and fuel.
pub(crate) async fn usage(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<nexus_model::Usage>, ApiError> {
    Ok(JsonResponse(state.pipeline.usage(&principal.tenant_id).await?))
}
