//! The main flow: alarms, the optimizer, tenancy, restart.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::{Harness, frame, steady_esp_hour};

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

    // The optimizer, on its schedule, sees a steady hour with the intake
    // pressure far above target: one step up, 52 → 53 Hz.
    for body in steady_esp_hour() {
        let (status, body, _) = h.telemetry(&token, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
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
    assert_eq!(recommendation["proposed_value"], 53.0, "{recommendation}");
    assert_eq!(recommendation["unit"], "Hz");
    assert!(recommendation["details"]["delta_oil_bbl_d"].as_f64().expect("Δoil") > 0.0, "{recommendation}");
    assert_eq!(recommendation["status"], "PROPOSED");
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
    assert!(h.server().services.runtime_stats().compiled >= 3);

    let h = h.restart().await;
    let stats = h.server().services.runtime_stats();
    assert_eq!(h.server().preloaded, 3);
    assert_eq!(stats.compiled, 0, "a restart recompiled: {stats:?}");
    assert_eq!(stats.from_cache, 3);
    println!("reload of 3 active plugins after restart: {:?}", h.server().preload);

    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 130.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.alarms(&device_id).await.len(), 1, "{body}");
    assert_eq!(h.server().services.runtime_stats().compiled, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_ten_minute_duration_keeps_its_progress() {
    // Plugins learn the time only from the host: a manual clock plays the
    // ten minutes in a moment.
    let t0 = nexus_model::Clock::system().now() - 3_600_000;
    let clock = nexus_model::Clock::manual(t0);
    let config = || nexus_services::ServicesConfig { clock: clock.clone(), ..Default::default() };
    let h = Harness::start_with(config()).await;
    let (device_id, token, _) = h.field_with(false).await;
    let bytes = nexus::plugin_files::read(&nexus::plugin_files::default_dir(), "alarm-rule-conditions").expect("built");
    let (status, plugin, _) = h.upload("alarm-rule", "alarm-rule-conditions", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    h.post(
        "/api/bindings",
        json!({"plugin_id": plugin["id"], "device_ids": [device_id], "config": {
            "alarm_type": "CasingPressureHigh",
            "severities": [{"severity": "major",
                            "create": {"key": "casing_pressure", "op": ">", "value": 1500, "duration_ms": 600_000}}],
            "clear": {"key": "casing_pressure", "op": "<", "value": 1400}
        }}),
    )
    .await;
    async fn post(h: &Harness, clock: &nexus_model::Clock, token: &str, ts: i64) {
        clock.set(ts);
        let body = json!({"ts": ts, "values": {"casing_pressure": 1600.0}}).to_string();
        let (status, body, _) = h.telemetry(token, body).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    post(&h, &clock, &token, t0).await;
    post(&h, &clock, &token, t0 + 300_000).await;
    assert!(h.alarms(&device_id).await.is_empty(), "raised before ten minutes");

    // Restart five minutes in: the duration's start survives in plugin state.
    let h = h.restart_with(config()).await;
    post(&h, &clock, &token, t0 + 540_000).await;
    assert!(h.alarms(&device_id).await.is_empty(), "raised before ten minutes");
    post(&h, &clock, &token, t0 + 600_000).await;
    let alarms = h.alarms(&device_id).await;
    assert_eq!(alarms.len(), 1, "the ten minutes did not survive the restart");
    assert_eq!(alarms[0]["alarm_type"], "CasingPressureHigh");
    assert_eq!(alarms[0]["severity"], "MAJOR");
}
