//! Auto-approve through the real server: a binding's policy approves the
//! recommendations inside its band as `system:auto-approve`, which then go
//! the whole way (sent over RPC, confirmed by read-back) with no operator;
//! a step over the band or a parameter it does not cover stays `PROPOSED`;
//! a bad policy is a 400 naming the field; removing it is one call.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nexus_services::{ApprovalConfig, ServicesConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;
use crate::approvals::{by_hand, device, run, steady_hour, steps, touch, until_status};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_approves_inside_its_band_and_leaves_the_rest_to_an_operator() {
    let approvals = ApprovalConfig {
        rpc_timeout: Duration::from_secs(2),
        device_online: Duration::from_secs(5),
        readback_timeout: Duration::from_secs(3),
        ..ApprovalConfig::default()
    };
    let h = Harness::start_with(ServicesConfig { approvals, ..ServicesConfig::default() }).await;
    let (device_id, token, _) = h.field_with(false).await;
    let plugins = h.get("/api/plugins").await;
    let optimizer = by_hand(&h, &plugins, &device_id).await;
    let put = format!("/api/devices/{device_id}/setpoints/frequency_hz");
    let read_back = json!({"value": 52.0, "unit": "Hz", "min": 35, "max": 62,
                           "readback": {"key": "frequency", "tolerance": 0.05}});
    let (status, body, _) = h.send(h.admin(Method::PUT, &put, "acme").await.json(&read_back)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    steady_hour(&h, &token, 52.0, nexus_model::Clock::system().now()).await;
    let policy = format!("/api/bindings/{optimizer}/auto-approve");
    let set = |body: Value| {
        let policy = policy.clone();
        let h = &h;
        async move { h.send(h.admin(Method::PUT, &policy, "acme").await.json(&body)).await }
    };

    // A bad policy names its field; nothing changes.
    for (bad, field) in [
        (json!({"max_step": 0}), "max_step"),
        (json!({"max_step": 1, "min": 56, "max": 50}), "min 56 is above max 50"),
        (json!({"max_step": 1, "min_confidence": 2}), "min_confidence"),
        (json!({"max_step": 1, "colour": "red"}), "colour"),
    ] {
        let (status, problem, _) = set(json!({ "auto_approve": bad })).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(field)), "{bad}: {problem}");
    }
    assert_eq!(h.get(&format!("/api/bindings/{optimizer}")).await["auto_approve"], Value::Null);

    // A band too narrow for the 1 Hz step, then one for another parameter:
    // the recommendation waits for an operator.
    for narrow in [json!({"max_step": 0.5}), json!({"max_step": 2, "parameters": ["choke_64ths"]})] {
        let (status, binding, _) = set(json!({ "auto_approve": narrow })).await;
        assert_eq!(status, StatusCode::OK, "{binding}");
        assert_eq!(binding["auto_approve"]["max_step"].as_f64(), narrow["max_step"].as_f64());
        touch(&h, &token).await;
        let r = run(&h, &optimizer).await;
        assert_eq!((r["status"].as_str(), r["proposed_value"].as_f64()), (Some("PROPOSED"), Some(53.0)), "{narrow}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Still undecided (or superseded by a newer proposal): never approved.
        let id = r["id"].as_str().expect("id");
        let now = h.get(&format!("/api/recommendations/{id}")).await;
        assert!(matches!(now["status"].as_str(), Some("PROPOSED" | "SUPERSEDED")), "{narrow}: {now}");
        assert!(steps(&h, id).await.iter().all(|(_, to, _)| to != "APPROVED"), "{narrow}");
    }

    // A band that holds it: approved by the policy, sent, confirmed.
    let (answer, short, stop) =
        (Arc::new(AtomicBool::new(true)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let field_device = device(&h, &token, answer, short, stop.clone());
    let band = json!({"max_step": 1.0, "min": 50, "max": 55, "parameters": ["frequency_hz"], "min_confidence": 0.1});
    let (status, binding, _) = set(json!({ "auto_approve": band })).await;
    assert_eq!(status, StatusCode::OK, "{binding}");
    touch(&h, &token).await;
    let r = run(&h, &optimizer).await;
    assert_eq!(r["status"], "APPROVED", "the run answers with what the policy approved: {r}");
    let id = r["id"].as_str().expect("id").to_string();
    until_status(&h, &id, "CONFIRMED").await;
    let path = steps(&h, &id).await;
    let moves: Vec<(&str, &str, &str)> = path.iter().map(|(f, t, a)| (f.as_str(), t.as_str(), a.as_str())).collect();
    assert_eq!(
        moves,
        [
            ("PROPOSED", "APPROVED", "system:auto-approve"),
            ("APPROVED", "SENT", "system:setpoint-writer"),
            ("SENT", "CONFIRMED", "system:setpoint-writer")
        ]
    );
    let why = h.get(&format!("/api/recommendations/{id}/transitions")).await;
    assert!(why[0]["reason"].as_str().is_some_and(|r| r.contains("auto-approve policy")), "{why}");
    stop.store(true, Ordering::SeqCst);
    let received = field_device.await.expect("device");
    assert_eq!(received.len(), 1, "the device got exactly the approved write: {received:?}");

    // The change of policy is an event of the binding; removing it is one call.
    let events = h.get("/api/events?limit=1000").await;
    let changes = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "entity" && e["id"] == optimizer.as_str() && e["action"] == "updated")
        .count();
    assert_eq!(changes, 3, "{events}");
    let (status, binding, _) = set(json!({ "auto_approve": null })).await;
    assert_eq!(status, StatusCode::OK, "{binding}");
    assert_eq!(binding["auto_approve"], Value::Null);
}
