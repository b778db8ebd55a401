//! Telemetry reads, recommendations, failed plugin runs and dead letters.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use nexus_model::{Aggregation, DeviceId, EventSeq, SortOrder};
use nexus_services::TelemetryQuery;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{DEFAULT_PAGE, MAX_LIST_PAGE, Path, Query, page_limit};
use crate::schema::{self, Problem};
use crate::views::{DeadLetterView, PluginRunView, ReadingView, RecommendationView, all};

/// Which latest values.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct LatestQuery {
    /// Comma-separated keys (at most 10 000); a page of all keys when
    /// absent. Not combined with `limit` or `after`.
    #[serde(default)]
    keys: Option<String>,
    /// The page's size: default 1000, 1 to 10 000 (more is a 400).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
    /// The cursor: the last key of the previous page.
    #[serde(default)]
    after: Option<String>,
}

/// Default size of a page of latest values.
const LATEST_PAGE: u32 = 1000;

/// Which readings (ThingsBoard's timeseries query).
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryQuery {
    /// Only this key (default: every key); not combined with `keys`.
    #[serde(default)]
    key: Option<String>,
    /// Only these keys, comma-separated (at most 10 000; default: every key).
    #[serde(default)]
    keys: Option<String>,
    /// From (inclusive), ms since the epoch.
    start_ts: i64,
    /// To (exclusive), ms since the epoch; after `start_ts`.
    end_ts: i64,
    /// Bucket width, ms: required when `agg` is not `NONE`, at least 1000,
    /// at most 10 000 buckets in the range. Ignored with `NONE`.
    #[serde(default)]
    interval: Option<i64>,
    /// `NONE` (default: the readings), `AVG`, `MIN`, `MAX`, `SUM` (of the
    /// numeric samples of each bucket) or `COUNT` (of every sample).
    #[serde(default)]
    agg: Option<String>,
    /// `ASC` (default: oldest first) or `DESC` (newest first; with `NONE`,
    /// `limit` keeps the newest).
    #[serde(default)]
    order_by: Option<String>,
    /// At most this many: default 1000, 1 to 10 000 (more is a 400).
    #[serde(default)]
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<u32>,
}

/// A page size.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct Limit {
    /// At most this many: default 100, 1 to 1000 (more is a 400).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub(crate) limit: Option<u32>,
}

/// The latest value of some keys of a device (`?keys=a,b`), or
/// (`?limit=&after=`) a page of every key's latest value in key order
/// (limit default 1000, max 10 000; a page also ends at about 4 MiB).
/// When more keys follow, the answer carries the next page's cursor, the
/// page's last key, percent-encoded in `X-Next-After` and as a
/// `Link: <...>; rel="next"`.
#[utoipa::path(get, path = "/api/devices/{id}/telemetry/latest", tag = "telemetry", operation_id = "latest_telemetry",
    params(("id" = String, Path, description = "The device's id"), LatestQuery),
    responses(
        (status = 200, description = "The latest value of each key, in key order", body = Vec<ReadingView>,
            headers(
                ("x-next-after" = String, description = "The next page's cursor, percent-encoded (only when more keys follow)"),
                ("link" = String, description = "`<...>; rel=\"next\"`: the next page (only when more keys follow)"),
            )),
        (status = 400, description = "A bad query: unknown parameter, keys with limit or after, limit out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
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
    let limit = page_limit(query.limit, LATEST_PAGE, nexus_services::MAX_PAGE)?;
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

/// A device's telemetry in `[start_ts, end_ts)` with ThingsBoard's
/// semantics: the readings (`agg=NONE`, the default), or per key one value
/// per `interval` bucket, buckets aligned to `start_ts` (the last one
/// clipped at `end_ts`), stamped at the bucket's middle, empty buckets left
/// out. AVG/MIN/MAX/SUM take numeric samples only; COUNT counts all.
/// Ordered by time (then key), `order_by` ASC or DESC, at most `limit`
/// (default 1000, max 10 000).
#[utoipa::path(get, path = "/api/devices/{id}/telemetry", tag = "telemetry", operation_id = "telemetry_history",
    params(("id" = String, Path, description = "The device's id"), HistoryQuery),
    responses(
        (status = 200, description = "The readings or buckets, in the order asked for", body = Vec<ReadingView>),
        (status = 400, description = "A bad query: unknown parameter, end_ts not after start_ts, limit out of range, key with keys, unknown agg or order_by, agg without interval, interval under 1000 ms or over 10 000 buckets", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn history(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
    Query(query): Query<HistoryQuery>,
) -> Result<JsonResponse<Vec<ReadingView>>, ApiError> {
    if query.end_ts <= query.start_ts {
        return Err(ApiError::bad_request("end_ts must be after start_ts"));
    }
    let limit = page_limit(query.limit, 1000, nexus_services::MAX_PAGE)?;
    let keys: Vec<String> = match (query.key, query.keys) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("key cannot be combined with keys")),
        (Some(key), None) => vec![key],
        (None, Some(keys)) => keys.split(',').filter(|k| !k.is_empty()).map(str::to_string).collect(),
        (None, None) => Vec::new(),
    };
    let agg = match query.agg.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("NONE") => Aggregation::None,
        Some("AVG") => Aggregation::Avg,
        Some("MIN") => Aggregation::Min,
        Some("MAX") => Aggregation::Max,
        Some("SUM") => Aggregation::Sum,
        Some("COUNT") => Aggregation::Count,
        Some(other) => {
            return Err(ApiError::bad_request(format!("agg must be NONE, AVG, MIN, MAX, SUM or COUNT, not {other:?}")));
        }
    };
    let order = match query.order_by.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("ASC") => SortOrder::Asc,
        Some("DESC") => SortOrder::Desc,
        Some(other) => return Err(ApiError::bad_request(format!("order_by must be ASC or DESC, not {other:?}"))),
    };
    let telemetry =
        TelemetryQuery { keys, start: query.start_ts, end: query.end_ts, interval: query.interval, agg, order, limit };
    let readings = state.services.records().telemetry(&principal.tenant_id, &id, &telemetry).await?;
    Ok(JsonResponse(all(readings)))
}

/// The tenant's recommendations, newest first.
#[utoipa::path(get, path = "/api/recommendations", tag = "records", operation_id = "list_recommendations",
    params(Limit),
    responses(
        (status = 200, description = "The recommendations, newest first", body = Vec<RecommendationView>),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn recommendations(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<RecommendationView>>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    Ok(JsonResponse(all(state.services.records().recommendations(&principal.tenant_id, limit).await?)))
}

/// Failed plugin calls, newest first.
#[utoipa::path(get, path = "/api/plugin-runs", tag = "records", operation_id = "list_plugin_runs",
    params(Limit),
    responses(
        (status = 200, description = "Failed plugin calls, newest first", body = Vec<PluginRunView>),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn plugin_runs(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<PluginRunView>>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    Ok(JsonResponse(all(state.services.records().plugin_runs(&principal.tenant_id, limit).await?)))
}

/// Rejected frames and failed batches, newest first.
#[utoipa::path(get, path = "/api/dead-letters", tag = "records", operation_id = "list_dead_letters",
    params(Limit),
    responses(
        (status = 200, description = "Dead letters (without payloads), newest first", body = Vec<DeadLetterView>),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<DeadLetterView>>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    Ok(JsonResponse(all(state.services.records().dead_letters(&principal.tenant_id, limit).await?)))
}

/// Which events.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventsQuery {
    /// Only events after this position (default 0: from the start).
    #[serde(default)]
    after: Option<i64>,
    /// At most this many: default 100, 1 to 1000 (more is a 400).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The tenant's events (the outbox) after
/// a position, oldest first; page with `after` = the last `seq` seen.
#[utoipa::path(get, path = "/api/events", tag = "events", operation_id = "list_events",
    params(EventsQuery),
    responses(
        (status = 200, description = "The events, oldest first", body = Vec<schema::Event>),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn events(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<EventsQuery>,
) -> Result<JsonResponse<Vec<nexus_model::Event>>, ApiError> {
    let after = EventSeq(query.after.unwrap_or(0));
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    Ok(JsonResponse(state.services.outbox().tenant_events(&principal.tenant_id, after, limit).await?))
}
