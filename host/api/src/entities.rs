//! Wellpads, wells and devices.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{DeviceId, WellId, WellpadId};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path, Query};
use crate::schema::Problem;
use crate::views::{DeviceView, IssuedTokenView, WellStatusView, WellView, WellpadView, all};

/// A new wellpad.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWellpad {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
}

/// A new well.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWell {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// The wellpad it stands on (one of this tenant's).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    wellpad_id: Option<WellpadId>,
    /// What optimizers know of the well (default `{}`).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    static_data: Option<serde_json::Value>,
}

/// A new device.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDevice {
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// The well it measures (one of this tenant's).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    well_id: Option<WellId>,
    /// A chosen access token (default: a random one); it must be strong.
    #[serde(default)]
    access_token: Option<String>,
}

/// Creates a wellpad.
#[utoipa::path(post, path = "/api/wellpads", tag = "assets", operation_id = "create_wellpad",
    request_body = NewWellpad,
    responses(
        (status = 201, description = "The wellpad", body = WellpadView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_wellpad(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<NewWellpad>,
) -> Result<(StatusCode, JsonResponse<WellpadView>), ApiError> {
    let pad = state.services.assets().create_wellpad(&principal.tenant_id, &body.name, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(pad.into())))
}

/// Creates a well.
#[utoipa::path(post, path = "/api/wells", tag = "assets", operation_id = "create_well",
    request_body = NewWell,
    responses(
        (status = 201, description = "The well", body = WellView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such wellpad in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_well(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<NewWell>,
) -> Result<(StatusCode, JsonResponse<WellView>), ApiError> {
    let static_data = body.static_data.unwrap_or_else(|| serde_json::json!({}));
    let well = state
        .services
        .assets()
        .create_well(&principal.tenant_id, &body.name, body.wellpad_id, static_data, &principal.actor)
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(well.into())))
}

/// Lists the tenant's wells.
#[utoipa::path(get, path = "/api/wells", tag = "assets", operation_id = "list_wells",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The wells", body = Vec<WellView>),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_wells(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<WellView>>, ApiError> {
    let page = page.page()?;
    Ok(JsonResponse(all(state.services.assets().wells(&principal.tenant_id, &page).await?)))
}

/// A well's status: when one of its devices last reported, and whether
/// that was within the last 15 minutes — from the hot cache when one is
/// configured and holds it (`well:{id}:status`, 5 min), else from storage.
#[utoipa::path(get, path = "/api/wells/{id}/status", tag = "assets", operation_id = "well_status",
    params(("id" = String, Path, description = "The well's id")),
    responses(
        (status = 200, description = "The well's status", body = WellStatusView),
        (status = 404, description = "No such well in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn well_status(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<WellId>,
) -> Result<JsonResponse<WellStatusView>, ApiError> {
    Ok(JsonResponse(state.services.records().well_status(&principal.tenant_id, &id).await?.into()))
}

/// Creates a device: 201 with the device and its access token, shown
/// this once (only its hash is stored).
#[utoipa::path(post, path = "/api/devices", tag = "assets", operation_id = "create_device",
    request_body = NewDevice,
    responses(
        (status = 201, description = "The device and its access token", body = IssuedTokenView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a bad name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such well in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The chosen access token is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_device(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<NewDevice>,
) -> Result<(StatusCode, JsonResponse<IssuedTokenView>), ApiError> {
    let issued = state
        .services
        .assets()
        .create_device(&principal.tenant_id, &body.name, body.well_id, body.access_token, &principal.actor)
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(issued.into())))
}

/// Issues a device a new access token, shown this once; the old one
/// stops working.
#[utoipa::path(post, path = "/api/devices/{id}/token", tag = "assets", operation_id = "rotate_device_token",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device and its new access token", body = IssuedTokenView),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn rotate_token(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<IssuedTokenView>, ApiError> {
    let issued = state.services.assets().rotate_token(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(issued.into()))
}

/// Lists the tenant's devices (never with access tokens).
#[utoipa::path(get, path = "/api/devices", tag = "assets", operation_id = "list_devices",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The devices", body = Vec<DeviceView>),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<JsonResponse<Vec<DeviceView>>, ApiError> {
    let page = page.page()?;
    Ok(JsonResponse(all(state.services.assets().devices(&principal.tenant_id, &page).await?)))
}

/// Reads one device.
#[utoipa::path(get, path = "/api/devices/{id}", tag = "assets", operation_id = "get_device",
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 200, description = "The device", body = DeviceView),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_device(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<DeviceView>, ApiError> {
    Ok(JsonResponse(state.services.assets().device(&principal.tenant_id, &id).await?.into()))
}
