//! End to end through the real HTTP server and real components built from
//! `plugins/` (run `.ci/build-plugins` first; the test command does).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nexus::{Server, ServerConfig, plugin_files};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const TOKEN: &str = "e2e-admin-token-0123456789";

struct Harness {
    server: Option<Server>,
    data_dir: PathBuf,
    client: Client,
    base: String,
}

impl Harness {
    async fn start() -> Self {
        let data_dir = std::env::temp_dir().join(format!("nexus-e2e-{}", uuid::Uuid::new_v4()));
        Self::start_in(data_dir).await
    }

    async fn start_in(data_dir: PathBuf) -> Self {
        // Server logs show with a failing test's output.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn,nexus=info").try_init();
        let server = Server::start(ServerConfig {
            data_dir: data_dir.clone(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_token: TOKEN.into(),
            scheduler_tick: Duration::from_millis(100),
        })
        .await
        .expect("server starts");
        let base = format!("http://{}", server.addr);
        Self { server: Some(server), data_dir, client: Client::new(), base }
    }

    async fn restart(mut self) -> Self {
        self.server.take().expect("running").stop().await.expect("stops");
        // The new harness owns (and removes) the directory now.
        let data_dir = std::mem::take(&mut self.data_dir);
        Self::start_in(data_dir).await
    }

    fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, content_type)
    }

    async fn admin(&self, method: reqwest::Method, path: &str, tenant: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN).header("x-nexus-tenant", tenant)
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body, _) = self.send(self.admin(reqwest::Method::GET, path, "acme").await).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let (status, response, _) = self.send(self.admin(reqwest::Method::POST, path, "acme").await.json(&body)).await;
        assert!(status.is_success(), "POST {path}: {status} {response}");
        response
    }

    async fn upload(&self, kind: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value, String) {
        let path = format!("/api/plugins?kind={kind}&name={name}&version=0.1.0");
        self.send(self.admin(reqwest::Method::POST, &path, "acme").await.body(bytes)).await
    }

    async fn telemetry(&self, token: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value, String) {
        let url = format!("{}/api/v1/{token}/telemetry", self.base);
        self.send(self.client.post(url).header("content-type", "application/json").body(body)).await
    }

    /// Uploads the three first-party plugins, creates a well and a device,
    /// binds all three; returns (device id, device token, optimizer binding).
    async fn field(&self) -> (String, String, String) {
        let dir = plugin_files::default_dir();
        let mut ids = Vec::new();
        for (kind, name) in [
            ("decoder", "decoder-thingsboard-json"),
            ("alarm-rule", "alarm-rule-threshold"),
            ("optimizer", "optimizer-esp-frequency"),
        ] {
            let (status, body, _) = self.upload(kind, name, plugin_files::read(&dir, name).expect("built")).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["info"]["name"], name);
            ids.push(body["id"].as_str().expect("id").to_string());
        }
        let well = self
            .post(
                "/api/wells",
                json!({"name": "W-1", "static_data": {"nameplate_current_a": 50, "base_frequency_hz": 60}}),
            )
            .await;
        let device = self.post("/api/devices", json!({"name": "ESP-1", "well_id": well["id"]})).await;
        let device_id = device["id"].as_str().expect("id").to_string();
        let token = device["access_token"].as_str().expect("token").to_string();
        self.post("/api/bindings", json!({"plugin_id": ids[0], "device_ids": [device_id]})).await;
        self.post(
            "/api/bindings",
            json!({"plugin_id": ids[1], "device_ids": [device_id],
                   "config": {"key": "motor_temperature", "high": 100.0, "deadband": 5.0, "severity": "major",
                              "alarm_type": "HighMotorTemperature"}}),
        )
        .await;
        let optimizer = self
            .post(
                "/api/bindings",
                json!({"plugin_id": ids[2], "device_ids": [device_id], "schedule_ms": 300,
                       "config": {"target_intake_pressure": 350.0}}),
            )
            .await;
        (device_id, token, optimizer["id"].as_str().expect("id").to_string())
    }

    async fn alarms(&self, device_id: &str) -> Vec<Value> {
        self.get(&format!("/api/alarms?device_id={device_id}")).await.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !self.data_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data_dir);
        }
    }
}

fn frame(values: Value) -> String {
    json!({"ts": nexus_model::now_ms(), "values": values}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_raises_holds_in_the_deadband_clears_and_the_optimizer_recommends() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;

    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 90.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
    assert!(h.alarms(&device_id).await.is_empty());

    // Crosses the limit: raised.
    h.telemetry(&token, frame(json!({"motor_temperature": 112.5}))).await;
    let alarms = h.alarms(&device_id).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["status"], "ACTIVE_UNACK");
    assert_eq!(alarms[0]["severity"], "MAJOR");
    assert_eq!(alarms[0]["alarm_type"], "HighMotorTemperature");
    assert_eq!(alarms[0]["details"]["value"], 112.5);

    // Back under the limit but inside the deadband: still active.
    h.telemetry(&token, frame(json!({"motor_temperature": 97.0}))).await;
    assert_eq!(h.alarms(&device_id).await[0]["status"], "ACTIVE_UNACK");

    // Below the deadband: cleared, still one alarm.
    h.telemetry(&token, frame(json!({"motor_temperature": 94.0}))).await;
    let alarms = h.alarms(&device_id).await;
    assert_eq!(alarms.len(), 1);
    assert_eq!(alarms[0]["status"], "CLEARED_UNACK");
    let alarm_id = alarms[0]["id"].as_str().expect("id").to_string();
    let acked = h.post(&format!("/api/alarms/{alarm_id}/ack"), json!({})).await;
    assert_eq!(acked["alarm"]["status"], "CLEARED_ACK");
    let events = h.get(&format!("/api/alarms/{alarm_id}/events")).await;
    let actions: Vec<&str> = events.as_array().expect("events").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["RAISED", "CLEARED", "ACKNOWLEDGED"]);

    // Telemetry reads back.
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest?keys=motor_temperature")).await;
    assert_eq!(latest[0]["value"], 94.0);
    let history = h
        .get(&format!("/api/devices/{device_id}/telemetry?key=motor_temperature&start_ts=0&end_ts={}", i64::MAX))
        .await;
    assert_eq!(history.as_array().map(Vec::len), Some(4));

    // The optimizer, on its schedule, sees intake pressure far above target.
    h.telemetry(
        &token,
        frame(json!({"frequency": 52.0, "intake_pressure": 700.0, "motor_current": 30.0, "flow_rate": 1300.0})),
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let recommendation = loop {
        let recommendations = h.get("/api/recommendations").await;
        if let Some(r) = recommendations.as_array().and_then(|r| r.first()).cloned() {
            break r;
        }
        assert!(Instant::now() < deadline, "no recommendation within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(recommendation["parameter"], "frequency_hz");
    assert_eq!(recommendation["device_id"], device_id.as_str());
    assert_eq!(recommendation["current_value"], 52.0);
    assert!(recommendation["proposed_value"].as_f64().expect("number") > 52.0, "{recommendation}");
    assert_eq!(recommendation["status"], "PENDING");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;

    // Malformed JSON: 400 problem+json naming the decoder's reason; nothing stored.
    let (status, body, content_type) = h.telemetry(&token, "{\"motor_temperature\": 12,").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "decode-failed");
    assert_eq!(body["decoder_code"], "malformed-json");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("line 1")), "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest")).await;
    assert_eq!(latest, json!([]));
    let dead = h.get("/api/dead-letters").await;
    assert_eq!(dead[0]["stage"], "decode");
    assert_eq!(dead[0]["error_code"], "plugin-error");

    // Unknown access token: 401.
    let (status, body, content_type) = h.telemetry("no-such-token", frame(json!({"t": 1}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "unknown-access-token");

    // Uploads that are not what they claim: 422 with the validator's reason.
    let before = h.get("/api/plugins").await.as_array().map(Vec::len);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("alarm-rule", b"definitely not wasm".to_vec(), "not-a-component"),
        ("alarm-rule", b"\0asm\x01\0\0\0".to_vec(), "core-module"),
        ("alarm-rule", b"\0asm\x0d\0\x01\0\x07\x05garbage".to_vec(), "invalid-component"),
        (
            "decoder",
            plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built"),
            "wrong-world",
        ),
    ];
    for (kind, bytes, code) in cases {
        let (status, body, content_type) = h.upload(kind, "bad-plugin", bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (_, body, _) = h
        .upload(
            "decoder",
            "bad-plugin",
            plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built"),
        )
        .await;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("decoder")), "{body}");
    assert_eq!(h.get("/api/plugins").await.as_array().map(Vec::len), before, "a refused upload stored something");

    // A malformed admin body, a missing token, an unknown kind.
    let (status, body, _) = h
        .send(
            h.admin(reqwest::Method::POST, "/api/devices", "acme")
                .await
                .body("{oops")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed-json")));
    let (status, body, _) = h.send(h.client.get(format!("{}/api/alarms", h.base))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, body, _) = h.upload("transform", "x", vec![1]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_see_nothing_of_each_other() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;
    h.telemetry(&token, frame(json!({"motor_temperature": 150.0}))).await;
    assert_eq!(h.alarms(&device_id).await.len(), 1);
    let h = &h;
    let other = |method, path: &str| {
        let path = path.to_string();
        async move { h.send(h.admin(method, &path, "other-co").await).await }
    };
    for path in ["/api/alarms", "/api/devices", "/api/plugins", "/api/bindings", "/api/recommendations"] {
        let (status, body, _) = other(reqwest::Method::GET, path).await;
        assert_eq!((status, body), (StatusCode::OK, json!([])), "{path}");
    }
    let (status, _, _) = other(reqwest::Method::GET, &format!("/api/devices/{device_id}/telemetry/latest")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let plugin_id = h.get("/api/plugins").await[0]["id"].as_str().expect("id").to_string();
    let (status, _, _) = h
        .send(
            h.admin(reqwest::Method::POST, "/api/bindings", "other-co")
                .await
                .json(&json!({"plugin_id": plugin_id, "device_ids": [device_id]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_reloads_active_plugins_without_recompiling() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;
    // Telemetry flows before the restart.
    h.telemetry(&token, frame(json!({"motor_temperature": 90.0}))).await;
    assert!(h.server().pipeline.runtime().stats().compiled >= 3);

    let h = h.restart().await;
    let stats = h.server().pipeline.runtime().stats();
    assert_eq!(h.server().preloaded, 3);
    assert_eq!(stats.compiled, 0, "a restart recompiled: {stats:?}");
    assert_eq!(stats.from_cache, 3);
    println!("reload of 3 active plugins after restart: {:?}", h.server().preload);

    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 130.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.alarms(&device_id).await.len(), 1, "{body}");
    assert_eq!(h.server().pipeline.runtime().stats().compiled, 0);
}
