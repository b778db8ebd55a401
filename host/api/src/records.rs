//! Telemetry reads, recommendations, failed plugin runs and dead letters.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use nexus_model::{DeviceId, EventSeq};
use serde::Deserialize;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Query;
use crate::views::{DeadLetterView, PluginRunView, ReadingView, RecommendationView, all};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LatestQuery {
    /// Comma-separated keys; a page of all keys when absent.
    #[serde(default)]
    keys: Option<String>,
    /// The page's size (default 1000, at most 10 000).
    #[serde(default)]
    limit: Option<u32>,
    /// The cursor: the last key of the previous page.
    #[serde(default)]
    after: Option<String>,
}

/// Default size of a page of latest values.
const LATEST_PAGE: u32 = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryQuery {
    #[serde(default)]
    key: Option<String>,
    start_ts: i64,
    end_ts: i64,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/devices/{id}/telemetry/latest?keys=a,b` (those keys), or
/// `?limit=&after=`: a page of every key's latest value in key order
/// (limit default 1000, max 10 000; a page also ends at about 4 MiB).
/// When more keys follow, the answer carries the next page's cursor, the
/// page's last key, percent-encoded in `X-Next-After` and as a
/// `Link: <...>; rel="next"`.
pub(crate) async fn latest(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
    Query(query): Query<LatestQuery>,
) -> Result<Response, ApiError> {
    let records = state.services.records();
    if let Some(keys) = &query.keys {
        if query.limit.is_some() || query.after.is_some() {
            return Err(ApiError::bad_request("keys cannot be combined with limit or after"));
        }
        let keys: Vec<String> = keys.split(',').filter(|k| !k.is_empty()).map(str::to_string).collect();
        if keys.len() > nexus_services::MAX_PAGE as usize {
            return Err(ApiError::bad_request(format!("at most {} keys at once", nexus_services::MAX_PAGE)));
        }
        return Ok(JsonResponse(all::<_, ReadingView>(records.latest(&principal.tenant_id, &id, &keys).await?))
            .into_response());
    }
    let limit = query.limit.unwrap_or(LATEST_PAGE);
    if limit == 0 || limit > nexus_services::MAX_PAGE {
        return Err(ApiError::bad_request(format!("limit must be 1 to {}", nexus_services::MAX_PAGE)));
    }
    let (page, next) = records.latest_page(&principal.tenant_id, &id, query.after.as_deref(), limit).await?;
    let mut response = JsonResponse(all::<_, ReadingView>(page)).into_response();
    if let Some(next) = next {
        let cursor = percent_encode(&next);
        let link = format!(
            "</api/devices/{}/telemetry/latest?limit={limit}&after={cursor}>; rel=\"next\"",
            percent_encode(id.as_str())
        );
        for (name, value) in [("x-next-after", cursor), ("link", link)] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    Ok(response)
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `GET /api/devices/{id}/telemetry?key=&start_ts=&end_ts=&limit=`:
/// readings in `[start_ts, end_ts)`, oldest first (limit default 1000, max 10 000).
pub(crate) async fn history(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
    Query(query): Query<HistoryQuery>,
) -> Result<JsonResponse<Vec<ReadingView>>, ApiError> {
    if query.end_ts <= query.start_ts {
        return Err(ApiError::bad_request("end_ts must be after start_ts"));
    }
    let limit = query.limit.unwrap_or(1000);
    let readings = state
        .services
        .records()
        .history(&principal.tenant_id, &id, query.key.as_deref(), query.start_ts, query.end_ts, limit)
        .await?;
    Ok(JsonResponse(all(readings)))
}

/// `GET /api/recommendations?limit=`
pub(crate) async fn recommendations(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<RecommendationView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(all(state.services.records().recommendations(&principal.tenant_id, limit).await?)))
}

/// `GET /api/plugin-runs?limit=`: failed plugin calls, newest first.
pub(crate) async fn plugin_runs(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<PluginRunView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(all(state.services.records().plugin_runs(&principal.tenant_id, limit).await?)))
}

/// `GET /api/dead-letters?limit=`: rejected frames and failed batches, newest first.
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<DeadLetterView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(all(state.services.records().dead_letters(&principal.tenant_id, limit).await?)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EventsQuery {
    #[serde(default)]
    after: Option<i64>,
    #[serde(default)]
    limit: Option<u32>,
}

/// `GET /api/events?after=&limit=`: the tenant's events (the outbox) after
/// a position, oldest first; page with `after` = the last `seq` seen.
pub(crate) async fn events(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<EventsQuery>,
) -> Result<JsonResponse<Vec<nexus_model::Event>>, ApiError> {
    let after = EventSeq(query.after.unwrap_or(0));
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(state.services.outbox().tenant_events(&principal.tenant_id, after, limit).await?))
}
