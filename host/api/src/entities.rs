//! Wellpads, wells and devices.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use nexus_storage::{Device, Well, Wellpad};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::json::Json;

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
    wellpad_id: Option<String>,
    #[serde(default)]
    static_data: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewDevice {
    name: String,
    #[serde(default)]
    well_id: Option<String>,
    /// A chosen access token (default: a random one).
    #[serde(default)]
    access_token: Option<String>,
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() || name.len() > 255 {
        return Err(ApiError::bad_request("name must be 1 to 255 characters"));
    }
    Ok(())
}

/// `POST /api/wellpads`
pub(crate) async fn create_wellpad(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewWellpad>,
) -> Result<(StatusCode, JsonResponse<Wellpad>), ApiError> {
    check_name(&body.name)?;
    let pad = state.pipeline.storage().create_wellpad(&principal.tenant_id, &body.name).await?;
    Ok((StatusCode::CREATED, JsonResponse(pad)))
}

/// `POST /api/wells`
pub(crate) async fn create_well(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewWell>,
) -> Result<(StatusCode, JsonResponse<Well>), ApiError> {
    check_name(&body.name)?;
    let static_data = body.static_data.unwrap_or_else(|| serde_json::json!({}));
    if !static_data.is_object() {
        return Err(ApiError::bad_request("static_data must be a JSON object"));
    }
    let well = state
        .pipeline
        .storage()
        .create_well(&principal.tenant_id, &body.name, body.wellpad_id.as_deref(), &static_data)
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(well)))
}

/// `GET /api/wells`
pub(crate) async fn list_wells(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<Vec<Well>>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().wells(&principal.tenant_id).await?))
}

/// `POST /api/devices`: 201 with the device and its access token.
pub(crate) async fn create_device(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<NewDevice>,
) -> Result<(StatusCode, JsonResponse<Device>), ApiError> {
    check_name(&body.name)?;
    let valid_token =
        |t: &str| (8..=128).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if body.access_token.as_deref().is_some_and(|t| !valid_token(t)) {
        return Err(ApiError::bad_request("access_token must be 8 to 128 characters of a-z, A-Z, 0-9, '-' and '_'"));
    }
    let device = state
        .pipeline
        .storage()
        .create_device(&principal.tenant_id, &body.name, body.well_id.as_deref(), body.access_token.as_deref())
        .await?;
    Ok((StatusCode::CREATED, JsonResponse(device)))
}

/// `GET /api/devices`
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<JsonResponse<Vec<Device>>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().devices(&principal.tenant_id).await?))
}

/// `GET /api/devices/{id}`
pub(crate) async fn get_device(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Device>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().device(&principal.tenant_id, &id).await?))
}
