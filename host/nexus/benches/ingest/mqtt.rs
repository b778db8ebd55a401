//! The MQTT mode of the ingest benchmark (`--mqtt M`): a local mosquitto
//! of its own, an MQTT connector on the running server, and `--publishers`
//! clients publishing M messages (QoS 1, one sample of 10 readings each,
//! round-robin over the devices' telemetry topics). It reports the time
//! until every reading is stored (the connector's `readings` counter — it
//! counts only committed readings), readings/s and the server's CPU time
//! per reading. The broker runs without persistence: what is measured is
//! the connector and the ingest path, not the broker's disk.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};

use super::{KEYS, Server, TOKEN, admin, cpu_seconds};

struct Broker {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn broker() -> Broker {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let dir = std::env::temp_dir().join(format!("nexus-bench-mqtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("broker dir");
    let conf = format!(
        "user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
         max_inflight_messages 0\nmax_queued_messages 0\nlog_dest none\n"
    );
    std::fs::write(dir.join("mosquitto.conf"), conf).expect("conf");
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(dir.join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto (Debian package) runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Broker { child, dir, port }
}

pub(super) async fn status(base: &str, id: &str) -> Value {
    let r = reqwest::Client::new()
        .get(format!("{base}/api/connectors/{id}"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", "default")
        .send()
        .await
        .expect("status");
    r.json::<Value>().await.expect("json")["status"].clone()
}

/// Publishes `messages` through the broker into the server and reports.
pub(super) async fn run(server: &Server, devices: usize, messages: usize, publishers: usize) {
    let broker = broker().await;
    let client = reqwest::Client::new();
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let connector = admin(
        &client,
        &server.base,
        "/api/connectors",
        json!({"name": "bench", "settings": {"kind": "mqtt", "url": url}}),
    )
    .await;
    let id = connector["id"].as_str().expect("id").to_string();
    while status(&server.base, &id).await["state"] != "running" {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let base_ts = nexus_model::Clock::system().now() - 7 * 86_400_000;
    let cpu_before = cpu_seconds(server.child.id());
    let started = Instant::now();
    let acked = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for p in 0..publishers {
        let acked = acked.clone();
        let port = broker.port;
        tasks.push(tokio::spawn(async move {
            let mine: Vec<usize> = (p..messages).step_by(publishers).collect();
            let mut options = MqttOptions::new(format!("bench-publisher-{p}"), "127.0.0.1", port);
            options.set_inflight(500);
            let (client, mut eventloop) = AsyncClient::new(options, 1000);
            let want = mine.len() as u64;
            let poller = tokio::spawn(async move {
                let mut got = 0;
                while got < want {
                    match eventloop.poll().await {
                        Ok(Event::Incoming(Packet::PubAck(_))) => got += 1,
                        Ok(_) => {}
                        Err(error) => panic!("publisher: {error}"),
                    }
                }
            });
            for m in mine {
                let device = m % devices;
                // A distinct ts per message of a device.
                let ts = base_ts + (m / devices) as i64;
                let values: serde_json::Map<String, Value> =
                    (0..KEYS).map(|k| (format!("k{k}"), json!(((m * 7 + k) % 100) as f64))).collect();
                let payload = json!({"ts": ts, "values": values}).to_string();
                let topic = format!("v1/devices/bench-{device}/telemetry");
                client.publish(topic, QoS::AtLeastOnce, false, payload).await.expect("queued");
            }
            poller.await.expect("acks");
            acked.fetch_add(want, Ordering::Relaxed);
        }));
    }
    for task in tasks {
        task.await.expect("publisher");
    }
    let published = started.elapsed().as_secs_f64();
    let want = (messages * KEYS) as u64;
    let mut last = status(&server.base, &id).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut shown = Instant::now();
    while last["readings"].as_u64().unwrap_or(0) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        last = status(&server.base, &id).await;
        if shown.elapsed() >= Duration::from_secs(5) {
            shown = Instant::now();
            eprintln!("  … {} readings stored after {:.0} s", last["readings"], started.elapsed().as_secs_f64());
        }
    }
    let stored_in = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    let readings = last["readings"].as_u64().unwrap_or(0);
    println!(
        "MQTT → storage: {messages} messages × {KEYS} readings over {devices} devices, {publishers} publishers, \
         QoS 1, decoder + threshold rule, {}",
        super::backend()
    );
    println!(
        "  broker acknowledged all in {published:.2} s; {readings} readings stored in {stored_in:.2} s: \
         {:.0} readings/s, {:.0} messages/s, server CPU {:.2} µs/reading; refused {}, errors {}",
        readings as f64 / stored_in,
        last["frames"].as_u64().unwrap_or(0) as f64 / stored_in,
        cpu * 1e6 / readings.max(1) as f64,
        last["refused"],
        last["errors"]
    );
}
