//! The OPC UA connector through the real server: an in-process
//! async-opcua server on a loopback port whose wells' nodes change every
//! 100 ms, a connector configured with `POST /api/connectors`, values
//! decoded by the tenant's `decoder-opcua-nodes` binding, a threshold
//! alarm rule, a server restart mid-subscription, setpoint writes, a
//! node whose status is Bad, and publishes of thousands of changes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nexus::plugin_files;
use opcua::server::address_space::AccessLevel;
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use opcua::server::{ServerBuilder, ServerHandle};
use opcua::types::{
    AttributeId, DataEncoding, DataValue, DateTime, NodeId, NumericRange, StatusCode, TimestampsToReturn, Variant,
};
use reqwest::{Method, StatusCode as Http};
use serde_json::{Value, json};

use crate::Harness;
use crate::modbus::{eventually, history, status};

const NAMESPACE: &str = "urn:nexus-e2e";

/// A running test server: its handle, its node manager and its task.
struct Plc {
    handle: ServerHandle,
    nodes: Arc<SimpleNodeManager>,
    task: tokio::task::JoinHandle<()>,
    ticker: tokio::task::JoinHandle<()>,
    pki: std::path::PathBuf,
}

impl Plc {
    /// Starts a server on `port` (127.0.0.1) with wells `W1..=Wn`: per well
    /// `Frequency` (Double, a new value every 100 ms), `MotorTemp` (Double,
    /// 112.5), `Broken` (Bad: BadSensorFailure) and `Setpoint` (UInt16,
    /// writable).
    async fn start(port: u16, wells: usize) -> Plc {
        let listener = bind(port).await;
        let url = format!("opc.tcp://127.0.0.1:{port}/");
        let pki = std::env::temp_dir().join(format!("nexus-e2e-opcua-{port}-{}", std::process::id()));
        let (server, handle) = ServerBuilder::new_anonymous("nexus-e2e-plc")
            .application_uri("urn:nexus-e2e-plc")
            .host("127.0.0.1")
            .port(port)
            .pki_dir(&pki)
            .create_sample_keypair(true)
            .trust_client_certs(true)
            .discovery_urls(vec![url])
            .with_node_manager(simple_node_manager(
                NamespaceMetadata { namespace_uri: NAMESPACE.into(), ..Default::default() },
                "plc",
            ))
            .build()
            .expect("server");
        let nodes = handle.node_managers().get_of_type::<SimpleNodeManager>().expect("node manager");
        let ns = handle.get_namespace_index(NAMESPACE).expect("namespace");
        assert_eq!(ns, 2);
        {
            let mut space = nodes.address_space().write();
            for well in 1..=wells {
                let folder = NodeId::new(ns, format!("Well.W{well}"));
                space.add_folder(&folder, format!("W{well}"), format!("W{well}"), &NodeId::objects_folder_id());
                let variable = |name: &str, value: Variant| {
                    let id = NodeId::new(ns, format!("Well.W{well}.{name}"));
                    let mut v = opcua::server::address_space::Variable::new(&id, name, name, value);
                    v.set_access_level(v.access_level() | AccessLevel::CURRENT_WRITE);
                    v.set_user_access_level(v.user_access_level() | AccessLevel::CURRENT_WRITE);
                    v
                };
                space.add_variables(
                    vec![
                        variable("Frequency", Variant::Double(50.0)),
                        variable("MotorTemp", Variant::Double(112.5)),
                        variable("Broken", Variant::Double(0.0)),
                        variable("Setpoint", Variant::UInt16(0)),
                    ],
                    &folder,
                );
            }
        }
        let task = tokio::spawn(async move {
            let _ = server.run_with(listener).await;
        });
        let ticker = tokio::spawn(tick(handle.clone(), nodes.clone(), ns, wells));
        Plc { handle, nodes, task, ticker, pki }
    }

    /// Stops the server and waits until it has let its port go.
    async fn stop(self) {
        self.ticker.abort();
        self.handle.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
        let _ = std::fs::remove_dir_all(&self.pki);
    }

    /// A node's current value, read in the server's address space.
    fn value(&self, path: &str) -> Option<Variant> {
        let id = NodeId::new(2, path.to_string());
        let space = self.nodes.address_space().read();
        let node = space.find(&id)?;
        let value = node.as_node().get_attribute(
            TimestampsToReturn::Neither,
            AttributeId::Value,
            &NumericRange::None,
            &DataEncoding::Binary,
        )?;
        value.value
    }
}

/// Binds 127.0.0.1:`port` (0: any), retrying while a stopped server's
/// socket still holds it.
async fn bind(port: u16) -> tokio::net::TcpListener {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(error) => assert!(Instant::now() < deadline, "bind {port}: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A free loopback port.
async fn free_port() -> u16 {
    bind(0).await.local_addr().expect("address").port()
}

/// Every 100 ms: each well's frequency takes a new value; `Broken` is Bad.
async fn tick(handle: ServerHandle, nodes: Arc<SimpleNodeManager>, ns: u16, wells: usize) {
    let mut step = 0u64;
    loop {
        step += 1;
        let now = DateTime::now();
        let values: Vec<(NodeId, DataValue)> = (1..=wells)
            .flat_map(|well| {
                let frequency = 50.0 + (step % 1000) as f64 / 100.0 + well as f64;
                [
                    (NodeId::new(ns, format!("Well.W{well}.Frequency")), DataValue::new_at(frequency, now)),
                    (
                        NodeId::new(ns, format!("Well.W{well}.Broken")),
                        DataValue::new_at_status(step as f64, now, StatusCode::BadSensorFailure),
                    ),
                ]
            })
            .collect();
        let _ = nodes.set_values(handle.subscriptions(), values.iter().map(|(id, value)| (id, None, value.clone())));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Uploads a first-party plugin to acme; returns its id.
async fn upload(h: &Harness, kind: &str, name: &str) -> String {
    let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built plugin");
    let (status, body, _) = h.upload(kind, name, bytes).await;
    assert_eq!(status, Http::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

/// A device per well, the OPC UA decoder bound to them (frequency, motor
/// temperature and the broken node mapped) and a motor temperature alarm.
async fn wells(h: &Harness, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for well in 1..=n {
        let device = h.post("/api/devices", json!({"name": format!("W{well}")})).await;
        ids.push(device["id"].as_str().expect("id").to_string());
    }
    let decoder = upload(h, "decoder", "decoder-opcua-nodes").await;
    for (i, device) in ids.iter().enumerate() {
        let well = i + 1;
        let map = json!({"nodes": [
            {"node": format!("ns=2;s=Well.W{well}.Frequency"), "key": "frequency_hz"},
            {"node": format!("ns=2;s=Well.W{well}.MotorTemp"), "key": "motor_temp_c"},
            {"node": format!("ns=2;s=Well.W{well}.Broken"), "key": "broken"},
        ]});
        h.post("/api/bindings", json!({"plugin_id": decoder, "device_ids": [device], "config": map})).await;
    }
    let rule = upload(h, "alarm-rule", "alarm-rule-threshold").await;
    h.post(
        "/api/bindings",
        json!({"plugin_id": rule, "device_ids": ids,
               "config": {"key": "motor_temp_c", "high": 100.0, "deadband": 5.0, "severity": "major",
                          "alarm_type": "HighMotorTemperature"}}),
    )
    .await;
    ids
}

/// The connector's settings for `devices` (well i+1 each) on `port`.
fn settings(port: u16, devices: &[String], mode: &str) -> Value {
    let devices: Vec<Value> = devices
        .iter()
        .enumerate()
        .map(|(i, device)| {
            let well = i + 1;
            let node = |name: &str| format!("ns=2;s=Well.W{well}.{name}");
            json!({"device_id": device, "nodes": [node("Frequency"), node("MotorTemp"), node("Broken")],
                   "setpoints": [{"parameter": "speed_rpm", "node": node("Setpoint")}]})
        })
        .collect();
    json!({"kind": "opcua", "url": format!("opc.tcp://127.0.0.1:{port}"), "mode": mode,
           "sampling_interval_ms": 100, "publishing_interval_ms": 200, "poll_ms": 200, "timeout_ms": 2000,
           "devices": devices})
}

async fn create_connector(h: &Harness, settings: Value) -> String {
    let (status, body, _) = h
        .send(
            h.admin(Method::POST, "/api/connectors", "acme").await.json(&json!({"name": "plc", "settings": settings})),
        )
        .await;
    assert_eq!(status, Http::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribed_values_are_decoded_stored_and_raise_an_alarm_and_bad_status_is_reported() {
    let h = Harness::start().await;
    let port = free_port().await;
    let plc = Plc::start(port, 2).await;
    let ids = wells(&h, 2).await;
    let connector = create_connector(&h, settings(port, &ids, "subscribe")).await;

    for device in &ids {
        eventually(Duration::from_secs(20), "an alarm from the motor temperature", || async {
            !h.alarms(device).await.is_empty()
        })
        .await;
        let alarms = h.alarms(device).await;
        assert_eq!(alarms[0]["alarm_type"], "HighMotorTemperature", "{alarms:?}");
        assert_eq!(alarms[0]["details"]["value"], 112.5, "{alarms:?}");
    }
    eventually(Duration::from_secs(20), "several frequency changes of each well", || async {
        let mut all = true;
        for device in &ids {
            all &= history(&h, device, "frequency_hz").await.len() >= 5;
        }
        all
    })
    .await;
    // Source timestamps are kept: distinct, rising.
    let readings = history(&h, &ids[1], "frequency_hz").await;
    assert!(readings.windows(2).all(|w| w[0].0 < w[1].0), "{readings:?}");
    assert!(readings.iter().all(|(_, v)| (52.0..=62.0).contains(v)), "well 2's values: {readings:?}");
    assert!(history(&h, &ids[0], "broken").await.is_empty(), "a Bad value is not stored");

    let status = status(&h, &connector).await;
    assert_eq!(status["state"], "running", "{status}");
    assert_eq!(status["restarts"], 0, "{status}");
    assert!(status["frames"].as_u64() >= Some(2) && status["readings"].as_u64() >= Some(10), "{status}");
    assert!(status["device_errors"][&ids[0]].as_u64() >= Some(1), "{status}");
    let problems = status["problems"].as_array().expect("problems");
    let bad = problems.iter().find(|p| p["code"] == "opcua-bad-status").expect("a bad-status problem");
    let reason = bad["reason"].as_str().expect("reason");
    assert!(reason.contains("Well.W") && reason.contains("Broken: BadSensorFailure (0x808C0000)"), "{reason}");
    plc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_subscribed_again_and_values_continue() {
    let h = Harness::start().await;
    let port = free_port().await;
    let plc = Plc::start(port, 1).await;
    let ids = wells(&h, 1).await;
    let connector = create_connector(&h, settings(port, &ids, "subscribe")).await;
    eventually(Duration::from_secs(20), "values before the restart", || async {
        history(&h, &ids[0], "frequency_hz").await.len() >= 3
    })
    .await;

    plc.stop().await;
    let stopped_at = nexus_model::Clock::system().now();
    eventually(Duration::from_secs(20), "the connector sees the server gone", || async {
        status(&h, &connector).await["restarts"].as_u64() >= Some(1)
    })
    .await;
    let plc = Plc::start(port, 1).await;
    eventually(Duration::from_secs(30), "values from the new server", || async {
        history(&h, &ids[0], "frequency_hz").await.iter().filter(|(ts, _)| *ts > stopped_at).count() >= 3
    })
    .await;
    let status = status(&h, &connector).await;
    assert_eq!(status["state"], "running", "{status}");
    let problems = status["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["code"] == "protocol-error" || p["code"] == "connect-failed"),
        "the fault is reported: {status}"
    );
    plc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_values_arrive_and_a_setpoint_write_reaches_the_servers_node() {
    let h = Harness::start().await;
    let port = free_port().await;
    let plc = Plc::start(port, 1).await;
    let ids = wells(&h, 1).await;
    let connector = create_connector(&h, settings(port, &ids, "poll")).await;
    eventually(Duration::from_secs(20), "polled values", || async {
        history(&h, &ids[0], "frequency_hz").await.len() >= 3
    })
    .await;

    let device = ids[0].clone();
    let write = |parameter: &'static str, value: f64| {
        let h = &h;
        let path = format!("/api/devices/{device}/setpoint-writes");
        async move {
            h.send(h.admin(Method::POST, &path, "acme").await.json(&json!({"parameter": parameter, "value": value})))
                .await
        }
    };
    let (status, outcome, _) = write("speed_rpm", 1450.0).await;
    assert_eq!(status, Http::OK, "{outcome}");
    assert_eq!(outcome["confirmed"], true, "{outcome}");
    assert_eq!(outcome["read_back"], 1450.0, "{outcome}");
    assert_eq!(plc.value("Well.W1.Setpoint"), Some(Variant::UInt16(1450)), "the server's node holds it");

    // A UInt16 node cannot hold 70000: refused before the wire.
    let (status, problem, _) = write("speed_rpm", 70_000.0).await;
    assert_eq!(status, Http::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "out-of-range");
    assert_eq!(plc.value("Well.W1.Setpoint"), Some(Variant::UInt16(1450)), "nothing written");
    let (status, problem, _) = write("choke_pct", 1.0).await;
    assert_eq!(status, Http::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "not-writable");

    let status = self::status(&h, &connector).await;
    assert_eq!(status["writes_ok"], 1, "{status}");
    assert_eq!(status["writes_failed"], 1, "{status}");
    assert_eq!(status["restarts"], 0, "{status}");
    plc.stop().await;
}

/// 200 wells, 600 monitored items, 400 of them changing every 100 ms and
/// published every 500 ms: a publish holds about 2 000 data changes. The
/// client decodes arrays of at most 1 000 elements, so unbounded, such a
/// publish never reached the connector (the subscription went silent,
/// keep-alives included); with at most 1 000 notifications per publish the
/// server splits it, and values keep coming.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_whose_publishes_hold_thousands_of_changes_keeps_delivering() {
    const WELLS: usize = 200;
    let h = Harness::start().await;
    let port = free_port().await;
    let plc = Plc::start(port, WELLS).await;
    let ids = wells(&h, WELLS).await;
    let mut settings = settings(port, &ids, "subscribe");
    settings["publishing_interval_ms"] = json!(500);
    let connector = create_connector(&h, settings).await;
    // About 4 000 frequencies a second (the Bad values are not readings):
    // 20 000 is five seconds' worth.
    eventually(Duration::from_secs(30), "20 000 readings from the subscription", || async {
        status(&h, &connector).await["readings"].as_u64().unwrap_or(0) >= 20_000
    })
    .await;
    let status = status(&h, &connector).await;
    assert_eq!(status["restarts"], 0, "{status}");
    assert_eq!(status["state"], "running", "{status}");
    for device in [&ids[0], &ids[WELLS - 1]] {
        assert!(history(&h, device, "frequency_hz").await.len() >= 10, "{device}");
    }
    plc.stop().await;
}
