//! Transforms: the virtual flow meter (`vfm-esp-pump-curve`, a component of
//! the `transform` world) derives a rate from every frame of its device,
//! which is stored with the frame and seen by the device's alarm rules.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Harness, frame};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_flow_meter_derives_a_rate_that_is_stored_and_alarmed_on() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let dir = nexus::plugin_files::default_dir();
    let bytes = nexus::plugin_files::read(&dir, "vfm-esp-pump-curve").expect("built");
    let (status, vfm, _) = h.upload("transform", "vfm-esp-pump-curve", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{vfm}");
    assert_eq!(vfm["kind"], "transform");
    // 300 stages of h₆₀(Q) = 30·(1.35 − 0.35·(Q/1500)²) ft on a 0.40 psi/ft
    // liquid: 2600 psi of rise at 55 Hz is 1627.7 bbl/d (worked by hand in
    // the plugin's known-answer test).
    let well = json!({
        "pump": {"base_frequency_hz": 60, "head_ft": {"polynomial": [40.5, 0.0, -10.5 / (1500.0 * 1500.0)]}, "stages": 300},
        "fluid": {"water_cut": 0.6, "gradient_psi_per_ft": 0.40},
        "limits": {"recommended_range_bpd": [800, 2000]}
    });
    h.post("/api/bindings", json!({"plugin_id": vfm["id"], "device_ids": [device_id], "config": {"well": well}})).await;
    // A threshold rule on the derived key: the rate is above 1500 bbl/d.
    let threshold = h.get("/api/plugins").await;
    let threshold = threshold
        .as_array()
        .and_then(|p| p.iter().find(|p| p["info"]["name"] == "alarm-rule-threshold"))
        .expect("threshold rule uploaded")
        .clone();
    h.post(
        "/api/bindings",
        json!({"plugin_id": threshold["id"], "device_ids": [device_id],
               "config": {"key": "vfm_liquid_rate", "high": 1500.0, "deadband": 50.0, "severity": "warning",
                          "alarm_type": "HighVirtualRate"}}),
    )
    .await;

    let (status, body, _) = h
        .telemetry(&token, frame(json!({"frequency": 55.0, "intake_pressure": 400.0, "discharge_pressure": 3000.0})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest?keys=vfm_liquid_rate")).await;
    let rate = latest[0]["value"].as_f64().unwrap_or_else(|| panic!("no derived rate: {latest}"));
    assert!((rate - 1627.7).abs() <= 0.01 * 1627.7, "{rate}");
    let alarms = h.alarms(&device_id).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["alarm_type"], "HighVirtualRate");

    // A frame the meter cannot use derives nothing and is still stored.
    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 80.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let history =
        h.get(&format!("/api/devices/{device_id}/telemetry?key=vfm_liquid_rate&start_ts=0&end_ts={}", i64::MAX)).await;
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history}");
}
