//! Backtests: an uploaded alarm-rule, optimizer or field-optimizer version
//! run over stored telemetry in virtual time beside the version bound now
//! (`nexus_services` backtests).

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{BacktestId, BindingId, DeviceId, PluginVersionId};
use nexus_services::{Backtest, BacktestRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::Problem;

/// What to backtest.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewBacktest {
    /// The alarm-rule, optimizer or field-optimizer version to try
    /// (uploaded; it need not be bound).
    plugin_id: String,
    /// The devices whose stored telemetry it runs on (1 to 100).
    device_ids: Vec<String>,
    /// From (inclusive), ms since the epoch.
    start_ts: i64,
    /// To (exclusive), ms since the epoch; at most 31 days after `start_ts`.
    end_ts: i64,
    /// Its configuration; default: the compared binding's.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    config: Option<serde_json::Value>,
    /// The binding to compare with; default: the enabled binding of a
    /// version of the same plugin on the first device, if any.
    #[serde(default)]
    binding_id: Option<String>,
    /// A (field) optimizer's step of virtual time, ms (at least 1000); default:
    /// the compared binding's `schedule_ms`, else 60000. Devices × steps
    /// may be at most 100,000. Not for alarm rules (they run on every
    /// stored frame).
    #[serde(default)]
    every_ms: Option<i64>,
}

/// A backtest: its progress while it runs, then both versions' alarms (or
/// recommendations) and the difference.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BacktestView {
    id: String,
    /// The kind of version tried: `alarm-rule`, `optimizer` or
    /// `field-optimizer`.
    kind: String,
    /// `running`, `done` or `failed`.
    status: String,
    /// The share done, 0 to 1.
    progress: f64,
    start_ts: i64,
    end_ts: i64,
    /// An optimizer backtest's step of virtual time, ms.
    every_ms: Option<i64>,
    device_ids: Vec<String>,
    /// Frames (a device's stored timestamps) replayed so far.
    frames: u64,
    /// Readings replayed so far.
    readings: u64,
    /// The version tried: `plugin`, `alarms` (alarm rules), `recommendations`
    /// (optimizers: each with its step's `ts`; the first 1,000),
    /// `recommended`, `calls`, `faults`, `first_fault`.
    #[schema(value_type = Option<Object>)]
    candidate: Option<serde_json::Value>,
    /// The version bound now, run the same way (same fields); none when no
    /// binding was found.
    #[schema(value_type = Option<Object>)]
    compared: Option<serde_json::Value>,
    /// Alarms only the candidate raised (device, type and start differ).
    #[schema(value_type = Vec<Object>)]
    only_candidate: Vec<serde_json::Value>,
    /// Alarms only the compared version raised.
    #[schema(value_type = Vec<Object>)]
    only_compared: Vec<serde_json::Value>,
    /// Optimizers: the steps where the versions' recommendations differ —
    /// `device_id`, `ts`, `parameter`, the `candidate`'s and the
    /// `compared` version's proposed values (null: none) — the first 1,000.
    #[schema(value_type = Vec<Object>)]
    differences: Vec<serde_json::Value>,
    /// Optimizers: how many (step, parameter) pairs differ in all.
    differing: u64,
    /// Optimizers: what the compared binding actually recommended live in
    /// the range, oldest first, each with its creation time as `ts`.
    #[schema(value_type = Vec<Object>)]
    recorded: Vec<serde_json::Value>,
    /// Why it failed.
    error: Option<String>,
    /// Wall time so far, ms.
    elapsed_ms: u64,
}

impl From<Backtest> for BacktestView {
    fn from(b: Backtest) -> Self {
        let alarms = |list: &[nexus_services::BacktestAlarm]| list.iter().map(json).collect();
        Self {
            id: b.id.into_string(),
            kind: b.kind.as_str().to_string(),
            status: b.status.to_string(),
            progress: b.progress,
            start_ts: b.start_ts,
            end_ts: b.end_ts,
            every_ms: b.every_ms,
            device_ids: b.device_ids.into_iter().map(DeviceId::into_string).collect(),
            frames: b.frames,
            readings: b.readings,
            candidate: b.candidate.as_ref().map(json),
            compared: b.compared.as_ref().map(json),
            only_candidate: alarms(&b.only_candidate),
            only_compared: alarms(&b.only_compared),
            differences: b.differences.iter().map(json).collect(),
            differing: b.differing,
            recorded: b.recorded.iter().map(json).collect(),
            error: b.error,
            elapsed_ms: b.elapsed_ms,
        }
    }
}

/// A service record as JSON (its fields are the API's, documented above).
fn json<T: Serialize>(value: &T) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// Starts a backtest: runs an alarm-rule, optimizer or field-optimizer
/// version over the stored telemetry of devices in virtual time beside the
/// version bound to them now. An alarm rule is called once per stored
/// frame, its state carried, as live; an optimizer every `every_ms` with
/// the well as it stood then (readings, setpoints, open alarms and well
/// tests of that time; no open recommendation), a field optimizer the same
/// way once per wellpad of the devices' wells. A call's telemetry reads see nothing
/// stamped later. 202 with the backtest running; read its progress and
/// result with `GET /api/backtests/{id}`. Nothing stored changes.
#[utoipa::path(post, path = "/api/backtests", tag = "plugins", operation_id = "start_backtest",
    request_body = NewBacktest,
    responses(
        (status = 202, description = "The backtest, running", body = BacktestView),
        (status = 400, description = "A bad body, a range over 31 days, no device or over 100, a version that is not an alarm rule's or a (field) optimizer's, a compared binding of another kind, `every_ms` under 1000 or making over 100,000 calls, `every_ms` for an alarm rule", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plugin version, device or binding in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Two backtests of this tenant are running", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn start(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<NewBacktest>,
) -> Result<(StatusCode, JsonResponse<BacktestView>), ApiError> {
    let request = BacktestRequest {
        plugin_id: PluginVersionId::new(body.plugin_id),
        device_ids: body.device_ids.into_iter().map(DeviceId::new).collect(),
        start: body.start_ts,
        end: body.end_ts,
        config: body.config,
        binding_id: body.binding_id.map(BindingId::new),
        every_ms: body.every_ms,
    };
    let started = state.services.plugins().start_backtest(&principal.tenant_id, request).await?;
    Ok((StatusCode::ACCEPTED, JsonResponse(started.into())))
}

/// A backtest: its progress, then its result.
#[utoipa::path(get, path = "/api/backtests/{id}", tag = "plugins", operation_id = "get_backtest",
    params(("id" = String, Path, description = "The backtest")),
    responses(
        (status = 200, description = "The backtest", body = BacktestView),
        (status = 404, description = "No such backtest in this tenant (they live in the host's memory: the newest 100)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<BacktestId>,
) -> Result<JsonResponse<BacktestView>, ApiError> {
    Ok(JsonResponse(state.services.plugins().backtest(&principal.tenant_id, &id)?.into()))
}
