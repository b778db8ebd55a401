//! Server-side RPC of the ThingsBoard device API, for devices on HTTP:
//! `GET /api/v1/{accessToken}/rpc?timeout=` long-polls for the next request
//! (a setpoint write: `{"id", "method": parameter, "params": value}`), and
//! `POST /api/v1/{accessToken}/rpc/{id}` answers it (`{"value": n}` or a
//! number is the value read back, `{"error": …}` a refusal).

use axum::Json as JsonResponse;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use nexus_services::RpcRequest;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::device::authenticate;
use crate::error::ApiError;
use crate::json::{Path, Query};
use crate::schema::Problem;

/// Default long-poll wait, ms.
pub const DEFAULT_WAIT_MS: u64 = 20_000;

/// How long to wait.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Wait {
    /// Longest wait for a request, ms (default 20000; 1 to 60000, and
    /// always under the server's request timeout).
    #[serde(default)]
    #[param(minimum = 1, maximum = 60000)]
    timeout: Option<u64>,
}

/// A request for the device.
#[derive(serde::Serialize, ToSchema)]
pub(crate) struct RpcRequestView {
    /// Answer on `/rpc/{id}`.
    id: u64,
    /// The setpoint.
    method: String,
    /// The value to set.
    #[schema(value_type = f64)]
    params: serde_json::Value,
}

impl From<RpcRequest> for RpcRequestView {
    fn from(r: RpcRequest) -> Self {
        Self { id: r.id, method: r.method, params: r.params }
    }
}

fn address(request: &Request) -> Option<std::net::IpAddr> {
    crate::serve::client_address(request.extensions()).map(|a| a.ip())
}

/// Waits for the device's next RPC request (ThingsBoard's long poll): 200
/// with it, or 408 `no-rpc-request` when none came within the wait. While
/// a poll is open, or for a minute after one, setpoint writes for the
/// device that no connector serves are sent this way.
#[utoipa::path(get, path = "/api/v1/{token}/rpc", tag = "device", operation_id = "poll_rpc",
    params(("token" = String, Path, description = "The device's access token"), Wait),
    responses(
        (status = 200, description = "A request", body = RpcRequestView),
        (status = 400, description = "A bad query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown access token (`unknown-access-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 408, description = "No request within the wait (`no-rpc-request`): poll again", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tokens from this address (`too-many-failed-tokens`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn poll(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Query(wait): Query<Wait>,
    request: Request,
) -> Result<JsonResponse<RpcRequestView>, ApiError> {
    let wait_ms = wait.timeout.unwrap_or(DEFAULT_WAIT_MS);
    if !(1..=60_000).contains(&wait_ms) {
        return Err(ApiError::bad_request(format!("timeout {wait_ms} must be 1 to 60000 ms")));
    }
    let device = authenticate(&state, &token, address(&request)).await?;
    // Answer before the server's own deadline cuts the request off.
    let ceiling = state.request_timeout.saturating_sub(std::time::Duration::from_secs(1));
    let wait = std::time::Duration::from_millis(wait_ms).min(ceiling);
    match state.services.device_rpc().poll(&device.tenant_id, &device.id, wait).await {
        Some(request) => Ok(JsonResponse(request.into())),
        None => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "no-rpc-request",
            format!("no RPC request within {} ms; poll again", wait.as_millis()),
        )),
    }
}

/// Answers an RPC request: the body is the device's answer (JSON).
#[utoipa::path(post, path = "/api/v1/{token}/rpc/{id}", tag = "device", operation_id = "answer_rpc",
    params(("token" = String, Path, description = "The device's access token"), ("id" = u64, Path, description = "The request's id")),
    request_body(content = Object, description = "The answer: `{\"value\": n}` or a number (the value read back), `{\"error\": \"…\"}` (a refusal), or any other JSON (confirmed)", content_type = "application/json"),
    responses(
        (status = 200, description = "Taken"),
        (status = 400, description = "The id is not a number (`invalid-path`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown access token (`unknown-access-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No request of this device waits for this answer (`no-such-request`: unknown, answered, or timed out)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tokens from this address (`too-many-failed-tokens`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn answer(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, u64)>,
    request: Request,
) -> Result<StatusCode, ApiError> {
    let device = authenticate(&state, &token, address(&request)).await?;
    let body = crate::json::body_bytes(request, &()).await?;
    if state.services.device_rpc().reply(&device.tenant_id, &device.id, id, body.to_vec()) {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no-such-request",
            format!("no RPC request {id} of this device waits for an answer"),
        ))
    }
}
