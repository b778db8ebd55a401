//! Alarms: list, read, history, acknowledge, clear.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use nexus_model::Alarm;
use nexus_storage::{AlarmEvent, AlarmFilter, AlarmTransition};

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
