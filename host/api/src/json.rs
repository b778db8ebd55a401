//! JSON bodies and query strings whose rejections are problem documents.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON request body; malformed JSON is a 400 `malformed-json`.
pub(crate) struct Json<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        serde_json::from_slice(&bytes).map(Json).map_err(|e| {
            let code = if e.is_data() { "invalid-request" } else { "malformed-json" };
            ApiError::new(StatusCode::BAD_REQUEST, code, format!("request body: {e}"))
        })
    }
}

/// Refuses a body whose declared `Content-Length` is over `max` before any
/// of it is read (a chunked body is cut off by the body limit while it
/// streams in, so at most `max` bytes are ever buffered).
pub(crate) fn check_declared_length(headers: &axum::http::HeaderMap, max: usize) -> Result<(), ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > max as u64 => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the body is {length} bytes, over this endpoint's limit of {max}"),
        )),
        _ => Ok(()),
    }
}

/// The raw body, with a too-large body as a 413 problem.
pub(crate) async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, "payload-too-large", "the request body is over the limit of this endpoint")
        } else {
            ApiError::new(status, "unreadable-body", rejection.body_text())
        }
    })
}

/// A query string; bad parameters are a 400 `invalid-query`.
pub(crate) struct Query<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid-query", rejection.body_text()))
    }
}

/// Path parameters; undecodable ones are a 400 `invalid-path` problem.
pub(crate) struct Path<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid-path", rejection.body_text()))
    }
}

/// Largest JSON body of an admin endpoint (64 KiB); a larger one is a 413
/// `payload-too-large` problem.
pub const MAX_JSON_BYTES: usize = 64 << 10;

/// Default page size of the lists that take a `limit` (alarms, events,
/// recommendations, plugin runs, dead letters).
pub(crate) const DEFAULT_PAGE: u32 = 100;

/// Largest page of those lists.
pub(crate) const MAX_LIST_PAGE: u32 = 1000;

/// The page size asked for: `default` when absent; 0 or over `max` is a
/// 400 `invalid-request` (never silently clamped).
pub(crate) fn page_limit(limit: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match limit {
        None => Ok(default),
        Some(limit) if (1..=max).contains(&limit) => Ok(limit),
        Some(limit) => {
            Err(ApiError::bad_request(format!("limit must be 1 to {max} (got {limit})"))
                .with("maximum", u64::from(max)))
        }
    }
}

/// `?after=&limit=` of a list: at most `limit` (default 100, 1 to 1000)
/// items after the item whose id is `after` (the last id of the previous
/// page).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// The id of the last item of the previous page.
    after: Option<String>,
    /// At most this many (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

impl PageQuery {
    /// The page asked for; a limit out of range is 400 with `maximum`.
    pub(crate) fn page(self) -> Result<nexus_model::Page, ApiError> {
        let limit = page_limit(self.limit, nexus_model::Page::DEFAULT, nexus_model::Page::MAX)?;
        Ok(nexus_model::Page { after: self.after, limit })
    }
}
