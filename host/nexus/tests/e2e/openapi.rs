//! The OpenAPI document and Swagger UI as served, request hygiene (unknown
//! fields, lengths, page sizes, body sizes), and schemathesis against a
//! seeded host: no 5xx, and every answer as the document says.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_openapi_3_1_and_swagger_ui_is_served_without_credentials() {
    let h = Harness::start().await;
    let response = h.client.get(format!("{}/api/openapi.json", h.base)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.expect("the document is JSON");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    let comments = &doc["paths"]["/api/alarms/{id}/comments"];
    assert!(comments["get"].is_object() && comments["post"].is_object(), "{comments}");
    assert_eq!(comments["post"]["security"], json!([{"bearer": []}]));
    assert!(doc["paths"]["/api/v1/{token}/telemetry"]["post"]["security"].is_null());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    let response = h.client.get(format!("{}/swagger-ui/", h.base)).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("text");
    assert!(page.contains("swagger"), "{page}");
    assert!(!page.contains("https://"), "Swagger UI's page loads something from the internet: {page}");
    let config = h.client.get(format!("{}/swagger-ui/swagger-initializer.js", h.base)).send().await.expect("request");
    assert_eq!(config.status(), StatusCode::OK);
    let config = config.text().await.expect("text");
    assert!(config.contains("/api/openapi.json"), "{config}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_over_long_text_over_large_pages_and_bodies_are_refused() {
    let h = Harness::start().await;
    let send = |method: Method, path: &str, body: Value| {
        let h = &h;
        let path = path.to_string();
        async move { h.send(h.admin(method, &path, "acme").await.json(&body)).await }
    };

    // A field the caller may not set: 400, and nothing is created.
    let (status, body, content_type) =
        send(Method::POST, "/api/wells", json!({"name": "W-1", "tenant_id": "other"})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")), "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("tenant_id")), "{body}");
    assert_eq!(h.get("/api/wells").await, json!([]), "the refused request created a well");
    for (path, body) in [
        ("/api/devices", json!({"name": "D", "role": "admin"})),
        ("/api/wellpads", json!({"name": "P", "tenant_id": "other"})),
        ("/api/bindings", json!({"plugin_id": "p", "device_ids": [], "tenant_id": "other"})),
    ] {
        let (status, answer, _) = send(Method::POST, path, body).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")), "{path}");
    }
    assert_eq!(h.get("/api/devices").await, json!([]));

    // Names of at most 200 characters (not bytes), comments of at most 4000.
    let (status, body, _) = send(Method::POST, "/api/wells", json!({"name": "W".repeat(201)})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("200")), "{body}");
    let (status, body, _) = send(Method::POST, "/api/wells", json!({"name": "ñ".repeat(200)})).await;
    assert_eq!(status, StatusCode::CREATED, "200 two-byte characters are 200 characters: {body}");
    let (status, _, _) = send(Method::POST, "/api/devices", json!({"name": " "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a blank name");
    assert_eq!(h.get("/api/wells").await.as_array().map(Vec::len), Some(1));

    // Page sizes: over the maximum (or 0) is a 400, never silently clamped.
    for path in [
        "/api/alarms?limit=1001",
        "/api/alarms?limit=0",
        "/api/events?limit=1001",
        "/api/recommendations?limit=5000",
        "/api/plugin-runs?limit=1001",
        "/api/dead-letters?limit=1001",
        "/api/wells?limit=1001",
        "/api/devices?limit=0",
        "/api/plugins?limit=1001",
        "/api/bindings?limit=1001",
        "/api/users?limit=1001",
        "/api/api-keys?limit=0",
    ] {
        let (status, body, _) = h.send(h.admin(Method::GET, path, "acme").await).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")), "{path}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("limit")), "{path}: {body}");
    }
    for path in ["/api/alarms?limit=1000", "/api/events?limit=1000", "/api/dead-letters"] {
        let (status, body, _) = h.send(h.admin(Method::GET, path, "acme").await).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    // Entity lists page with a cursor: the id of the last item.
    for name in ["W-b", "W-a"] {
        let (status, body, _) = send(Method::POST, "/api/wells", json!({"name": name})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let names = |page: &Value| {
        page.as_array().expect("page").iter().map(|w| w["name"].as_str().expect("name").to_string()).collect::<Vec<_>>()
    };
    let first = h.get("/api/wells?limit=2").await;
    assert_eq!(names(&first), ["W-a", "W-b"]);
    let rest = h.get(&format!("/api/wells?limit=2&after={}", first[1]["id"].as_str().expect("id"))).await;
    assert_eq!(names(&rest), ["ñ".repeat(200)]);
    // Unknown query parameters too.
    let (status, body, _) = h.send(h.admin(Method::GET, "/api/alarms?tenant_id=other", "acme").await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-query")), "{body}");

    // An admin JSON body over 64 KiB: 413 problem, nothing created.
    let big = json!({"name": "W-big", "static_data": {"pad": "x".repeat(70_000)}});
    let (status, body, content_type) = send(Method::POST, "/api/wells", big).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload-too-large")));
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(
        h.get("/api/wells").await.as_array().map(Vec::len),
        Some(3),
        "the three wells above, not the refused one"
    );
    // Just under it is fine.
    let fits = json!({"name": "W-fits", "static_data": {"pad": "x".repeat(60_000)}});
    let (status, body, _) = send(Method::POST, "/api/wells", fits).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_comments_are_limited_to_4000_characters() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let (status, body, _) = h.telemetry(&token, crate::frame(json!({"motor_temperature": 120.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let alarms = h.alarms(&device_id).await;
    let id = alarms[0]["id"].as_str().expect("an alarm").to_string();
    let path = format!("/api/alarms/{id}/comments");
    let (status, body, _) =
        h.send(h.admin(Method::POST, &path, "acme").await.json(&json!({"text": "é".repeat(4000)}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body, _) =
        h.send(h.admin(Method::POST, &path, "acme").await.json(&json!({"text": "x".repeat(4001)}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("4000")), "{body}");
    let (status, body, _) =
        h.send(h.admin(Method::POST, &path, "acme").await.json(&json!({"text": "x", "actor": "ceo"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(h.get(&path).await.as_array().map(Vec::len), Some(1));
}

/// schemathesis (`.ci/schemathesis`) against a host with a seeded field:
/// no 5xx, and every status, content type and body as documented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_contradiction_of_the_document() {
    if std::process::Command::new("python3").arg("--version").output().is_err() {
        println!("SKIPPED schemathesis: python3 is not installed on this machine");
        return;
    }
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;
    let (status, _, _) = h.telemetry(&token, crate::frame(json!({"motor_temperature": 120.0}))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!h.alarms(&device_id).await.is_empty(), "the seeded field has an alarm");
    // Two tenants' credentials: each run sees only its own tenant, and
    // tenant B has a field of its own.
    h.field_in("bravo").await;
    for tenant in ["acme", "bravo"] {
        let (status, key, _) = h
            .send(
                h.admin(Method::POST, "/api/api-keys", tenant)
                    .await
                    .json(&json!({"name": "schemathesis", "role": "TENANT_ADMIN"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{key}");
        let key = key["key_secret"].as_str().expect("secret").to_string();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.ci/schemathesis");
        let (base, device) = (h.base.clone(), token.clone());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(script)
                .arg(&base)
                .env("NEXUS_TOKEN", &key)
                .env("NEXUS_DEVICE_TOKEN", &device)
                .output()
        })
        .await
        .expect("task")
        .expect("runs .ci/schemathesis");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        println!("schemathesis as {tenant}'s tenant admin:\n{stdout}");
        assert!(output.status.success(), "schemathesis as {tenant} failed ({}):\n{stdout}\n{stderr}", output.status);
    }
}
