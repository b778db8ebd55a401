//! Kafka end to end, through the real server and a real Kafka-protocol
//! broker: each test starts its own `tansu` (in memory, a free loopback
//! port; killed at drop), creates the seed's topics, creates the consumer
//! connector with `POST /api/connectors`, and produces as a field gateway
//! does (rdkafka, `acks=all`), keyed by device.
//!
//! - the wire → the tenant's ThingsBoard JSON decoder → storage → an alarm,
//!   and the producer publishing the alarm, the optimizer's recommendation
//!   and the committed telemetry to `pf.alarms`, `po.recommendations` and
//!   `pf.telemetry.validated`, read back by an independent consumer;
//! - refusals with reasons (no key, unknown device, too large, decoder
//!   refusal), and the connector goes on;
//! - offsets: Nexus stopped mid-stream and started again stores every
//!   record exactly once and resumes where it committed.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::Message;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use crate::Harness;
use crate::mqtt::{history, wait_for};

/// A tansu broker of the test's own, in memory; killed at drop.
pub(crate) struct Tansu {
    pub(crate) port: u16,
    child: Child,
}

/// The tansu executable: on PATH, else where `cargo install` puts it.
fn tansu() -> String {
    let on_path = Command::new("tansu").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if on_path.is_ok() {
        return "tansu".into();
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let installed = format!("{home}/.cargo/bin/tansu");
    assert!(std::path::Path::new(&installed).exists(), "tansu is missing: run .ci/services (it installs it)");
    installed
}

impl Tansu {
    /// Starts one on a free loopback port, with the seed's topics.
    pub(crate) async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let url = format!("tcp://127.0.0.1:{port}");
        let child = Command::new(tansu())
            .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu runs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let broker = Self { port, child };
        broker
            .create_topics(&[
                ("pf.telemetry.raw", 3),
                ("pf.telemetry.validated", 1),
                ("pf.alarms", 1),
                ("po.recommendations", 1),
                ("pf.events", 1),
            ])
            .await;
        broker
    }

    pub(crate) fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    async fn create_topics(&self, topics: &[(&str, i32)]) {
        let admin: AdminClient<DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", self.brokers()).create().expect("admin client");
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        for result in admin.create_topics(&new, &options).await.expect("create topics") {
            result.expect("topic created");
        }
    }

    /// A producer as a field gateway would use: every record acknowledged
    /// by the broker.
    pub(crate) fn producer(&self) -> FutureProducer {
        ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("acks", "all")
            .set("linger.ms", "1")
            .create()
            .expect("producer")
    }

    /// A consumer of `topics` in a group of its own, from the beginning.
    pub(crate) fn reader(&self, topics: &[&str]) -> StreamConsumer {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("group.id", format!("reader-{}", uuid::Uuid::new_v4().simple()))
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(topics).expect("subscribe");
        consumer
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Produces one record to `pf.telemetry.raw` and waits for the broker's
/// acknowledgement.
pub(crate) async fn produce(producer: &FutureProducer, key: Option<&str>, value: &[u8]) {
    let mut record = FutureRecord::<str, [u8]>::to("pf.telemetry.raw").payload(value);
    if let Some(key) = key {
        record = record.key(key);
    }
    producer.send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).expect("acknowledged");
}

/// Creates a Kafka connector with `settings` and waits until it runs.
async fn connector(h: &Harness, settings: Value) -> String {
    let mut settings = settings;
    settings["kind"] = json!("kafka");
    let created = h.post("/api/connectors", json!({"name": "plant-kafka", "settings": settings})).await;
    let id = created["id"].as_str().expect("id").to_string();
    wait_for(h, &id, "running", |s| s["state"] == "running").await;
    id
}

/// A topic and what a record of it must satisfy.
type Want<'a> = (&'a str, &'a dyn Fn(&Value) -> bool);

/// Reads `reader` until `want` holds for a record of each topic named,
/// within 60 s (a new consumer group joins the broker first, slow on a busy
/// machine); returns those records' values by topic.
async fn read_until(reader: &StreamConsumer, want: &[Want<'_>]) -> Vec<Value> {
    let mut found: Vec<Option<Value>> = vec![None; want.len()];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while found.iter().any(Option::is_none) {
        let message = match tokio::time::timeout_at(deadline, reader.recv()).await {
            Ok(message) => message.expect("a record"),
            Err(_) => panic!("not every topic had its record within 60 s: {found:?}"),
        };
        let value: Value = serde_json::from_slice(message.payload().expect("value")).expect("JSON");
        let key = message.key().map(|k| String::from_utf8_lossy(k).to_string());
        assert_eq!(key.as_deref(), value["key"].as_str(), "the record's key is the event's key: {value}");
        for (i, (topic, check)) in want.iter().enumerate() {
            if found[i].is_none() && message.topic() == *topic && check(&value) {
                found[i] = Some(value.clone());
            }
        }
    }
    found.into_iter().map(Option::unwrap).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_telemetry_is_stored_raises_an_alarm_and_events_reach_their_topics() {
    let broker = Tansu::start().await;
    let h = Harness::start_with_kafka(broker.brokers()).await;
    let (device, _, _) = h.field_with(true).await;
    let id = connector(&h, json!({"brokers": broker.brokers()})).await;
    let producer = broker.producer();

    // By name, then by id: the key names the device.
    let ts = now() - 120_000;
    let hot = json!({"ts": ts, "values": {"motor_temperature": 112.5}}).to_string();
    produce(&producer, Some("ESP-1"), hot.as_bytes()).await;
    // Cooled down again: the alarm clears (an open protection alarm keeps
    // the optimizer silent).
    let cool = json!({"ts": ts + 1, "values": {"motor_temperature": 90.0}}).to_string();
    produce(&producer, Some("ESP-1"), cool.as_bytes()).await;
    for body in crate::steady_esp_hour() {
        produce(&producer, Some(&device), body.as_bytes()).await;
    }
    let status = wait_for(&h, &id, "storing", |s| s["frames"] == 63).await;
    assert_eq!(status["refused"], 0, "{status}");
    assert_eq!(status["readings"], 2 + 61 * 4, "{status}");
    assert_eq!(history(&h, &device, "motor_temperature", ts, ts + 1).await[0]["value"], 112.5);
    let alarms = h.alarms(&device).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["alarm_type"], "HighMotorTemperature");
    assert_eq!(alarms[0]["status"], "CLEARED_UNACK", "{alarms:?}");

    // Every record is stored and committed: the consumer's lag, as its
    // client reports it each second, is 0 on each partition that has a
    // committed position (the records went to one or two of the three),
    // in the status and in /metrics.
    let caught_up =
        |s: &Value| s["lag"].as_array().is_some_and(|lag| !lag.is_empty() && lag.iter().all(|p| p["records"] == 0));
    let status = wait_for(&h, &id, "caught up", caught_up).await;
    let partitions = status["lag"].as_array().expect("lag").len();
    let scrape = h.system(reqwest::Method::GET, "/metrics").await.send().await.expect("scrape");
    let text = scrape.text().await.expect("text");
    let lag: Vec<&str> =
        text.lines().filter(|l| l.starts_with("nexus_kafka_consumer_lag{") && l.contains(id.as_str())).collect();
    assert_eq!(lag.len(), partitions, "{text}");
    assert!(lag.iter().all(|l| l.contains("topic=\"pf.telemetry.raw\"") && l.ends_with(" 0")), "{lag:?}");

    // An independent consumer sees the alarm and the optimizer's
    // recommendation (it runs every 300 ms on the steady hour) as the
    // outbox's JSON, keyed by the device.
    // And the committed telemetry, as stored, on pf.telemetry.validated.
    let reader = broker.reader(&["pf.alarms", "po.recommendations", "pf.telemetry.validated"]);
    let is_raise = |v: &Value| v["type"] == "alarm" && v["action"] == "RAISED";
    let is_recommendation = |v: &Value| v["type"] == "recommendation";
    let is_hot = |v: &Value| v["samples"][0]["values"]["motor_temperature"] == 112.5;
    let found = read_until(
        &reader,
        &[("pf.alarms", &is_raise), ("po.recommendations", &is_recommendation), ("pf.telemetry.validated", &is_hot)],
    )
    .await;
    let validated = &found[2];
    assert_eq!(validated["type"], "telemetry", "{validated}");
    assert_eq!(validated["device_id"], device.as_str(), "{validated}");
    assert_eq!(validated["samples"][0]["ts"], ts, "{validated}");
    assert!(validated["committed_at"].as_i64().is_some_and(|at| at >= ts), "{validated}");
    let recommendation = &found[1];
    assert_eq!(recommendation["key"], device.as_str(), "{recommendation}");
    assert_eq!(recommendation["device_id"], device.as_str(), "{recommendation}");
    assert_eq!(recommendation["parameter"], "frequency_hz", "{recommendation}");
    assert_eq!(recommendation["proposed_value"], 53.0, "{recommendation}");
    let alarm = &found[0];
    assert_eq!(alarm["key"], device.as_str(), "{alarm}");
    assert!(alarm["seq"].as_i64().is_some() && alarm["tenant_id"].is_string(), "{alarm}");
    assert_eq!(alarm["alarm"]["alarm_type"], "HighMotorTemperature", "{alarm}");
    assert_eq!(alarm["alarm"]["device_id"], device.as_str(), "{alarm}");
    assert_eq!(alarm["alarm"]["severity"], "MAJOR", "{alarm}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_refusals_are_counted_with_reasons_and_the_connector_goes_on() {
    let broker = Tansu::start().await;
    let h = Harness::start().await;
    let (device, _, _) = h.field_with(false).await;
    let id = connector(&h, json!({"brokers": broker.brokers(), "max_payload_bytes": 1024})).await;
    let producer = broker.producer();
    let ts = now() - 60_000;
    let good = |ts: i64| json!({"ts": ts, "values": {"p": 1.0}}).to_string();

    produce(&producer, None, good(ts).as_bytes()).await;
    produce(&producer, Some("ESP-1"), &[b' '; 2000]).await;
    produce(&producer, Some("NO-SUCH-DEVICE"), good(ts).as_bytes()).await;
    produce(&producer, Some("ESP-1"), b"not json").await;
    produce(&producer, Some("ESP-1"), good(ts).as_bytes()).await;

    let status = wait_for(&h, &id, "refusing", |s| s["refused"] == 4 && s["frames"] == 1).await;
    assert_eq!(status["state"], "running", "{status}");
    let codes: BTreeSet<String> = status["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| p["code"].as_str().expect("code").to_string())
        .collect();
    for code in ["no-key", "payload-too-large", "unknown-device"] {
        assert!(codes.contains(code), "{code} missing from {status}");
    }
    assert_eq!(codes.len(), 4, "the decoder's refusal has a code of its own: {status}");
    let reasons = status["problems"].to_string();
    assert!(reasons.contains("NO-SUCH-DEVICE"), "{reasons}");
    assert!(reasons.contains("2000 bytes"), "{reasons}");
    assert!(reasons.contains("no key"), "{reasons}");
    assert_eq!(history(&h, &device, "p", ts, ts + 1).await.len(), 1, "the good record after them is stored");
    assert_eq!(status["restarts"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_offsets_survive_a_restart_of_nexus_and_every_record_is_stored_once() {
    const TOTAL: i64 = 600;
    let broker = Tansu::start().await;
    let h = Harness::start().await;
    let (device, _, _) = h.field_with(false).await;
    let id = connector(&h, json!({"brokers": broker.brokers()})).await;
    let producer = broker.producer();
    let base = now() - 3_600_000;
    let record = |n: i64| json!({"ts": base + n, "values": {"n": n as f64}}).to_string();

    for n in 0..TOTAL / 2 {
        produce(&producer, Some("ESP-1"), record(n).as_bytes()).await;
    }
    // Stopped mid-stream: some stored, the rest not yet consumed.
    let before = wait_for(&h, &id, "storing", |s| s["frames"].as_i64() >= Some(50)).await;
    let h = h.restart().await;
    let frames_before = before["frames"].as_i64().expect("frames");
    for n in TOTAL / 2..TOTAL {
        produce(&producer, Some("ESP-1"), record(n).as_bytes()).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let stored = loop {
        let stored = history(&h, &device, "n", base, base + TOTAL).await;
        if stored.len() >= TOTAL as usize || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let numbers: BTreeSet<i64> = stored.iter().map(|r| r["value"].as_f64().expect("value") as i64).collect();
    assert_eq!(stored.len(), TOTAL as usize, "every record stored once");
    assert_eq!(numbers, (0..TOTAL).collect(), "every number, each once");
    for reading in &stored {
        assert_eq!(reading["ts"].as_i64().expect("ts") - base, reading["value"].as_f64().expect("value") as i64);
    }
    // The new run resumed at the committed offsets: it consumed at most
    // what the first run had not stored.
    let after = h.get("/api/connectors").await;
    let after = after.as_array().expect("list").iter().find(|c| c["id"] == id.as_str()).expect("listed").clone();
    let frames_after = after["status"]["frames"].as_i64().expect("frames");
    assert!(frames_after <= TOTAL - frames_before, "re-consumed from the start: {frames_after} after {frames_before}");
    assert!(frames_after >= TOTAL / 2, "{after}");
}

fn now() -> i64 {
    nexus_model::Clock::system().now()
}
