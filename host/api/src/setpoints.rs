//! A device's setpoints: current values with their unit, limits and source.
//! A tenant admin sets one by hand (its limits are the interlocks every
//! write must keep); anyone in the tenant reads them.

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::{DeviceId, Readback, Setpoint, SetpointSource};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::Problem;

/// A setpoint set by hand: its value and the limits every change must keep.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetpointDefinition {
    /// The current value (inside `min`..`max`).
    value: f64,
    /// Unit, at most 16 characters (default none).
    #[serde(default)]
    unit: String,
    /// Lowest value a change may set.
    #[serde(default)]
    min: Option<f64>,
    /// Highest value a change may set.
    #[serde(default)]
    max: Option<f64>,
    /// Largest change in one write (above 0).
    #[serde(default)]
    max_step: Option<f64>,
    /// Shortest time between two changes, ms (0 to 30 days).
    #[serde(default)]
    min_interval_ms: Option<i64>,
    /// The telemetry that shows the value: a write is confirmed only once
    /// it reads the written value within the tolerance (none: the device's
    /// answer confirms).
    #[serde(default)]
    readback: Option<ReadbackView>,
}

/// How a setpoint's value shows in telemetry.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReadbackView {
    /// The telemetry key, e.g. `frequency` (1 to 255 characters).
    key: String,
    /// How far a reading may be from the written value (not negative).
    tolerance: f64,
}

/// A setpoint: current value, unit, limits and where the value came from.
#[derive(Serialize, ToSchema)]
pub(crate) struct SetpointView {
    parameter: String,
    value: f64,
    unit: String,
    min: Option<f64>,
    max: Option<f64>,
    max_step: Option<f64>,
    min_interval_ms: Option<i64>,
    /// `manual` (set by hand), `written` (a write the device confirmed) or
    /// `device` (read from the device).
    source: String,
    /// When the value last changed, ms.
    updated_at: i64,
    /// The telemetry read-back, if any.
    readback: Option<ReadbackView>,
}

impl From<Setpoint> for SetpointView {
    fn from(s: Setpoint) -> Self {
        let source = match s.source {
            SetpointSource::Manual => "manual",
            SetpointSource::Written => "written",
            SetpointSource::Device => "device",
        };
        Self {
            parameter: s.parameter,
            value: s.value,
            unit: s.unit,
            min: s.min,
            max: s.max,
            max_step: s.max_step,
            min_interval_ms: s.min_interval_ms,
            source: source.into(),
            updated_at: s.updated_at,
            readback: s.readback.map(|r| ReadbackView { key: r.key, tolerance: r.tolerance }),
        }
    }
}

/// Sets a setpoint of a device by hand, replacing its value, unit and limits.
#[utoipa::path(put, path = "/api/devices/{id}/setpoints/{parameter}", tag = "assets", operation_id = "put_setpoint",
    params(("id" = String, Path, description = "The device"), ("parameter" = String, Path, description = "The setpoint, e.g. `frequency_hz` (1 to 64 of A-Z a-z 0-9 _ . -)")),
    request_body = SetpointDefinition,
    responses(
        (status = 200, description = "The setpoint as stored", body = SetpointView),
        (status = 400, description = "A bad body or name: unknown field, a value outside its range, min above max (the reason names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path((id, parameter)): Path<(DeviceId, String)>,
    Json(body): Json<SetpointDefinition>,
) -> Result<JsonResponse<SetpointView>, ApiError> {
    let setpoint = Setpoint {
        parameter,
        value: body.value,
        unit: body.unit,
        min: body.min,
        max: body.max,
        max_step: body.max_step,
        min_interval_ms: body.min_interval_ms,
        source: SetpointSource::Manual,
        updated_at: 0,
        readback: body.readback.map(|r| Readback { key: r.key, tolerance: r.tolerance }),
    };
    let stored = state.services.assets().put_setpoint(&principal.tenant_id, &id, setpoint, &principal.actor).await?;
    Ok(JsonResponse(stored.into()))
}

/// A device's setpoints, by parameter.
#[utoipa::path(get, path = "/api/devices/{id}/setpoints", tag = "assets", operation_id = "list_setpoints",
    params(("id" = String, Path, description = "The device")),
    responses(
        (status = 200, description = "The setpoints", body = Vec<SetpointView>),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<Vec<SetpointView>>, ApiError> {
    let setpoints = state.services.assets().setpoints(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(setpoints.into_iter().map(Into::into).collect()))
}
