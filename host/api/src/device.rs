//! The ThingsBoard device API: `POST /api/v1/{accessToken}/telemetry`.

use axum::Json as JsonResponse;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use nexus_model::{Frame, SourceKind};
use nexus_services::{IngestReport, ServiceError};

use crate::AppState;
use crate::error::ApiError;
use crate::json::{Path, body_bytes};
use crate::schema::{IngestReport as IngestReportSchema, Problem};

/// Accepts a telemetry frame from a device. Answers once everything the
/// frame caused is durable: 200 with what was accepted and rejected, 400
/// when the decoder rejects the frame, 401 for an unknown token, and 429
/// `too-many-failed-tokens` (with `Retry-After`) to an address that sent
/// too many unknown tokens lately ([`crate::TokenThrottle`]), and 429
/// `rate-limited` (with `Retry-After`, nothing of the frame stored) to a
/// device over its tenant profile's ingest limits, held until the limit
/// admits again (at most a second) so that a client ignoring `Retry-After`
/// is paced at its limit ([`crate::RefusalPacing`]).
#[utoipa::path(post, path = "/api/v1/{token}/telemetry", tag = "device", operation_id = "post_telemetry",
    params(("token" = String, Path, description = "The device's access token")),
    request_body(content = Object, description = "A ThingsBoard telemetry frame (`{\"ts\": ..., \"values\": {...}}`, or what the device's decoder reads; at most 1 MiB)", content_type = "application/json"),
    responses(
        (status = 200, description = "What was accepted and rejected", body = IngestReportSchema),
        (status = 400, description = "The frame was refused as malformed", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Unknown access token (`unknown-access-token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The device has no decoder binding (`no-decoder`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The decoder rejected the frame (`input-rejected`); it is kept as a dead letter", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many unknown tokens from this address (`too-many-failed-tokens`, with `Retry-After`), the device or its tenant over the profile's ingest limits (`rate-limited`, with `Retry-After`), or the tenant's monthly quota is used up (`quota-exceeded`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The tenant's decoder faulted; the frame is kept as a dead letter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The decoder binding or the device is quarantined, the host is busy or overloaded, or storage is unavailable (with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn post_telemetry(
    State(state): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Result<JsonResponse<IngestReport>, ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let topic = request.uri().path().to_string();
    let address = crate::serve::client_address(request.extensions()).map(|a| a.ip());
    let device = authenticate(&state, &token, address).await?;
    // The profile's message windows, before the body is read; its data
    // point windows are checked once the decoder has counted them. Refused:
    // 429 `rate-limited` with `Retry-After`, nothing of the frame stored.
    paced(&state, state.services.limits().check_ingest_message(&device.tenant_id, &device.id).await).await?;
    crate::json::check_declared_length(request.headers(), crate::MAX_TELEMETRY_BYTES)?;
    let payload = body_bytes(request, &()).await?;
    let frame = Frame {
        source: SourceKind::Http,
        device_id: device.id.clone(),
        // The token is a credential: keep it out of stored frames.
        topic: topic.replace(&token, "{accessToken}"),
        content_type,
        payload: payload.to_vec(),
        received_at: state.clock.now(),
        metadata: Vec::new(),
    };
    Ok(JsonResponse(paced(&state, state.services.ingest().ingest_frame(&device, frame).await).await?))
}

/// `result`, a rate-limit refusal held first until its window admits again
/// (at most the pacing's cap).
async fn paced<T>(state: &AppState, result: Result<T, ServiceError>) -> Result<T, ServiceError> {
    if let Err(ServiceError::RateLimited { retry_after, .. }) = &result {
        state.pacing.hold(*retry_after).await;
    }
    result
}

/// The device of an access token, throttling an address that sends too
/// many unknown tokens (429 `too-many-failed-tokens`, with `Retry-After`).
pub(crate) async fn authenticate(
    state: &AppState,
    token: &str,
    address: Option<std::net::IpAddr>,
) -> Result<nexus_model::Device, ApiError> {
    let now = std::time::Instant::now();
    if let Some(wait) = address.and_then(|a| state.failed_tokens.blocked(a, now)) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-failed-tokens",
            format!(
                "{} unknown access tokens from this address within {} s; try again later",
                state.failed_tokens.max_failures(),
                state.failed_tokens.window().as_secs()
            ),
        )
        .retry_after(wait));
    }
    match state.services.assets().authenticate_device(token).await {
        Err(ServiceError::UnknownToken) => {
            if let Some(address) = address {
                state.failed_tokens.failed(address, now);
            }
            Err(ServiceError::UnknownToken.into())
        }
        other => Ok(other?),
    }
}
