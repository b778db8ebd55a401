//! Rollouts of a new alarm-rule version, end to end through the API with
//! real components: a canary on 25 % of a binding's devices whose candidate
//! traps rolls back by itself and every reading is still evaluated by
//! exactly one version; a healthy canary runs on exactly its share, then is
//! promoted when its window passes; a shadow candidate's disagreements are
//! recorded and never applied, and it rolls back past its maximum rate.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;
use crate::faults::versions_per_frame;
use nexus::plugin_files;
use nexus_model::{BindingId, DeviceId, canary_bucket};

/// A device's id and access token.
type Device = (String, String);

/// Uploads the ThingsBoard decoder and `flag-rule` 1.0.0 (the threshold
/// rule) and 2.0.0 (`candidate`'s bytes), creates `n` devices with the
/// decoder bound to all, and binds 1.0.0 to all with a `Flag` alarm on
/// `flag`; returns the devices, the rule binding and the two versions.
async fn fleet(h: &Harness, n: usize, candidate: &str) -> (Vec<Device>, String, String, String) {
    let dir = plugin_files::default_dir();
    let upload = async |kind: &str, name: &str, file: &str, version: &str| {
        let path = format!("/api/plugins?kind={kind}&name={name}&version={version}");
        let bytes = plugin_files::read(&dir, file).expect("built");
        let (status, body, _) = h.send(h.admin(Method::POST, &path, "acme").await.body(bytes)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    };
    let decoder = upload("decoder", "decoder-thingsboard-json", "decoder-thingsboard-json", "0.1.0").await;
    let v1 = upload("alarm-rule", "flag-rule", "alarm-rule-threshold", "1.0.0").await;
    let v2 = upload("alarm-rule", "flag-rule", candidate, "2.0.0").await;
    let mut devices = Vec::new();
    for i in 0..n {
        let device = h.post("/api/devices", json!({"name": format!("D-{i:02}")})).await;
        let id = device["id"].as_str().expect("id").to_string();
        devices.push((id, device["access_token"].as_str().expect("token").to_string()));
    }
    let ids: Vec<&str> = devices.iter().map(|(id, _)| id.as_str()).collect();
    h.post("/api/bindings", json!({"plugin_id": decoder, "device_ids": ids})).await;
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": v1, "device_ids": ids, "config": {"key": "flag", "high": 0.5, "alarm_type": "Flag"}}),
        )
        .await;
    (devices, binding["id"].as_str().expect("id").to_string(), v1, v2)
}

/// Up to `k` devices inside and `k` outside a 25 % canary of `binding`.
fn split(devices: &[Device], binding: &str, k: usize) -> (Vec<Device>, Vec<Device>) {
    let inside = |(id, _): &&Device| canary_bucket(&BindingId::from(binding), &DeviceId::from(id.as_str())) < 25;
    let canary: Vec<Device> = devices.iter().filter(inside).take(k).cloned().collect();
    let stable: Vec<Device> = devices.iter().filter(|d| !inside(d)).take(k).cloned().collect();
    assert!(canary.len() >= 2 && stable.len() >= 2, "too few devices on a side of the canary");
    (canary, stable)
}

/// Sends frames `from..to` of a numbered sender to each device in turn:
/// frame `i` has `seq` = i and flips `flag`, so each makes one transition.
async fn send(h: &Harness, devices: &[Device], frames: std::ops::Range<usize>) {
    let base = nexus_model::Clock::system().now() - 1_000_000;
    for i in frames {
        for (_, token) in devices {
            let body = json!({"ts": base + i as i64, "values": {"seq": i, "flag": (i % 2 == 0) as i64}});
            let (status, answer, _) = h.telemetry(token, body.to_string()).await;
            assert_eq!(status, StatusCode::OK, "frame {i}: {answer}");
        }
    }
}

async fn start(h: &Harness, binding: &str, body: Value) -> (StatusCode, Value) {
    let path = format!("/api/bindings/{binding}/rollout");
    let (status, answer, _) = h.send(h.admin(Method::POST, &path, "acme").await.json(&body)).await;
    (status, answer)
}

/// The binding's rollout events, oldest first.
async fn steps(h: &Harness, binding: &str) -> Vec<Value> {
    let events = h.get("/api/events?limit=1000").await;
    events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "rollout" && e["binding_id"] == binding)
        .cloned()
        .collect()
}

fn step_names(steps: &[Value]) -> Vec<&str> {
    steps.iter().map(|s| s["step"].as_str().expect("step")).collect()
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_faulting_canary_rolls_back_by_itself_and_every_reading_is_evaluated_by_one_version() {
    const FRAMES: usize = 8;
    let h = &Harness::start().await;
    let (devices, binding, v1, v2) = fleet(h, 40, "test-trap").await;
    let (canary, stable) = split(&devices, &binding, 3);

    let policy = json!({"plugin_id": v2, "mode": "canary", "percent": 25, "window_ms": 600_000,
                        "max_fault_rate": 0.5, "min_calls": 3});
    let (status, body) = start(h, &binding, policy.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rollout"]["candidate_plugin_id"], v2.as_str());
    // One rollout at a time, and no switch under it.
    let (status, again) = start(h, &binding, policy).await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "rollout-in-progress"), "{again}");
    let swap = format!("/api/bindings/{binding}/plugin");
    let (status, swapped, _) = h.send(h.admin(Method::PUT, &swap, "acme").await.json(&json!({"plugin_id": v2}))).await;
    assert_eq!((status, code(&swapped)), (StatusCode::CONFLICT, "rollout-in-progress"), "{swapped}");

    let both: Vec<Device> = canary.iter().chain(&stable).cloned().collect();
    send(h, &both, 0..FRAMES).await;

    // Rolled back by itself after its third call (3 faults of 3), within
    // the window, and the binding never left 1.0.0.
    let after = h.get(&format!("/api/bindings/{binding}")).await;
    assert_eq!((after["plugin_id"].as_str(), &after["rollout"]), (Some(v1.as_str()), &Value::Null), "{after}");
    assert_eq!(after["enabled"], true, "the candidate's faults never count toward the binding's breaker");
    let steps = steps(h, &binding).await;
    assert_eq!(step_names(&steps), ["started", "rolled_back"], "{steps:?}");
    let ended = &steps[1];
    assert_eq!((ended["tally"]["calls"].as_u64(), ended["tally"]["faults"].as_u64()), (Some(3), Some(3)), "{ended}");
    assert!(ended["reason"].as_str().expect("reason").contains("faulted on 3 of 3"), "{ended}");
    assert_eq!(ended["actor"], "system:rollout", "{ended}");

    // The candidate's faults are recorded against 2.0.0 and only for the
    // canary's devices; nothing went to a dead letter.
    let runs = h.get("/api/plugin-runs?limit=1000").await;
    let faulted: Vec<&str> = runs
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["version"] == "2.0.0")
        .map(|r| r["device_id"].as_str().expect("device"))
        .collect();
    assert_eq!(faulted.len(), 3, "{runs}");
    assert!(faulted.iter().all(|d| canary.iter().any(|(id, _)| id == d)), "a fault outside the canary: {faulted:?}");
    let letters = h.get("/api/dead-letters?limit=1000").await;
    assert_eq!(letters.as_array().expect("letters").len(), 0, "{letters}");

    // Every reading stored once and evaluated by exactly one version: the
    // version in use, also for the canary's batches the candidate failed.
    for (device, _) in &both {
        let versions = versions_per_frame(h, device, FRAMES).await;
        assert!(versions.iter().all(|v| v == "1.0.0"), "{device}: {versions:?}");
    }
    let (status, none, _) =
        h.send(h.admin(Method::GET, &format!("/api/bindings/{binding}/rollout"), "acme").await).await;
    assert_eq!((status, code(&none)), (StatusCode::CONFLICT, "no-rollout"), "{none}");
}

#[tokio::test]
async fn a_healthy_canary_runs_on_its_share_then_is_promoted_when_its_window_passes() {
    let h = &Harness::start().await;
    let (devices, binding, v1, v2) = fleet(h, 40, "alarm-rule-threshold").await;
    let (canary, stable) = split(&devices, &binding, 2);
    let policy = json!({"plugin_id": v2, "mode": "canary", "percent": 25, "window_ms": 3_000, "min_calls": 1000});
    let (status, body) = start(h, &binding, policy).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let started = std::time::Instant::now();

    // Inside the window: the canary's devices run 2.0.0, the others 1.0.0.
    let both: Vec<Device> = canary.iter().chain(&stable).cloned().collect();
    send(h, &both, 0..4).await;
    let status = h.get(&format!("/api/bindings/{binding}/rollout")).await;
    assert_eq!((status["calls"].as_u64(), status["faults"].as_u64()), (Some(8), Some(0)), "{status}");
    tokio::time::sleep(std::time::Duration::from_millis(3_200).saturating_sub(started.elapsed())).await;
    // The first candidate call after the window promotes it; from then on
    // every device runs 2.0.0.
    send(h, &both, 4..8).await;

    let after = h.get(&format!("/api/bindings/{binding}")).await;
    let switched = (after["plugin_id"].as_str(), after["previous_plugin_id"].as_str(), &after["rollout"]);
    assert_eq!(switched, (Some(v2.as_str()), Some(v1.as_str()), &Value::Null), "{after}");
    let steps = steps(h, &binding).await;
    assert_eq!(step_names(&steps), ["started", "promoted"], "{steps:?}");
    assert!(steps[0]["actor"].as_str().expect("actor").starts_with("user:"), "{:?}", steps[0]);
    assert_eq!(steps[1]["actor"], "system:rollout", "{:?}", steps[1]);
    for (device, _) in &canary {
        let versions = versions_per_frame(h, device, 8).await;
        assert!(versions.iter().all(|v| v == "2.0.0"), "canary {device}: {versions:?}");
    }
    for (device, _) in &stable {
        let versions = versions_per_frame(h, device, 8).await;
        assert_eq!(versions[..4], ["1.0.0"; 4], "stable {device}: {versions:?}");
        assert_eq!(versions[4..], ["2.0.0"; 4], "stable {device} after the promotion: {versions:?}");
    }
}

#[tokio::test]
async fn a_shadow_candidate_is_compared_never_applied_and_rolls_back_past_its_disagreement_rate() {
    const FRAMES: usize = 6;
    let h = &Harness::start().await;
    // 2.0.0 raises nothing: each of its calls disagrees with 1.0.0, which
    // flips `Flag` on every frame.
    let (devices, binding, v1, v2) = fleet(h, 2, "test-noop").await;
    let policy = json!({"plugin_id": v2, "mode": "shadow", "window_ms": 600_000, "max_disagreement_rate": 0.5,
                        "min_calls": 6});
    let (status, body) = start(h, &binding, policy).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    send(h, &devices, 0..FRAMES).await;

    let steps = steps(h, &binding).await;
    let names = step_names(&steps);
    assert_eq!(names.first(), Some(&"started"));
    assert_eq!(names.last(), Some(&"rolled_back"), "{steps:?}");
    let disagreements: Vec<&Value> = steps.iter().filter(|s| s["step"] == "disagreement").collect();
    assert_eq!(disagreements.len(), 6, "one per comparison until the rollback: {steps:?}");
    for step in &disagreements {
        assert_eq!(step["outputs"]["candidate"], json!([]), "{step}");
        assert_eq!(step["outputs"]["in_use"][0]["alarm_type"], "Flag", "{step}");
    }
    let ended = steps.last().expect("end");
    assert!(ended["reason"].as_str().expect("reason").contains("disagreed"), "{ended}");
    assert_eq!(ended["tally"]["comparisons"].as_u64(), Some(6), "{ended}");
    let after = h.get(&format!("/api/bindings/{binding}")).await;
    assert_eq!((after["plugin_id"].as_str(), &after["rollout"]), (Some(v1.as_str()), &Value::Null), "{after}");
    // Nothing of the candidate's was applied: every frame made exactly one
    // transition, by 1.0.0.
    for (device, _) in &devices {
        let versions = versions_per_frame(h, device, FRAMES).await;
        assert!(versions.iter().all(|v| v == "1.0.0"), "{device}: {versions:?}");
    }
}

#[tokio::test]
async fn an_agreeing_shadow_is_counted_and_an_operator_aborts_it() {
    let h = &Harness::start().await;
    let (devices, binding, v1, v2) = fleet(h, 2, "alarm-rule-threshold").await;
    let policy = json!({"plugin_id": v2, "mode": "shadow", "window_ms": 600_000, "min_calls": 1});
    let (status, body) = start(h, &binding, policy).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    send(h, &devices, 0..5).await;
    let status = h.get(&format!("/api/bindings/{binding}/rollout")).await;
    let tally = (status["mode"].as_str(), status["comparisons"].as_u64(), status["disagreements"].as_u64());
    assert_eq!(tally, (Some("shadow"), Some(10), Some(0)), "{status}");

    let abort = format!("/api/bindings/{binding}/rollout/abort");
    let (status, body, _) =
        h.send(h.admin(Method::POST, &abort, "acme").await.json(&json!({"reason": "not this week"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["plugin_id"].as_str(), &body["rollout"]), (Some(v1.as_str()), &Value::Null), "{body}");
    let steps = steps(h, &binding).await;
    assert_eq!(step_names(&steps), ["started", "aborted"], "{steps:?}");
    assert_eq!(
        (steps[1]["reason"].as_str(), steps[1]["tally"]["comparisons"].as_u64()),
        (Some("not this week"), Some(10))
    );
    let (status, again, _) = h.send(h.admin(Method::POST, &abort, "acme").await.json(&json!({}))).await;
    assert_eq!((status, code(&again)), (StatusCode::CONFLICT, "no-rollout"), "{again}");

    // Rollouts are for alarm rules: a decoder binding is refused.
    let bindings = h.get("/api/bindings").await;
    let decoder = bindings.as_array().expect("bindings").iter().find(|b| b["kind"] == "decoder").expect("decoder");
    let (status, refused) =
        start(h, decoder["id"].as_str().expect("id"), json!({"plugin_id": v2, "mode": "canary"})).await;
    assert_eq!((status, code(&refused)), (StatusCode::UNPROCESSABLE_ENTITY, "rollout-unsupported"), "{refused}");
}
