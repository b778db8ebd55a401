//! `GET /api/telemetry/stream`: the tenant's committed telemetry and events
//! as server-sent events (the seed's `/telemetry/stream`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use nexus_model::{DeviceId, WellId};
use nexus_services::{LiveFilter, LiveItem};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Query;
use crate::schema::Problem;

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What to stream.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct StreamQuery {
    /// Only this device's telemetry and events.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    device_id: Option<DeviceId>,
    /// Only the telemetry and events of this well's devices, and the well's recommendations.
    #[param(value_type = Option<String>)]
    #[serde(default)]
    well_id: Option<WellId>,
    /// `telemetry`, `events`, or both comma-separated (the default).
    #[serde(default)]
    types: Option<String>,
}

/// The tenant's telemetry and events as they commit, as server-sent events:
/// `event: telemetry` (one device's committed series), `event: event` (an
/// outbox event — alarm transition, recommendation, fault, …; its `id` is
/// the outbox position, so `GET /api/events?after=` fills any gap), and
/// `event: lagged` (`{"missed": n}` when the client fell behind). A
/// comment every 15 s keeps an idle stream open. At most 32 streams per
/// tenant.
#[utoipa::path(get, path = "/api/telemetry/stream", tag = "records", operation_id = "telemetry_stream",
    params(StreamQuery),
    responses(
        (status = 200, description = "Server-sent events until the client closes", body = String, content_type = "text/event-stream"),
        (status = 400, description = "A bad query: unknown parameter or type", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The device or well is not the tenant's", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "The tenant has 32 streams open (`too-many-streams`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn stream(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(query): Query<StreamQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (telemetry, events) = match query.types.as_deref() {
        None => (true, true),
        Some(types) => {
            let (mut telemetry, mut events) = (false, false);
            for t in types.split(',').map(str::trim) {
                match t {
                    "telemetry" => telemetry = true,
                    "events" => events = true,
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "unknown type `{other}` in `types`: use `telemetry`, `events` or both"
                        )));
                    }
                }
            }
            (telemetry, events)
        }
    };
    let filter = LiveFilter { device_id: query.device_id, well_id: query.well_id, telemetry, events };
    let live = state.services.live().watch(&principal.tenant_id, filter).await?;
    let stream = futures_util::stream::unfold(live, |mut live| async move {
        let item = live.next().await?;
        let event = match &*item {
            LiveItem::Telemetry { .. } => Event::default().event("telemetry"),
            LiveItem::Event(e) => Event::default().event("event").id(e.seq.to_string()),
            LiveItem::Lagged { .. } => Event::default().event("lagged"),
        };
        let data = serde_json::to_string(&*item).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        Some((Ok(event.data(data)), live))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
