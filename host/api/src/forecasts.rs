//! A device's forecasts: the newest of each key, as its forecaster binding
//! issued it (points with their interval, and the fitted model).

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::{DeviceId, StoredForecast};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::Path;
use crate::schema::Problem;

/// One point of a forecast with its interval.
#[derive(Serialize, ToSchema)]
pub(crate) struct ForecastPointView {
    /// When, ms since the epoch.
    ts: i64,
    /// Expected value.
    value: f64,
    /// Lower bound of the stated interval.
    low: f64,
    /// Upper bound of the stated interval.
    high: f64,
}

/// The newest forecast of one key of a device.
#[derive(Serialize, ToSchema)]
pub(crate) struct ForecastView {
    /// The device.
    device_id: String,
    /// The key forecast, e.g. `oil_rate`.
    key: String,
    /// Unit of the values.
    unit: String,
    /// The forecaster binding that issued it.
    binding_id: String,
    /// When it was issued, ms.
    issued_at: i64,
    /// The points, oldest first.
    points: Vec<ForecastPointView>,
    /// The fitted model and its uncertainty, as the forecaster states them.
    #[schema(value_type = Object)]
    model: serde_json::Value,
}

impl From<StoredForecast> for ForecastView {
    fn from(f: StoredForecast) -> Self {
        Self {
            device_id: f.forecast.device_id.to_string(),
            key: f.forecast.key,
            unit: f.forecast.unit,
            binding_id: f.binding_id.to_string(),
            issued_at: f.issued_at,
            points: f
                .forecast
                .points
                .into_iter()
                .map(|p| ForecastPointView { ts: p.ts, value: p.value, low: p.low, high: p.high })
                .collect(),
            model: f.forecast.model,
        }
    }
}

/// A device's newest forecast of each key, by key.
#[utoipa::path(get, path = "/api/devices/{id}/forecasts", tag = "assets", operation_id = "list_forecasts",
    params(("id" = String, Path, description = "The device")),
    responses(
        (status = 200, description = "The forecasts", body = Vec<ForecastView>),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
) -> Result<JsonResponse<Vec<ForecastView>>, ApiError> {
    let forecasts = state.services.assets().forecasts(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(forecasts.into_iter().map(Into::into).collect()))
}
