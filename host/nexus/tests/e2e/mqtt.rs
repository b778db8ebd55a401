//! The MQTT connector end to end, through the real server and a real
//! broker: each test starts its own mosquitto on a free loopback port with
//! persistence in a temp directory (killed at drop), creates the connector
//! with `POST /api/connectors`, and publishes as devices do.
//!
//! - the wire → the tenant's ThingsBoard JSON decoder → storage → an alarm,
//!   and a gateway message split per device;
//! - the ledger: every message the broker acknowledged to the publisher is
//!   stored exactly once across a broker restart (SIGTERM), and what a
//!   SIGKILL of the broker loses is measured;
//! - refusals with reasons, and the connector goes on;
//! - setpoint writes over RPC, answered and timed out;
//! - reconfiguration at run time.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::{Value, json};

use crate::Harness;

/// A mosquitto of the test's own; killed (and its directory removed) at
/// drop.
pub(crate) struct Broker {
    pub(crate) port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts one on a free loopback port. It saves its database on every
    /// change (`autosave_on_changes true`, `autosave_interval 1`), keeps
    /// any number of queued and in-flight messages per client.
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let dir = std::env::temp_dir().join(format!("nexus-mqtt-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("broker dir");
        let conf = format!(
            "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
             persistence_location {}/\nautosave_interval 1\nautosave_on_changes true\n\
             max_inflight_messages 0\nmax_queued_messages 0\nlog_dest file {}/broker.log\n",
            dir.display(),
            dir.display()
        );
        std::fs::write(dir.join("mosquitto.conf"), conf).expect("broker conf");
        let mut broker = Self { port, dir, child: None };
        broker.restart().await;
        broker
    }

    /// Starts it (again, on the same port and database).
    pub(crate) async fn restart(&mut self) {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(self.dir.join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto runs");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not listen on {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `signal` (`TERM`, `KILL`) and waits for it to end.
    pub(crate) fn kill(&mut self, signal: &str) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg(format!("-{signal}")).arg(child.id().to_string()).status();
            let _ = child.wait();
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill("KILL");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A test's MQTT client (clean session), its event loop polled (and
/// reconnecting) in a task; incoming publishes and SUBACKs go to `events`.
pub(crate) struct Peer {
    pub(crate) client: AsyncClient,
    pub(crate) events: tokio::sync::mpsc::UnboundedReceiver<Packet>,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    pub(crate) fn connect(port: u16, id: &str) -> Self {
        let mut options = MqttOptions::new(format!("{id}-{}", uuid::Uuid::new_v4().simple()), "127.0.0.1", port);
        options.set_keep_alive(Duration::from_secs(5)).set_max_packet_size(1 << 22, 1 << 22);
        let (client, mut eventloop) = AsyncClient::new(options, 1024);
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(packet)) => {
                        let _ = tx.send(packet);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self { client, events, task }
    }

    pub(crate) async fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.client.publish(topic, QoS::AtLeastOnce, false, payload.into()).await.expect("queued");
    }

    /// The next packet matching `want`, within 10 s.
    pub(crate) async fn next(&mut self, want: impl Fn(&Packet) -> bool) -> Packet {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(packet)) if want(&packet) => return packet,
                Ok(Some(_)) => {}
                _ => panic!("no matching MQTT packet within 10 s"),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Uploads the first-party plugins to `acme`; creates one well and the
/// devices named, each bound to the ThingsBoard JSON decoder, the first
/// also to the threshold rule (motor_temperature above 100 is a major
/// alarm). Returns the device ids, in order.
pub(crate) async fn devices(h: &Harness, names: &[&str]) -> Vec<String> {
    let ids = h.upload_first_party("acme").await;
    let well = h.post("/api/wells", json!({"name": "W-MQTT", "static_data": crate::esp_well()})).await;
    let mut devices = Vec::new();
    for name in names {
        let device = h.post("/api/devices", json!({"name": name, "well_id": well["id"]})).await;
        devices.push(device["id"].as_str().expect("id").to_string());
    }
    h.post("/api/bindings", json!({"plugin_id": ids[0], "device_ids": devices})).await;
    h.post(
        "/api/bindings",
        json!({"plugin_id": ids[1], "device_ids": [devices[0]],
               "config": {"key": "motor_temperature", "high": 100.0, "deadband": 5.0, "severity": "major",
                          "alarm_type": "HighMotorTemperature"}}),
    )
    .await;
    devices
}

/// Creates a connector with `settings` (kind mqtt) and waits until it runs.
pub(crate) async fn connector(h: &Harness, settings: Value) -> String {
    let mut settings = settings;
    settings["kind"] = json!("mqtt");
    let created = h.post("/api/connectors", json!({"name": "field-broker", "settings": settings})).await;
    let id = created["id"].as_str().expect("id").to_string();
    wait_for(h, &id, "running", |s| s["state"] == "running").await;
    id
}

/// Polls the connector's status until `done`, within 20 s.
pub(crate) async fn wait_for(h: &Harness, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let view = h.get(&format!("/api/connectors/{id}")).await;
        if done(&view["status"]) {
            return view["status"].clone();
        }
        assert!(Instant::now() < deadline, "connector not {what}: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The stored readings of `key` of a device with ts in [start, end).
pub(crate) async fn history(h: &Harness, device: &str, key: &str, start: i64, end: i64) -> Vec<Value> {
    let path = format!("/api/devices/{device}/telemetry?key={key}&start_ts={start}&end_ts={end}&limit=10000");
    h.get(&path).await.as_array().cloned().unwrap_or_default()
}

/// Polls `history` until it has at least `n` readings, within 20 s.
async fn stored_at_least(h: &Harness, device: &str, key: &str, start: i64, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stored = history(h, device, key, start, start + 10_000_000).await;
        if stored.len() >= n || Instant::now() > deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now() -> i64 {
    nexus_model::Clock::system().now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_telemetry_reaches_storage_and_raises_an_alarm_and_gateway_messages_split_per_device() {
    let broker = Broker::start().await;
    let h = Harness::start().await;
    let ids = devices(&h, &["ESP-1", "ESP-2"]).await;
    let id = connector(&h, json!({"url": broker.url()})).await;
    let peer = Peer::connect(broker.port, "esp");

    let ts = now() - 60_000;
    let reading = json!({"ts": ts, "values": {"motor_temperature": 112.5}}).to_string();
    peer.publish("v1/devices/ESP-1/telemetry", reading).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let alarms = loop {
        let alarms = h.alarms(&ids[0]).await;
        if !alarms.is_empty() || Instant::now() > deadline {
            break alarms;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["alarm_type"], "HighMotorTemperature");
    assert_eq!(alarms[0]["details"]["value"], 112.5);

    // One gateway message, two devices (the second by its id, the first by name).
    let gateway = json!({
        "ESP-1": [{"ts": ts + 1000, "values": {"intake_pressure": 701.0}}],
        ids[1].clone(): [{"ts": ts + 1000, "values": {"intake_pressure": 702.0}}, {"ts": ts + 2000, "values": {"intake_pressure": 703.0}}],
    });
    peer.publish("v1/gateway/telemetry", gateway.to_string()).await;
    let first = stored_at_least(&h, &ids[0], "intake_pressure", ts, 1).await;
    let second = stored_at_least(&h, &ids[1], "intake_pressure", ts, 2).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["value"], 701.0);
    assert_eq!(second.len(), 2, "{second:?}");

    let listed = h.get("/api/connectors").await;
    let view = listed.as_array().expect("list").iter().find(|c| c["id"] == id.as_str()).expect("listed").clone();
    let status = &view["status"];
    assert_eq!(status["state"], "running", "{view}");
    assert_eq!(status["kind"], "mqtt");
    assert_eq!(status["frames"], 3, "one device message and a gateway message of two devices: {status}");
    assert_eq!(status["readings"], 4, "{status}");
    assert_eq!(status["refused"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_refusals_are_counted_with_reasons_and_the_connector_goes_on() {
    let broker = Broker::start().await;
    let h = Harness::start().await;
    let ids = devices(&h, &["ESP-1"]).await;
    let topics = json!(["v1/devices/+/telemetry", "v1/gateway/telemetry", "plant/#"]);
    let id = connector(&h, json!({"url": broker.url(), "topics": topics, "max_payload_bytes": 1024})).await;
    let peer = Peer::connect(broker.port, "bad");
    let ts = now() - 60_000;
    let good = |ts: i64| json!({"ts": ts, "values": {"p": 1.0}}).to_string();

    peer.publish("v1/gateway/telemetry", "{\"ESP-1\": [").await;
    peer.publish("v1/devices/ESP-1/telemetry", vec![b' '; 2000]).await;
    peer.publish("v1/devices/NO-SUCH-DEVICE/telemetry", good(ts)).await;
    peer.publish("plant/pump/7", good(ts)).await;
    peer.publish("v1/devices/ESP-1/telemetry", "not json").await;
    peer.publish("v1/devices/ESP-1/telemetry", good(ts)).await;

    let status = wait_for(&h, &id, "refusing", |s| s["refused"] == 5 && s["frames"] == 1).await;
    assert_eq!(status["state"], "running", "{status}");
    let codes: BTreeSet<String> = status["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_string())
        .collect();
    for code in ["malformed-json", "payload-too-large", "unknown-device", "unknown-topic"] {
        assert!(codes.contains(code), "{code} missing from {status}");
    }
    let reasons = status["problems"].to_string();
    assert!(reasons.contains("NO-SUCH-DEVICE"), "{reasons}");
    assert!(reasons.contains("2000 bytes"), "{reasons}");
    assert_eq!(history(&h, &ids[0], "p", ts, ts + 1).await.len(), 1, "the good message after them is stored");
    assert_eq!(status["restarts"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_setpoint_writes_are_rpc_answered_refused_or_timed_out() {
    let broker = Broker::start().await;
    let h = Harness::start().await;
    let ids = devices(&h, &["ESP-1", "ESP-2"]).await;
    connector(&h, json!({"url": broker.url(), "rpc_timeout_ms": 800})).await;

    // A simulated ESP-1 answers its RPC requests with the value it set.
    let mut device = Peer::connect(broker.port, "device");
    device.client.subscribe(format!("v1/devices/{}/rpc/request/+", ids[0]), QoS::AtLeastOnce).await.expect("sub");
    device.next(|p| matches!(p, Packet::SubAck(_))).await;
    let requests = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            let Packet::Publish(request) = device.next(|p| matches!(p, Packet::Publish(_))).await else { continue };
            let body: Value = serde_json::from_slice(&request.payload).expect("json request");
            let response = request.topic.replace("/rpc/request/", "/rpc/response/");
            // The first request is answered with the value set, the second
            // refused (the device's interlock).
            let answer = if seen.is_empty() {
                json!({"value": body["params"]})
            } else {
                json!({"error": "local control: the well is in hand mode"})
            };
            device.publish(&response, answer.to_string()).await;
            // The peer's session ends with the task: the answer must be out.
            device.next(|p| matches!(p, Packet::PubAck(_))).await;
            seen.push(body);
            if seen.len() == 2 {
                return seen;
            }
        }
    });

    let write = json!({"parameter": "frequency_hz", "value": 52.5});
    let path = format!("/api/devices/{}/setpoint-writes", ids[0]);
    let (status, body, _) = h.send(h.admin(Method::POST, &path, "acme").await.json(&write)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["confirmed"], true, "{body}");
    assert_eq!(body["read_back"], 52.5, "{body}");
    // The device refuses the next one: a 502 naming the device's reason.
    let refused = json!({"parameter": "frequency_hz", "value": 53.0});
    let (status, body, _) = h.send(h.admin(Method::POST, &path, "acme").await.json(&refused)).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], "write-refused", "{body}");
    assert!(body.to_string().contains("hand mode"), "{body}");
    let seen = requests.await.expect("device");
    assert_eq!(
        seen,
        vec![json!({"method": "frequency_hz", "params": 52.5}), json!({"method": "frequency_hz", "params": 53.0})]
    );

    // ESP-2 never answers.
    let path = format!("/api/devices/{}/setpoint-writes", ids[1]);
    let started = Instant::now();
    let (status, body, _) = h.send(h.admin(Method::POST, &path, "acme").await.json(&write)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert!(body.to_string().contains("write-timeout"), "{body}");
    assert!(started.elapsed() >= Duration::from_millis(800), "it waited for the RPC timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_connectors_are_reconfigured_at_run_time_and_the_session_keeps_messages_while_disabled() {
    let broker = Broker::start().await;
    let h = Harness::start().await;
    let ids = devices(&h, &["ESP-1"]).await;
    let id = connector(&h, json!({"url": broker.url()})).await;
    let peer = Peer::connect(broker.port, "cfg");
    let ts = now() - 60_000;

    // Disabled: it stops; what is published meanwhile waits in the broker's
    // persistent session.
    let body = json!({"name": "field-broker", "enabled": false, "settings": {"kind": "mqtt", "url": broker.url()}});
    let (status, view, _) =
        h.send(h.admin(Method::PUT, &format!("/api/connectors/{id}"), "acme").await.json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    wait_for(&h, &id, "stopped", |s| s["state"] == "stopped").await;
    for i in 0..5 {
        peer.publish("v1/devices/ESP-1/telemetry", json!({"ts": ts + i, "values": {"q": i}}).to_string()).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(history(&h, &ids[0], "q", ts, ts + 10).await.is_empty(), "a stopped connector stores nothing");

    // Re-enabled with one more topic: it runs again, gets the queued
    // messages, and the new topic is subscribed.
    let topics = json!(["v1/devices/+/telemetry", "site/+/raw"]);
    let body = json!({"name": "field-broker", "enabled": true,
                      "settings": {"kind": "mqtt", "url": broker.url(), "topics": topics}});
    let (status, view, _) =
        h.send(h.admin(Method::PUT, &format!("/api/connectors/{id}"), "acme").await.json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["settings"]["topics"], topics);
    wait_for(&h, &id, "running again", |s| s["state"] == "running").await;
    let stored = stored_at_least(&h, &ids[0], "q", ts, 5).await;
    assert_eq!(stored.len(), 5, "the messages published while it was disabled: {stored:?}");
    peer.publish("site/7/raw", "x").await;
    let status = wait_for(&h, &id, "refusing the new topic", |s| s["refused"] == 1).await;
    assert!(status["problems"].to_string().contains("site/7/raw"), "{status}");
    // The attributes topic left the settings: the persistent session's old
    // subscription to it is dropped, so nothing published there is stored.
    peer.publish("v1/devices/ESP-1/attributes", json!({"ts": ts, "values": {"stale": 1}}).to_string()).await;
    peer.publish("v1/devices/ESP-1/telemetry", json!({"ts": ts + 9, "values": {"q": 9}}).to_string()).await;
    stored_at_least(&h, &ids[0], "q", ts, 6).await;
    assert!(history(&h, &ids[0], "stale", ts, ts + 10).await.is_empty(), "a removed topic still delivers");
}

/// What a ledger run saw.
#[derive(Debug)]
struct Ledger {
    sent: usize,
    acked: Vec<i64>,
    /// Sequence numbers acknowledged after the broker came back.
    acked_after_restart: Vec<i64>,
    stored: Vec<i64>,
}

/// Publishes `n` numbered readings (`seq`, ts = `base + seq`) of ESP-1 one
/// at a time, each in a fresh session after a failure, recording which got
/// a PUBACK; the broker is stopped with `signal` after a third of them and
/// started again.
async fn ledger(signal: &str, n: i64) -> Ledger {
    let mut broker = Broker::start().await;
    let h = Harness::start().await;
    let ids = devices(&h, &["ESP-1"]).await;
    let id = connector(&h, json!({"url": broker.url()})).await;
    let base = now() - 3_600_000;
    let acked = Arc::new(Mutex::new(Vec::<i64>::new()));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let port = broker.port;
    let publisher = tokio::spawn({
        let (acked, sent) = (acked.clone(), sent.clone());
        async move { publish_ledger(port, base, n, &acked, &sent).await }
    });
    while (acked.lock().expect("acked").len() as i64) < n / 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    broker.kill(signal);
    tokio::time::sleep(Duration::from_millis(300)).await;
    broker.restart().await;
    let restarted_at = acked.lock().expect("acked").len();
    publisher.await.expect("publisher");
    let acked = acked.lock().expect("acked").clone();
    let acked_after_restart = acked[restarted_at..].to_vec();
    // The connector reconnects after its backoff; wait for what comes.
    let want = acked.len();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut stored;
    let mut last_change = (0, Instant::now());
    loop {
        stored = history(&h, &ids[0], "seq", base, base + n).await;
        if stored.len() != last_change.0 {
            last_change = (stored.len(), Instant::now());
        }
        let quiet = last_change.1.elapsed() > Duration::from_secs(5);
        if stored.len() >= want && quiet || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = h.get(&format!("/api/connectors/{id}")).await["status"].clone();
    eprintln!("ledger ({signal}): connector status {status}");
    let stored = stored.iter().filter_map(|r| r["ts"].as_i64()).map(|ts| ts - base).collect();
    Ledger { sent: sent.load(std::sync::atomic::Ordering::Relaxed), acked, acked_after_restart, stored }
}

async fn publish_ledger(port: u16, base: i64, n: i64, acked: &Mutex<Vec<i64>>, sent: &std::sync::atomic::AtomicUsize) {
    let mut seq = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    'sessions: while seq < n && Instant::now() < deadline {
        let options = MqttOptions::new(format!("ledger-{}", uuid::Uuid::new_v4().simple()), "127.0.0.1", port);
        let (client, mut eventloop) = AsyncClient::new(options, 16);
        match tokio::time::timeout(Duration::from_secs(2), eventloop.poll()).await {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => {}
            _ => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        }
        while seq < n {
            let payload = json!({"ts": base + seq, "values": {"seq": seq}}).to_string();
            client.publish("v1/devices/ESP-1/telemetry", QoS::AtLeastOnce, false, payload).await.expect("queued");
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut pkid = None;
            let ok = loop {
                match tokio::time::timeout(Duration::from_secs(2), eventloop.poll()).await {
                    Ok(Ok(Event::Outgoing(Outgoing::Publish(id)))) => pkid = Some(id),
                    Ok(Ok(Event::Incoming(Packet::PubAck(ack)))) if Some(ack.pkid) == pkid => break true,
                    Ok(Ok(_)) => {}
                    _ => break false,
                }
            };
            if ok {
                acked.lock().expect("acked").push(seq);
            }
            seq += 1;
            if !ok {
                continue 'sessions;
            }
        }
    }
}

fn check(ledger: &Ledger, n: i64) -> Vec<i64> {
    let distinct: BTreeSet<i64> = ledger.stored.iter().copied().collect();
    assert_eq!(distinct.len(), ledger.stored.len(), "a message was stored twice");
    assert!(distinct.iter().all(|seq| (0..n).contains(seq)), "stored something never sent");
    assert!(ledger.acked.len() as i64 >= n - 5, "the publisher got most PUBACKs: {}", ledger.acked.len());
    ledger.acked.iter().copied().filter(|seq| !distinct.contains(seq)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_ledger_every_acknowledged_message_is_stored_once_across_a_broker_restart() {
    let n = 600;
    let ledger = ledger("TERM", n).await;
    let lost = check(&ledger, n);
    eprintln!(
        "ledger (SIGTERM restart): sent {}, acknowledged by the broker {}, stored {}, lost {}",
        ledger.sent,
        ledger.acked.len(),
        ledger.stored.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but never stored: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt_ledger_across_a_broker_crash_loses_only_what_the_broker_had_not_saved() {
    let n = 600;
    let ledger = ledger("KILL", n).await;
    let lost = check(&ledger, n);
    eprintln!(
        "ledger (SIGKILL crash): sent {}, acknowledged by the broker {}, stored {}, lost {} {:?}",
        ledger.sent,
        ledger.acked.len(),
        ledger.stored.len(),
        lost.len(),
        lost
    );
    let after: Vec<&i64> = ledger.acked_after_restart.iter().filter(|seq| lost.contains(seq)).collect();
    assert!(after.is_empty(), "acknowledged after the broker came back, never stored: {after:?}");
}
