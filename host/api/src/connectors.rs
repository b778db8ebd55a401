//! Connectors to the field (MQTT brokers, Modbus TCP slaves): configured
//! per tenant, applied at once (started, restarted with new settings,
//! stopped), each shown with its health and counters; and setpoint writes
//! to devices through them. A broker password is taken, never shown.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use nexus_model::{self as model, ConnectorId, ConnectorSettings, DeviceId, SetpointWrite};
use nexus_services::ConnectorRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::TenantPrincipal;
use crate::error::ApiError;
use crate::json::{Json, Path, Query};
use crate::schema::Problem;

/// A connector to create, or to replace one with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectorBody {
    /// Unique in the tenant.
    name: String,
    /// Whether the host runs it (default true).
    #[serde(default = "enabled")]
    enabled: bool,
    /// The kind's settings, tagged by `kind` (`mqtt` or `modbus`); see
    /// docs/connectors.md. On a replace, an MQTT `password` of `********`
    /// keeps the stored one.
    #[schema(value_type = crate::schema::ConnectorSettings)]
    settings: ConnectorSettings,
}

fn enabled() -> bool {
    true
}

/// A connector: its settings (never a password) and its health.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ConnectorView {
    id: String,
    tenant_id: String,
    name: String,
    enabled: bool,
    /// The kind's settings; a password reads `********`.
    #[schema(value_type = crate::schema::ConnectorSettings)]
    settings: ConnectorSettings,
    created_time: i64,
    updated_time: i64,
    /// State, counters, per-device errors and the latest problems with
    /// their reasons, since the host started (absent: it has not run).
    #[schema(value_type = Option<Object>)]
    status: Option<model::ConnectorStatus>,
}

fn view(connector: model::Connector, status: Option<model::ConnectorStatus>) -> ConnectorView {
    ConnectorView {
        id: connector.id.into(),
        tenant_id: connector.tenant_id.into(),
        name: connector.name,
        enabled: connector.enabled,
        settings: connector.settings.redacted(),
        created_time: connector.created_time,
        updated_time: connector.updated_time,
        status,
    }
}

impl From<ConnectorBody> for ConnectorRequest {
    fn from(body: ConnectorBody) -> Self {
        ConnectorRequest { name: body.name, enabled: body.enabled, settings: body.settings }
    }
}

/// Lists the tenant's connectors, by name, each with its health.
#[utoipa::path(get, path = "/api/connectors", tag = "connectors", operation_id = "list_connectors",
    params(crate::json::PageQuery),
    responses(
        (status = 200, description = "The connectors, by name, with their status (never a password)", body = Vec<ConnectorView>,
            headers(("x-next-after" = String, description = "The last id of a full page: pass it as `after`"))),
        (status = 400, description = "A bad query: unknown parameter, limit out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(page): Query<crate::json::PageQuery>,
) -> Result<Response, ApiError> {
    let page = page.page()?;
    let connectors = state.services.connectors();
    let items = connectors.list(&principal.tenant_id, &page).await?;
    let next = (items.len() == page.limit as usize).then(|| items.last().map(|c| c.id.to_string())).flatten();
    let views: Vec<ConnectorView> = items
        .into_iter()
        .map(|c| {
            let status = connectors.status(&principal.tenant_id, &c.id);
            view(c, status)
        })
        .collect();
    Ok(crate::views::with_next(views, next))
}

/// Creates a connector; an enabled one starts at once.
#[utoipa::path(post, path = "/api/connectors", tag = "connectors", operation_id = "create_connector",
    request_body = ConnectorBody,
    responses(
        (status = 201, description = "The connector (without its password)", body = ConnectorView),
        (status = 400, description = "A bad body: malformed JSON, an unknown field or kind, settings that cannot work (the message names the field)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A connector of that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Json(body): Json<ConnectorBody>,
) -> Result<(StatusCode, JsonResponse<ConnectorView>), ApiError> {
    let connectors = state.services.connectors();
    let connector = connectors.create(&principal.tenant_id, body.into(), &principal.actor).await?;
    let status = connectors.status(&principal.tenant_id, &connector.id);
    Ok((StatusCode::CREATED, JsonResponse(view(connector, status))))
}

/// Reads one connector with its health.
#[utoipa::path(get, path = "/api/connectors/{id}", tag = "connectors", operation_id = "get_connector",
    params(("id" = String, Path, description = "The connector")),
    responses(
        (status = 200, description = "The connector (without its password) and its status", body = ConnectorView),
        (status = 404, description = "No such connector in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<ConnectorId>,
) -> Result<JsonResponse<ConnectorView>, ApiError> {
    let connectors = state.services.connectors();
    let connector = connectors.get(&principal.tenant_id, &id).await?;
    Ok(JsonResponse(view(connector, connectors.status(&principal.tenant_id, &id))))
}

/// Replaces a connector's name, enabled flag and settings; the running
/// connector restarts with them at once (or stops, when disabled).
#[utoipa::path(put, path = "/api/connectors/{id}", tag = "connectors", operation_id = "replace_connector",
    params(("id" = String, Path, description = "The connector")),
    request_body = ConnectorBody,
    responses(
        (status = 200, description = "The connector (without its password)", body = ConnectorView),
        (status = 400, description = "A bad body (as for creating one)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such connector in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another connector has that name", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 64 KiB", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn replace(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<ConnectorId>,
    Json(body): Json<ConnectorBody>,
) -> Result<JsonResponse<ConnectorView>, ApiError> {
    let connectors = state.services.connectors();
    let connector = connectors.replace(&principal.tenant_id, &id, body.into(), &principal.actor).await?;
    let status = connectors.status(&principal.tenant_id, &id);
    Ok(JsonResponse(view(connector, status)))
}

/// Deletes a connector; it stops first.
#[utoipa::path(delete, path = "/api/connectors/{id}", tag = "connectors", operation_id = "delete_connector",
    params(("id" = String, Path, description = "The connector")),
    responses(
        (status = 204, description = "Stopped and deleted"),
        (status = 404, description = "No such connector in this tenant", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<ConnectorId>,
) -> Result<StatusCode, ApiError> {
    state.services.connectors().delete(&principal.tenant_id, &id, &principal.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A setpoint to write to a device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SetpointBody {
    /// The setpoint's name (e.g. `frequency_hz`): a Modbus connector's
    /// configured setpoint, or the method of an MQTT RPC request.
    parameter: String,
    /// The value.
    value: f64,
}

/// How a setpoint write ended.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WriteView {
    /// The connector that wrote it.
    connector_id: String,
    /// Whether the device confirmed it (read back, or answered the RPC).
    confirmed: bool,
    /// What the device reported back.
    read_back: Option<f64>,
    /// From the request to the confirmation, ms.
    elapsed_ms: u64,
}

/// Writes a setpoint to a device through the running connector that serves
/// it (Modbus FC06/FC16 then a read-back; MQTT RPC and its response; OPC
/// UA write then read) and waits for the confirmation. Every write is in the
/// audit log, and one that reached a connector is a `setpoint_write` event
/// with its outcome.
#[utoipa::path(post, path = "/api/devices/{id}/setpoint-writes", tag = "connectors", operation_id = "write_setpoint",
    params(("id" = String, Path, description = "The device")),
    request_body = SetpointBody,
    responses(
        (status = 200, description = "Written and confirmed", body = WriteView),
        (status = 400, description = "A bad body: unknown field, a non-finite value, a bad parameter name", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such device in this tenant", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`not-writable`: no running connector writes this setpoint of this device; `setpoint-interlock`: the change breaks the setpoint's range, largest step or shortest interval (nothing is sent)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`out-of-range`: the value does not fit the register", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`write-refused` (the device refused it) or `device-unreachable`", body = Problem, content_type = "application/problem+json"),
        (status = 504, description = "`write-timeout`: the device did not confirm in time", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub(crate) async fn write_setpoint(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Path(id): Path<DeviceId>,
    Json(body): Json<SetpointBody>,
) -> Result<JsonResponse<WriteView>, ApiError> {
    let write = SetpointWrite { device_id: id, parameter: body.parameter, value: body.value };
    let outcome = state.services.connectors().write_setpoint(&principal.tenant_id, write).await?;
    Ok(JsonResponse(WriteView {
        connector_id: outcome.connector_id.into(),
        confirmed: outcome.confirmed,
        read_back: outcome.read_back,
        elapsed_ms: outcome.elapsed_ms,
    }))
}
