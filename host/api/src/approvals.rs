//! A recommendation and its life: read it and its steps; approve (it is then
//! sent to the device) or reject it. Operators and tenant admins decide;
//! anyone in the tenant reads.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{RecommendationId, RecommendationTransition};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::{self, Problem};
use crate::views::RecommendationView;

/// An approval, with an optional reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Approval {
    /// Why (at most 1000 characters).
    #[serde(default)]
    reason: Option<String>,
}

/// A rejection, with its reason.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rejection {
    /// Why (1 to 1000 characters).
    reason: String,
}

/// One step of a recommendation's life.
#[derive(Serialize, ToSchema)]
pub(crate) struct TransitionView {
    recommendation_id: String,
    #[schema(value_type = schema::RecommendationStatus)]
    from: nexus_model::RecommendationStatus,
    #[schema(value_type = schema::RecommendationStatus)]
    to: nexus_model::RecommendationStatus,
    /// `user:<name>` (an operator), or `system:<what>` (the host).
    actor: String,
    reason: Option<String>,
    ts: i64,
}

impl From<RecommendationTransition> for TransitionView {
    fn from(t: RecommendationTransition) -> Self {
        Self {
            recommendation_id: t.recommendation_id.into_string(),
            from: t.from,
            to: t.to,
            actor: t.actor.to_string(),
            reason: t.reason,
            ts: t.ts,
        }
    }
}

/// Reads a recommendation.
#[utoipa::path(get, path = "/api/recommendations/{id}", tag = "records", operation_id = "get_recommendation",
    params(("id" = String, Path, description = "The recommendation")),
    responses(
        (status = 200, description = "The recommendation", body = RecommendationView),
        (status = 404, description = "No such recommendation in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_one(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RecommendationId>,
) -> Result<JsonResponse<RecommendationView>, ApiError> {
    Ok(JsonResponse(state.services.approvals().recommendation(&principal.tenant_id, &id).await?.into()))
}

/// A recommendation's steps, oldest first, each with its actor and reason.
#[utoipa::path(get, path = "/api/recommendations/{id}/transitions", tag = "records", operation_id = "list_recommendation_transitions",
    params(("id" = String, Path, description = "The recommendation")),
    responses(
        (status = 200, description = "The steps, oldest first", body = Vec<TransitionView>),
        (status = 404, description = "No such recommendation in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn transitions(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RecommendationId>,
) -> Result<JsonResponse<Vec<TransitionView>>, ApiError> {
    let steps = state.services.approvals().transitions(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(steps.into_iter().map(Into::into).collect()))
}

/// Approves a proposed recommendation after its interlocks (setpoint limits,
/// no critical alarm on the device, the device online); the host then sends
/// it to the device (its transitions show `SENT`, then `CONFIRMED`, `FAILED`
/// or `TIMED_OUT`). 202 with the recommendation `APPROVED`.
#[utoipa::path(post, path = "/api/recommendations/{id}/approve", tag = "records", operation_id = "approve_recommendation",
    params(("id" = String, Path, description = "The recommendation")),
    request_body = Approval,
    responses(
        (status = 202, description = "Approved; being sent", body = RecommendationView),
        (status = 400, description = "A bad body: unknown field, a reason over 1000 characters", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recommendation in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`interlock` (the reason names it; it stays proposed), `recommendation-expired`, or `recommendation-not-proposed` (decided, superseded or expired already)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RecommendationId>,
    Json(body): Json<Approval>,
) -> Result<(StatusCode, JsonResponse<RecommendationView>), ApiError> {
    let approved =
        state.services.approvals().approve(&principal.tenant_id, &id, &principal.actor, body.reason.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, JsonResponse(approved.into())))
}

/// Rejects a proposed recommendation, with a reason.
#[utoipa::path(post, path = "/api/recommendations/{id}/reject", tag = "records", operation_id = "reject_recommendation",
    params(("id" = String, Path, description = "The recommendation")),
    request_body = Rejection,
    responses(
        (status = 200, description = "Rejected", body = RecommendationView),
        (status = 400, description = "A bad body: no reason, unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such recommendation in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`recommendation-not-proposed`: decided, superseded or expired already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RecommendationId>,
    Json(body): Json<Rejection>,
) -> Result<JsonResponse<RecommendationView>, ApiError> {
    let rejected = state.services.approvals().reject(&principal.tenant_id, &id, &principal.actor, &body.reason).await?;
    Ok(JsonResponse(rejected.into()))
}
