//! Wellpads, wells and devices.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use nexus_model::{DeviceId, WellId, WellpadId};
use serde::Deserialize;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Json;
use crate::views::{DeviceView, IssuedTokenView, WellView, WellpadView, all};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWellpad {
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWell {
    name: String,
    #[serde(default)]
    wellpad_id: Option<WellpadId>,
    #[serde(default)]
    static_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDevice {
    name: String,
    #[serde(default)]
    well_id: Option<WellId>,
    /// A chosen access token (default: a random one).
    #[serde(default)]
    access_token: Option<String>,
}

/// `POST /api/wellpads`
pub(crate) async fn create_wellpad(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<NewWellpad>,
) -> Result<(StatusCode, JsonResponse<WellpadView>), ApiError> {
    let pad = state.services.assets().create_wellpad(&principal.tenant_id, &body.name, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(pad.into())))
}

/// `POST /api/wells`
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

/// `GET /api/wells`
pub(crate) async fn list_wells(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Vec<WellView>>, ApiError> {
    Ok(JsonResponse(all(state.services.assets().wells(&principal.tenant_id).await?)))
}

/// `POST /api/devices`: 201 with the device and its access token, shown
/// this once (only its hash is stored).
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

/// `POST /api/devices/{id}/token`: a new access token, shown this once; the
/// old one stops working.
pub(crate) async fn rotate_token(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<IssuedTokenView>, ApiError> {
    let issued = state.services.assets().rotate_token(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(issued.into()))
}

/// `GET /api/devices` (no access tokens)
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    principal: TenantPrincipal,
) -> Result<JsonResponse<Vec<DeviceView>>, ApiError> {
    Ok(JsonResponse(all(state.services.assets().devices(&principal.tenant_id).await?)))
}

/// `GET /api/devices/{id}`
pub(crate) async fn get_device(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<DeviceView>, ApiError> {
    Ok(JsonResponse(state.services.assets().device(&principal.tenant_id, &id).await?.into()))
}
