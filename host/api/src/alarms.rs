//! Alarms: list, read, history, acknowledge, clear.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use nexus_model::Alarm;
use nexus_storage::{AlarmComment, AlarmEvent, AlarmFilter, AlarmTransition};
use serde::Deserialize;

use crate::json::Json;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::json::Query;

/// `GET /api/alarms?status=&active=&severity=&device_id=&well_id=&start_ts=&end_ts=&limit=`
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(filter): Query<AlarmFilter>,
) -> Result<JsonResponse<Vec<Alarm>>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().alarms(&principal.tenant_id, &filter).await?))
}

/// `GET /api/alarms/{id}`
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Alarm>, ApiError> {
    Ok(JsonResponse(state.pipeline.storage().alarm(&principal.tenant_id, &id).await?))
}

/// `GET /api/alarms/{id}/events`: every transition, oldest first.
pub(crate) async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Vec<AlarmEvent>>, ApiError> {
    state.pipeline.storage().alarm(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(state.pipeline.storage().alarm_events(&principal.tenant_id, &id).await?))
}

/// `POST /api/alarms/{id}/ack`
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<AlarmTransition>, ApiError> {
    let storage = state.pipeline.storage();
    Ok(JsonResponse(storage.acknowledge_alarm(&principal.tenant_id, &id, &principal.actor).await?))
}

/// `POST /api/alarms/{id}/clear`
pub(crate) async fn clear(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<AlarmTransition>, ApiError> {
    let storage = state.pipeline.storage();
    Ok(JsonResponse(storage.clear_alarm(&principal.tenant_id, &id, &principal.actor).await?))
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
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<Assign>,
) -> Result<JsonResponse<AlarmTransition>, ApiError> {
    if body.assignee.as_deref().is_some_and(|a| a.is_empty() || a.len() > 255) {
        return Err(ApiError::bad_request("assignee must be 1 to 255 characters, or null"));
    }
    let storage = state.pipeline.storage();
    Ok(JsonResponse(storage.assign_alarm(&principal.tenant_id, &id, &principal.actor, body.assignee.as_deref()).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewComment {
    text: String,
}

/// `POST /api/alarms/{id}/comments` `{"text": "..."}`
pub(crate) async fn comment(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Json(body): Json<NewComment>,
) -> Result<(axum::http::StatusCode, JsonResponse<AlarmComment>), ApiError> {
    if body.text.trim().is_empty() || body.text.len() > 4096 {
        return Err(ApiError::bad_request("text must be 1 to 4096 characters"));
    }
    let storage = state.pipeline.storage();
    let comment = storage.comment_alarm(&principal.tenant_id, &id, &principal.actor, &body.text).await?;
    Ok((axum::http::StatusCode::CREATED, JsonResponse(comment)))
}

/// `GET /api/alarms/{id}/comments`
pub(crate) async fn comments(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<JsonResponse<Vec<AlarmComment>>, ApiError> {
    let storage = state.pipeline.storage();
    storage.alarm(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(storage.alarm_comments(&principal.tenant_id, &id).await?))
}
