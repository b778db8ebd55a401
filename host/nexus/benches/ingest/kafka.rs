//! The Kafka mode of the ingest benchmark (`--kafka M`): a local tansu
//! broker of its own (in memory), `pf.telemetry.raw` with 4 partitions, a
//! Kafka connector on the running server, and one idempotent producer
//! (`acks=all`) producing M records (one sample of 10 readings each, keyed
//! round-robin by the devices' names). It reports the time until every
//! reading is stored (the connector's `readings` counter — committed
//! readings only), readings/s and the server's CPU time per reading.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

use super::{KEYS, Server, admin, cpu_seconds};

const PARTITIONS: i32 = 4;

struct Broker {
    child: Child,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tansu() -> String {
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    let installed = format!("{home}/.cargo/bin/tansu");
    if std::path::Path::new(&installed).exists() { installed } else { "tansu".into() }
}

async fn broker() -> Broker {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args(["broker", "--listener-url", &url, "--advertised-listener-url", &url])
        .args(["--storage-engine", "memory://tansu/"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("tansu runs (.ci/services installs it)");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "tansu did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", format!("127.0.0.1:{port}")).create().expect("admin");
    let topic = NewTopic::new("pf.telemetry.raw", PARTITIONS, TopicReplication::Fixed(1));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin.create_topics([&topic], &options).await.expect("create topic") {
        result.expect("topic created");
    }
    Broker { child, port }
}

/// Produces `messages` through the broker into the server and reports.
pub(super) async fn run(server: &Server, devices: usize, messages: usize) {
    let broker = broker().await;
    let client = reqwest::Client::new();
    let brokers = format!("127.0.0.1:{}", broker.port);
    let connector = admin(
        &client,
        &server.base,
        "/api/connectors",
        json!({"name": "bench", "settings": {"kind": "kafka", "brokers": brokers}}),
    )
    .await;
    let id = connector["id"].as_str().expect("id").to_string();
    while super::mqtt::status(&server.base, &id).await["state"] != "running" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let base_ts = nexus_model::Clock::system().now() - 7 * 86_400_000;
    let cpu_before = cpu_seconds(server.child.id());
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(messages);
    for m in 0..messages {
        let device = format!("bench-{}", m % devices);
        let ts = base_ts + (m / devices) as i64;
        let values: serde_json::Map<String, Value> =
            (0..KEYS).map(|k| (format!("k{k}"), json!(((m * 7 + k) % 100) as f64))).collect();
        let payload = json!({"ts": ts, "values": values}).to_string();
        let record = FutureRecord::to("pf.telemetry.raw").key(&device).payload(&payload);
        // Queued at once (at most 1 000 outstanding, far below librdkafka's
        // queue), acknowledged below.
        deliveries.push(producer.send_result(record).map_err(|(e, _)| e).expect("queued"));
        if deliveries.len() >= 1000 {
            for delivery in deliveries.drain(..) {
                delivery.await.expect("producer alive").map_err(|(e, _)| e).expect("acknowledged");
            }
        }
    }
    for delivery in deliveries {
        delivery.await.expect("producer alive").map_err(|(e, _)| e).expect("acknowledged");
    }
    let produced = started.elapsed().as_secs_f64();
    let want = (messages * KEYS) as u64;
    let mut last = super::mqtt::status(&server.base, &id).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut shown = Instant::now();
    while last["readings"].as_u64().unwrap_or(0) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = super::mqtt::status(&server.base, &id).await;
        if shown.elapsed() >= Duration::from_secs(5) {
            shown = Instant::now();
            eprintln!("  … {} readings stored after {:.0} s", last["readings"], started.elapsed().as_secs_f64());
        }
    }
    let stored_in = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    let readings = last["readings"].as_u64().unwrap_or(0);
    println!(
        "Kafka → storage: {messages} records × {KEYS} readings over {devices} devices, {PARTITIONS} partitions, \
         acks=all, decoder + threshold rule, {}",
        super::backend()
    );
    println!(
        "  broker acknowledged all in {produced:.2} s; {readings} readings stored in {stored_in:.2} s: \
         {:.0} readings/s, {:.0} records/s, server CPU {:.2} µs/reading; refused {}, errors {}",
        readings as f64 / stored_in,
        last["frames"].as_u64().unwrap_or(0) as f64 / stored_in,
        cpu * 1e6 / readings.max(1) as f64,
        last["refused"],
        last["errors"]
    );
}
