//! `application/problem+json` (RFC 9457) errors with a stable `code`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nexus_services::{Refusal, ServiceError};
use serde_json::json;

/// An error at the HTTP edge. Every one has a stable machine-readable code.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    extra: serde_json::Map<String, serde_json::Value>,
    headers: Vec<(axum::http::HeaderName, axum::http::HeaderValue)>,
}

impl ApiError {
    /// An error with a status, a stable code and a human-readable detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self { status, code: code.into(), detail: detail.into(), extra: serde_json::Map::new(), headers: Vec::new() }
    }

    /// Adds a member to the problem document.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// Adds a response header, e.g. `Retry-After`.
    pub fn with_header(mut self, name: axum::http::HeaderName, value: &'static str) -> Self {
        self.headers.push((name, axum::http::HeaderValue::from_static(value)));
        self
    }

    /// Adds a `Retry-After` of whole seconds (at least 1).
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.headers.push((header::RETRY_AFTER, axum::http::HeaderValue::from(seconds.max(1))));
        self
    }

    /// 400 with code `invalid-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", detail)
    }

    /// 401 `unauthenticated` with `WWW-Authenticate: Bearer` (RFC 6750).
    pub fn unauthenticated(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
            .with_header(header::WWW_AUTHENTICATE, "Bearer realm=\"nexus\", error=\"invalid_token\"")
    }

    /// 403 `forbidden`: authenticated, but the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn internal(error: &dyn std::fmt::Display) -> Self {
        // Details of 5xx go to the log, not to the client.
        tracing::error!(%error, "Internal error.");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://nexus.invalid/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let serde_json::Value::Object(map) = &mut body {
            map.extend(self.extra);
        }
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response();
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            e @ ServiceError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not-found", e.to_string()),
            ServiceError::Conflict(detail) => Self::new(StatusCode::CONFLICT, "conflict", detail),
            ServiceError::Invalid(detail) => Self::bad_request(detail),
            ServiceError::InvalidRule(error) => Self::new(StatusCode::BAD_REQUEST, error.code(), error.to_string()),
            ServiceError::Unauthenticated(detail) => Self::unauthenticated(&detail),
            ServiceError::Forbidden(detail) => Self::forbidden(detail),
            e @ ServiceError::UnknownToken => {
                Self::new(StatusCode::UNAUTHORIZED, "unknown-access-token", e.to_string())
            }
            ServiceError::Refused { code, refusal, message } => {
                let status = match refusal {
                    Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                    Refusal::BadRequest => StatusCode::BAD_REQUEST,
                    Refusal::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
                    Refusal::Conflict => StatusCode::CONFLICT,
                    Refusal::Forbidden => StatusCode::FORBIDDEN,
                };
                Self::new(status, code, message)
            }
            // The sender's input: 422. The tenant's component failed: 502
            // (a gateway's upstream failed, not the host). Quarantined: 503.
            ServiceError::Rejected { code, message } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "input-rejected", message)
                    .with("decoder_code", code)
                    .with("note", "the frame is kept as a dead letter")
            }
            ServiceError::Fault { code, message } => Self::new(StatusCode::BAD_GATEWAY, code, message)
                .with("note", "the tenant's decoder faulted; the frame is kept as a dead letter"),
            ServiceError::Quarantined { binding_id, device_id: None, reason } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "binding-quarantined",
                format!("the decoder binding is quarantined: {reason}; the frame is kept as a dead letter"),
            )
            .with("binding_id", binding_id.to_string()),
            ServiceError::Quarantined { binding_id, device_id: Some(device), reason } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "device-quarantined",
                format!(
                    "this device's input to its decoder is quarantined: {reason}; the frame is kept as a dead letter"
                ),
            )
            .with("binding_id", binding_id.to_string())
            .with("device_id", device.to_string()),
            e @ ServiceError::NoDecoder(_) => Self::new(StatusCode::CONFLICT, "no-decoder", e.to_string()),
            e @ ServiceError::QuotaExceeded { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", e.to_string())
                    .with("note", "the frame is kept as a dead letter")
            }
            e @ ServiceError::RateLimited { limit, retry_after, .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", e.to_string())
                    .retry_after(retry_after)
                    .with("limit", limit)
                    .with("note", "nothing of this request was done or stored; send it again after Retry-After")
            }
            // 403: the request is understood, the tenant's profile forbids
            // it, and retrying does not help until the profile changes.
            e @ ServiceError::EntityQuotaExceeded { quota, limit, .. } => {
                Self::new(StatusCode::FORBIDDEN, "entity-quota-exceeded", e.to_string())
                    .with("quota", quota)
                    .with("limit", limit)
                    .with("note", "nothing was created")
            }
            e @ ServiceError::AboveCeiling { limit, .. } => {
                Self::new(StatusCode::BAD_REQUEST, "limit-above-ceiling", e.to_string()).with("limit", limit)
            }
            ServiceError::BackingOff { message, retry_after_s } => {
                Self::new(StatusCode::CONFLICT, "re-enable-backoff", format!("{message}; retry in {retry_after_s} s"))
                    .retry_after(std::time::Duration::from_secs(retry_after_s.into()))
            }
            e @ ServiceError::CapacityExhausted { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "capacity-exhausted", e.to_string())
                    .with_header(axum::http::header::RETRY_AFTER, "1")
                    .with(
                        "note",
                        "the host was busy with this tenant's other calls; the input is kept as a dead letter",
                    )
            }
            e @ ServiceError::CompileBusy { retry_after_s, .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "compile-busy", e.to_string())
                    .retry_after(std::time::Duration::from_secs(u64::from(retry_after_s)))
                    .with("note", "nothing was compiled or stored; upload it again")
            }
            e @ ServiceError::TooManyStreams { limit, .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "too-many-streams", e.to_string())
                    .with_header(axum::http::header::RETRY_AFTER, "5")
                    .with("limit", limit)
            }
            e @ ServiceError::Overloaded { .. } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", e.to_string())
                    .with_header(axum::http::header::RETRY_AFTER, "1")
                    .with("note", "nothing of this request was stored; send it again")
            }
            ServiceError::Unavailable(detail) => {
                tracing::warn!(%detail, "Storage unavailable.");
                Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "storage is unavailable; retry later")
                    .with_header(axum::http::header::RETRY_AFTER, "1")
            }
            ServiceError::SetpointWrite(e) => {
                let status = match e {
                    nexus_services::WriteError::NotWritable { .. } | nexus_services::WriteError::Interlock(_) => {
                        StatusCode::CONFLICT
                    }
                    nexus_services::WriteError::OutOfRange(_) => StatusCode::UNPROCESSABLE_ENTITY,
                    nexus_services::WriteError::Refused(_) | nexus_services::WriteError::Unreachable(_) => {
                        StatusCode::BAD_GATEWAY
                    }
                    nexus_services::WriteError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
                };
                Self::new(status, e.code(), e.to_string())
            }
            e => Self::internal(&e),
        }
    }
}
