//! Tenant profiles: ingest limits on the device API (a device over its
//! windows is refused with 429 and nothing of the refused frame is stored,
//! while its neighbours go on), entity quotas, and the profile endpoints.

use nexus::plugin_files;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

/// Uploads the ThingsBoard JSON decoder and binds it to `devices` new
/// devices; returns their (id, token).
async fn decoded_devices(h: &Harness, devices: usize) -> Vec<(String, String)> {
    let name = "decoder-thingsboard-json";
    let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built");
    let (status, body, _) = h.upload("decoder", name, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let decoder = body["id"].as_str().expect("id").to_string();
    let mut made = Vec::new();
    for i in 0..devices {
        let device = h.post("/api/devices", json!({"name": format!("ESP-{i}")})).await;
        made.push((
            device["id"].as_str().expect("id").to_string(),
            device["access_token"].as_str().expect("token").to_string(),
        ));
    }
    let ids: Vec<&String> = made.iter().map(|(id, _)| id).collect();
    h.post("/api/bindings", json!({"plugin_id": decoder, "device_ids": ids})).await;
    made
}

async fn put_profile(h: &Harness, profile: Value) -> (StatusCode, Value) {
    let (status, body, _) =
        h.send(h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&profile)).await;
    (status, body)
}

/// Sends a frame; returns the status, the body and `Retry-After`.
async fn send(h: &Harness, token: &str, body: Value) -> (StatusCode, Value, Option<u64>) {
    let url = format!("{}/api/v1/{token}/telemetry", h.base);
    let response = h.client.post(url).json(&body).send().await.expect("request");
    let status = response.status();
    let retry_after =
        response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    (status, response.json().await.unwrap_or(Value::Null), retry_after)
}

/// Every reading of a device: (key, ts, value).
async fn stored(h: &Harness, device: &str) -> Vec<(String, i64, f64)> {
    let readings = h.get(&format!("/api/devices/{device}/telemetry?start_ts=0&end_ts={}&limit=10000", i64::MAX)).await;
    let mut readings: Vec<(String, i64, f64)> = readings
        .as_array()
        .expect("readings")
        .iter()
        .map(|r| {
            let key = r["key"].as_str().expect("key").to_string();
            (key, r["ts"].as_i64().expect("ts"), r["value"].as_f64().expect("number"))
        })
        .collect();
    readings.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    readings
}

fn assert_rate_limited(status: StatusCode, body: &Value, retry_after: Option<u64>, limit: &str) {
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate-limited")), "{body}");
    assert_eq!(body["limit"], limit, "{body}");
    assert!(retry_after.is_some_and(|s| s >= 1), "Retry-After: {retry_after:?} {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_over_its_ingest_limits_is_refused_and_its_neighbour_is_not() {
    let h = Harness::start().await;
    let devices = decoded_devices(&h, 2).await;
    let ((a, a_token), (b, b_token)) = (&devices[0], &devices[1]);
    let (status, body) = put_profile(&h, json!({"ingest_limits": {"device_messages": "3:60"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ingest_limits"]["device_messages"], "3:60");
    let t0 = nexus_model::Clock::system().now() - 60_000;

    // Three messages a minute: the fourth is refused before it is read.
    for i in 0..3 {
        let (status, body, _) = send(&h, a_token, json!({"ts": t0 + i, "values": {"x": i, "y": 10 + i}})).await;
        assert_eq!(status, StatusCode::OK, "frame {i}: {body}");
        assert_eq!(body["accepted"], 2, "{body}");
    }
    let (status, body, retry_after) = send(&h, a_token, json!({"ts": t0 + 3, "values": {"x": 3, "y": 13}})).await;
    assert_rate_limited(status, &body, retry_after, "ingest_limits.device_messages");
    // The neighbour of the same tenant is not held.
    let (status, body, _) = send(&h, b_token, json!({"ts": t0, "values": {"x": 100}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Data points, counted once the decoder has read the frame: 5 a
    // minute. A new profile starts its windows afresh.
    let (status, body) = put_profile(&h, json!({"ingest_limits": {"device_points": "5:60"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body, _) =
        send(&h, a_token, json!({"ts": t0 + 10, "values": {"x": 10, "y": 20, "z": 30, "w": 40}})).await;
    assert_eq!((status, &body["accepted"]), (StatusCode::OK, &json!(4)), "{body}");
    let (status, body, retry_after) = send(&h, a_token, json!({"ts": t0 + 11, "values": {"x": 11, "y": 21}})).await;
    assert_rate_limited(status, &body, retry_after, "ingest_limits.device_points");
    // A frame with more points than the window ever admits is a 400.
    let many: serde_json::Map<String, Value> = (0..6).map(|i| (format!("k{i}"), json!(i))).collect();
    let (status, body, _) = send(&h, b_token, json!({"ts": t0 + 12, "values": many})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")), "{body}");
    let (status, body, _) = send(&h, b_token, json!({"ts": t0 + 13, "values": {"x": 101, "y": 102}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Everything accepted is stored; nothing of a refused frame.
    let expected: Vec<(String, i64, f64)> = vec![
        ("x".into(), t0, 0.0),
        ("y".into(), t0, 10.0),
        ("x".into(), t0 + 1, 1.0),
        ("y".into(), t0 + 1, 11.0),
        ("x".into(), t0 + 2, 2.0),
        ("y".into(), t0 + 2, 12.0),
        ("w".into(), t0 + 10, 40.0),
        ("x".into(), t0 + 10, 10.0),
        ("y".into(), t0 + 10, 20.0),
        ("z".into(), t0 + 10, 30.0),
    ];
    assert_eq!(stored(&h, a).await, expected);
    let neighbour: Vec<(String, i64, f64)> =
        vec![("x".into(), t0, 100.0), ("x".into(), t0 + 13, 101.0), ("y".into(), t0 + 13, 102.0)];
    assert_eq!(stored(&h, b).await, neighbour);
    // No dead letter either: the refused frames were never the decoder's fault.
    assert_eq!(h.get("/api/dead-letters").await.as_array().map(Vec::len), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_quota_refuses_one_more_and_creates_nothing() {
    let h = Harness::start().await;
    h.token("acme").await; // the tenant exists
    let (status, body) = put_profile(&h, json!({"quotas": {"max_devices": 2, "max_wells": 1}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.post("/api/devices", json!({"name": "D-1"})).await;
    h.post("/api/devices", json!({"name": "D-2"})).await;
    let (status, body, content_type) =
        h.send(h.admin(Method::POST, "/api/devices", "acme").await.json(&json!({"name": "D-3"}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("entity-quota-exceeded")), "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!((&body["quota"], &body["limit"]), (&json!("max_devices"), &json!(2)), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("max_devices = 2")), "{body}");
    let names: Vec<Value> =
        h.get("/api/devices").await.as_array().expect("devices").iter().map(|d| d["name"].clone()).collect();
    assert_eq!(names, [json!("D-1"), json!("D-2")]);
    h.post("/api/wells", json!({"name": "W-1"})).await;
    let (status, body, _) =
        h.send(h.admin(Method::POST, "/api/wells", "acme").await.json(&json!({"name": "W-2"}))).await;
    assert_eq!((status, &body["quota"]), (StatusCode::FORBIDDEN, &json!("max_wells")), "{body}");
    // Another tenant is not counted against acme's quota.
    let (status, body, _) =
        h.send(h.admin(Method::POST, "/api/devices", "globex").await.json(&json!({"name": "D-3"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // Raising the quota lets the third in.
    let (status, body) = put_profile(&h, json!({"quotas": {"max_devices": 3}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    h.post("/api/devices", json!({"name": "D-3"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_is_read_by_its_tenant_and_validated_whole() {
    let h = Harness::start().await;
    // A tenant as the system administrator creates it (the harness's own
    // tenants get a faster per-user rate): the defaults.
    let fresh = crate::login_as(&h.client, &h.base, "fresh", "VIEWER").await;
    let (status, defaults, _) =
        h.send(h.client.get(format!("{}/api/tenant/profile", h.base)).bearer_auth(&fresh)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(defaults["rate_limits"], json!({"per_user": "100:60", "per_tenant": ""}), "{defaults}");
    let profile = h.get("/api/tenant/profile").await;
    assert_eq!(profile["quotas"]["max_devices"], Value::Null, "{profile}");
    for (bad, field) in [
        (json!({"rate_limits": {"per_user": "20:1,0:60"}}), "rate_limits.per_user"),
        (json!({"rate_limits": {"per_tenant": "100"}}), "rate_limits.per_tenant"),
        (json!({"ingest_limits": {"tenant_points": "10:0"}}), "ingest_limits.tenant_points"),
        (json!({"quotas": {"max_cows": 1}}), "max_cows"),
        (json!({"max_executions_per_month": 1, "plan": {}}), "plan"),
    ] {
        let (status, body) = put_profile(&h, bad.clone()).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid-request")),
            "{bad}: {body}"
        );
        assert!(body["detail"].as_str().is_some_and(|d| d.contains(field)), "{bad}: {body}");
    }
    let (status, body) = put_profile(&h, json!({"limits": {"deadline_ms": 600_000}})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
    // Nothing of a refused profile was taken.
    assert_eq!(h.get("/api/tenant/profile").await, profile);
    let (status, body) =
        put_profile(&h, json!({"rate_limits": {"per_user": "600:60, 20:1", "per_tenant": "6000:60"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        h.get("/api/tenant/profile").await["rate_limits"],
        json!({"per_user": "20:1,600:60", "per_tenant": "6000:60"})
    );
    // The old plan endpoints are gone: a tenant cannot raise its own quotas.
    let (status, _, _) = h.send(h.admin(Method::PUT, "/api/tenant/plan", "acme").await.json(&json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = h.send(h.admin(Method::PUT, "/api/tenant/profile", "acme").await.json(&json!({}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// A flooder: clients on `connections` connections of one device, each
/// sending again the moment it is answered, ignoring `Retry-After`, for
/// `seconds`. Returns (admitted, refused with `rate-limited`).
async fn flood(h: &Harness, token: &str, connections: usize, seconds: f64) -> (u64, u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let url = format!("{}/api/v1/{token}/telemetry", h.base);
    let clients = (0..connections).map(|c| {
        let (client, url) = (h.client.clone(), url.clone());
        tokio::spawn(async move {
            let (mut admitted, mut refused, mut i) = (0u64, 0u64, 0i64);
            while std::time::Instant::now() < until {
                i += 1;
                let body = json!({"ts": 1_000_000 * (c as i64 + 1) + i, "values": {"x": i}});
                let response = client.post(&url).json(&body).send().await.expect("request");
                match response.status() {
                    StatusCode::OK => admitted += 1,
                    StatusCode::TOO_MANY_REQUESTS => refused += 1,
                    other => panic!("{other}: {}", response.text().await.unwrap_or_default()),
                }
            }
            (admitted, refused)
        })
    });
    let mut total = (0, 0);
    for client in clients.collect::<Vec<_>>() {
        let (admitted, refused) = client.await.expect("client");
        total = (total.0 + admitted, total.1 + refused);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_ignores_retry_after_is_paced_at_its_limit() {
    let h = Harness::start().await;
    let devices = decoded_devices(&h, 2).await;
    let ((_, flooder), (_, neighbour)) = (&devices[0], &devices[1]);
    let (status, body) = put_profile(&h, json!({"ingest_limits": {"device_messages": "5:1"}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Four connections sending back to back for 2 s. Unpaced, each refusal
    // would come back in well under a millisecond: thousands of them. Held
    // until the device's window admits again, a connection sends about as
    // often as the limit lets one through.
    let (admitted, refused) = flood(&h, flooder, 4, 2.0).await;
    assert!((5..=5 + 2 * 5 + 2).contains(&admitted), "the limit holds: {admitted} admitted");
    assert!(refused <= 4 * (admitted + 2) * 2, "{refused} refusals for {admitted} admitted: refusals are not paced");
    // The neighbour, under the same profile, is neither limited nor held.
    let start = std::time::Instant::now();
    let (status, body, _) = send(&h, neighbour, json!({"ts": 1, "values": {"x": 1}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(start.elapsed() < std::time::Duration::from_millis(500), "{:?}", start.elapsed());
}
