//! The demo's gas-lift group: four wells on a wellpad of their own sharing
//! 1000 Mscf/d of lift gas — the worked example of
//! `optimizer-gas-lift-allocation` (four quadratic gas-lift performance
//! curves). Each well posts its oil rate and lift-gas injection, was tested
//! at six injection rates (recorded as well tests), and obeys the injection
//! the host sends over the device API's RPC. The field optimizer, bound to
//! the four devices, shares the wellpad's gas by equal marginal oil; the
//! demo operator approves its recommendations like the ESP ones.

use anyhow::Context;
use nexus_physics::sim::SplitMix64;
use serde_json::json;
use tokio::sync::mpsc;

use super::{Admin, DemoOptions, operator};

/// Oil = a + b·g + c·g² (STB/d, g in Mscf/d): the worked example's wells.
const CURVES: [(f64, f64, f64); 4] =
    [(200.0, 0.40, -2.0e-4), (150.0, 0.55, -3.5e-4), (300.0, 0.30, -1.0e-4), (100.0, 0.70, -6.0e-4)];
/// Lift gas the wellpad has, Mscf/d.
const LIFT_GAS: f64 = 1000.0;
/// Every well's injection when the demo starts, Mscf/d (800 of 1000 used).
const START_INJECTION: f64 = 200.0;
/// The injection setpoint.
const PARAMETER: &str = "gas_injection_mscf_d";

/// One simulated gas-lifted well.
struct Well {
    curve: (f64, f64, f64),
    injection: f64,
}

impl Well {
    fn oil(&self) -> f64 {
        let (a, b, c) = self.curve;
        let g = self.injection;
        (a + b * g + c * g * g).max(0.0)
    }
}

/// The group as the demo drives it.
pub(super) struct Group {
    wells: Vec<Well>,
    tokens: Vec<String>,
    requests: mpsc::Receiver<operator::Request>,
    rng: SplitMix64,
}

fn name(index: usize) -> String {
    format!("GL-{:02}", index + 1)
}

impl Group {
    /// Sets the group up (once per data directory; a group set up before
    /// gets new device tokens) and starts listening to its wells' RPC.
    pub(super) async fn start(admin: &Admin, options: &DemoOptions) -> anyhow::Result<Self> {
        let devices = admin.get("/api/devices").await?;
        let existing: Vec<String> = (0..CURVES.len())
            .filter_map(|i| {
                let devices = devices.as_array()?;
                let device = devices.iter().find(|d| d["name"] == name(i).as_str())?;
                device["id"].as_str().map(str::to_string)
            })
            .collect();
        let tokens = if existing.len() == CURVES.len() {
            let mut tokens = Vec::new();
            for id in &existing {
                let issued = admin.post(&format!("/api/devices/{id}/token"), &json!({})).await?;
                tokens.push(issued["access_token"].as_str().context("access token")?.to_string());
            }
            tokens
        } else {
            setup(admin, options).await?
        };
        let requests = operator::listen(&admin.client, &admin.base, &tokens, PARAMETER);
        let wells = CURVES.iter().map(|&curve| Well { curve, injection: START_INJECTION }).collect();
        Ok(Self { wells, tokens, requests, rng: SplitMix64::new(0x6a5_11f7) })
    }

    /// Posts one frame per well: its oil rate (±0.5 % noise) and injection.
    pub(super) async fn post(&mut self, client: &reqwest::Client, base: &str) {
        for (well, token) in self.wells.iter().zip(&self.tokens) {
            let oil = well.oil() * (1.0 + self.rng.range(-0.005, 0.005));
            let values = json!({"oil_rate": oil, "gas_injection": well.injection,
                                "casing_pressure": 900.0 + 0.2 * well.injection});
            let frame = json!({"ts": nexus_model::Clock::system().now(), "values": values});
            match client.post(format!("{base}/api/v1/{token}/telemetry")).json(&frame).send().await {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => tracing::warn!(status = %response.status(), "Demo gas-lift frame refused."),
                Err(error) => tracing::warn!(%error, "Demo gas-lift frame not sent."),
            }
        }
    }

    /// Applies the injections the wells were sent and answers each.
    pub(super) async fn obey(&mut self, client: &reqwest::Client, base: &str) {
        while let Ok((index, id, injection)) = self.requests.try_recv() {
            let well = &mut self.wells[index];
            let (before, oil_before) = (well.injection, well.oil());
            well.injection = injection.max(0.0);
            let url = format!("{base}/api/v1/{}/rpc/{id}", self.tokens[index]);
            match client.post(url).json(&json!({"value": well.injection})).send().await {
                Ok(response) if response.status().is_success() => tracing::info!(
                    "{} obeyed RPC {id}: lift gas {before:.1} → {:.1} Mscf/d, oil {oil_before:.1} → {:.1} bbl/d.",
                    name(index),
                    well.injection,
                    well.oil()
                ),
                Ok(response) => tracing::warn!(status = %response.status(), "{}'s RPC answer refused.", name(index)),
                Err(error) => tracing::warn!(%error, "{}'s RPC answer not sent.", name(index)),
            }
        }
    }
}

/// Creates the wellpad with its lift gas, the wells with their tests, the
/// devices with their injection setpoints, and binds the decoder and the
/// field optimizer; returns the devices' tokens.
async fn setup(admin: &Admin, options: &DemoOptions) -> anyhow::Result<Vec<String>> {
    let dir = &options.plugin_dir;
    let decoder = admin.plugin("decoder", "decoder-thingsboard-json", dir).await?;
    let allocation = admin.plugin("field-optimizer", "optimizer-gas-lift-allocation", dir).await?;
    let pad = admin.post("/api/wellpads", &json!({"name": "Gas-lift pad"})).await?;
    let pad_id = pad["id"].as_str().context("wellpad id")?.to_string();
    let now = nexus_model::Clock::system().now();
    let (mut tokens, mut devices) = (Vec::new(), Vec::new());
    for (index, &(a, b, c)) in CURVES.iter().enumerate() {
        let (latitude, longitude) = super::position(super::GAS_LIFT_PAD, index);
        let well = admin
            .post(
                "/api/wells",
                &json!({"name": name(index), "wellpad_id": pad_id,
                        "static_data": {"latitude": latitude, "longitude": longitude}}),
            )
            .await?;
        let well_id = well["id"].as_str().context("well id")?;
        // A multi-rate test over the last week: six injection rates.
        for (day, g) in [0.0, 200.0, 400.0, 600.0, 900.0, 1200.0].into_iter().enumerate() {
            let oil = a + b * g + c * g * g;
            let test = json!({"ts": now - (day as i64 + 1) * 86_400_000, "duration_h": 12, "oil_bbl_d": oil,
                              "water_bbl_d": 0.25 * oil, "conditions": {PARAMETER: g}});
            admin.post(&format!("/api/wells/{well_id}/well-tests"), &test).await?;
        }
        let device = admin.post("/api/devices", &json!({"name": name(index), "well_id": well_id})).await?;
        tokens.push(device["access_token"].as_str().context("access token")?.to_string());
        let id = device["id"].as_str().context("device id")?.to_string();
        let setpoint = json!({"value": START_INJECTION, "unit": "Mscf/d", "min": 0, "max": 1500,
                              "readback": {"key": "gas_injection", "tolerance": 0.5}});
        admin.put(&format!("/api/devices/{id}/setpoints/{PARAMETER}"), &setpoint).await?;
        devices.push(id);
    }
    admin.put(&format!("/api/wellpads/{pad_id}/constraints"), &json!({"lift_gas_available": LIFT_GAS})).await?;
    admin.post("/api/bindings", &json!({"plugin_id": decoder, "device_ids": devices})).await?;
    let binding = json!({"plugin_id": allocation, "device_ids": devices, "schedule_ms": options.optimizer_every_ms * 4,
                         "config": {"injection_key": "gas_injection"}});
    admin.post("/api/bindings", &binding).await?;
    tracing::info!(
        "Demo gas-lift group set up: {} wells at {START_INJECTION} Mscf/d each share {LIFT_GAS} Mscf/d; \
         optimizer-gas-lift-allocation runs every {} s.",
        CURVES.len(),
        options.optimizer_every_ms * 4 / 1000
    );
    Ok(tokens)
}
