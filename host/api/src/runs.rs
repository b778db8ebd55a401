//! Runs of scheduled bindings (optimizers, field optimizers, forecasters):
//! each run's progress, and cancelling one (`nexus_services` runs).

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::{BindingId, RunId};
use nexus_services::{Run, RunStatus};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Path, Query};
use crate::schema::Problem;

/// One run of a scheduled binding.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RunView {
    id: String,
    binding_id: String,
    /// `schedule` or `manual`.
    trigger: String,
    /// `running`, `done`, `cancelled`, `over_budget` or `failed`.
    status: String,
    /// Devices (or a field optimizer's wellpads) run so far.
    done: u64,
    /// Devices (or wellpads) to run.
    total: u64,
    /// `done / total`, 0 to 1.
    progress: f64,
    /// Recommendations (or forecasts) it stored.
    stored: u64,
    started_at: i64,
    finished_at: Option<i64>,
    /// Why it stopped early (cancelled, over its budget) or failed.
    reason: Option<String>,
}

impl From<Run> for RunView {
    fn from(r: Run) -> Self {
        let status = match r.status {
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Cancelled => "cancelled",
            RunStatus::OverBudget => "over_budget",
            RunStatus::Failed => "failed",
        };
        Self {
            id: r.id.into_string(),
            binding_id: r.binding_id.into_string(),
            trigger: r.trigger.into(),
            status: status.into(),
            done: r.done,
            total: r.total,
            progress: r.progress,
            stored: r.stored,
            started_at: r.started_at,
            finished_at: r.finished_at,
            reason: r.reason,
        }
    }
}

/// Which runs.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunsQuery {
    /// Only this binding's runs.
    binding_id: Option<String>,
}

/// The tenant's runs kept on this host (the newest 200 of the host), newest first.
#[utoipa::path(get, path = "/api/runs", tag = "bindings", operation_id = "list_runs",
    params(RunsQuery),
    responses(
        (status = 200, description = "The runs", body = Vec<RunView>),
        (status = 400, description = "An unknown query parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<RunsQuery>,
) -> Result<JsonResponse<Vec<RunView>>, ApiError> {
    let binding = query.binding_id.map(BindingId::new);
    let runs = state.services.optimizers().runs(&principal.tenant_id, binding.as_ref());
    Ok(JsonResponse(runs.into_iter().map(Into::into).collect()))
}

/// One run and its progress.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "bindings", operation_id = "get_run",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run", body = RunView),
        (status = 404, description = "No such run of this tenant on this host", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RunId>,
) -> Result<JsonResponse<RunView>, ApiError> {
    Ok(JsonResponse(state.services.optimizers().run_status(&principal.tenant_id, &id)?.into()))
}

/// Cancels a running run: it stops before its next device; what it stored stays.
#[utoipa::path(post, path = "/api/runs/{id}/cancel", tag = "bindings", operation_id = "cancel_run",
    params(("id" = String, Path, description = "The run's id")),
    responses(
        (status = 200, description = "The run, to stop before its next device", body = RunView),
        (status = 404, description = "No such run of this tenant on this host", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run has ended", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<RunId>,
) -> Result<JsonResponse<RunView>, ApiError> {
    Ok(JsonResponse(state.services.optimizers().cancel_run(&principal.tenant_id, &id)?.into()))
}
