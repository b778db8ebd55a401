//! Rollouts of a new version on an alarm-rule binding: start a canary or a
//! shadow, read its tally, promote or abort it.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{BindingId, PluginVersionId, RolloutMode};
use nexus_services::{RolloutRequest, RolloutStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::Problem;
use crate::views::BindingView;

/// How the candidate runs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ModeBody {
    /// On a share of the binding's devices, its output applied.
    Canary,
    /// On every device beside the version in use, compared and never applied.
    Shadow,
}

/// A rollout to start.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolloutBody {
    /// The candidate: another alarm-rule version of the tenant.
    plugin_id: String,
    mode: ModeBody,
    /// Canary: the share of devices that run the candidate, 1–99 (default 25).
    #[schema(minimum = 1, maximum = 99)]
    percent: Option<u8>,
    /// How long the candidate is watched before it is promoted, 1 000 ms to a week (default 600 000).
    window_ms: Option<i64>,
    /// Rolled back when the candidate's faults / calls exceed this, 0–1 (default 0.05).
    max_fault_rate: Option<f64>,
    /// Shadow: rolled back when disagreements / comparisons exceed this, 0–1 (default 0.05).
    max_disagreement_rate: Option<f64>,
    /// Calls (or comparisons) before a rate is judged (default 20).
    min_calls: Option<u32>,
}

/// A rollout in progress and what its candidate did on this host.
#[derive(Serialize, ToSchema)]
pub(crate) struct RolloutView {
    candidate_plugin_id: String,
    mode: ModeBody,
    percent: u8,
    window_ms: i64,
    max_fault_rate: f64,
    max_disagreement_rate: f64,
    min_calls: u32,
    started_time: i64,
    /// When it is promoted unless a rate passes its maximum first.
    ends_time: i64,
    /// The candidate's calls (since the start, or since this host started).
    calls: u64,
    /// Of them, faults (the batch then ran on the version in use).
    faults: u64,
    /// Shadow: calls whose output was compared.
    comparisons: u64,
    /// Of them, the ones whose outputs differed.
    disagreements: u64,
}

impl From<RolloutStatus> for RolloutView {
    fn from(status: RolloutStatus) -> Self {
        let (r, t) = (status.rollout, status.tally);
        Self {
            candidate_plugin_id: r.candidate_plugin_id.into(),
            mode: match r.mode {
                RolloutMode::Canary => ModeBody::Canary,
                RolloutMode::Shadow => ModeBody::Shadow,
            },
            percent: r.percent,
            window_ms: r.window_ms,
            max_fault_rate: r.max_fault_rate,
            max_disagreement_rate: r.max_disagreement_rate,
            min_calls: r.min_calls,
            started_time: r.started_time,
            ends_time: r.started_time.saturating_add(r.window_ms),
            calls: t.calls,
            faults: t.faults,
            comparisons: t.comparisons,
            disagreements: t.disagreements,
        }
    }
}

/// Why a rollout is aborted.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AbortBody {
    /// Said in the event.
    reason: Option<String>,
}

/// Starts rolling another version out on an alarm-rule binding: a canary on
/// a share of its devices or a shadow beside the version in use, ended by
/// itself (rolled back past a maximum rate, promoted when the window passes).
#[utoipa::path(post, path = "/api/bindings/{id}/rollout", tag = "bindings", operation_id = "start_rollout",
    params(("id" = String, Path, description = "The binding's id")),
    request_body = RolloutBody,
    responses(
        (status = 201, description = "The binding, with its rollout", body = BindingView),
        (status = 400, description = "A bad policy (the reason names the field), or the candidate is the version in use or of another kind", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such binding or plugin version in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A rollout is in progress already (`rollout-in-progress`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an alarm-rule binding (`rollout-unsupported`), or the candidate is a yanked or revoked release (`release-yanked`, `release-revoked`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn start(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
    Json(body): Json<RolloutBody>,
) -> Result<(StatusCode, JsonResponse<BindingView>), ApiError> {
    let request = RolloutRequest {
        plugin_id: PluginVersionId::from(body.plugin_id),
        mode: match body.mode {
            ModeBody::Canary => RolloutMode::Canary,
            ModeBody::Shadow => RolloutMode::Shadow,
        },
        percent: body.percent,
        window_ms: body.window_ms,
        max_fault_rate: body.max_fault_rate,
        max_disagreement_rate: body.max_disagreement_rate,
        min_calls: body.min_calls,
    };
    let binding = state.services.plugins().start_rollout(&principal.tenant_id, &id, &request, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(binding.into())))
}

/// The binding's rollout in progress and its candidate's tally.
#[utoipa::path(get, path = "/api/bindings/{id}/rollout", tag = "bindings", operation_id = "get_rollout",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "The rollout", body = RolloutView),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No rollout in progress (`no-rollout`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<RolloutView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().rollout(&principal.tenant_id, &id).await?.into()))
}

/// Ends the rollout by moving the binding to the candidate now.
#[utoipa::path(post, path = "/api/bindings/{id}/rollout/promote", tag = "bindings", operation_id = "promote_rollout",
    params(("id" = String, Path, description = "The binding's id")),
    responses(
        (status = 200, description = "The binding, on the candidate", body = BindingView),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No rollout in progress (`no-rollout`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The candidate is a yanked or revoked release (`release-yanked`, `release-revoked`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn promote(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let plugins = state.services.plugins();
    let binding = plugins.end_rollout(&principal.tenant_id, &id, true, None, &principal.actor).await?;
    Ok(JsonResponse(binding.into()))
}

/// Ends the rollout with the binding on the version it runs.
#[utoipa::path(post, path = "/api/bindings/{id}/rollout/abort", tag = "bindings", operation_id = "abort_rollout",
    params(("id" = String, Path, description = "The binding's id")),
    request_body = AbortBody,
    responses(
        (status = 200, description = "The binding, unchanged but for the rollout", body = BindingView),
        (status = 400, description = "A bad body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No rollout in progress (`no-rollout`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn abort(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BindingId>,
    Json(body): Json<AbortBody>,
) -> Result<JsonResponse<BindingView>, ApiError> {
    let reason = body.reason.map(|r| r.chars().take(nexus_services::MAX_REASON_CHARS).collect());
    let plugins = state.services.plugins();
    let binding = plugins.end_rollout(&principal.tenant_id, &id, false, reason, &principal.actor).await?;
    Ok(JsonResponse(binding.into()))
}
