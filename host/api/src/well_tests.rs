//! Well tests of a well: recorded by operators, read by anyone in the
//! tenant; optimizers see the newest in their well context.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use nexus_model::{RecordedWellTest, WellId, WellTest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{DEFAULT_PAGE, Json, MAX_LIST_PAGE, Path, Query, page_limit};
use crate::records::Limit;
use crate::schema::Problem;

/// A well test to record.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewWellTest {
    /// Start of the test, ms since the epoch: after 2000-01-01, not in the
    /// future. One test per well and start time.
    ts: i64,
    /// Duration, hours: above 0, at most 720.
    duration_h: f64,
    /// Oil rate, bbl/d (0 to 1e6).
    oil_bbl_d: f64,
    /// Water rate, bbl/d (0 to 1e6).
    water_bbl_d: f64,
    /// Gas rate, Mscf/d (0 to 1e6; default 0).
    #[serde(default)]
    gas_mscf_d: f64,
    /// Conditions during the test, a JSON object of at most 32 entries in
    /// 4 KiB. `frequency_hz`, `intake_pressure_psi`, `discharge_pressure_psi`,
    /// `motor_current_a`, `wellhead_pressure_psi`, `casing_pressure_psi`,
    /// `gas_injection_mscf_d` and `choke_64ths` must be numbers, not
    /// negative; an ESP optimizer calibrates on a test that has
    /// `frequency_hz` and `intake_pressure_psi`. Default `{}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    conditions: Option<serde_json::Value>,
}

/// A recorded well test.
#[derive(Serialize, ToSchema)]
pub(crate) struct WellTestView {
    id: String,
    well_id: String,
    /// Start of the test, ms.
    ts: i64,
    duration_h: f64,
    oil_bbl_d: f64,
    water_bbl_d: f64,
    gas_mscf_d: f64,
    #[schema(value_type = Object)]
    conditions: serde_json::Value,
    /// When it was recorded, ms.
    created_time: i64,
}

impl From<RecordedWellTest> for WellTestView {
    fn from(r: RecordedWellTest) -> Self {
        Self {
            id: r.id.into_string(),
            well_id: r.well_id.into_string(),
            ts: r.test.ts,
            duration_h: r.test.duration_h,
            oil_bbl_d: r.test.oil_bbl_d,
            water_bbl_d: r.test.water_bbl_d,
            gas_mscf_d: r.test.gas_mscf_d,
            conditions: r.test.conditions,
            created_time: r.created_time,
        }
    }
}

/// Records a well test.
#[utoipa::path(post, path = "/api/wells/{id}/well-tests", tag = "assets", operation_id = "record_well_test",
    params(("id" = String, Path, description = "The well's id")),
    request_body = NewWellTest,
    responses(
        (status = 201, description = "The recorded test", body = WellTestView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field, a value out of range (the reason names it)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such well in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The well has a test at this start time", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn record(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<WellId>,
    Json(body): Json<NewWellTest>,
) -> Result<(StatusCode, JsonResponse<WellTestView>), ApiError> {
    let test = WellTest {
        ts: body.ts,
        duration_h: body.duration_h,
        oil_bbl_d: body.oil_bbl_d,
        water_bbl_d: body.water_bbl_d,
        gas_mscf_d: body.gas_mscf_d,
        conditions: body.conditions.unwrap_or_else(|| serde_json::json!({})),
    };
    let recorded = state.services.assets().record_well_test(&principal.tenant_id, &id, test, &principal.actor).await?;
    Ok((StatusCode::CREATED, JsonResponse(recorded.into())))
}

/// A well's tests, newest first.
#[utoipa::path(get, path = "/api/wells/{id}/well-tests", tag = "assets", operation_id = "list_well_tests",
    params(("id" = String, Path, description = "The well's id"), Limit),
    responses(
        (status = 200, description = "The tests, newest first", body = Vec<WellTestView>),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such well in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<WellId>,
    Query(query): Query<Limit>,
) -> Result<JsonResponse<Vec<WellTestView>>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_PAGE, MAX_LIST_PAGE)?;
    let tests = state.services.assets().well_tests(&principal.tenant_id, &id, limit).await?;
    Ok(JsonResponse(tests.into_iter().map(Into::into).collect()))
}
