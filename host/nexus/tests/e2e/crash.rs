//! Crash consistency: a real `nexus serve` is killed with SIGKILL at random
//! moments while numbered senders post readings that cross and re-cross a
//! threshold. Afterwards (a) every acknowledged reading is stored exactly
//! once, (b) every stored reading was evaluated by each bound rule exactly
//! once, and (c) the alarms, the rule's state and the outbox agree with a
//! replay of the stored readings through the same rule.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus::plugin_files;
use nexus_model::{
    AlarmFilter, BindingId, DeviceId, EventBody, EventSeq, Limits, PluginKind, PluginRef, Reading, TenantId,
    TransitionKind,
};
use nexus_runtime::{CallContext, NoTelemetry, Runtime, RuntimeConfig};
use nexus_storage::{AlarmStore, OutboxStore, StateStore, TelemetryStore};
use nexus_storage_sqlite::SqliteStore;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

const KILLS: usize = 24;
const TENANT: &str = "crash";

struct Node {
    child: Child,
    base: String,
}

fn start(data_dir: &Path, addr: &str) -> Node {
    let log = std::fs::File::create(data_dir.join(format!("server-{}.log", std::process::id()))).expect("log");
    let child = Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["serve", "--data-dir", &data_dir.display().to_string(), "--listen", addr])
        .env("NEXUS_ADMIN_TOKEN", crate::TOKEN)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nexus starts");
    Node { child, base: format!("http://{addr}") }
}

async fn wait_ready(client: &Client, node: &mut Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{}/healthz", node.base)).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(node.child.try_wait().expect("wait").is_none(), "nexus exited at start-up");
        assert!(Instant::now() < deadline, "nexus did not become ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small xorshift generator: the kill points are random but repeatable from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One numbered sender per device: frame `i` carries `seq = i` and a value
/// that crosses the threshold every three frames. Acknowledged `seq`s are recorded.
struct Sender {
    token: String,
    next: AtomicI64,
    acked: Mutex<Vec<i64>>,
}

fn value_of(seq: i64) -> f64 {
    if (seq / 3) % 2 == 0 { 60.0 } else { 40.0 }
}

async fn send_until(client: &Client, base: &str, sender: &Sender, t0: i64, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let seq = sender.next.fetch_add(1, Ordering::SeqCst);
        let body = json!({"ts": t0 + seq, "values": {"seq": seq, "v": value_of(seq)}}).to_string();
        let sent = client
            .post(format!("{base}/api/v1/{}/telemetry", sender.token))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::OK => sender.acked.lock().expect("lock").push(seq),
            Ok(response) => panic!("frame {seq}: {}", response.status()),
            // The server died mid-request: not acknowledged. The sender moves on.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

async fn admin(client: &Client, base: &str, path: &str, body: Value) -> Value {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(crate::TOKEN)
        .header("x-nexus-tenant", TENANT)
        .json(&body)
        .send()
        .await
        .expect("admin request");
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.expect("json")
}

async fn upload(client: &Client, base: &str, kind: &str, name: &str) -> String {
    let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built");
    let response = client
        .post(format!("{base}/api/plugins?kind={kind}&name={name}&version=1.0.0"))
        .bearer_auth(crate::TOKEN)
        .header("x-nexus-tenant", TENANT)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("json");
    body["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_random_points_the_host_loses_and_duplicates_nothing() {
    let data_dir = std::env::temp_dir().join(format!("nexus-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&data_dir).expect("dir");
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").to_string()
    };
    let client = Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let mut node = start(&data_dir, &addr);
    wait_ready(&client, &mut node).await;

    // A field: two devices, the JSON decoder, a threshold rule and the ledger rule on both,
    // set up by the system administrator acting inside the tenant (X-Nexus-Tenant).
    let base = node.base.clone();
    let created = client
        .post(format!("{base}/api/tenants"))
        .bearer_auth(crate::TOKEN)
        .json(&json!({"id": TENANT, "name": "crash"}))
        .send()
        .await
        .expect("tenant");
    assert_eq!(created.status(), StatusCode::CREATED);
    let decoder = upload(&client, &base, "decoder", "decoder-thingsboard-json").await;
    let threshold = upload(&client, &base, "alarm-rule", "alarm-rule-threshold").await;
    let ledger = upload(&client, &base, "alarm-rule", "test-ledger").await;
    let mut senders = Vec::new();
    let mut device_ids = Vec::new();
    for name in ["ESP-1", "ESP-2"] {
        let device = admin(&client, &base, "/api/devices", json!({"name": name})).await;
        device_ids.push(device["id"].as_str().expect("id").to_string());
        senders.push(Arc::new(Sender {
            token: device["access_token"].as_str().expect("token").to_string(),
            next: AtomicI64::new(0),
            acked: Mutex::new(Vec::new()),
        }));
    }
    admin(&client, &base, "/api/bindings", json!({"plugin_id": decoder, "device_ids": device_ids})).await;
    let config = json!({"key": "v", "high": 50.0, "deadband": 5.0, "alarm_type": "High"});
    let threshold_binding = admin(
        &client,
        &base,
        "/api/bindings",
        json!({"plugin_id": threshold, "device_ids": device_ids, "config": config}),
    )
    .await;
    let ledger_binding =
        admin(&client, &base, "/api/bindings", json!({"plugin_id": ledger, "device_ids": device_ids})).await;

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_nanos() as u64 | 1;
    println!("kill-point seed: {seed}");
    let mut rng = Rng(seed);
    let t0 = nexus_model::Clock::system().now() - 86_400_000;
    for kill in 0..=KILLS {
        if kill > 0 {
            node = start(&data_dir, &addr);
            wait_ready(&client, &mut node).await;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = senders
            .iter()
            .map(|sender| {
                let (client, base, sender, stop) = (client.clone(), node.base.clone(), sender.clone(), stop.clone());
                tokio::spawn(async move { send_until(&client, &base, &sender, t0, &stop).await })
            })
            .collect();
        if kill < KILLS {
            tokio::time::sleep(Duration::from_millis(50 + rng.next() % 400)).await;
            node.child.kill().expect("SIGKILL");
            node.child.wait().expect("reaped");
            stop.store(true, Ordering::SeqCst);
        } else {
            // The drain: a last stretch on a server that stays up.
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.store(true, Ordering::SeqCst);
        }
        for task in tasks {
            task.await.expect("sender");
        }
    }
    node.child.kill().expect("SIGKILL");
    node.child.wait().expect("reaped");

    let store = SqliteStore::open(&data_dir).await.expect("opens after the crash");
    let tenant = TenantId::new(TENANT);
    let threshold_binding = BindingId::new(threshold_binding["id"].as_str().expect("id"));
    let ledger_binding = BindingId::new(ledger_binding["id"].as_str().expect("id"));
    let component = plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let rule = runtime.load(PluginKind::AlarmRule, &component).expect("loads");
    let mut total_acked = 0;
    for (device, sender) in device_ids.iter().map(DeviceId::new).zip(&senders) {
        let acked = sender.acked.lock().expect("lock").clone();
        total_acked += acked.len();
        let stored = store.history(&tenant, &device, Some("seq"), 0, i64::MAX, u32::MAX).await.expect("history");
        let seqs: Vec<i64> = stored.iter().map(|r| r.value.as_f64().expect("number") as i64).collect();
        // (a) every acknowledged reading is stored, exactly once.
        let mut unique = seqs.clone();
        unique.dedup();
        assert_eq!(unique.len(), seqs.len(), "{device}: a reading stored twice");
        let stored_set: std::collections::BTreeSet<i64> = seqs.iter().copied().collect();
        let lost: Vec<&i64> = acked.iter().filter(|s| !stored_set.contains(s)).collect();
        assert!(lost.is_empty(), "{device}: acknowledged but not stored: {lost:?}");
        // (b) every stored reading was evaluated exactly once (the ledger rule's count and sums).
        let state = store.plugin_state(&tenant, &ledger_binding, &device).await.expect("state");
        let ledger: Value = serde_json::from_slice(state.get("ledger").expect("ledger")).expect("json");
        let sum: i64 = seqs.iter().sum();
        let sum_sq: i64 = seqs.iter().map(|s| s * s).sum();
        assert_eq!(ledger, json!({"count": seqs.len(), "sum": sum, "sum_sq": sum_sq}), "{device}");
        // (c) alarms, rule state and outbox agree with a replay of the stored readings.
        let values = store.history(&tenant, &device, Some("v"), 0, i64::MAX, u32::MAX).await.expect("history");
        assert_eq!(values.len(), seqs.len());
        let (replayed_state, replayed) = replay(&runtime, &rule, &device, &values);
        let stored_state = store.plugin_state(&tenant, &threshold_binding, &device).await.expect("state");
        assert_eq!(stored_state, replayed_state, "{device}: the rule's state ran ahead of or behind its readings");
        let mut history = Vec::new();
        // Every alarm of the device, a page of at most 1 000 at a time
        // (newest first; each page ends before the oldest start of the one
        // before it: a device's raises have distinct stamps).
        let mut alarms = Vec::new();
        let mut filter = AlarmFilter { device_id: Some(device.clone()), limit: Some(1000), ..Default::default() };
        loop {
            let page = store.alarms(&tenant, &filter).await.expect("alarms");
            let full = page.len() == 1000;
            filter.end_ts = page.last().map(|a| a.start_ts);
            alarms.extend(page);
            if !full {
                break;
            }
        }
        alarms.reverse();
        for alarm in &alarms {
            for event in store.alarm_events(&tenant, &alarm.id).await.expect("events") {
                history.push((event.ts, event.action));
            }
        }
        assert_eq!(history, replayed, "{device}: the alarm table disagrees with the replay");
        let mut outbox = Vec::new();
        let mut after = EventSeq(0);
        loop {
            let page = store.tenant_events(&tenant, after, 1000).await.expect("events");
            let Some(last) = page.last() else { break };
            after = last.seq;
            for event in page {
                if let EventBody::Alarm(t) = event.body
                    && t.alarm.device_id == device
                {
                    outbox.push((t.ts, t.action));
                }
            }
        }
        assert_eq!(outbox, replayed, "{device}: the outbox disagrees with the replay");
        println!(
            "{device}: {} sent, {} acknowledged, {} stored, {} alarm transitions",
            sender.next.load(Ordering::SeqCst),
            acked.len(),
            seqs.len(),
            replayed.len()
        );
    }
    assert!(total_acked > 100, "too few frames got through to mean anything: {total_acked}");
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Runs the stored readings through the rule, one frame's reading per call
/// as the host did, with state carried between calls; returns the final
/// state and the transitions (raise on none open, clear on one open).
/// A rule's state, and the transitions at their times.
type Replayed = (BTreeMap<String, Vec<u8>>, Vec<(i64, TransitionKind)>);

fn replay(runtime: &Runtime, rule: &nexus_runtime::Plugin, device: &DeviceId, readings: &[Reading]) -> Replayed {
    let mut state = BTreeMap::new();
    let mut open = false;
    let mut transitions = Vec::new();
    for reading in readings {
        let ctx = CallContext {
            plugin: PluginRef {
                tenant_id: TENANT.into(),
                name: "alarm-rule-threshold".into(),
                version: "1.0.0".into(),
            },
            binding_id: "replay".into(),
            device_id: device.clone(),
            now: reading.ts,
            config: json!({"key": "v", "high": 50.0, "deadband": 5.0, "alarm_type": "High"}).to_string(),
            state: state.clone(),
            limits: Limits::for_kind(PluginKind::AlarmRule),
            telemetry: Arc::new(NoTelemetry),
        };
        let outcome =
            runtime.evaluate(rule, ctx, &nexus_model::series_of(std::slice::from_ref(reading))).expect("the rule runs");
        if let Some(next) = outcome.state {
            state = next;
        }
        for signal in outcome.output {
            match (signal.action, open) {
                (nexus_model::AlarmAction::Raise, false) => {
                    open = true;
                    transitions.push((signal.ts, TransitionKind::Raised));
                }
                (nexus_model::AlarmAction::Clear, true) => {
                    open = false;
                    transitions.push((signal.ts, TransitionKind::Cleared));
                }
                _ => {}
            }
        }
    }
    (state, transitions)
}
