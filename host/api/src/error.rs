//! `application/problem+json` (RFC 9457) errors with a stable `code`.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use nexus_pipeline::PipelineError;
use nexus_registry::RegistryError;
use nexus_runtime::LoadError;
use nexus_storage::StorageError;
use serde_json::json;

/// An error at the HTTP edge. Every one has a stable machine-readable code.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    /// An error with a status, a stable code and a human-readable detail.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self { status, code: code.into(), detail: detail.into(), extra: serde_json::Map::new() }
    }

    /// Adds a member to the problem document.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// 400 with code `invalid-request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid-request", detail)
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
        (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response()
    }
}

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        match &error {
            StorageError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, "not-found", error.to_string()),
            StorageError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", error.to_string()),
            _ => Self::internal(&error),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let (status, code) = match &error {
            RegistryError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            RegistryError::Empty => (StatusCode::UNPROCESSABLE_ENTITY, "empty-component"),
            RegistryError::CoreModule => (StatusCode::UNPROCESSABLE_ENTITY, "core-module"),
            RegistryError::NotWasm => (StatusCode::UNPROCESSABLE_ENTITY, "not-a-component"),
            RegistryError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-component"),
            RegistryError::BadName(_) => (StatusCode::BAD_REQUEST, "invalid-name"),
            RegistryError::BadVersion(_) => (StatusCode::BAD_REQUEST, "invalid-version"),
            _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-component"),
        };
        Self::new(status, code, error.to_string())
    }
}

impl From<LoadError> for ApiError {
    fn from(error: LoadError) -> Self {
        let code = match &error {
            LoadError::NotAComponent(_) => "not-a-component",
            LoadError::Compile(_) => "invalid-component",
            LoadError::ForbiddenImport { .. } => "forbidden-import",
            LoadError::WrongWorld { .. } => "wrong-world",
            _ => return Self::internal(&error),
        };
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string())
    }
}

impl From<PipelineError> for ApiError {
    fn from(error: PipelineError) -> Self {
        match error {
            PipelineError::Storage(e) => e.into(),
            PipelineError::Registry(e) => e.into(),
            PipelineError::Load(e) => e.into(),
            PipelineError::Describe(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "describe-failed",
                format!("the component's describe call failed: {e}"),
            )
            .with("plugin_error", e.code()),
            PipelineError::Rejected { code, message } => {
                Self::new(StatusCode::BAD_REQUEST, "decode-failed", message).with("decoder_code", code)
            }
            PipelineError::Fault(e) => Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.to_string())
                .with("note", "the frame is kept as a dead letter"),
            PipelineError::Quarantined { binding_id, reason } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "binding-quarantined",
                format!("the decoder binding is quarantined: {reason}; the frame is kept as a dead letter"),
            )
            .with("binding_id", binding_id),
            e @ PipelineError::NoDecoder(_) => Self::new(StatusCode::CONFLICT, "no-decoder", e.to_string()),
            PipelineError::Invalid(detail) => Self::bad_request(detail),
            e @ PipelineError::QuotaExceeded { .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", e.to_string())
                    .with("note", "the frame is kept as a dead letter")
            }
            e @ PipelineError::CompileTimeout(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "compile-timeout", e.to_string())
            }
            e => Self::internal(&e),
        }
    }
}
