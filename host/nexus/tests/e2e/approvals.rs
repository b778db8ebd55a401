//! The recommendation loop through the real server: the ESP optimizer
//! proposes, an operator approves, the HTTP device long-polls the RPC,
//! applies the frequency and answers, and the recommendation ends
//! `CONFIRMED` once its telemetry reads the value back — each step with its
//! actor on the outbox. Each interlock refuses on its own; a viewer cannot
//! approve; a device that polls but never answers, or answers but whose
//! telemetry never shows the value, ends `TIMED_OUT`; a superseded recommendation cannot be
//! approved; a rejection needs a reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nexus_services::{ApprovalConfig, ServicesConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, frame, login_as};

/// A steady hour at `frequency_hz`, one frame a minute ending at `end`: the
/// same timestamps each time, so a second hour replaces the first.
pub(crate) async fn steady_hour(h: &Harness, token: &str, frequency_hz: f64, end: i64) {
    for i in 0..=60 {
        let body = json!({"ts": end - (60 - i) * 60_000,
                          "values": {"frequency": frequency_hz, "intake_pressure": 700.0, "motor_current": 30.0, "flow_rate": 1300.0}});
        let (status, answer, _) = h.telemetry(token, body.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

/// A reading now: the device is online.
pub(crate) async fn touch(h: &Harness, token: &str) {
    assert_eq!(h.telemetry(token, frame(json!({"heartbeat": 1.0}))).await.0, StatusCode::OK);
}

/// A simulated HTTP device: long-polls its RPC, applies each frequency,
/// answers with the value (unless told to stay silent) and reports it.
pub(crate) fn device(
    h: &Harness,
    token: &str,
    answer: Arc<AtomicBool>,
    short: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Value>> {
    let (client, base, token) = (h.client.clone(), h.base.clone(), token.to_string());
    tokio::spawn(async move {
        let mut received = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let polled = client.get(format!("{base}/api/v1/{token}/rpc?timeout=500")).send().await.expect("poll");
            if polled.status() == StatusCode::REQUEST_TIMEOUT {
                continue;
            }
            assert_eq!(polled.status(), StatusCode::OK);
            let request: Value = polled.json().await.expect("request");
            received.push(request.clone());
            if !answer.load(Ordering::SeqCst) {
                continue;
            }
            let value = request["params"].as_f64().expect("a value");
            // A drive that falls short reports 1 Hz under what it was sent.
            let runs_at = if short.load(Ordering::SeqCst) { value - 1.0 } else { value };
            let body = json!({"ts": nexus_model::Clock::system().now(),
                              "values": {"frequency": runs_at, "intake_pressure": 700.0, "motor_current": 30.0, "flow_rate": 1300.0}});
            let posted =
                client.post(format!("{base}/api/v1/{token}/telemetry")).json(&body).send().await.expect("post");
            assert_eq!(posted.status(), StatusCode::OK);
            let id = request["id"].as_u64().expect("id");
            let answered =
                client.post(format!("{base}/api/v1/{token}/rpc/{id}")).json(&json!({"value": value})).send().await;
            assert_eq!(answered.expect("answer").status(), StatusCode::OK);
        }
        received
    })
}

/// An ESP optimizer binding run by hand, its open-recommendation memory
/// off (so each run proposes again); returns its id.
pub(crate) async fn by_hand(h: &Harness, plugins: &Value, device_id: &str) -> String {
    let optimizer_plugin = plugins
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["info"]["name"] == "optimizer-esp-frequency")
        .expect("uploaded")["id"]
        .clone();
    let config = json!({"open_recommendation_ttl_ms": 0});
    let binding = h
        .post("/api/bindings", json!({"plugin_id": optimizer_plugin, "device_ids": [device_id], "config": config}))
        .await;
    binding["id"].as_str().expect("id").to_string()
}

pub(crate) async fn run(h: &Harness, optimizer: &str) -> Value {
    let made = h.post(&format!("/api/bindings/{optimizer}/run"), json!({})).await;
    made.as_array().and_then(|r| r.first()).cloned().unwrap_or_else(|| panic!("no recommendation: {made}"))
}

pub(crate) async fn until_status(h: &Harness, id: &str, wanted: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = h.get(&format!("/api/recommendations/{id}")).await;
        if r["status"] == wanted {
            return r;
        }
        assert!(Instant::now() < deadline, "not {wanted} within 15 s: {r}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn steps(h: &Harness, id: &str) -> Vec<(String, String, String)> {
    let t = h.get(&format!("/api/recommendations/{id}/transitions")).await;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    t.as_array().expect("steps").iter().map(|s| (text(&s["from"]), text(&s["to"]), text(&s["actor"]))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recommendation_is_approved_sent_over_rpc_and_confirmed_and_every_interlock_refuses() {
    let approvals = ApprovalConfig {
        rpc_timeout: Duration::from_secs(1),
        device_online: Duration::from_secs(3),
        readback_timeout: Duration::from_secs(2),
        ..ApprovalConfig::default()
    };
    let h = Harness::start_with(ServicesConfig { approvals, ..ServicesConfig::default() }).await;
    let (device_id, token, _) = h.field_with(false).await;
    let plugins = h.get("/api/plugins").await;
    let optimizer = by_hand(&h, &plugins, &device_id).await;
    let end = nexus_model::Clock::system().now();
    steady_hour(&h, &token, 52.0, end).await;
    let operator = login_as(&h.client, &h.base, "acme", "OPERATOR").await;
    let viewer = login_as(&h.client, &h.base, "acme", "VIEWER").await;
    let decide = |who: &str, id: &str, verb: &str, body: Value| {
        let request = h
            .client
            .post(format!("{}/api/recommendations/{id}/{verb}", h.base))
            .bearer_auth(who.to_string())
            .json(&body);
        h.send(request)
    };

    // 1. No device listens for RPC and no connector serves it: FAILED, not-writable.
    let first = run(&h, &optimizer).await;
    assert_eq!((first["status"].as_str(), first["proposed_value"].as_f64()), (Some("PROPOSED"), Some(53.0)));
    let id = first["id"].as_str().expect("id").to_string();
    let (status, _, _) = decide(&viewer, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a viewer cannot approve");
    touch(&h, &token).await;
    let (status, approved, _) = decide(&operator, &id, "approve", json!({"reason": "try it"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{approved}");
    assert_eq!(approved["status"], "APPROVED");
    let failed = until_status(&h, &id, "FAILED").await;
    let why = h.get(&format!("/api/recommendations/{id}/transitions")).await;
    assert!(why.to_string().contains("not-writable"), "{failed} {why}");

    // 2. The device polls: approved → sent over RPC → answered, and its
    // telemetry reads the new frequency back → CONFIRMED.
    let (answer, short, stop) =
        (Arc::new(AtomicBool::new(true)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let field_device = device(&h, &token, answer.clone(), short.clone(), stop.clone());
    let put = format!("/api/devices/{device_id}/setpoints/frequency_hz");
    let read_back = json!({"value": 52.0, "unit": "Hz", "readback": {"key": "frequency", "tolerance": 0.05}});
    let (status, body, _) = h.send(h.admin(Method::PUT, &put, "acme").await.json(&read_back)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["readback"]["key"], "frequency", "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = run(&h, &optimizer).await;
    let id = second["id"].as_str().expect("id").to_string();
    touch(&h, &token).await;
    let (status, body, _) = decide(&operator, &id, "approve", json!({"reason": "PIP well above target"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    until_status(&h, &id, "CONFIRMED").await;
    let path = steps(&h, &id).await;
    let moves: Vec<(&str, &str)> = path.iter().map(|(f, t, _)| (f.as_str(), t.as_str())).collect();
    assert_eq!(moves, [("PROPOSED", "APPROVED"), ("APPROVED", "SENT"), ("SENT", "CONFIRMED")]);
    assert!(path[0].2.starts_with("user:operator-"), "{path:?}");
    assert_eq!(path[2].2, "system:setpoint-writer");
    let confirmed = h.get(&format!("/api/recommendations/{id}/transitions")).await;
    assert!(
        confirmed[2]["reason"].as_str().is_some_and(|r| r.contains("http-rpc")
            && r.contains("read back 53")
            && r.contains("telemetry `frequency` read 53")),
        "{confirmed}"
    );
    // The value is the setpoint's now, written; the outbox has every step and the write.
    let setpoints = h.get(&format!("/api/devices/{device_id}/setpoints")).await;
    assert_eq!((setpoints[0]["value"].as_f64(), setpoints[0]["source"].as_str()), (Some(53.0), Some("written")));
    let events = h.get("/api/events?limit=1000").await;
    let events = events.as_array().expect("events");
    let changed = events
        .iter()
        .filter(|e| e["type"] == "recommendation_changed" && e["recommendation_id"] == id.as_str())
        .count();
    assert_eq!(changed, 3, "one event per step");
    assert!(events.iter().any(|e| e["type"] == "setpoint_write" && e["outcome"]["connector_id"] == "http-rpc"));
    let audit = h.get("/api/audit?action=POST%20/api/recommendations/%7Bid%7D/approve").await;
    assert!(
        audit.as_array().is_some_and(|a| a.iter().any(|e| e["object"].as_str().is_some_and(|o| o.contains(&id)))),
        "{audit}"
    );

    // 3. Each interlock refuses on its own, and the recommendation stays
    // proposed. The well has settled at 53 Hz.
    steady_hour(&h, &token, 53.0, end).await;
    touch(&h, &token).await;
    let third = run(&h, &optimizer).await;
    let id = third["id"].as_str().expect("id").to_string();
    let step = third["proposed_value"].as_f64().expect("value") - 53.0;
    assert!(step > 0.5, "{third}");
    let tight = json!({"value": 53.0, "unit": "Hz", "max_step": 0.5});
    assert_eq!(h.send(h.admin(Method::PUT, &put, "acme").await.json(&tight)).await.0, StatusCode::OK);
    let refusal = |problem: Value, what: &str| {
        assert_eq!(problem["code"], "interlock", "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(what)), "{what}: {problem}");
    };
    touch(&h, &token).await;
    let (status, problem, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refusal(problem, "largest step");
    let loose = json!({"value": 53.0, "unit": "Hz", "max_step": 2.0});
    assert_eq!(h.send(h.admin(Method::PUT, &put, "acme").await.json(&loose)).await.0, StatusCode::OK);
    // A critical alarm on the device.
    let rule = plugins
        .as_array()
        .expect("plugins")
        .iter()
        .find(|p| p["info"]["name"] == "alarm-rule-threshold")
        .expect("rule")["id"]
        .clone();
    h.post(
        "/api/bindings",
        json!({"plugin_id": rule, "device_ids": [device_id],
               "config": {"key": "vibration", "high": 5.0, "deadband": 1.0, "severity": "critical", "alarm_type": "HighVibration"}}),
    )
    .await;
    assert_eq!(h.telemetry(&token, frame(json!({"vibration": 9.0}))).await.0, StatusCode::OK);
    let (status, problem, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refusal(problem, "critical alarm `HighVibration`");
    assert_eq!(h.telemetry(&token, frame(json!({"vibration": 1.0}))).await.0, StatusCode::OK);
    // Offline: nothing for longer than the online window (3 s here).
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (status, problem, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    refusal(problem, "offline");
    assert_eq!(h.get(&format!("/api/recommendations/{id}")).await["status"], "PROPOSED");

    // 4. Superseded by a newer run: it cannot be approved any more.
    touch(&h, &token).await;
    let fourth = run(&h, &optimizer).await;
    assert_eq!(h.get(&format!("/api/recommendations/{id}")).await["status"], "SUPERSEDED");
    let (status, problem, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("recommendation-not-proposed")),
        "{problem}"
    );
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("SUPERSEDED")), "{problem}");

    // 5. A device that takes the request and never answers: TIMED_OUT.
    answer.store(false, Ordering::SeqCst);
    let id = fourth["id"].as_str().expect("id").to_string();
    touch(&h, &token).await;
    let (status, body, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    until_status(&h, &id, "TIMED_OUT").await;

    // 6. A rejection needs a reason.
    touch(&h, &token).await;
    let fifth = run(&h, &optimizer).await;
    let id = fifth["id"].as_str().expect("id").to_string();
    let (status, _, _) = decide(&operator, &id, "reject", json!({"reason": " "})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, rejected, _) = decide(&operator, &id, "reject", json!({"reason": "workover planned"})).await;
    assert_eq!((status, rejected["status"].as_str()), (StatusCode::OK, Some("REJECTED")), "{rejected}");
    let (status, _, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "decided already");

    // 7. A device that answers but whose telemetry never reads the value
    // back (its drive falls 1 Hz short): TIMED_OUT, saying what it read.
    answer.store(true, Ordering::SeqCst);
    short.store(true, Ordering::SeqCst);
    let checked = json!({"value": 53.0, "unit": "Hz", "max_step": 2.0,
                         "readback": {"key": "frequency", "tolerance": 0.05}});
    assert_eq!(h.send(h.admin(Method::PUT, &put, "acme").await.json(&checked)).await.0, StatusCode::OK);
    touch(&h, &token).await;
    let short_of = run(&h, &optimizer).await;
    let id = short_of["id"].as_str().expect("id").to_string();
    let (status, body, _) = decide(&operator, &id, "approve", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    until_status(&h, &id, "TIMED_OUT").await;
    let why = h.get(&format!("/api/recommendations/{id}/transitions")).await;
    let reason = why[2]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("http-rpc") && reason.contains("telemetry `frequency` did not read"), "{why}");

    stop.store(true, Ordering::SeqCst);
    let received = field_device.await.expect("device");
    let values: Vec<f64> = received.iter().filter_map(|r| r["params"].as_f64()).collect();
    assert_eq!(values.len(), 3, "the confirmed and the two timed-out requests: {received:?}");
    assert!(received.iter().all(|r| r["method"] == "frequency_hz"), "{received:?}");
}

/// What a stopped server left in flight ends on start (a sent write whose
/// answer it never saw: `TIMED_OUT`, saying why), and the sweep expires a
/// proposal older than its time to live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_ends_what_was_in_flight_and_the_sweep_expires_stale_proposals() {
    let approvals = ApprovalConfig {
        rpc_timeout: Duration::from_secs(60),
        recommendation_ttl: Duration::from_secs(2),
        ..ApprovalConfig::default()
    };
    let services = ServicesConfig { approvals, ..ServicesConfig::default() };
    let h = Harness::start_with(services.clone()).await;
    let (device_id, token, _) = h.field_with(false).await;
    let optimizer = by_hand(&h, &h.get("/api/plugins").await, &device_id).await;
    steady_hour(&h, &token, 52.0, nexus_model::Clock::system().now()).await;
    // A device that takes the request and never answers.
    let (answer, short, stop) =
        (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let field_device = device(&h, &token, answer, short, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = run(&h, &optimizer).await;
    let sent_id = sent["id"].as_str().expect("id").to_string();
    touch(&h, &token).await;
    let operator = login_as(&h.client, &h.base, "acme", "OPERATOR").await;
    let approve = h
        .client
        .post(format!("{}/api/recommendations/{sent_id}/approve", h.base))
        .bearer_auth(&operator)
        .json(&json!({}));
    assert_eq!(h.send(approve).await.0, StatusCode::ACCEPTED);
    until_status(&h, &sent_id, "SENT").await;
    let proposed = run(&h, &optimizer).await;
    let proposed_id = proposed["id"].as_str().expect("id").to_string();
    stop.store(true, Ordering::SeqCst);
    let received = field_device.await.expect("device");
    assert_eq!(received.len(), 1, "{received:?}");

    let h = h.restart_with(services).await;
    let ended = h.get(&format!("/api/recommendations/{sent_id}")).await;
    assert_eq!(ended["status"], "TIMED_OUT", "{ended}");
    let path = steps(&h, &sent_id).await;
    assert_eq!(path.last().map(|(_, _, actor)| actor.as_str()), Some("system:approvals"), "{path:?}");
    let why = h.get(&format!("/api/recommendations/{sent_id}/transitions")).await;
    assert!(why[2]["reason"].as_str().is_some_and(|r| r.contains("server stopped")), "{why}");

    // A proposal older than its 2 s time to live expires: the newest (the
    // restarted scheduler's run may have superseded the one made before).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let proposals = |list: Value| -> Vec<Value> {
        list.as_array().expect("list").iter().filter(|r| r["status"] == "PROPOSED").cloned().collect()
    };
    let newest = proposals(h.get("/api/recommendations?limit=100").await)
        .into_iter()
        .max_by_key(|r| r["created_ts"].as_i64())
        .expect("a proposal");
    assert_ne!(h.get(&format!("/api/recommendations/{proposed_id}")).await["status"], "PROPOSED");
    let newest_id = newest["id"].as_str().expect("id").to_string();
    let wait = newest["created_ts"].as_i64().expect("created") + 2_100 - nexus_model::Clock::system().now();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64)).await;
    assert!(h.server().services.approvals().expire().await.expect("sweep") >= 1);
    assert_eq!(h.server().services.approvals().expire().await.expect("again"), 0);
    assert!(proposals(h.get("/api/recommendations?limit=100").await).is_empty(), "none left proposed");
    let why = h.get(&format!("/api/recommendations/{newest_id}/transitions")).await;
    assert_eq!(why[0]["to"], "EXPIRED", "{why}");
    assert_eq!(why[0]["actor"], "system:approvals", "{why}");
    assert!(why[0]["reason"].as_str().is_some_and(|r| r.contains("not decided within 2 s")), "{why}");
}
