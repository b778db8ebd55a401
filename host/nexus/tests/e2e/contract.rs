//! Contract versions: components built against `nexus:plugin@0.1.0` (kept
//! as fixtures) still upload, bind and fire next to 0.2.0 components.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Harness, frame};

fn fixture(name: &str) -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/contract-0.1.0/");
    std::fs::read(format!("{path}{name}.wasm")).expect("fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_built_against_0_1_0_still_upload_and_fire() {
    let h = Harness::start().await;
    let (status, decoder, _) = h.upload("decoder", "legacy-decoder", fixture("decoder_thingsboard_json")).await;
    assert_eq!(status, StatusCode::CREATED, "{decoder}");
    assert_eq!(decoder["contract"], "0.1.0");
    let (status, rule, _) = h.upload("alarm-rule", "legacy-threshold", fixture("alarm_rule_threshold")).await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");
    assert_eq!(rule["contract"], "0.1.0");
    // A 0.2.0 rule on the same device, from this build's plugins.
    let current =
        nexus::plugin_files::read(&nexus::plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let (status, current, _) = h.upload("alarm-rule", "alarm-rule-threshold", current).await;
    assert_eq!((status, current["contract"].as_str()), (StatusCode::CREATED, Some("0.2.0")));

    let device = h.post("/api/devices", json!({"name": "ESP-legacy"})).await;
    let (device_id, token) = (device["id"].as_str().expect("id"), device["access_token"].as_str().expect("token"));
    h.post("/api/bindings", json!({"plugin_id": decoder["id"], "device_ids": [device_id]})).await;
    for (plugin, alarm_type) in [(&rule, "LegacyHigh"), (&current, "CurrentHigh")] {
        h.post(
            "/api/bindings",
            json!({"plugin_id": plugin["id"], "device_ids": [device_id],
                   "config": {"key": "motor_temperature", "high": 100.0, "alarm_type": alarm_type}}),
        )
        .await;
    }
    let (status, body, _) = h.telemetry(token, frame(json!({"motor_temperature": 90.0, "mode": "auto"}))).await;
    assert_eq!((status, body["accepted"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    let (status, body, _) = h.telemetry(token, frame(json!({"motor_temperature": 130.5}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut types: Vec<String> =
        h.alarms(device_id).await.iter().map(|a| a["alarm_type"].as_str().unwrap_or_default().to_string()).collect();
    types.sort();
    assert_eq!(types, ["CurrentHigh", "LegacyHigh"], "both contract versions fired");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest")).await;
    assert_eq!(latest.as_array().map(Vec::len), Some(2), "{latest}");
}
