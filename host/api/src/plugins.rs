//! Plugins, bindings and metering.

use axum::Json as JsonResponse;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use nexus_model::{BindingId, DeviceId, PluginKind, PluginVersionId, Usage};
use nexus_services::{BindingMetrics, BindingRequest, Upload};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path, Query, body_bytes};
use crate::schema::{self, Problem};
use crate::views::{BindingView, PluginView, RecommendationView, all};

/// What is uploaded.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// The plugin kind (WIT world): `decoder`, `alarm-rule`, `optimizer`, `transform`, `field-optimizer` or `forecaster`.
    #[param(example = "alarm-rule", pattern = "^(decoder|alarm-rule|optimizer|transform|field-optimizer|forecaster)$")]
    kind: String,
    /// The plugin's name: lower-case kebab, 1 to 64 characters, starting with a letter.
    #[param(example = "alarm-rule-threshold", pattern = "^[a-z][a-z0-9-]{0,63}$")]
    name: String,
    /// Its version: `MAJOR.MINOR.PATCH` with an optional `-pre` suffix, at most 64 characters.
    #[param(example = "0.1.0", max_length = 64, pattern = "^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]*)?$")]
    version: String,
}

/// Uploads a plugin version: the component's bytes as the body. 201 with
/// the stored plugin; 413 over the tenant's limit (10 MiB unless its
/// profile's `max_component_bytes` says otherwise); 422 when the bytes are not a
/// component of the declared world.
#[utoipa::path(post, path = "/api/plugins", tag = "plugins", operation_id = "upload_plugin",
    params(UploadQuery),
    request_body(content = schema::Binary, description = "The WebAssembly component's bytes (any content type)", content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "The stored plugin version", body = PluginView),
        (status = 400, description = "A bad kind, name or version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This name and version is taken", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The component is over the tenant's limit: 10 MiB, or its profile's `max_component_bytes`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid component of the declared world", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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
    let limit = state.services.plugins().upload_limit(&principal.tenant_id).await?;
    crate::json::check_declared_length(request.headers(), limit)?;
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

/// Lists the tenant's plugin versions.
#[utoipa::path(get, path = "/api/plugins", tag = "plugins", operation_id = "list_plugins",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The plugin versions", body = Vec<PluginView>),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<PluginView>>, ApiError> {
    let page = page.page()?;
    Ok(JsonResponse(all(state.services.plugins().list(&principal.tenant_id, &page).await?)))
}

/// Reads one plugin version.
#[utoipa::path(get, path = "/api/plugins/{id}", tag = "plugins", operation_id = "get_plugin",
    params(("id" = String, Path, description = "The plugin version's id")),
    responses(
        (status = 200, description = "The plugin version", body = PluginView),
        (status = 404, description = "No such plugin version in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<PluginVersionId>,
) -> Result<JsonResponse<PluginView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().get(&principal.tenant_id, &id).await?.into()))
}

/// Binds a plugin version to devices.
#[utoipa::path(post, path = "/api/bindings", tag = "bindings", operation_id = "create_binding",
    request_body = schema::BindingRequest,
    responses(
        (status = 201, description = "The binding", body = BindingView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin version or device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn bind(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(request): Json<BindingRequest>,
) -> Result<(StatusCode, JsonResponse<BindingView>), ApiError> {
    let binding = state.services.plugins().bind(&principal.tenant_id, request, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(binding.into())))
}

/// Lists the tenant's bindings.
#[utoipa::path(get, path = "/api/bindings", tag = "bindings", operation_id = "list_bindings",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The bindings", body = Vec<BindingView>),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_bindings(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<BindingView>>, ApiError> {
    let page = page.page()?;
    Ok(JsonResponse(all(state.services.plugins().bindings(&principal.tenant_id, &page).await?)))
}

/// Reads one binding.
#[utoipa::path(get, path = "/api/bindings/{id}", tag = "bindings", operation_id = "get_binding",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "The binding", body = BindingView),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_binding(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().binding(&principal.tenant_id, &id).await?.into()))
}

/// Runs an optimizer binding now.
#[utoipa::path(post, path = "/api/bindings/{id}/run", tag = "bindings", operation_id = "run_binding",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "What it recommended", body = Vec<RecommendationView>),
        (status = 400, description = "Not an optimizer binding", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The binding is disabled or quarantined", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "It runs a vendor's release that was revoked (`release-revoked`), whose key was revoked (`key-revoked`), or whose stored bytes or signature no longer verify (`digest-mismatch`, `signature-invalid`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_binding(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<Vec<RecommendationView>>, ApiError> {
    Ok(JsonResponse(all(state.services.optimizers().run_now(&principal.tenant_id, &id).await?)))
}

/// The plugin version a binding is to run.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Swap {
    /// A plugin version of this tenant, of the binding's kind.
    #[schema(value_type = String)]
    plugin_id: PluginVersionId,
}

/// Hot-swaps a binding to another plugin version; the batch in flight
/// finishes on the old one.
#[utoipa::path(put, path = "/api/bindings/{id}/plugin", tag = "bindings", operation_id = "swap_binding_plugin",
    params(("id" = String, Path, description = "The binding's id")),
    request_body = Swap,
    responses(
        (status = 200, description = "The binding", body = BindingView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad value", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such binding or plugin version in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The plugin version is of another kind, or a vendor's release that was yanked (`release-yanked`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A vendor's release that was revoked (`release-revoked`), or whose key was revoked (`key-revoked`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn swap(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
    Json(body): Json<Swap>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let binding = state.services.plugins().swap(&principal.tenant_id, &id, &body.plugin_id, &principal.actor).await?;
    Ok(JsonResponse(binding.into()))
}

/// Points a binding back at the version it ran before its last switch
/// (one call, like a hot swap: nothing is lost or run twice).
#[utoipa::path(post, path = "/api/bindings/{id}/rollback", tag = "bindings", operation_id = "rollback_binding",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "The binding, on its previous version", body = BindingView),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It never switched versions (`no-previous-version`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The previous version is a vendor's release that was revoked (`release-revoked`), or whose key was revoked (`key-revoked`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn rollback(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let binding = state.services.plugins().rollback(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(binding.into()))
}

/// An auto-approve policy to set, or `null` to remove it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutoApproveBody {
    /// The policy; `null`: an operator decides every recommendation.
    #[schema(value_type = Option<schema::AutoApprove>)]
    auto_approve: Option<nexus_model::AutoApprove>,
}

/// Sets or removes an optimizer binding's auto-approve policy.
#[utoipa::path(put, path = "/api/bindings/{id}/auto-approve", tag = "bindings", operation_id = "set_auto_approve",
    params(("id" = String, Path, description = "The binding's id")),
    request_body = AutoApproveBody,
    responses(
        (status = 200, description = "The binding", body = BindingView),
        (status = 400, description = "A bad policy (the reason names the field), or not an optimizer binding", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn set_auto_approve(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
    Json(body): Json<AutoApproveBody>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let binding = state
        .services
        .plugins()
        .set_auto_approve(&principal.tenant_id, &id, body.auto_approve, &principal.actor)
        .await?;
    Ok(JsonResponse(binding.into()))
}

/// Re-enables a quarantined binding.
#[utoipa::path(post, path = "/api/bindings/{id}/enable", tag = "bindings", operation_id = "enable_binding",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "The binding", body = BindingView),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too soon after the last re-enable (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn enable(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().enable(&principal.tenant_id, &id, &principal.actor).await?.into()))
}

/// Lets a device's input reach a binding again after its breaker stopped it.
#[utoipa::path(post, path = "/api/bindings/{id}/devices/{device_id}/release", tag = "bindings", operation_id = "release_binding_device",
    params(("id" = String, Path, description = "The binding's id"), ("device_id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The binding", body = BindingView),
        (status = 404, description = "No such binding or device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn release_device(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path((id, device)): Path<(BindingId, DeviceId)>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let plugins = state.services.plugins();
    Ok(JsonResponse(plugins.release_device(&principal.tenant_id, &id, &device, &principal.actor).await?.into()))
}

/// Calls, rejections, faults, wall time and fuel per binding.
#[utoipa::path(get, path = "/api/metering", tag = "tenant", operation_id = "metering",
    responses(
        (status = 200, description = "Counters per binding since the host started", body = Vec<schema::BindingMetrics>),
    ),
    security(("bearer" = [])))]
pub(crate) async fn metering(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> JsonResponse<Vec<BindingMetrics>> {
    JsonResponse(state.services.plugins().metering(&principal.tenant_id))
}

/// This month's plugin executions and fuel.
#[utoipa::path(get, path = "/api/tenant/usage", tag = "tenant", operation_id = "usage",
    responses(
        (status = 200, description = "This month's use", body = schema::Usage),
    ),
    security(("bearer" = [])))]
pub(crate) async fn usage(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Usage>, ApiError> {
    Ok(JsonResponse(state.services.plugins().usage(&principal.tenant_id).await?))
}
