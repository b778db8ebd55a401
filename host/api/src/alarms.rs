//! Alarms: list, read, history; acknowledge, clear, assign, comment — each
//! an event on the outbox.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use nexus_model::{AlarmFilter, AlarmId};
use serde::Deserialize;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Query};
use crate::views::{AlarmChangeView, AlarmEventView, AlarmView, CommentView, all};

/// `GET /api/alarms?status=&active=&severity=&device_id=&well_id=&wellpad_id=&assignee=&start_ts=&end_ts=&limit=`
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(filter): Query<AlarmFilter>,
) -> Result<JsonResponse<Vec<AlarmView>>, ApiError> {
    Ok(JsonResponse(all(state.services.alarms().list(&principal.tenant_id, &filter).await?)))
}

/// `GET /api/alarms/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmView>, ApiError> {
    Ok(JsonResponse(state.services.alarms().get(&principal.tenant_id, &id).await?.into()))
}

/// `GET /api/alarms/{id}/events`: every transition, oldest first.
pub(crate) async fn events(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<Vec<AlarmEventView>>, ApiError> {
    Ok(JsonResponse(all(state.services.alarms().events(&principal.tenant_id, &id).await?)))
}

/// `POST /api/alarms/{id}/ack`
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().acknowledge(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

/// `POST /api/alarms/{id}/clear`
pub(crate) async fn clear(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().clear(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assign {
    /// The user; `null` unassigns.
    assignee: Option<String>,
}

/// `POST /api/alarms/{id}/assign` `{"assignee": "ana"}` (or `null`).
pub(crate) async fn assign(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
    Json(body): Json<Assign>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().assign(&principal.tenant_id, &id, body.assignee, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewComment {
    text: String,
}

/// `POST /api/alarms/{id}/comments` `{"text": "..."}`
pub(crate) async fn comment(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
    Json(body): Json<NewComment>,
) -> Result<(axum::http::StatusCode, JsonResponse<CommentView>), ApiError> {
    let comment = state.services.alarms().comment(&principal.tenant_id, &id, body.text, &principal.actor).await?;
    Ok((axum::http::StatusCode::CREATED, JsonResponse(comment.into())))
}

/// `GET /api/alarms/{id}/comments`
pub(crate) async fn comments(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<Vec<CommentView>>, ApiError> {
    Ok(JsonResponse(all(state.services.alarms().comments(&principal.tenant_id, &id).await?)))
}
