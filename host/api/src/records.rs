//! Telemetry reads, recommendations, failed plugin runs and dead letters.

use axum::Json as JsonResponse;
use axum::extract::{Path, State};
use nexus_model::{DeviceId, EventSeq};
use serde::Deserialize;

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::json::Query;
use crate::views::{DeadLetterView, PluginRunView, ReadingView, RecommendationView, all};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LatestQuery {
    /// Comma-separated keys; all keys when absent.
    #[serde(default)]
    keys: Option<String>,
}

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

/// `GET /api/devices/{id}/telemetry/latest?keys=a,b`
pub(crate) async fn latest(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<DeviceId>,
    Query(query): Query<LatestQuery>,
) -> Result<JsonResponse<Vec<ReadingView>>, ApiError> {
    let keys: Vec<String> =
        query.keys.iter().flat_map(|k| k.split(',')).filter(|k| !k.is_empty()).map(str::to_string).collect();
    Ok(JsonResponse(all(state.services.records().latest(&principal.tenant_id, &id, &keys).await?)))
}

/// `GET /api/devices/{id}/telemetry?key=&start_ts=&end_ts=&limit=`:
/// readings in `[start_ts, end_ts)`, oldest first (limit default 1000, max 10 000).
pub(crate) async fn history(
    State(state): State<AppState>,
    principal: Principal,
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
    principal: Principal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<RecommendationView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(all(state.services.records().recommendations(&principal.tenant_id, limit).await?)))
}

/// `GET /api/plugin-runs?limit=`: failed plugin calls, newest first.
pub(crate) async fn plugin_runs(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<PluginRunView>>, ApiError> {
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(all(state.services.records().plugin_runs(&principal.tenant_id, limit).await?)))
}

/// `GET /api/dead-letters?limit=`: rejected frames and failed batches, newest first.
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    principal: Principal,
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
    principal: Principal,
    Query(query): Query<EventsQuery>,
) -> Result<JsonResponse<Vec<nexus_model::Event>>, ApiError> {
    let after = EventSeq(query.after.unwrap_or(0));
    let limit = query.limit.unwrap_or(100);
    Ok(JsonResponse(state.services.outbox().tenant_events(&principal.tenant_id, after, limit).await?))
}
