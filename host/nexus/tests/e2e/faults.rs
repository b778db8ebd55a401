//! Faults are contained: the circuit breaker, and hot swap under load.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nexus::plugin_files;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, frame};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_opens_the_breaker_fills_the_dead_letters_and_an_admin_re_enables() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;
    let (status, trap, _) = h
        .upload(
            "alarm-rule",
            "test-trap",
            plugin_files::read(&plugin_files::default_dir(), "test-trap").expect("built"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{trap}");
    let binding = h.post("/api/bindings", json!({"plugin_id": trap["id"], "device_ids": [device_id]})).await;
    let binding_id = binding["id"].as_str().expect("id");

    // Ten frames, each trapping the rule: telemetry is still accepted, and
    // the healthy threshold rule on the same device keeps working.
    for i in 0..10 {
        let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 150.0 - f64::from(i)}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(h.alarms(&device_id).await.len(), 1, "the healthy rule raised its alarm");
    let binding = h.get(&format!("/api/bindings/{binding_id}")).await;
    assert_eq!(binding["enabled"], false, "{binding}");
    let reason = binding["quarantine_reason"].as_str().expect("reason");
    assert!(reason.starts_with("10 faults in a row") && reason.contains("unreachable"), "{reason}");

    let dead = h.get("/api/dead-letters").await;
    let evaluate_letters = |dead: &Value| {
        dead.as_array()
            .map(|d| d.iter().filter(|l| l["stage"] == "evaluate" && l["binding_id"] == binding_id).count())
            .unwrap_or(0)
    };
    assert_eq!(evaluate_letters(&dead), 10);
    let runs = h.get("/api/plugin-runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(10));
    assert_eq!(runs[0]["error_code"], "plugin-trap");
    assert_eq!(runs[0]["plugin"], "test-trap");
    assert!(runs[0]["duration_us"].as_i64() > Some(0), "{}", runs[0]);
    assert!(runs[0]["fuel_used"].as_i64() > Some(0), "{}", runs[0]);
    let metering = h.get("/api/metering").await;
    let meter = metering.as_array().and_then(|m| m.iter().find(|m| m["binding_id"] == binding_id)).expect("metered");
    assert_eq!((meter["calls"].as_u64(), meter["faults"].as_u64()), (Some(10), Some(10)));
    let response = h.admin(Method::GET, "/metrics", "acme").await.send().await.expect("metrics");
    let text = response.text().await.expect("text");
    assert!(
        text.contains(&format!("nexus_plugin_faults_total{{tenant=\"acme\",binding=\"{binding_id}\"}} 10")),
        "{text}"
    );

    // Quarantined: the next frame does not run it.
    h.telemetry(&token, frame(json!({"motor_temperature": 90.0}))).await;
    assert_eq!(evaluate_letters(&h.get("/api/dead-letters").await), 10);

    // Re-enabling at once is refused: a tripped breaker backs off (1 s after
    // a first trip, doubling with each trip since the last success).
    let enable = format!("/api/bindings/{binding_id}/enable");
    let (status, body, _) = h.send(h.admin(Method::POST, &enable, "acme").await.json(&json!({}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("re-enable-backoff")), "{body}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // An admin re-enables it; it runs (and fails) again — and, half-open,
    // the breaker opens again on that first fault.
    let enabled = h.post(&enable, json!({})).await;
    assert_eq!(enabled["enabled"], true);
    assert_eq!(enabled["quarantine_reason"], Value::Null);
    h.telemetry(&token, frame(json!({"motor_temperature": 91.0}))).await;
    assert_eq!(evaluate_letters(&h.get("/api/dead-letters").await), 11);
    let binding = h.get(&format!("/api/bindings/{binding_id}")).await;
    let reason = binding["quarantine_reason"].as_str().expect("quarantined again");
    assert!(reason.starts_with("faults again right after being re-enabled"), "{reason}");
    let response = h.admin(Method::POST, &enable, "acme").await.json(&json!({})).send().await.expect("enable");
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(response.headers()["retry-after"], "2", "the second trip backs off twice as long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_swap_twice_while_telemetry_flows_loses_and_duplicates_nothing() {
    const FRAMES: usize = 150;
    let h = Arc::new(Harness::start().await);
    let (device_id, token, _) = h.field().await;
    let bytes = plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let mut versions = Vec::new();
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        let path = format!("/api/plugins?kind=alarm-rule&name=flag-rule&version={version}");
        let (status, body, _) = h.send(h.admin(Method::POST, &path, "acme").await.body(bytes.clone())).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        versions.push(body["id"].as_str().expect("id").to_string());
    }
    // Every frame flips `flag`, so every frame makes exactly one transition.
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": versions[0], "device_ids": [device_id],
                   "config": {"key": "flag", "high": 0.5, "alarm_type": "Flag"}}),
        )
        .await;
    let binding_id = binding["id"].as_str().expect("id").to_string();

    let sent = Arc::new(AtomicUsize::new(0));
    let base_ts = nexus_model::Clock::system().now() - 1_000_000;
    let sender = {
        let (h, sent, token) = (h.clone(), sent.clone(), token.clone());
        tokio::spawn(async move {
            for i in 0..FRAMES {
                let body = json!({"ts": base_ts + i as i64, "values": {"seq": i, "flag": (i % 2 == 0) as i64}});
                let (status, response, _) = h.telemetry(&token, body.to_string()).await;
                assert_eq!(status, StatusCode::OK, "frame {i}: {response}");
                sent.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    for (target, plugin_id) in [(FRAMES / 3, &versions[1]), (2 * FRAMES / 3, &versions[2])] {
        while sent.load(Ordering::SeqCst) < target {
            assert!(!sender.is_finished(), "the sender stopped early");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (status, body, _) = h
            .send(
                h.admin(Method::PUT, &format!("/api/bindings/{binding_id}/plugin"), "acme")
                    .await
                    .json(&json!({"plugin_id": plugin_id})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    sender.await.expect("sender");

    let order = versions_per_frame(&h, &device_id, FRAMES).await;
    assert!(order.is_sorted(), "versions out of order");
    for version in ["1.0.0", "2.0.0", "3.0.0"] {
        assert!(order.iter().any(|v| v == version), "{version} never ran");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_profile_caps_monthly_executions_and_bounds_binding_limits() {
    let h = Harness::start().await;
    // No scheduled optimizer: every execution here comes from a frame.
    let (device_id, token, _) = h.field_with(false).await;
    let (status, body, _) = h
        .send(h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&json!({
            "max_executions_per_month": 5,
            "limits": {"memory_bytes": 8_388_608}
        })))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Each frame costs a decoder call and a rule call: 2 + 2 + 1 (the rule
    // of the third frame is refused), then the decoder of the fourth.
    for i in 0..3 {
        let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 90.0 + f64::from(i)}))).await;
        assert_eq!(status, StatusCode::OK, "frame {i}: {body}");
    }
    let (status, body, content_type) = h.telemetry(&token, frame(json!({"motor_temperature": 95.0}))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "quota-exceeded");
    let usage = h.get("/api/tenant/usage").await;
    assert_eq!(usage["executions"], 5);
    let dead = h.get("/api/dead-letters").await;
    let refused: Vec<&str> = dead
        .as_array()
        .expect("letters")
        .iter()
        .filter(|l| l["error_code"] == "quota-exceeded")
        .filter_map(|l| l["stage"].as_str())
        .collect();
    assert_eq!(refused, ["decode", "evaluate"]);

    // Bindings take the profile's limits and may not raise them.
    let plugins = h.get("/api/plugins").await;
    let threshold = plugins.as_array().and_then(|p| p.iter().find(|p| p["name"] == "alarm-rule-threshold"));
    let plugin_id = threshold.and_then(|p| p["id"].as_str()).expect("threshold plugin").to_string();
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": plugin_id, "device_ids": [device_id], "config": {"key": "x", "high": 1.0}}),
        )
        .await;
    assert_eq!(binding["limits"]["memory_bytes"], 8_388_608);
    let (status, body, _) = h
        .send(h.admin(Method::POST, "/api/bindings", "acme").await.json(&json!({
            "plugin_id": plugin_id, "device_ids": [device_id], "config": {"key": "x", "high": 1.0},
            "limits": {"memory_bytes": 33_554_432}
        })))
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
    assert_eq!(body["limit"], "memory_bytes");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("tenant profile")), "{body}");
}

/// After a numbered sender's `frames` frames (`seq` 0.., each flipping
/// `flag` under a `Flag` rule): checks every reading is stored exactly once
/// and every frame made exactly one transition, and returns the version of
/// the rule that evaluated each frame, in frame order.
pub(crate) async fn versions_per_frame(h: &Harness, device_id: &str, frames: usize) -> Vec<String> {
    let history =
        h.get(&format!("/api/devices/{device_id}/telemetry?key=seq&start_ts=0&end_ts={}&limit=10000", i64::MAX)).await;
    let seqs: Vec<i64> = history.as_array().expect("history").iter().filter_map(|r| r["value"].as_i64()).collect();
    assert_eq!(seqs, (0..frames as i64).collect::<Vec<_>>(), "every acknowledged reading stored once");
    let alarms = h.get(&format!("/api/alarms?device_id={device_id}&limit=1000")).await;
    let mut by_ts: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for alarm in alarms.as_array().expect("alarms").iter().filter(|a| a["alarm_type"] == "Flag") {
        let events = h.get(&format!("/api/alarms/{}/events", alarm["id"].as_str().expect("id"))).await;
        for event in events.as_array().expect("events") {
            let actor = event["actor"].as_str().expect("actor");
            let version = actor.rsplit('@').next().expect("version").to_string();
            by_ts.entry(event["ts"].as_i64().expect("ts")).or_default().push(version);
        }
    }
    assert_eq!(by_ts.len(), frames, "frames without exactly one transition");
    assert!(by_ts.values().all(|v| v.len() == 1), "a frame evaluated twice");
    by_ts.into_values().map(|mut v| v.remove(0)).collect()
}
