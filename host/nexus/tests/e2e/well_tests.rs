//! Well tests as data: recorded through the API by an operator, refused
//! with a reason when wrong, once per well and start time, invisible to
//! other tenants and to viewers' writes, and seen by the ESP optimizer,
//! which calibrates its pump to the newest.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, login_as};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn well_tests_are_recorded_checked_listed_and_calibrate_the_optimizer() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let wells = h.get("/api/wells").await;
    let well_id = wells[0]["id"].as_str().expect("well id").to_string();
    let path = format!("/api/wells/{well_id}/well-tests");
    let now = nexus_model::Clock::system().now();
    let day = 86_400_000;
    // The steady hour's point (52 Hz, 1300 bbl/d, PIP 700 psi), tested two days ago.
    let test = |ts: i64| {
        json!({"ts": ts, "duration_h": 24, "oil_bbl_d": 650, "water_bbl_d": 650, "gas_mscf_d": 80,
               "conditions": {"frequency_hz": 52, "intake_pressure_psi": 700, "separator": "T-1"}})
    };
    let operator = login_as(&h.client, &h.base, "acme", "OPERATOR").await;
    let as_operator = |body: Value| {
        h.send(h.client.request(Method::POST, format!("{}{path}", h.base)).bearer_auth(&operator).json(&body))
    };

    // Each wrong field is a 400 naming it; nothing is kept.
    for (spoil, field) in [
        (json!({"duration_h": 0}), "duration_h"),
        (json!({"oil_bbl_d": -5}), "oil_bbl_d"),
        (json!({"ts": now + day}), "ts"),
        (json!({"conditions": {"frequency_hz": "fast"}}), "conditions.frequency_hz"),
    ] {
        let mut body = test(now - 2 * day);
        for (k, v) in spoil.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, problem, content_type) = as_operator(body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {problem}");
        assert_eq!(content_type, "application/problem+json");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(field)), "{field}: {problem}");
    }
    let (status, problem, _) = as_operator(json!({"ts": now, "duration_h": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "missing rates: {problem}");
    assert_eq!(h.get(&path).await, json!([]), "a refused test was kept");

    // An operator records two; the same start again is a conflict.
    let (status, older, _) = as_operator(test(now - 9 * day)).await;
    assert_eq!(status, StatusCode::CREATED, "{older}");
    let (status, newer, _) = as_operator(test(now - 2 * day)).await;
    assert_eq!(status, StatusCode::CREATED, "{newer}");
    assert_eq!(newer["well_id"], well_id.as_str());
    assert_eq!(newer["conditions"]["separator"], "T-1");
    let (status, problem, _) = as_operator(test(now - 2 * day)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let listed = h.get(&path).await;
    assert_eq!(listed, json!([newer, older]), "newest first, as recorded");
    assert_eq!(h.get(&format!("{path}?limit=1")).await, json!([newer]));

    // A viewer reads but does not record; another tenant sees no such well.
    let viewer = login_as(&h.client, &h.base, "acme", "VIEWER").await;
    let (status, _, _) = h.send(h.client.get(format!("{}{path}", h.base)).bearer_auth(&viewer)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) =
        h.send(h.client.post(format!("{}{path}", h.base)).bearer_auth(&viewer).json(&test(now - day))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = h.send(h.admin(Method::GET, &path, "other").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = h.send(h.admin(Method::POST, &path, "other").await.json(&test(now - day))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The event of the record names the well and the start.
    let events = h.get("/api/events?limit=1000").await;
    let recorded: Vec<&Value> = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "entity" && e["kind"] == "well_test")
        .collect();
    assert_eq!(recorded.len(), 2, "{events}");

    // The optimizer sees the newest test and calibrates its pump to it.
    h.store_steady_esp_hour(&token).await;
    let (_, recommendation) = h.esp_recommendation(&device_id, 300).await;
    let rationale = recommendation["rationale"].as_str().expect("rationale");
    assert!(rationale.contains("pump calibrated to the well test of 2 days ago"), "{rationale}");
}
