//! Runs of scheduled bindings through the real server: a run by hand shows
//! its progress while it goes, an operator cancels it and it stops before
//! its next device (what it stored stays), a run stops at its budget, and
//! nobody else's tenant sees or cancels a run.

use std::time::{Duration, Instant};

use nexus_services::ServicesConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, login_as};

/// `n` devices of the tenant `acme` and an ESP optimizer binding over them
/// that its schedule never runs (New Year's midnight); returns its id.
async fn optimizer_over(h: &Harness, n: usize) -> String {
    let ids = h.upload_first_party("acme").await;
    let mut devices = Vec::new();
    for i in 0..n {
        devices.push(h.post("/api/devices", json!({"name": format!("D-{i}")})).await["id"].clone());
    }
    let binding = h
        .post("/api/bindings", json!({"plugin_id": ids[2], "device_ids": devices, "schedule_cron": "0 0 1 1 *"}))
        .await;
    binding["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_reports_progress_and_an_operator_cancels_it_between_devices() {
    let h = Harness::start().await;
    let binding = optimizer_over(&h, 400).await;
    let operator = login_as(&h.client, &h.base, "acme", "OPERATOR").await;
    let by_hand = {
        let (client, base, token) = (h.client.clone(), h.base.clone(), operator.clone());
        let path = format!("{base}/api/bindings/{binding}/run");
        tokio::spawn(async move { client.post(path).bearer_auth(token).json(&json!({})).send().await })
    };
    // The run shows up running, part done.
    let deadline = Instant::now() + Duration::from_secs(20);
    let running = loop {
        let runs = h.get(&format!("/api/runs?binding_id={binding}")).await;
        if let Some(r) = runs.as_array().and_then(|r| r.first()).filter(|r| r["done"].as_u64() > Some(0)) {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "no run in progress within 20 s: {runs}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        (running["status"].as_str(), running["trigger"].as_str()),
        (Some("running"), Some("manual")),
        "{running}"
    );
    assert_eq!(running["total"], 400);
    let id = running["id"].as_str().expect("id").to_string();
    // Another tenant neither sees nor cancels it.
    let (status, _, _) = h.send(h.admin(Method::POST, &format!("/api/runs/{id}/cancel"), "other").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(h.get_as("/api/runs", "other").await, json!([]));
    // The operator cancels it.
    let cancel = format!("{}/api/runs/{id}/cancel", h.base);
    let (status, body, _) = h.send(h.client.post(&cancel).bearer_auth(&operator)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answered = by_hand.await.expect("task").expect("answer");
    assert_eq!(answered.status(), StatusCode::OK, "the run by hand answers with what it stored");
    let ended: Value = h.get(&format!("/api/runs/{id}")).await;
    assert_eq!((ended["status"].as_str(), ended["reason"].as_str()), (Some("cancelled"), Some("cancelled")), "{ended}");
    let done = ended["done"].as_u64().expect("done");
    assert!(done >= running["done"].as_u64().expect("done") && done < 400, "stopped between devices: {ended}");
    assert!((ended["progress"].as_f64().expect("progress") - done as f64 / 400.0).abs() < 1e-9);
    assert!(ended["finished_at"].as_i64().is_some());
    // An ended run cannot be cancelled; a viewer cannot cancel at all.
    let (status, problem, _) = h.send(h.client.post(&cancel).bearer_auth(&operator)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let viewer = login_as(&h.client, &h.base, "acme", "VIEWER").await;
    let (status, _, _) = h.send(h.client.post(&cancel).bearer_auth(&viewer)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stops_at_its_budget() {
    let h =
        Harness::start_with(ServicesConfig { run_budget: Duration::from_millis(1), ..ServicesConfig::default() }).await;
    let binding = optimizer_over(&h, 20).await;
    h.post(&format!("/api/bindings/{binding}/run"), json!({})).await;
    let runs = h.get(&format!("/api/runs?binding_id={binding}")).await;
    let run = &runs[0];
    assert_eq!(run["status"], "over_budget", "{runs}");
    assert!(run["reason"].as_str().is_some_and(|r| r.contains("budget of 1 ms")), "{run}");
    assert!(run["done"].as_u64() < Some(20) && run["total"] == 20, "{run}");
}
