//! The audit log's edge: every change made through the API (any method but
//! GET/HEAD/OPTIONS, once authenticated) is appended with who, role,
//! tenant, the operation, the object's ids, the status, a summary of the
//! request and of the result, and the request id. Secrets in either are
//! redacted. The entry is written after the change answers (not in its
//! transaction): a crash between the two loses the entry, not the change.

use axum::Json as JsonResponse;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use nexus_model::{Principal, TenantId};
use nexus_services::{AuditQuery, NewAuditEntry};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{TenantPrincipal, is_change};
use crate::error::ApiError;
use crate::identity::AuditEntryView;
use crate::json::Query;
use crate::observe::RequestId;
use crate::views::all;

/// Largest JSON body (request or response) summarised; larger ones are
/// summarised by size.
const SUMMARY_BODY_BYTES: usize = 64 << 10;
/// Longest text kept of a summary.
const SUMMARY_CHARS: usize = 2000;
/// Members whose values are never written down.
const SECRETS: [&str; 6] = ["password", "access_token", "refresh_token", "key_secret", "token", "secret"];

/// Runs an admitted request; appends an audit entry when it was a change.
pub(crate) async fn run(
    state: &AppState,
    principal: Principal,
    tenant: Option<TenantId>,
    route: String,
    request: Request,
    next: Next,
) -> Response {
    if !is_change(request.method()) {
        return next.run(request).await;
    }
    // The edge layer gave every request its id.
    let id = request.extensions().get::<RequestId>().map(|id| id.as_str().to_string()).unwrap_or_default();
    let action = format!("{} {route}", request.method());
    let object = object_of(&route, request.uri().path());
    let tenant = tenant.or_else(|| path_tenant(&route, request.uri().path())).or(principal.tenant_id().cloned());
    let (request, asked) = summarise_request(request).await;
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let (response, result) = summarise_response(response).await;
    let entry = NewAuditEntry {
        tenant_id: tenant,
        actor: principal.actor().to_string(),
        role: principal.role,
        action,
        object,
        status,
        summary: json!({ "request": asked, "result": result }),
        request_id: id,
    };
    if let Err(error) = state.services.identity().record(entry).await {
        tracing::error!(%error, "An audit entry could not be written.");
    }
    response
}

/// `name=value` for each `{name}` of the route.
fn object_of(route: &str, path: &str) -> String {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(pattern, value)| {
            let name = pattern.strip_prefix('{')?.strip_suffix('}')?;
            (name != "token").then(|| format!("{name}={value}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn path_tenant(route: &str, path: &str) -> Option<TenantId> {
    route.split('/').zip(path.split('/')).find(|(pattern, _)| *pattern == "{tenant_id}").map(|(_, v)| v.into())
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("json"))
}

fn declared_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
}

async fn summarise_request(request: Request) -> (Request, Value) {
    let length = declared_length(request.headers());
    let small = length.is_some_and(|n| n <= SUMMARY_BODY_BYTES);
    if !is_json(request.headers()) || !small {
        return (request, json!({ "bytes": length }));
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, SUMMARY_BODY_BYTES).await {
        Ok(bytes) => {
            let summary = summary_of(&bytes);
            (Request::from_parts(parts, Body::from(bytes)), summary)
        }
        // The body broke off; the handler sees an empty one and refuses it.
        Err(_) => (Request::from_parts(parts, Body::empty()), json!({ "bytes": length })),
    }
}

async fn summarise_response(response: Response) -> (Response, Value) {
    // A handler's body is whole: its exact size is known before it is sent.
    let length = axum::body::HttpBody::size_hint(response.body()).exact().map(|n| n as usize);
    if !is_json(response.headers()) || length.is_none_or(|n| n > SUMMARY_BODY_BYTES) {
        return (response, json!({ "bytes": length }));
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, SUMMARY_BODY_BYTES).await {
        Ok(bytes) => {
            let summary = summary_of(&bytes);
            (Response::from_parts(parts, Body::from(bytes)), summary)
        }
        Err(_) => (Response::from_parts(parts, Body::empty()), Value::Null),
    }
}

/// The JSON, secrets redacted, cut to [`SUMMARY_CHARS`].
fn summary_of(bytes: &[u8]) -> Value {
    let Ok(mut value) = serde_json::from_slice::<Value>(bytes) else {
        return json!({ "bytes": bytes.len() });
    };
    redact(&mut value);
    let text = value.to_string();
    if text.chars().count() > SUMMARY_CHARS {
        return json!({ "truncated": text.chars().take(SUMMARY_CHARS).collect::<String>() });
    }
    value
}

fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                if SECRETS.contains(&name.as_str()) && !member.is_null() {
                    *member = Value::String("***".into());
                } else {
                    redact(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `GET /api/audit` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditParams {
    /// Only entries after this `seq` (a cursor).
    after: Option<i64>,
    /// Only this actor, e.g. `user:ana@example.com`.
    actor: Option<String>,
    /// Only operations starting with this, e.g. `POST /api/alarms`.
    action: Option<String>,
    /// At or after (ms).
    start_ts: Option<i64>,
    /// Before (ms).
    end_ts: Option<i64>,
    /// At most this many (default 100, 1 to 10000).
    limit: Option<u32>,
}

/// `GET /api/audit?after=&actor=&action=&start_ts=&end_ts=&limit=`: the
/// tenant's audit log, oldest first; page with `after` = the last `seq`.
#[utoipa::path(get, path = "/api/audit", tag = "identity", operation_id = "audit_log",
    params(AuditParams),
    responses((status = 200, description = "The tenant's audit entries, oldest first", body = Vec<AuditEntryView>)),
    security(("bearer" = [])))]
pub(crate) async fn list(
    State(state): State<AppState>,
    principal: TenantPrincipal,
    Query(params): Query<AuditParams>,
) -> Result<JsonResponse<Vec<AuditEntryView>>, ApiError> {
    let query = AuditQuery {
        after: params.after.unwrap_or(0),
        actor: params.actor,
        action: params.action,
        start_ts: params.start_ts,
        end_ts: params.end_ts,
        limit: params.limit.unwrap_or(100),
    };
    Ok(JsonResponse(all(state.services.identity().audit(Some(&principal.tenant_id), &query).await?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_the_paths_ids_and_secrets_are_redacted() {
        assert_eq!(object_of("/api/alarms/{id}/ack", "/api/alarms/a-1/ack"), "id=a-1");
        assert_eq!(
            object_of("/api/bindings/{id}/devices/{device_id}/release", "/api/bindings/b/devices/d/release"),
            "id=b,device_id=d"
        );
        let summary = summary_of(br#"{"email":"a@b.c","password":"hunter2hunter2","nested":{"access_token":"x"}}"#);
        assert_eq!(summary, json!({"email":"a@b.c","password":"***","nested":{"access_token":"***"}}));
        let hook =
            summary_of(br#"{"channel":{"kind":"webhook","url":"https://h.example","secret":"0123456789abcdef"}}"#);
        assert_eq!(hook["channel"]["secret"], "***", "a webhook's secret is never written down");
    }
}
