//! Forecasts hosted: a forecaster binding runs on its schedule (or now),
//! its forecast is stored as the newest of its device and key, served by
//! `GET /api/devices/{id}/forecasts` to the tenant only, and an event; the
//! ESP optimizer reads it through `host.latest-forecast` as the baseline of
//! its expected gain.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, login_as, plugin_files};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forecaster_is_scheduled_stored_served_and_is_the_optimizers_baseline() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let well_id = h.get("/api/wells").await[0]["id"].as_str().expect("well id").to_string();
    let now = nexus_model::Clock::system().now();
    let day: i64 = 86_400_000;
    // A year of monthly tests on an exponential decline of 0.2 %/day.
    for k in 0..12 {
        let age = 330 - 30 * k;
        let oil = 800.0 * (-0.002 * (330 - age) as f64).exp();
        h.post(
            &format!("/api/wells/{well_id}/well-tests"),
            json!({"ts": now - age * day - 3_600_000, "duration_h": 24, "oil_bbl_d": oil, "water_bbl_d": oil,
                   "gas_mscf_d": 80}),
        )
        .await;
    }
    let path = format!("/api/devices/{device_id}/forecasts");
    assert_eq!(h.get(&path).await, json!([]), "no forecast before a forecaster ran");

    let bytes = plugin_files::read(&plugin_files::default_dir(), "forecaster-arps-decline").expect("built");
    let (status, plugin, _) = h.upload("forecaster", "forecaster-arps-decline", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": plugin["id"], "device_ids": [device_id], "schedule_ms": 3_600_000,
                   "config": {"source": "well_tests", "horizon_days": 360, "step_days": 30}}),
        )
        .await;
    let binding_id = binding["id"].as_str().expect("id");
    // The scheduler runs it at once (its first tick); a run now is the same.
    let ran = h.post(&format!("/api/bindings/{binding_id}/run"), json!({})).await;
    assert_eq!(ran, json!([]), "a forecaster recommends nothing");

    let forecasts = h.get(&path).await;
    let forecasts = forecasts.as_array().expect("forecasts");
    assert_eq!(forecasts.len(), 1, "{forecasts:?}");
    let f = &forecasts[0];
    assert_eq!(
        (f["device_id"].as_str(), f["key"].as_str(), f["unit"].as_str()),
        (Some(&*device_id), Some("oil_rate"), Some("bbl/d"))
    );
    assert_eq!(f["binding_id"], binding_id);
    assert!(f["issued_at"].as_i64().is_some_and(|t| t >= now), "{f}");
    let points = f["points"].as_array().expect("points");
    assert_eq!(points.len(), 13, "now and every 30 days to 360: {f}");
    let values: Vec<f64> = points.iter().map(|p| p["value"].as_f64().expect("value")).collect();
    assert!(values.windows(2).all(|w| w[1] < w[0]), "a decline declines: {values:?}");
    assert!(
        points.iter().all(|p| p["low"].as_f64() <= p["value"].as_f64() && p["value"].as_f64() <= p["high"].as_f64())
    );
    let di = f["model"]["di_per_day"].as_f64().expect("di");
    assert!((di - 0.002).abs() < 0.000_1, "the fit finds the decline it was given: {di}");

    // Readers of the tenant read it; another tenant finds no such device.
    let viewer = login_as(&h.client, &h.base, "acme", "VIEWER").await;
    let (status, _, _) = h.send(h.client.get(format!("{}{path}", h.base)).bearer_auth(&viewer)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem, _) = h.send(h.admin(Method::GET, &path, "other").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    // The forecast is an event of the outbox.
    let events = h.get("/api/events?limit=1000").await;
    assert!(
        events.as_array().expect("events").iter().any(|e| e["type"] == "forecast" && e["key"] == "oil_rate"),
        "{events}"
    );

    // The ESP optimizer states its gain on that forecast.
    h.store_steady_esp_hour(&token).await;
    let (_, recommendation) = h.esp_recommendation(&device_id, 300).await;
    let details: &Value = &recommendation["details"];
    let baseline = &details["baseline"];
    assert_eq!(baseline["source"], "forecast", "{details}");
    let factor = baseline["factor"].as_f64().expect("factor");
    // 30 days on a 0.2 %/day decline: the mean over days 1..30 of e^(−0.002 d).
    let want = (1..=30).map(|d| (-0.002 * f64::from(d)).exp()).sum::<f64>() / 30.0;
    assert!((factor - want).abs() < 0.003, "factor {factor} against {want}");
    let now_gain = baseline["delta_oil_now_bbl_d"].as_f64().expect("gain now");
    let gain = recommendation["expected_gain"].as_f64().expect("gain");
    assert!((gain - now_gain * factor).abs() < 1e-6 * now_gain.abs().max(1.0), "{recommendation}");
    assert!(recommendation["rationale"].as_str().is_some_and(|r| r.contains("Baseline: the `oil_rate` forecast")));
}

/// A cron schedule in a time zone is accepted for scheduled kinds, shown on
/// the binding, and waits for its time (an interval binding runs at once);
/// a wrong expression, an unknown zone, both schedules, or a cron schedule
/// on an alarm rule is a 400 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_schedules_are_checked_shown_and_wait_for_their_time() {
    let h = Harness::start().await;
    let (device_id, _, _) = h.field_with(false).await;
    let well_id = h.get("/api/wells").await[0]["id"].as_str().expect("well id").to_string();
    let now = nexus_model::Clock::system().now();
    for k in 0..8_i64 {
        let age = 30 * (8 - k);
        h.post(
            &format!("/api/wells/{well_id}/well-tests"),
            json!({"ts": now - age * 86_400_000, "duration_h": 24, "oil_bbl_d": 900 - 20 * k, "water_bbl_d": 100,
                   "gas_mscf_d": 80}),
        )
        .await;
    }
    let bytes = plugin_files::read(&plugin_files::default_dir(), "forecaster-arps-decline").expect("built");
    let (status, plugin, _) = h.upload("forecaster", "forecaster-arps-decline", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let body = |extra: Value| {
        let mut body =
            json!({"plugin_id": plugin["id"], "device_ids": [device_id], "config": {"source": "well_tests"}});
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    let bind = |extra: Value| h.bind_as_admin(body(extra));
    for (extra, names) in [
        (json!({"schedule_cron": "0 6 * *"}), "has 4 fields"),
        (json!({"schedule_cron": "0 25 * * *"}), "schedule_cron `0 25 * * *`"),
        (json!({"schedule_cron": "0 6 * * 1-5", "schedule_tz": "Mars/Olympus"}), "schedule_tz `Mars/Olympus`"),
        (json!({"schedule_cron": "0 6 * * 1-5", "schedule_ms": 60000}), "not both"),
        (json!({"schedule_tz": "UTC"}), "schedule_tz goes with a schedule_cron"),
    ] {
        let (status, problem, _) = bind(extra.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(names)), "{extra}: {problem}");
    }
    let rule = h
        .get("/api/plugins")
        .await
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["kind"] == "alarm-rule")
        .expect("rule")["id"]
        .clone();
    let (status, problem, _) = h
        .send(
            h.admin(Method::POST, "/api/bindings", "acme")
                .await
                .json(&json!({"plugin_id": rule, "device_ids": [device_id], "schedule_cron": "0 6 * * *"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");

    // New Year's midnight in Chicago: accepted, shown, and not run now.
    let (status, binding, _) = bind(json!({"schedule_cron": "0 0 1 1 *", "schedule_tz": "America/Chicago"})).await;
    assert_eq!(status, StatusCode::CREATED, "{binding}");
    assert_eq!(
        (binding["schedule_cron"].as_str(), binding["schedule_tz"].as_str()),
        (Some("0 0 1 1 *"), Some("America/Chicago"))
    );
    assert_eq!(binding["schedule_ms"], Value::Null);
    let shown = h.get(&format!("/api/bindings/{}", binding["id"].as_str().expect("id"))).await;
    assert_eq!(shown["schedule_tz"], "America/Chicago");
    // An interval binding of the same forecaster runs at once; by the time
    // its forecast is stored, the scheduler has passed the cron binding by.
    let (status, every, _) = bind(json!({"schedule_ms": 3_600_000})).await;
    assert_eq!(status, StatusCode::CREATED, "{every}");
    let path = format!("/api/devices/{device_id}/forecasts");
    let deadline = Instant::now() + Duration::from_secs(15);
    let forecast = loop {
        if let Some(f) = h.get(&path).await.as_array().and_then(|f| f.first()).cloned() {
            break f;
        }
        assert!(Instant::now() < deadline, "the interval binding did not run within 15 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(forecast["binding_id"], every["id"], "only the interval binding ran");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.get(&path).await[0]["binding_id"], every["id"], "the cron binding waits for New Year");
}

impl Harness {
    /// POST /api/bindings as the tenant admin, whatever the answer.
    async fn bind_as_admin(&self, body: Value) -> (StatusCode, Value, String) {
        self.send(self.admin(Method::POST, "/api/bindings", "acme").await.json(&body)).await
    }
}
