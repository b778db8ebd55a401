//! Alarms: list, read, history; acknowledge, clear, assign, comment — each
//! an event on the outbox.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{AlarmFilter, AlarmId, AlarmStatus, DeviceId, Severity, WellId, WellpadId};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{DEFAULT_PAGE, Json, MAX_LIST_PAGE, Path, Query, page_limit};
use crate::schema::{self, Problem};
use crate::views::{AlarmChangeView, AlarmEventView, AlarmView, CommentView, all};

/// Which alarms to list (all filters optional; they combine with AND).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AlarmQuery {
    /// Only this state.
    #[param(value_type = Option<schema::AlarmStatus>)]
    status: Option<AlarmStatus>,
    /// Only open (`true`) or cleared (`false`) alarms.
    active: Option<bool>,
    /// Only this severity.
    #[param(value_type = Option<schema::Severity>)]
    severity: Option<Severity>,
    /// Only this originator.
    #[param(value_type = Option<String>)]
    device_id: Option<DeviceId>,
    /// Only alarms propagated to this well.
    #[param(value_type = Option<String>)]
    well_id: Option<WellId>,
    /// Only alarms propagated to this wellpad.
    #[param(value_type = Option<String>)]
    wellpad_id: Option<WellpadId>,
    /// Only alarms assigned to this user.
    assignee: Option<String>,
    /// Started at or after (ms since the epoch).
    start_ts: Option<i64>,
    /// Started before (ms since the epoch).
    end_ts: Option<i64>,
    /// Page size: default 100, 1 to 1000 (more is a 400).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Lists the tenant's alarms, newest first.
#[utoipa::path(get, path = "/api/alarms", tag = "alarms", operation_id = "list_alarms",
    params(AlarmQuery),
    responses(
        (status = 200, description = "The alarms, newest first", body = Vec<AlarmView>),
        (status = 400, description = "A bad filter or limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<AlarmQuery>,
) -> Result<JsonResponse<Vec<AlarmView>>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let filter = AlarmFilter {
        status: query.status,
        active: query.active,
        severity: query.severity,
        device_id: query.device_id,
        well_id: query.well_id,
        wellpad_id: query.wellpad_id,
        assignee: query.assignee,
        start_ts: query.start_ts,
        end_ts: query.end_ts,
        limit: Some(limit),
    };
    Ok(JsonResponse(all(state.services.alarms().list(&principal.tenant_id, &filter).await?)))
}

/// Reads one alarm.
#[utoipa::path(get, path = "/api/alarms/{id}", tag = "alarms", operation_id = "get_alarm",
    params(("id" = String, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "The alarm", body = AlarmView),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmView>, ApiError> {
    Ok(JsonResponse(state.services.alarms().get(&principal.tenant_id, &id).await?.into()))
}

/// Every transition of an alarm, oldest first.
#[utoipa::path(get, path = "/api/alarms/{id}/events", tag = "alarms", operation_id = "list_alarm_events",
    params(("id" = String, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "The transitions, oldest first", body = Vec<AlarmEventView>),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn events(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<Vec<AlarmEventView>>, ApiError> {
    Ok(JsonResponse(all(state.services.alarms().events(&principal.tenant_id, &id).await?)))
}

/// Acknowledges an alarm (again: no change).
#[utoipa::path(post, path = "/api/alarms/{id}/ack", tag = "alarms", operation_id = "acknowledge_alarm",
    params(("id" = String, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "What the action did", body = AlarmChangeView),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().acknowledge(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

/// Clears an alarm by hand (again: no change).
#[utoipa::path(post, path = "/api/alarms/{id}/clear", tag = "alarms", operation_id = "clear_alarm",
    params(("id" = String, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "What the action did", body = AlarmChangeView),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn clear(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().clear(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

/// Whom to assign an alarm to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Assign {
    /// The user (1 to 200 characters); `null` unassigns.
    #[schema(min_length = 1, max_length = 200)]
    assignee: Option<String>,
}

/// Assigns an alarm to a user (`{"assignee": "ana"}`), or unassigns it (`null`).
#[utoipa::path(post, path = "/api/alarms/{id}/assign", tag = "alarms", operation_id = "assign_alarm",
    params(("id" = String, Path, description = "The alarm's id")),
    request_body = Assign,
    responses(
        (status = 200, description = "What the action did", body = AlarmChangeView),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A bad body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn assign(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
    Json(body): Json<Assign>,
) -> Result<JsonResponse<AlarmChangeView>, ApiError> {
    let change = state.services.alarms().assign(&principal.tenant_id, &id, body.assignee, &principal.actor).await?;
    Ok(JsonResponse(change.into()))
}

/// A comment on an alarm.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewComment {
    /// The text, 1 to 4000 characters.
    #[schema(min_length = 1, max_length = 4000)]
    text: String,
}

/// Comments on an alarm (1 to 4000 characters).
#[utoipa::path(post, path = "/api/alarms/{id}/comments", tag = "alarms", operation_id = "comment_alarm",
    params(("id" = String, Path, description = "The alarm's id")),
    request_body = NewComment,
    responses(
        (status = 201, description = "The comment", body = CommentView),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "A bad body", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn comment(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
    Json(body): Json<NewComment>,
) -> Result<(StatusCode, JsonResponse<CommentView>), ApiError> {
    let comment = state.services.alarms().comment(&principal.tenant_id, &id, body.text, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(comment.into())))
}

/// The comments on an alarm, oldest first.
#[utoipa::path(get, path = "/api/alarms/{id}/comments", tag = "alarms", operation_id = "list_alarm_comments",
    params(("id" = String, Path, description = "The alarm's id")),
    responses(
        (status = 200, description = "The comments, oldest first", body = Vec<CommentView>),
        (status = 404, description = "No such alarm in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn comments(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<AlarmId>,
) -> Result<JsonResponse<Vec<CommentView>>, ApiError> {
    Ok(JsonResponse(all(state.services.alarms().comments(&principal.tenant_id, &id).await?)))
}
