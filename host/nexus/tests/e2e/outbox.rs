//! Every change is an event on the outbox; subscribers get them in commit
//! order, at least once, from their cursor — across a stop and a restart.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus_model::{Event, EventBody, EventSeq};
use nexus_services::Subscriber;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Harness, frame};

/// Records what it is given; refuses the first `fail_first` deliveries (a
/// subscriber that is down).
struct Recorder {
    seen: Arc<Mutex<Vec<Event>>>,
    fail_first: AtomicUsize,
    attempts: AtomicUsize,
}

impl Recorder {
    fn new(seen: Arc<Mutex<Vec<Event>>>, fail_first: usize) -> Arc<Self> {
        Arc::new(Self { seen, fail_first: AtomicUsize::new(fail_first), attempts: AtomicUsize::new(0) })
    }
}

#[async_trait::async_trait]
impl Subscriber for Recorder {
    fn name(&self) -> &str {
        "e2e-recorder"
    }

    async fn deliver(&self, events: &[Event]) -> Result<(), String> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.fail_first.load(Ordering::SeqCst) > 0 {
            self.fail_first.fetch_sub(1, Ordering::SeqCst);
            return Err("receiver is down".into());
        }
        self.seen.lock().expect("lock").extend_from_slice(events);
        Ok(())
    }
}

async fn all_events(h: &Harness) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = h.get(&format!("/api/events?after={after}&limit=100")).await;
        let page = page.as_array().cloned().unwrap_or_default();
        let Some(last) = page.last() else { break };
        after = last["seq"].as_i64().expect("seq");
        events.extend(page);
    }
    events
}

async fn wait_until_seen(seen: &Mutex<Vec<Event>>, last: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen.lock().expect("lock").last().map(|e| e.seq.0) < Some(last) {
        assert!(Instant::now() < deadline, "the subscriber did not catch up to {last}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_actions_are_events_and_a_stopped_subscriber_resumes_from_its_cursor() {
    let h = Harness::start().await;
    let (device_1, token_1, _) = h.field_with(false).await;
    // A second device with the same decoder and rule.
    let device_2 = h.post("/api/devices", json!({"name": "ESP-2"})).await;
    let token_2 = device_2["access_token"].as_str().expect("token").to_string();
    let device_2 = device_2["id"].as_str().expect("id").to_string();
    for binding in h.get("/api/bindings").await.as_array().expect("bindings") {
        let body = json!({"plugin_id": binding["plugin_id"], "device_ids": [device_2], "config": binding["config"]});
        h.post("/api/bindings", body).await;
    }

    let services = &h.server().services;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let first = services.outbox().subscribe(Recorder::new(seen.clone(), 0));
    let (status, _, _) = h.telemetry(&token_1, frame(json!({"motor_temperature": 130.0}))).await;
    assert_eq!(status, StatusCode::OK);
    let before_stop = all_events(&h).await;
    wait_until_seen(&seen, before_stop.last().and_then(|e| e["seq"].as_i64()).expect("events")).await;
    first.stop().await;
    let cursor = services.outbox().cursor("e2e-recorder").await.expect("cursor");
    let delivered_before = seen.lock().expect("lock").len();

    // While it is stopped: alarms on both devices, and people acting on them.
    for (token, t) in [(&token_1, 90.0), (&token_2, 140.0), (&token_1, 150.0), (&token_2, 80.0), (&token_2, 135.0)] {
        let (status, body, _) = h.telemetry(token, frame(json!({"motor_temperature": t}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let alarm = h.alarms(&device_1).await.into_iter().find(|a| a["status"] == "ACTIVE_UNACK").expect("open alarm");
    let alarm_id = alarm["id"].as_str().expect("id");
    h.post(&format!("/api/alarms/{alarm_id}/ack"), json!({})).await;
    h.post(&format!("/api/alarms/{alarm_id}/assign"), json!({"assignee": "ana"})).await;
    h.post(&format!("/api/alarms/{alarm_id}/comments"), json!({"text": "tripped the breaker"})).await;
    let cleared = h.post(&format!("/api/alarms/{alarm_id}/clear"), json!({})).await;
    assert_eq!((cleared["action"].as_str(), cleared["changed"].as_bool()), (Some("CLEARED"), Some(true)));
    let again = h.post(&format!("/api/alarms/{alarm_id}/clear"), json!({})).await;
    assert_eq!((again["action"].clone(), again["changed"].as_bool()), (Value::Null, Some(false)));

    let events = all_events(&h).await;
    // The actor is the tenant admin who did it, by email.
    let me = h.get("/api/auth/me").await;
    let admin = format!("user:{}", me["name"].as_str().expect("name"));
    let operator: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "alarm" && e["alarm"]["id"] == alarm_id && e["actor"] == admin)
        .map(|e| (e["action"].as_str().unwrap_or_default(), e["key"].as_str().unwrap_or_default()))
        .collect();
    let d1 = device_1.as_str();
    assert_eq!(operator, [("ACKNOWLEDGED", d1), ("ASSIGNED", d1), ("COMMENTED", d1), ("CLEARED", d1)]);
    assert!(events.iter().any(|e| e["type"] == "alarm" && e["key"] == device_2.as_str()), "no event of device 2");

    // It restarts from its cursor, and gets every event after it exactly once.
    let second = services.outbox().subscribe(Recorder::new(seen.clone(), 0));
    let last = events.last().and_then(|e| e["seq"].as_i64()).expect("events");
    wait_until_seen(&seen, last).await;
    second.stop().await;
    let seen = seen.lock().expect("lock").clone();
    let seqs: Vec<i64> = seen.iter().map(|e| e.seq.0).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "delivered out of order or twice: {seqs:?}");
    assert!(seen[..delivered_before].iter().all(|e| e.seq <= cursor), "delivered past the cursor before stopping");
    assert!(seen[delivered_before..].iter().all(|e| e.seq > cursor), "a delivered event came again after restart");
    let stored = services.outbox().tenant_events(&"acme".into(), EventSeq(0), 1000).await.expect("events");
    assert_eq!(seqs, stored.iter().map(|e| e.seq.0).collect::<Vec<_>>(), "a subscriber missed events");
    // Per device, the alarm events arrive in the order they happened.
    for device in [&device_1, &device_2] {
        let times: Vec<i64> = seen
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Alarm(t)
                    if t.alarm.device_id.as_str() == device && t.actor.to_string().starts_with("binding:") =>
                {
                    Some(t.ts)
                }
                _ => None,
            })
            .collect();
        assert!(times.len() >= 2 && times.is_sorted(), "{device}: {times:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_is_down_blocks_no_ingest_and_gets_everything_when_it_is_back() {
    let h = Harness::start().await;
    let (_, token, _) = h.field_with(false).await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder::new(seen.clone(), 5);
    let _subscription = h.server().services.outbox().subscribe(recorder.clone());
    let started = Instant::now();
    for i in 0..20 {
        let t = if i % 2 == 0 { 130.0 } else { 80.0 };
        let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": t}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    println!("20 frames while the subscriber was down: {:?}", started.elapsed());
    let events = all_events(&h).await;
    assert!(events.iter().filter(|e| e["type"] == "alarm").count() >= 20, "every frame crossed the threshold");
    wait_until_seen(&seen, events.last().and_then(|e| e["seq"].as_i64()).expect("events")).await;
    assert!(recorder.attempts.load(Ordering::SeqCst) > 5, "it was retried");
    let seqs: Vec<i64> = seen.lock().expect("lock").iter().map(|e| e.seq.0).collect();
    assert_eq!(seqs, events.iter().filter_map(|e| e["seq"].as_i64()).collect::<Vec<_>>());
}
