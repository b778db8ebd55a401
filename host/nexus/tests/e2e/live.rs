//! The live stream (`GET /api/telemetry/stream`): committed telemetry and
//! events as server-sent events, only the tenant's own, filtered by device
//! or well, with a cap on open streams.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, frame};

/// A server-sent-events reader over a streaming response.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(h: &Harness, tenant: &str, query: &str) -> Self {
        let path = format!("/api/telemetry/stream{query}");
        let response = h.admin(Method::GET, &path, tenant).await.send().await.expect("stream");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap_or_default().to_string();
        assert!(content_type.starts_with("text/event-stream"), "{content_type}");
        Self { response, buffer: String::new() }
    }

    /// The next event (name, data), skipping keep-alive comments; panics
    /// when none comes within 10 s.
    async fn next(&mut self) -> (String, Value) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut name = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if name.is_empty() && data.is_empty() {
                    continue; // a comment
                }
                return (name, serde_json::from_str(&data).expect("JSON data"));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within 10 s; unparsed: {:?}", self.buffer))
                .expect("reading the stream")
                .expect("the stream stays open");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next telemetry item.
    async fn next_telemetry(&mut self) -> Value {
        loop {
            let (name, data) = self.next().await;
            if name == "telemetry" {
                return data;
            }
        }
    }
}

/// Another device of `tenant` on the tenant's decoder; returns its id and token.
async fn second_device(h: &Harness, tenant: &str, name: &str, well_id: Option<&str>) -> (String, String) {
    let device = json!({"name": name, "well_id": well_id});
    let (status, body, _) = h.send(h.admin(Method::POST, "/api/devices", tenant).await.json(&device)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (id, token) =
        (body["id"].as_str().expect("id").to_string(), body["access_token"].as_str().expect("t").to_string());
    let (_, plugins, _) = h.send(h.admin(Method::GET, "/api/plugins", tenant).await).await;
    let decoder = plugins
        .as_array()
        .expect("list")
        .iter()
        .find(|p| p["info"]["name"] == "decoder-thingsboard-json")
        .and_then(|p| p["id"].as_str())
        .expect("the decoder")
        .to_string();
    let binding = json!({"plugin_id": decoder, "device_ids": [id]});
    let (status, body, _) = h.send(h.admin(Method::POST, "/api/bindings", tenant).await.json(&binding)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (id, token)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_shows_committed_telemetry_and_alarms_of_the_tenant_only() {
    let h = Harness::start().await;
    let (device, token, _) = h.field_with(false).await;
    let (other_device, other_token, _) = h.field_in("globex").await;
    let mut acme = Events::open(&h, "acme", "").await;
    let mut globex = Events::open(&h, "globex", "?types=telemetry").await;

    // acme's frame raises an alarm: the stream shows its readings, then the
    // alarm transition, each after it committed.
    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 130.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let telemetry = acme.next_telemetry().await; // acme's own frame
    assert_eq!(telemetry["device_id"], device.as_str(), "{telemetry}");
    let series = telemetry["series"].as_array().expect("series");
    assert!(series.iter().any(|s| s["key"] == "motor_temperature"), "{telemetry}");
    let alarm = loop {
        let (name, data) = acme.next().await;
        if name == "event" && data["type"] == "alarm" {
            break data;
        }
    };
    assert_eq!(alarm["alarm"]["alarm_type"], "HighMotorTemperature", "{alarm}");
    assert_eq!(alarm["alarm"]["device_id"], device.as_str());

    // globex saw none of it: its first item is its own frame, posted after
    // acme's committed.
    let (status, report, _) = h.telemetry(&other_token, frame(json!({"flow": 1.0}))).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["accepted"], 1, "globex's frame is stored: {report}");
    let first = globex.next_telemetry().await;
    assert_eq!(first["device_id"], other_device.as_str(), "only globex's own telemetry: {first}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_filters_by_device_and_well_and_refuses_what_is_not_the_tenants() {
    let h = Harness::start().await;
    let (device, token, _) = h.field_with(false).await;
    let well = h.get(&format!("/api/devices/{device}")).await["well_id"].as_str().expect("well").to_string();
    let mut by_device = Events::open(&h, "acme", &format!("?device_id={device}&types=telemetry")).await;
    let mut by_well = Events::open(&h, "acme", &format!("?well_id={well}&types=telemetry")).await;
    // A device on no well, then one added to the well after the streams opened.
    let (_, loose_token) = second_device(&h, "acme", "ESP-loose", None).await;
    let (late, late_token) = second_device(&h, "acme", "ESP-late", Some(&well)).await;
    for token in [&loose_token, &late_token, &token] {
        let (status, body, _) = h.telemetry(token, frame(json!({"flow": 2.0}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        by_device.next_telemetry().await["device_id"],
        device.as_str(),
        "the loose and late devices are filtered"
    );
    assert_eq!(by_well.next_telemetry().await["device_id"], late.as_str(), "a device added to the well is followed");
    assert_eq!(by_well.next_telemetry().await["device_id"], device.as_str());

    // Another tenant's device or well, an unknown type: refused, not empty.
    let (other_device, _, _) = h.field_in("globex").await;
    for (query, status, code) in [
        (format!("?device_id={other_device}"), StatusCode::NOT_FOUND, "not-found"),
        ("?well_id=no-such-well".to_string(), StatusCode::NOT_FOUND, "not-found"),
        ("?types=telemetry,gossip".to_string(), StatusCode::BAD_REQUEST, "invalid-request"),
    ] {
        let (got, body, _) = h.send(h.admin(Method::GET, &format!("/api/telemetry/stream{query}"), "acme").await).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{query}: {body}");
    }
}

/// Tries to open a stream; returns its status, and the problem and
/// `Retry-After` when refused (an opened stream is closed at once).
async fn try_open(h: &Harness, tenant: &str) -> (StatusCode, Value, Option<String>) {
    let response = h.admin(Method::GET, "/api/telemetry/stream", tenant).await.send().await.expect("request");
    let status = response.status();
    if status == StatusCode::OK {
        return (status, Value::Null, None);
    }
    let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_string);
    (status, response.json().await.unwrap_or(Value::Null), retry_after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_may_hold_32_streams_and_a_closed_one_frees_its_place() {
    let h = Harness::start().await;
    let (_, token, _) = h.field_with(false).await;
    let mut open = Vec::new();
    for _ in 0..nexus_services::MAX_STREAMS_PER_TENANT {
        open.push(Events::open(&h, "acme", "").await);
    }
    let (status, body, retry_after) = try_open(&h, "acme").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too-many-streams")), "{body}");
    assert!(retry_after.is_some(), "a refused stream says when to retry");
    // Another tenant is not held back by acme's streams.
    h.field_in("globex").await;
    assert_eq!(try_open(&h, "globex").await.0, StatusCode::OK);
    // A client goes away. The server notices when it next writes to that
    // connection (at the latest at the 15 s keep-alive); frames make it
    // write now.
    drop(open.pop());
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _, _) = h.telemetry(&token, frame(json!({"flow": 3.0}))).await;
        assert_eq!(status, StatusCode::OK);
        if try_open(&h, "acme").await.0 == StatusCode::OK {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the closed stream's place was not freed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
