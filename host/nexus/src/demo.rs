//! `nexus serve --demo`: a tenant with simulated ESP wells (`crate::sim`)
//! that post through the device API, the first-party plugins bound to them —
//! the ThingsBoard decoder, `alarm-rule-esp-protection` per well (its
//! nameplate), the ESP frequency optimizer (the wells' static data) — an
//! operator who applies each recommendation, and a short summary of alarms
//! and recommendations every 15 s.
//!
//! One demo second is one minute of well time (printed at start); the
//! plugins' time windows are configured in demo time.
//!
//! Set-up goes through the admin API, like an operator's script would, so
//! the demo exercises the same paths as production.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use nexus_physics::sim::SplitMix64;
use serde_json::{Value, json};

use crate::plugin_files;
use crate::sim::{self, DemoWell, Event, WELL_SECONDS_PER_DEMO_SECOND};

/// What the demo sets up.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the plugin components are.
    pub plugin_dir: PathBuf,
    /// Number of simulated wells.
    pub wells: usize,
    /// Time between two frames of a well.
    pub period: Duration,
    /// Optimizer interval (15 demo seconds: 15 minutes of well time).
    pub optimizer_every_ms: i64,
    /// How long the operator takes to apply a recommendation.
    pub operator_delay: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            plugin_dir: plugin_files::default_dir(),
            wells: 4,
            period: Duration::from_secs(1),
            optimizer_every_ms: 15_000,
            operator_delay: Duration::from_secs(5),
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

/// Today's date (UTC), `YYYY-MM-DD`: the date of the demo wells' well test.
fn today() -> String {
    let days = nexus_model::Clock::system().now().div_euclid(86_400_000);
    // Days since 1970-01-01 to a civil date (H. Hinnant's civil-from-days).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Sets up the demo tenant (once per data directory) and returns the
/// device tokens and ids.
async fn setup(admin: &Admin, options: &DemoOptions, wells: &[DemoWell]) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let tokens: Vec<String> = (0..options.wells).map(device_token).collect();
    let devices = admin.get("/api/devices").await?;
    let existing = devices.as_array().cloned().unwrap_or_default();
    if existing.len() >= options.wells {
        tracing::info!(devices = existing.len(), "Demo field already set up in this data directory; reusing it.");
        let id = |index: usize| {
            let name = format!("ESP-{:02}", index + 1);
            existing.iter().find(|d| d["name"] == name.as_str()).and_then(|d| d["id"].as_str()).map(str::to_string)
        };
        let ids: anyhow::Result<Vec<String>> =
            (0..options.wells).map(|i| id(i).with_context(|| format!("no device ESP-{:02}", i + 1))).collect();
        return Ok((tokens, ids?));
    }
    let dir = &options.plugin_dir;
    let decoder = admin.plugin("decoder", "decoder-thingsboard-json", dir).await?;
    let protection = admin.plugin("alarm-rule", "alarm-rule-esp-protection", dir).await?;
    let optimizer = admin.plugin("optimizer", "optimizer-esp-frequency", dir).await?;
    let pad = admin.post("/api/wellpads", &json!({"name": "Pad A"})).await?;
    let test_date = today();
    let mut device_ids = Vec::new();
    for (index, sim) in wells.iter().enumerate() {
        let name = format!("ESP-{:02}", index + 1);
        let well = admin
            .post(
                "/api/wells",
                &json!({"name": name, "wellpad_id": pad["id"], "static_data": sim.static_data(&test_date)?}),
            )
            .await?;
        let device = admin
            .post("/api/devices", &json!({"name": name, "well_id": well["id"], "access_token": tokens[index]}))
            .await?;
        let id = device["id"].as_str().context("device id")?.to_string();
        // The protection rule judges against this well's motor nameplate.
        admin
            .post(
                "/api/bindings",
                &json!({"plugin_id": protection, "device_ids": [id], "config": sim.protection_config()}),
            )
            .await?;
        device_ids.push(id);
    }
    admin.post("/api/bindings", &json!({"plugin_id": decoder, "device_ids": device_ids})).await?;
    admin
        .post(
            "/api/bindings",
            &json!({"plugin_id": optimizer, "device_ids": device_ids, "schedule_ms": options.optimizer_every_ms,
                    "config": sim::optimizer_config()}),
        )
        .await?;
    tracing::info!(
        wells = options.wells,
        "Demo field set up: decoder, ESP protection per well and the ESP frequency optimizer bound."
    );
    Ok((tokens, device_ids))
}

/// Sets up the field, then posts simulated telemetry until cancelled.
pub async fn run(base: String, admin_token: String, options: DemoOptions) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    let admin = Admin { client: client.clone(), base: base.clone(), token: admin_token };
    let mut wells: Vec<DemoWell> = (0..options.wells).map(DemoWell::new).collect::<anyhow::Result<_>>()?;
    let (tokens, device_ids) = setup(&admin, &options, &wells).await.context("setting up the demo field")?;
    let well_s = WELL_SECONDS_PER_DEMO_SECOND * options.period.as_secs_f64();
    tracing::info!(
        "Demo running: {} wells post every {:?} to {base}/api/v1/<token>/telemetry; one demo second is {:.0} s of well time. Try: curl -H 'Authorization: Bearer $NEXUS_ADMIN_TOKEN' {base}/api/alarms",
        tokens.len(),
        options.period,
        WELL_SECONDS_PER_DEMO_SECOND
    );
    for (i, well) in wells.iter().enumerate() {
        let w = well.sim().well();
        tracing::info!(
            "ESP-{:02}: reservoir {:.0} psi, PI {:.2} bbl/d/psi, pump at {:.0} ft, {:.2} Hz",
            i + 1,
            w.ipr.reservoir_pressure_psi(),
            w.ipr.productivity_index(),
            w.pump_depth_ft,
            well.sim().frequency()
        );
    }
    let mut rng = SplitMix64::new(0x5eed_e7e7);
    let mut operator = Operator::default();
    let mut ticker = tokio::time::interval(options.period);
    let mut step: u64 = 0;
    loop {
        ticker.tick().await;
        step += 1;
        // A first pump-off and gas lock early on, then random events (about
        // one per well every 30 demo minutes), each 4–8 hours of well time.
        if step == 120 {
            wells[0].inject(Event::PumpOff, 300.0);
        }
        if step == 200 && wells.len() > 1 {
            wells[1].inject(Event::GasLock, 300.0);
        }
        for (well, token) in wells.iter_mut().zip(&tokens) {
            if rng.uniform() < 1.0 / 1800.0 {
                let event = if rng.uniform() < 0.5 { Event::PumpOff } else { Event::GasLock };
                well.inject(event, rng.range(240.0, 480.0));
            }
            let values: serde_json::Map<String, Value> =
                well.step(well_s)?.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            let frame = json!({"ts": nexus_model::Clock::system().now(), "values": values});
            let url = format!("{base}/api/v1/{token}/telemetry");
            match client.post(url).json(&frame).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = %response.status(), "Demo frame refused."),
                Err(error) => tracing::warn!(%error, "Demo frame not sent."),
            }
        }
        if step.is_multiple_of(5) {
            operator.review(&admin, &device_ids, options.operator_delay, &mut wells).await;
        }
        if step.is_multiple_of(15) {
            summarize(&admin).await;
        }
    }
}

/// The demo's operator: approves every recommendation and applies it to the
/// simulated drive `operator_delay` after it appeared.
#[derive(Default)]
struct Operator {
    seen: BTreeSet<String>,
    waiting: HashMap<String, (std::time::Instant, usize, f64)>,
}

impl Operator {
    async fn review(&mut self, admin: &Admin, device_ids: &[String], delay: Duration, wells: &mut [DemoWell]) {
        let recommendations = admin.get("/api/recommendations?limit=50").await.unwrap_or(Value::Null);
        for r in recommendations.as_array().into_iter().flatten() {
            let (Some(id), Some(device), Some(hz)) =
                (r["id"].as_str(), r["device_id"].as_str(), r["proposed_value"].as_f64())
            else {
                continue;
            };
            if r["parameter"] != "frequency_hz" || !self.seen.insert(id.to_string()) {
                continue;
            }
            if let Some(index) = device_ids.iter().position(|d| d == device) {
                self.waiting.insert(id.to_string(), (std::time::Instant::now() + delay, index, hz));
            }
        }
        let now = std::time::Instant::now();
        let due: Vec<String> =
            self.waiting.iter().filter(|(_, (at, _, _))| *at <= now).map(|(id, _)| id.clone()).collect();
        for id in due {
            if let Some((_, index, hz)) = self.waiting.remove(&id) {
                wells[index].set_frequency(hz);
                tracing::info!("Operator applied recommendation {id}: ESP-{:02} to {hz:.2} Hz.", index + 1);
            }
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
