//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations: the router is built with utoipa-axum's
//! `OpenApiRouter`, so a route cannot exist without being in the document.
//! Served at `GET /api/openapi.json`, with Swagger UI (shipped inside the
//! binary) at `/swagger-ui`.
//!
//! Every admin operation requires the `bearer` scheme and may answer 400
//! (a bad `X-Nexus-Tenant`), 401, 403, 429 and 503 besides what its own
//! annotation lists; [`finish`] adds those, so no handler can forget one.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::schema::Problem;

/// The answers every admin operation may give besides its own: (status,
/// response name, description).
pub(crate) const ADMIN_ERRORS: [(&str, &str, &str); 5] = [
    (
        "400",
        "BadRequest",
        "A bad request (for example an `X-Nexus-Tenant` header from anyone but the system administrator)",
    ),
    ("401", "Unauthenticated", "No credentials, or credentials that are not valid (`unauthenticated`)"),
    ("403", "Forbidden", "The credentials do not allow this operation in this tenant"),
    ("429", "TooManyRequests", "Over a rate limit or quota (with `Retry-After` when waiting helps)"),
    ("503", "Unavailable", "Storage is unavailable or the host is overloaded; retry later (with `Retry-After`)"),
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Nexus API",
        description = "The ThingsBoard device API and the admin REST API of Nexus. Every error is \
            `application/problem+json` with a stable `code`. Admin requests carry \
            `Authorization: Bearer <token>` and are confined to the caller's tenant.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "system", description = "Health and this document"),
        (name = "device", description = "The ThingsBoard device API (authenticated by the access token in the path)"),
        (name = "plugins", description = "Plugin versions (WebAssembly components)"),
        (name = "bindings", description = "Plugin versions bound to devices"),
        (name = "catalogue", description = "Vendors' signing keys and signed releases; the vendors a tenant trusts and its approvals"),
        (name = "assets", description = "Wellpads, wells and devices"),
        (name = "telemetry", description = "Readings"),
        (name = "alarms", description = "Alarms and what people do with them"),
        (name = "records", description = "Recommendations, failed plugin runs and dead letters"),
        (name = "events", description = "The tenant's outbox"),
        (name = "notifications", description = "Notification rules (webhooks, email) and their deliveries"),
        (name = "connectors", description = "Connectors to the field (MQTT, Modbus TCP), their health, and setpoint writes through them"),
        (name = "tenant", description = "Profile, usage and metering"),
        (name = "identity", description = "Logins, tenants, vendors, users, API keys and the audit log"),
    ),
    components(schemas(Problem)),
    modifiers(&BearerScheme),
)]
pub(crate) struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.description = Some("An access JWT from `POST /api/auth/login`, or an API key (`nxk_…`)".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Adds the shared error answers (as `#/components/responses/...`) to every
/// operation that requires the bearer scheme.
pub(crate) fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in ADMIN_ERRORS {
        let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
        let response = ResponseBuilder::new().description(description).content("application/problem+json", content);
        components.responses.insert(name.into(), RefOr::T(response.build()));
    }
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            if !is_secured(operation) {
                continue;
            }
            for (status, name, _) in ADMIN_ERRORS {
                operation
                    .responses
                    .responses
                    .entry(status.into())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
            }
        }
    }
    doc
}

fn operations_mut(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
}

fn is_secured(operation: &Operation) -> bool {
    let json = serde_json::to_value(&operation.security).unwrap_or_default();
    json.as_array().is_some_and(|requirements| requirements.iter().any(|r| r.get("bearer").is_some()))
}

/// The document as JSON, built once.
fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| crate::openapi().to_json().unwrap_or_else(|_| "{}".into()))
}

/// Whether the host answers.
#[utoipa::path(get, path = "/healthz", tag = "system", operation_id = "healthz",
    responses((status = 200, description = "The host is up", body = String, content_type = "text/plain", example = "ok")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/api/openapi.json", tag = "system", operation_id = "openapi_document",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object)))]
pub(crate) async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document_json())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use crate::access::{Access, OPERATIONS};

    /// Whether an operation needs no credentials.
    fn public(method: &str, path: &str) -> bool {
        crate::access::access_of(&method.to_uppercase(), path) == Some(Access::Public)
    }

    fn document() -> Value {
        serde_json::from_str(&crate::openapi().to_json().expect("json")).expect("parses")
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                out.push((method.clone(), path.clone(), operation.clone()));
            }
        }
        out
    }

    #[test]
    fn the_document_is_openapi_3_1_and_has_every_route_and_nothing_else() {
        let doc = document();
        assert!(doc["openapi"].as_str().expect("version").starts_with("3.1"), "{}", doc["openapi"]);
        let documented: BTreeSet<(String, String)> =
            operations(&doc).into_iter().map(|(method, path, _)| (method, path)).collect();
        // The access table lists every route the router serves (the layer
        // refuses any other): the document has each of them and no other.
        let served: BTreeSet<(String, String)> =
            OPERATIONS.iter().map(|(method, path, _)| (method.to_lowercase(), path.to_string())).collect();
        assert_eq!(documented, served);
    }

    #[test]
    fn every_admin_operation_needs_the_bearer_scheme_and_documents_its_errors() {
        let doc = document();
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        let mut ids = BTreeSet::new();
        for (method, path, operation) in operations(&doc) {
            let id = operation["operationId"].as_str().expect("operation id").to_string();
            assert!(ids.insert(id.clone()), "operation id {id} is used twice");
            assert!(operation["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id} has no tag");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{id} has no summary");
            let public = public(&method, &path);
            let security = &operation["security"];
            if public {
                assert!(security.is_null(), "{method} {path} is public but declares {security}");
                continue;
            }
            assert!(
                security.as_array().is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some())),
                "{method} {path} does not declare the bearer scheme"
            );
            for status in ["400", "401", "403", "429", "503"] {
                assert!(!operation["responses"][status].is_null(), "{method} {path} lacks {status}");
            }
            for (status, response) in operation["responses"].as_object().expect("responses") {
                if status.starts_with('4') || status.starts_with('5') {
                    let text = response.to_string();
                    assert!(
                        text.contains("Problem") || text.contains("#/components/responses/"),
                        "{method} {path} {status} is not a problem document: {text}"
                    );
                }
            }
        }
    }
}
