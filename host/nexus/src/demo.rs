//! `nexus serve --demo`: a tenant with simulated ESP wells that post through
//! the device API, the three first-party plugins bound to them, and a short
//! summary of alarms and recommendations every 15 s.
//!
//! Set-up goes through the admin API, like an operator's script would, so
//! the demo exercises the same paths as production.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::plugin_files;
use crate::sim::{EspWell, Event, Rng};

/// What the demo sets up.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the plugin components are.
    pub plugin_dir: PathBuf,
    /// Number of simulated wells.
    pub wells: usize,
    /// Time between two frames of a well.
    pub period: Duration,
    /// Optimizer interval.
    pub optimizer_every_ms: i64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            plugin_dir: plugin_files::default_dir(),
            wells: 4,
            period: Duration::from_secs(1),
            optimizer_every_ms: 15_000,
        }
    }
}

struct Admin {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<(u16, Value)> {
        let response = request.bearer_auth(&self.token).send().await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let (status, body) = self.send(self.client.get(format!("{}{path}", self.base))).await?;
        if status != 200 {
            bail!("GET {path}: {status} {body}");
        }
        Ok(body)
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let (status, response) = self.send(self.client.post(format!("{}{path}", self.base)).json(body)).await?;
        if !(200..300).contains(&status) {
            bail!("POST {path}: {status} {response}");
        }
        Ok(response)
    }

    /// Uploads a plugin, or finds the same name and version uploaded before.
    async fn plugin(&self, kind: &str, name: &str, dir: &std::path::Path) -> anyhow::Result<String> {
        let bytes = plugin_files::read(dir, name)?;
        let url = format!("{}/api/plugins?kind={kind}&name={name}&version=0.1.0", self.base);
        let (status, body) = self.send(self.client.post(url).body(bytes)).await?;
        match status {
            201 => Ok(body["id"].as_str().unwrap_or_default().to_string()),
            409 => {
                let plugins = self.get("/api/plugins").await?;
                plugins
                    .as_array()
                    .and_then(|all| all.iter().find(|p| p["name"] == name && p["kind"] == kind))
                    .and_then(|p| p["id"].as_str())
                    .map(str::to_string)
                    .context("plugin exists but is not listed")
            }
            _ => bail!("uploading {name}: {status} {body}"),
        }
    }
}

/// The device access tokens of the demo wells.
fn device_token(index: usize) -> String {
    format!("demo-esp-{:02}-token", index + 1)
}

/// Sets up the demo tenant (once per data directory) and returns the
/// device tokens.
async fn setup(admin: &Admin, options: &DemoOptions) -> anyhow::Result<Vec<String>> {
    let devices = admin.get("/api/devices").await?;
    let existing = devices.as_array().map(Vec::len).unwrap_or(0);
    if existing >= options.wells {
        tracing::info!(devices = existing, "Demo field already set up in this data directory; reusing it.");
        return Ok((0..options.wells).map(device_token).collect());
    }
    let dir = &options.plugin_dir;
    let decoder = admin.plugin("decoder", "decoder-thingsboard-json", dir).await?;
    let threshold = admin.plugin("alarm-rule", "alarm-rule-threshold", dir).await?;
    let optimizer = admin.plugin("optimizer", "optimizer-esp-frequency", dir).await?;
    let pad = admin.post("/api/wellpads", &json!({"name": "Pad A"})).await?;
    let mut device_ids = Vec::new();
    for index in 0..options.wells {
        let well = admin
            .post(
                "/api/wells",
                &json!({
                    "name": format!("ESP-{:02}", index + 1),
                    "wellpad_id": pad["id"],
                    "static_data": {
                        "base_frequency_hz": 60, "nameplate_current_a": 50,
                        "rated_flow_bpd_at_base": 1500, "min_flow_bpd_at_base": 800,
                        "max_flow_bpd_at_base": 2000, "productivity_index_bpd_per_psi": 1.2
                    }
                }),
            )
            .await?;
        let device = admin
            .post(
                "/api/devices",
                &json!({"name": format!("ESP-{:02}", index + 1), "well_id": well["id"], "access_token": device_token(index)}),
            )
            .await?;
        device_ids.push(device["id"].clone());
    }
    admin.post("/api/bindings", &json!({"plugin_id": decoder, "device_ids": device_ids})).await?;
    admin
        .post(
            "/api/bindings",
            &json!({"plugin_id": threshold, "device_ids": device_ids, "config": {
                "key": "motor_temperature", "high": 120.0, "deadband": 5.0,
                "severity": "major", "alarm_type": "HighMotorTemperature"
            }}),
        )
        .await?;
    admin
        .post(
            "/api/bindings",
            &json!({"plugin_id": threshold, "device_ids": device_ids, "config": {
                "key": "motor_current", "low": 22.0, "deadband": 3.0, "min_duration_ms": 3000,
                "severity": "warning", "alarm_type": "Underload"
            }}),
        )
        .await?;
    admin
        .post(
            "/api/bindings",
            &json!({"plugin_id": optimizer, "device_ids": device_ids, "schedule_ms": options.optimizer_every_ms,
                    "config": {"target_intake_pressure": 350.0}}),
        )
        .await?;
    tracing::info!(
        wells = options.wells,
        "Demo field set up: decoder, two threshold rules and the ESP optimizer bound."
    );
    Ok((0..options.wells).map(device_token).collect())
}

/// Sets up the field, then posts simulated telemetry until cancelled.
pub async fn run(base: String, admin_token: String, options: DemoOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let admin = Admin { client: client.clone(), base: base.clone(), token: admin_token };
    let tokens = setup(&admin, &options).await.context("setting up the demo field")?;
    tracing::info!(
        "Demo running: {} wells post every {:?} to {base}/api/v1/<token>/telemetry. Try: curl -H 'Authorization: Bearer $NEXUS_ADMIN_TOKEN' {base}/api/alarms",
        tokens.len(),
        options.period
    );
    let mut wells: Vec<EspWell> =
        (0..tokens.len()).map(|i| EspWell::new(i as u64 + 11, 50.0 + 2.0 * i as f64)).collect();
    let mut rng = Rng::new(0x5eed);
    let mut ticker = tokio::time::interval(options.period);
    let mut step: u64 = 0;
    loop {
        ticker.tick().await;
        step += 1;
        // A first overheating and underload early on, then random events.
        if step == 8 {
            wells[0].inject(Event::Overheating { left: 12 });
        }
        if step == 20 && wells.len() > 1 {
            wells[1].inject(Event::Underload { left: 12 });
        }
        for (well, token) in wells.iter_mut().zip(&tokens) {
            if rng.next() < 1.0 / 120.0 {
                well.inject(Event::Overheating { left: 10 + (rng.next() * 10.0) as u32 });
            } else if rng.next() < 1.0 / 150.0 {
                well.inject(Event::Underload { left: 10 + (rng.next() * 10.0) as u32 });
            }
            let values: serde_json::Map<String, Value> =
                well.step().into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            let frame = json!({"ts": nexus_model::Clock::system().now(), "values": values});
            let url = format!("{base}/api/v1/{token}/telemetry");
            match client.post(url).json(&frame).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = %response.status(), "Demo frame refused."),
                Err(error) => tracing::warn!(%error, "Demo frame not sent."),
            }
        }
        if step.is_multiple_of(15) {
            summarize(&admin).await;
        }
    }
}

async fn summarize(admin: &Admin) {
    let alarms = admin.get("/api/alarms?limit=1000").await.unwrap_or(Value::Null);
    let active = alarms
        .as_array()
        .map(|a| a.iter().filter(|x| x["status"].as_str().is_some_and(|s| s.starts_with("ACTIVE"))).count())
        .unwrap_or(0);
    let total = alarms.as_array().map(Vec::len).unwrap_or(0);
    let recommendations = admin.get("/api/recommendations?limit=1").await.unwrap_or(Value::Null);
    let latest = recommendations.get(0).map(|r| {
        format!(
            "{} {} → {:.1} {} ({})",
            r["parameter"].as_str().unwrap_or(""),
            r["current_value"],
            r["proposed_value"].as_f64().unwrap_or(0.0),
            r["unit"].as_str().unwrap_or(""),
            r["rationale"].as_str().unwrap_or("")
        )
    });
    tracing::info!(
        alarms = total,
        active,
        "Demo summary. Latest recommendation: {}",
        latest.unwrap_or_else(|| "none yet".into())
    );
}
