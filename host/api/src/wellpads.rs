//! Wellpads as well groups: read one, and set what its wells share — the
//! constraints a field optimizer (e.g. gas-lift allocation) runs under.

use axum::Json as JsonResponse;
use axum::extract::State;
use nexus_model::{FieldConstraints, InjectionBounds, WellId, WellpadId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path};
use crate::schema::Problem;
use crate::views::WellpadView;

/// What a wellpad's wells share; a limit left out is no limit.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Constraints {
    /// Lift gas available to the group, Mscf/d.
    #[serde(default)]
    lift_gas_available: Option<f64>,
    /// Compressor capacity, Mscf/d.
    #[serde(default)]
    compressor_capacity: Option<f64>,
    /// Water the facility can handle, bbl/d.
    #[serde(default)]
    water_handling: Option<f64>,
    /// Liquid the separators can take, bbl/d.
    #[serde(default)]
    separator_liquid: Option<f64>,
    /// Per-well lift-gas injection bounds, Mscf/d; each well stands on this wellpad.
    #[serde(default)]
    injection_bounds: Vec<Bounds>,
}

/// One well's injection bounds, Mscf/d.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bounds {
    /// A well of this wellpad.
    #[schema(value_type = String)]
    well_id: WellId,
    /// Least injection when the well gets gas at all.
    min: f64,
    /// Most injection.
    max: f64,
}

impl From<Constraints> for FieldConstraints {
    fn from(c: Constraints) -> Self {
        Self {
            lift_gas_available: c.lift_gas_available,
            compressor_capacity: c.compressor_capacity,
            water_handling: c.water_handling,
            separator_liquid: c.separator_liquid,
            injection_bounds: c
                .injection_bounds
                .into_iter()
                .map(|b| InjectionBounds { well_id: b.well_id, min: b.min, max: b.max })
                .collect(),
        }
    }
}

impl From<FieldConstraints> for Constraints {
    fn from(c: FieldConstraints) -> Self {
        Self {
            lift_gas_available: c.lift_gas_available,
            compressor_capacity: c.compressor_capacity,
            water_handling: c.water_handling,
            separator_liquid: c.separator_liquid,
            injection_bounds: c
                .injection_bounds
                .into_iter()
                .map(|b| Bounds { well_id: b.well_id, min: b.min, max: b.max })
                .collect(),
        }
    }
}

/// A wellpad of the tenant, with its constraints.
#[utoipa::path(get, path = "/api/wellpads/{id}", tag = "assets", operation_id = "get_wellpad",
    params(("id" = String, Path, description = "The wellpad")),
    responses(
        (status = 200, description = "The wellpad", body = WellpadView),
        (status = 400, description = "A malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such wellpad in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<WellpadId>,
) -> Result<JsonResponse<WellpadView>, ApiError> {
    Ok(JsonResponse(state.services.assets().wellpad(&principal.tenant_id, &id).await?.into()))
}

/// Replaces what a wellpad's wells share: lift gas, compression, water
/// handling, separator liquid and per-well injection bounds.
#[utoipa::path(put, path = "/api/wellpads/{id}/constraints", tag = "assets", operation_id = "put_wellpad_constraints",
    params(("id" = String, Path, description = "The wellpad")),
    request_body = Constraints,
    responses(
        (status = 200, description = "The wellpad with its constraints", body = WellpadView),
        (status = 400, description = "A bad body: an unknown field, a negative or non-finite limit, min above max, a well twice or not on this wellpad (the reason names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such wellpad in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put_constraints(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<WellpadId>,
    Json(body): Json<Constraints>,
) -> Result<JsonResponse<WellpadView>, ApiError> {
    let pad = state
        .services
        .assets()
        .set_wellpad_constraints(&principal.tenant_id, &id, body.into(), &principal.actor)
        .await?;
    Ok(JsonResponse(pad.into()))
}
