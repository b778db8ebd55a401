//! `GET /readyz`: whether the host should take traffic now — the database
//! answers, the compile cache takes files, every configured broker is
//! reachable (none is configured yet). 200 with every check, or 503
//! `not-ready` naming the checks that failed. No credential, like
//! `/healthz` (which only says the process serves).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nexus_services::CheckState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;

/// One readiness check.
#[derive(Serialize, ToSchema)]
pub(crate) struct CheckView {
    /// What was checked: `database`, `compile-cache`, `broker`.
    #[schema(example = "database")]
    name: String,
    /// `ok`, `not-configured` or `failed`.
    #[schema(example = "ok")]
    status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// The host is ready.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReadinessView {
    /// `ready`.
    #[schema(example = "ready")]
    status: String,
    /// Every check.
    checks: Vec<CheckView>,
}

/// Whether the host should take traffic (readiness probe).
#[utoipa::path(get, path = "/readyz", tag = "system", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready: every check is `ok` or `not-configured`", body = ReadinessView),
        (status = 503, description = "Not ready (`not-ready`): `detail` names the failed checks, `checks` lists all",
            body = crate::schema::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.services.monitor().readiness().await;
    let checks: Vec<CheckView> = readiness
        .checks
        .iter()
        .map(|check| {
            let (status, error) = match &check.state {
                CheckState::Ok => ("ok", None),
                CheckState::NotConfigured => ("not-configured", None),
                CheckState::Failed(error) => ("failed", Some(error.clone())),
            };
            CheckView { name: check.name.into(), status: status.into(), error }
        })
        .collect();
    if readiness.is_ready() {
        return Json(ReadinessView { status: "ready".into(), checks }).into_response();
    }
    let failed: Vec<String> = readiness
        .failed()
        .map(|c| match &c.state {
            CheckState::Failed(error) => format!("{}: {error}", c.name),
            _ => c.name.to_string(),
        })
        .collect();
    tracing::warn!(failed = %failed.join("; "), "Not ready.");
    let checks = serde_json::to_value(&checks).unwrap_or_default();
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", failed.join("; "))
        .with("checks", checks)
        .into_response()
}
