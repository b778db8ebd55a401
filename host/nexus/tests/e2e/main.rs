//! End to end through the real HTTP server and real components built from
//! `plugins/` (run `.ci/build-plugins` first; the test command does).
//! One test binary; each test starts its own server on a loopback port with
//! a fresh data directory.

mod approvals;
mod author;
mod auto_approve;
mod backtests;
mod bad_input;
mod config;
mod connectors;
mod console;
mod contract;
mod crash;
mod faults;
mod field;
mod flow;
mod forecasts;
mod hygiene;
mod identity;
mod ingest;
mod kafka;
mod layering;
mod ledger;
mod limits;
mod live;
mod metrics;
mod modbus;
mod mqtt;
mod neighbours;
mod notify;
mod observe;
mod opcua;
mod openapi;
mod outbox;
mod postgres;
mod redis;
mod releases;
mod retention;
mod retirements;
mod rollouts;
mod runs;
mod tenancy;
mod tokens;
mod transform;
mod uploads;
mod well_tests;

use std::path::PathBuf;
use std::time::Duration;

use nexus::{NotifierConfig, Server, ServerConfig, plugin_files};
use nexus_api::HttpTimeouts;
use nexus_services::ServicesConfig;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The system administrator's bootstrap key (`NEXUS_ADMIN_TOKEN`): used to
/// create tenants and their first users, nothing else.
pub(crate) const TOKEN: &str = "e2e-admin-token-0123456789";
/// The per-user rate limit of the tenants the harness creates.
pub(crate) const TEST_RATE: &str = "1000000:60";
/// The password of every user the tests create.
pub(crate) const PASSWORD: &str = "e2e-password-0123456789";

/// Creates `tenant` (if new) and a user of `role` in it as the system
/// administrator, logs the user in and returns its access token.
pub(crate) async fn login_as(client: &Client, base: &str, tenant: &str, role: &str) -> String {
    let created = client
        .post(format!("{base}/api/tenants"))
        .bearer_auth(TOKEN)
        .json(&json!({"id": tenant, "name": tenant}))
        .send()
        .await
        .expect("create tenant");
    assert!(matches!(created.status().as_u16(), 201 | 409), "creating tenant {tenant}: {}", created.status());
    let email = format!("{}-{}@{tenant}.test", role.to_lowercase().replace('_', "-"), uuid::Uuid::new_v4().simple());
    let user = client
        .post(format!("{base}/api/tenants/{tenant}/users"))
        .bearer_auth(TOKEN)
        .json(&json!({"email": email, "password": PASSWORD, "role": role}))
        .send()
        .await
        .expect("create user");
    assert_eq!(user.status(), StatusCode::CREATED, "creating {email}: {}", user.text().await.unwrap_or_default());
    login(client, base, &email).await["access_token"].as_str().expect("access token").to_string()
}

/// Logs a user in; returns the tokens.
pub(crate) async fn login(client: &Client, base: &str, email: &str) -> Value {
    let response = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), StatusCode::OK, "login {email}");
    response.json().await.expect("tokens")
}

pub(crate) struct Harness {
    server: Option<Server>,
    data_dir: PathBuf,
    /// The SMTP settings, kept across a restart.
    notifier: NotifierConfig,
    pub(crate) client: Client,
    pub(crate) base: String,
    /// A tenant admin's access token per tenant, logged in on first use.
    tokens: tokio::sync::Mutex<std::collections::HashMap<String, String>>,
    /// The PostgreSQL database the server runs on, if not SQLite.
    database: Option<postgres::FreshDatabase>,
}

/// A new, unused data directory.
fn fresh_data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("nexus-e2e-{}", uuid::Uuid::new_v4()))
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::start_with(ServicesConfig::default()).await
    }

    pub(crate) async fn start_with(services: ServicesConfig) -> Self {
        Self::start_in(fresh_data_dir(), services).await
    }

    pub(crate) async fn start_in(data_dir: PathBuf, services: ServicesConfig) -> Self {
        Self::start_http(data_dir, services, HttpTimeouts::default()).await
    }

    pub(crate) async fn start_http(data_dir: PathBuf, services: ServicesConfig, http: HttpTimeouts) -> Self {
        Self::start_full(data_dir, None, services, http, NotifierConfig::default()).await
    }

    /// A server that mails notifications through `notifier`'s SMTP server.
    pub(crate) async fn start_notifying(services: ServicesConfig, notifier: NotifierConfig) -> Self {
        Self::start_full(fresh_data_dir(), None, services, HttpTimeouts::default(), notifier).await
    }

    /// A server on the PostgreSQL database at `url` (the caller owns it).
    pub(crate) async fn start_on(url: String) -> Self {
        let (services, http) = (ServicesConfig::default(), HttpTimeouts::default());
        Self::start_full(fresh_data_dir(), Some(url), services, http, NotifierConfig::default()).await
    }

    /// A server on a fresh PostgreSQL database (dropped with the harness).
    pub(crate) async fn start_on_postgres() -> Self {
        let database = postgres::FreshDatabase::create();
        let mut h = Self::start_on(database.url.clone()).await;
        h.database = Some(database);
        h
    }

    async fn start_full(
        data_dir: PathBuf,
        database: Option<String>,
        services: ServicesConfig,
        http: HttpTimeouts,
        notifier: NotifierConfig,
    ) -> Self {
        Self::start_cached(data_dir, database, None, services, http, notifier, None).await
    }

    /// A server publishing the outbox to the Kafka brokers at `brokers`.
    pub(crate) async fn start_with_kafka(brokers: String) -> Self {
        let (services, http) = (ServicesConfig::default(), HttpTimeouts::default());
        Self::start_cached(fresh_data_dir(), None, None, services, http, NotifierConfig::default(), Some(brokers)).await
    }

    /// A server with the Redis hot cache at `redis` (URL, key prefix).
    pub(crate) async fn start_with_redis(url: String, prefix: String) -> Self {
        Self::start_cached(
            fresh_data_dir(),
            None,
            Some((url, prefix)),
            ServicesConfig::default(),
            HttpTimeouts::default(),
            NotifierConfig::default(),
            None,
        )
        .await
    }

    async fn start_cached(
        data_dir: PathBuf,
        database: Option<String>,
        redis: Option<(String, String)>,
        services: ServicesConfig,
        http: HttpTimeouts,
        notifier: NotifierConfig,
        kafka_brokers: Option<String>,
    ) -> Self {
        let (redis_url, redis_prefix) = match redis {
            Some((url, prefix)) => (Some(url), prefix),
            None => (None, "nexus:".to_string()),
        };
        // Server logs show with a failing test's output.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("warn,nexus=info").try_init();
        let server = Server::start(ServerConfig {
            data_dir: data_dir.clone(),
            database,
            redis_url,
            redis_prefix,
            // The tests' brokers and slaves are on loopback.
            connector_networks: nexus_connectors::NetworkPolicy::any(),
            kafka_brokers,
            listen: "127.0.0.1:0".parse().expect("addr"),
            bootstrap_token: Some(TOKEN.into()),
            bootstrap_admin: None,
            scheduler_tick: Duration::from_millis(100),
            http,
            services,
            // Uploads compile in `nexus compile-worker` children, as in production.
            compiler: Some(env!("CARGO_BIN_EXE_nexus").into()),
            notifier: notifier.clone(),
        })
        .await
        .expect("server starts");
        let base = format!("http://{}", server.addr);
        // A hung request fails the test instead of hanging the run.
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Self { server: Some(server), data_dir, notifier, client, base, tokens: Default::default(), database: None }
    }

    pub(crate) async fn restart(self) -> Self {
        self.restart_with(ServicesConfig::default()).await
    }

    pub(crate) async fn restart_with(mut self, services: ServicesConfig) -> Self {
        self.server.take().expect("running").stop().await.expect("stops");
        // The new harness owns (and removes) the directory now.
        let data_dir = std::mem::take(&mut self.data_dir);
        // Access tokens outlive a restart: the signing key and the sessions
        // are in the data directory.
        let tokens = std::mem::take(&mut self.tokens);
        let notifier = self.notifier.clone();
        let database = self.database.take();
        let url = database.as_ref().map(|d| d.url.clone());
        let mut restarted = Self::start_full(data_dir, url, services, HttpTimeouts::default(), notifier).await;
        restarted.tokens = tokens;
        restarted.database = database;
        restarted
    }

    /// The server's data directory (database, compile cache).
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        &self.data_dir
    }

    pub(crate) fn server(&self) -> &Server {
        self.server.as_ref().expect("running")
    }

    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value, String) {
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        if content_type.starts_with("text/event-stream") {
            // A live stream never ends: its answer is the status (and it is
            // closed here).
            return (status, Value::Null, content_type);
        }
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body, content_type)
    }

    /// A tenant admin's access token for `tenant` (the tenant and the user
    /// are created on first use).
    pub(crate) async fn token(&self, tenant: &str) -> String {
        let mut tokens = self.tokens.lock().await;
        if let Some(token) = tokens.get(tenant) {
            return token.clone();
        }
        let token = login_as(&self.client, &self.base, tenant, "TENANT_ADMIN").await;
        // Tests drive a tenant faster than the default 100 requests a minute
        // per user; the rate-limit tests set their own profiles.
        let (status, mut profile, _) = self
            .send(self.system(reqwest::Method::GET, "/api/tenant/profile").await.header("x-nexus-tenant", tenant))
            .await;
        assert_eq!(status, StatusCode::OK, "{tenant}'s profile: {profile}");
        profile["rate_limits"]["per_user"] = json!(TEST_RATE);
        let path = format!("/api/tenants/{tenant}/profile");
        let (status, body, _) = self.send(self.system(reqwest::Method::PUT, &path).await.json(&profile)).await;
        assert_eq!(status, StatusCode::OK, "setting {tenant}'s profile: {body}");
        tokens.insert(tenant.to_string(), token.clone());
        token
    }

    /// Forgets the access tokens (they expire on the host's clock, which a
    /// test may move days on): the next request logs in again.
    pub(crate) async fn forget_tokens(&self) {
        self.tokens.lock().await.clear();
    }

    /// A request as the system administrator (the bootstrap key).
    pub(crate) async fn system(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(TOKEN)
    }

    /// A request as `tenant`'s tenant admin.
    pub(crate) async fn admin(&self, method: reqwest::Method, path: &str, tenant: &str) -> reqwest::RequestBuilder {
        let token = self.token(tenant).await;
        self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token)
    }

    /// GET as `tenant`'s tenant admin; asserts 200.
    pub(crate) async fn get_as(&self, path: &str, tenant: &str) -> Value {
        let (status, body, _) = self.send(self.admin(reqwest::Method::GET, path, tenant).await).await;
        assert_eq!(status, StatusCode::OK, "GET {path} as {tenant}: {body}");
        body
    }

    pub(crate) async fn get(&self, path: &str) -> Value {
        let (status, body, _) = self.send(self.admin(reqwest::Method::GET, path, "acme").await).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Value {
        let (status, response, _) = self.send(self.admin(reqwest::Method::POST, path, "acme").await.json(&body)).await;
        assert!(status.is_success(), "POST {path}: {status} {response}");
        response
    }

    pub(crate) async fn upload(&self, kind: &str, name: &str, bytes: Vec<u8>) -> (StatusCode, Value, String) {
        let path = format!("/api/plugins?kind={kind}&name={name}&version=0.1.0");
        self.send(self.admin(reqwest::Method::POST, &path, "acme").await.body(bytes)).await
    }

    pub(crate) async fn telemetry(&self, token: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value, String) {
        let url = format!("{}/api/v1/{token}/telemetry", self.base);
        self.send(self.client.post(url).header("content-type", "application/json").body(body)).await
    }

    /// Uploads the three first-party plugins, creates a well and a device,
    /// binds all three; returns (device id, device token, optimizer binding).
    pub(crate) async fn field(&self) -> (String, String, String) {
        self.field_with(true).await
    }

    /// As [`Harness::field`], optionally without the (scheduled) optimizer.
    pub(crate) async fn field_with(&self, optimizer: bool) -> (String, String, String) {
        self.field_of("acme", optimizer).await
    }

    /// A field in another tenant (with its scheduled optimizer).
    pub(crate) async fn field_in(&self, tenant: &str) -> (String, String, String) {
        self.field_of(tenant, true).await
    }

    /// Uploads the three first-party plugins to `tenant`; returns their ids
    /// (decoder, threshold rule, ESP optimizer).
    pub(crate) async fn upload_first_party(&self, tenant: &str) -> Vec<String> {
        let dir = plugin_files::default_dir();
        let mut ids = Vec::new();
        for (kind, name) in [
            ("decoder", "decoder-thingsboard-json"),
            ("alarm-rule", "alarm-rule-threshold"),
            ("optimizer", "optimizer-esp-frequency"),
        ] {
            let path = format!("/api/plugins?kind={kind}&name={name}&version=0.1.0");
            let bytes = plugin_files::read(&dir, name).expect("built");
            let (status, body, _) = self.send(self.admin(reqwest::Method::POST, &path, tenant).await.body(bytes)).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["info"]["name"], name);
            ids.push(body["id"].as_str().expect("id").to_string());
        }
        ids
    }

    async fn field_of(&self, tenant: &str, optimizer: bool) -> (String, String, String) {
        let ids = self.upload_first_party(tenant).await;
        let post = |path: &'static str, body: Value| async move {
            let (status, response, _) =
                self.send(self.admin(reqwest::Method::POST, path, tenant).await.json(&body)).await;
            assert!(status.is_success(), "POST {path}: {status} {response}");
            response
        };
        let well = post("/api/wells", json!({"name": "W-1", "static_data": esp_well()})).await;
        let device = post("/api/devices", json!({"name": "ESP-1", "well_id": well["id"]})).await;
        let device_id = device["id"].as_str().expect("id").to_string();
        let token = device["access_token"].as_str().expect("token").to_string();
        post("/api/bindings", json!({"plugin_id": ids[0], "device_ids": [device_id]})).await;
        post(
            "/api/bindings",
            json!({"plugin_id": ids[1], "device_ids": [device_id],
                   "config": {"key": "motor_temperature", "high": 100.0, "deadband": 5.0, "severity": "major",
                              "alarm_type": "HighMotorTemperature"}}),
        )
        .await;
        if !optimizer {
            return (device_id, token, String::new());
        }
        let optimizer = post(
            "/api/bindings",
            json!({"plugin_id": ids[2], "device_ids": [device_id], "schedule_ms": 300, "config": {}}),
        )
        .await;
        (device_id, token, optimizer["id"].as_str().expect("id").to_string())
    }

    /// Stores [`steady_esp_hour`] through the device's token; returns its
    /// first frame's time.
    pub(crate) async fn store_steady_esp_hour(&self, token: &str) -> i64 {
        let frames = steady_esp_hour();
        let first: Value = serde_json::from_str(&frames[0]).expect("frame");
        for body in frames {
            let (status, body, _) = self.telemetry(token, body).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        first["ts"].as_i64().expect("ts")
    }

    /// Binds acme's uploaded ESP optimizer to a device, run every
    /// `schedule_ms` (and at once), and waits up to 15 s for its first
    /// recommendation; returns the binding and the recommendation.
    pub(crate) async fn esp_recommendation(&self, device_id: &str, schedule_ms: i64) -> (Value, Value) {
        let plugins = self.get("/api/plugins").await;
        let optimizer = plugins
            .as_array()
            .expect("plugins")
            .iter()
            .find(|p| p["info"]["name"] == "optimizer-esp-frequency")
            .expect("optimizer uploaded")["id"]
            .clone();
        let binding = self
            .post(
                "/api/bindings",
                json!({"plugin_id": optimizer, "device_ids": [device_id], "schedule_ms": schedule_ms}),
            )
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(r) = self.get("/api/recommendations").await.as_array().and_then(|r| r.first()).cloned() {
                return (binding, r);
            }
            assert!(tokio::time::Instant::now() < deadline, "no recommendation within 15 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn alarms(&self, device_id: &str) -> Vec<Value> {
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

/// Static data of an ESP well (the optimizer's schema) whose intake
/// pressure of 700 psi at 52 Hz is far above its 350 psi target.
pub(crate) fn esp_well() -> Value {
    json!({
        "pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0, -4.6667e-6]}},
        "pump_depth_ft": 7000,
        "inflow": {"model": "linear", "productivity_index_bpd_per_psi": 1.2},
        "fluid": {"water_cut": 0.5, "gradient_psi_per_ft": 0.38},
        "tubing_head_pressure_psi": 150,
        "tubing_friction": {"loss_psi": 60, "at_rate_bpd": 1300},
        "motor": {"nameplate_current_a": 50},
        "casing_id_in": 6.276,
        "motor_od_in": 5.62,
        "limits": {"min_frequency_hz": 35, "max_frequency_hz": 65, "max_step_hz": 1,
                   "min_intake_pressure_psi": 100, "target_intake_pressure_psi": 350,
                   "recommended_range_bpd": [800, 2000]}
    })
}

/// An hour of steady ESP telemetry, one frame a minute, ending now.
pub(crate) fn steady_esp_hour() -> Vec<String> {
    let now = nexus_model::Clock::system().now();
    (0..=60)
        .map(|i| {
            json!({"ts": now - (60 - i) * 60_000,
                   "values": {"frequency": 52.0, "intake_pressure": 700.0, "motor_current": 30.0, "flow_rate": 1300.0}})
            .to_string()
        })
        .collect()
}

pub(crate) fn frame(values: Value) -> String {
    json!({"ts": nexus_model::Clock::system().now(), "values": values}).to_string()
}
