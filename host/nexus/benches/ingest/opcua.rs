//! The OPC UA mode of the ingest benchmark: `--opcua N` starts an
//! async-opcua server in this process with N devices of `--nodes K` Double
//! nodes each (default 10), every node taking a new value every
//! `--poll-ms P` ms (default 100), and has the server's OPC UA connector
//! subscribe to all of them (sampling and publishing every P ms) through
//! the tenant's `decoder-opcua-nodes` binding (a map of the device's K
//! nodes) — or, with `--opcua-mode poll`, reads them all every P ms. It
//! reports the readings and frames stored per second, as the connector's
//! status counts them, against the offered rate
//! N × K × 1000 / P, the errors, and the server's CPU time per reading.
//!
//! ```sh
//! .ci/build-plugins && cargo bench -p nexus --bench ingest -- --opcua 20 --nodes 50 --poll-ms 100 --seconds 10
//! ```

use std::time::Duration;

use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
use opcua::server::{ServerBuilder, ServerHandle};
use opcua::types::{DataValue, DateTime, NodeId, Variant};
use serde_json::{Value, json};

use super::{TOKEN, admin, cpu_seconds, start_server, upload};

/// The node of device `d`'s `k`th value.
fn node(d: usize, k: usize) -> NodeId {
    NodeId::new(2, format!("D{d}.V{k}"))
}

/// Starts the server on a loopback port; returns its URL and handle.
async fn plc(devices: usize, nodes: usize, period: Duration) -> (String, ServerHandle) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let url = format!("opc.tcp://127.0.0.1:{port}/");
    let pki = std::env::temp_dir().join(format!("nexus-bench-opcua-{}", std::process::id()));
    let (server, handle) = ServerBuilder::new_anonymous("nexus-bench-plc")
        .application_uri("urn:nexus-bench-plc")
        .host("127.0.0.1")
        .port(port)
        .pki_dir(pki)
        .create_sample_keypair(true)
        .discovery_urls(vec![url.clone()])
        .with_node_manager(simple_node_manager(
            NamespaceMetadata { namespace_uri: "urn:nexus-bench".into(), ..Default::default() },
            "bench",
        ))
        .build()
        .expect("server");
    let manager = handle.node_managers().get_of_type::<SimpleNodeManager>().expect("node manager");
    {
        let mut space = manager.address_space().write();
        for d in 0..devices {
            let folder = NodeId::new(2, format!("D{d}"));
            space.add_folder(&folder, format!("D{d}"), format!("D{d}"), &NodeId::objects_folder_id());
            let variables = (0..nodes)
                .map(|k| {
                    let name = format!("V{k}");
                    opcua::server::address_space::Variable::new(&node(d, k), name.as_str(), name.as_str(), 0.0)
                })
                .collect();
            space.add_variables(variables, &folder);
        }
    }
    tokio::spawn(async move {
        let _ = server.run_with(listener).await;
    });
    let ids: Vec<NodeId> = (0..devices).flat_map(|d| (0..nodes).map(move |k| node(d, k))).collect();
    let ticker = handle.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(period);
        let mut step = 0.0;
        loop {
            interval.tick().await;
            step += 1.0;
            let now = DateTime::now();
            let values = ids.iter().map(|id| (id, None, DataValue::new_at(Variant::Double(step), now)));
            let _ = manager.set_values(ticker.subscriptions(), values);
        }
    });
    (url, handle)
}

/// The connector's status.
async fn status(client: &reqwest::Client, base: &str, connector: &str) -> Value {
    let view: Value = client
        .get(format!("{base}/api/connectors/{connector}"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", "default")
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("json");
    view["status"].clone()
}

/// The connector's status counters (readings, frames, errors).
async fn counters(client: &reqwest::Client, base: &str, connector: &str) -> [u64; 3] {
    let status = status(client, base, connector).await;
    ["readings", "frames", "errors"].map(|k| status[k].as_u64().unwrap_or(0))
}

/// Runs the OPC UA mode.
pub(crate) async fn run(devices: usize, nodes: usize, mode: &str, period_ms: u32, seconds: u64) {
    let server = start_server().await;
    let (url, handle) = plc(devices, nodes, Duration::from_millis(period_ms.into())).await;
    let client = reqwest::Client::new();
    let base = server.base.as_str();
    let decoder = upload(&client, base, "decoder", "decoder-opcua-nodes").await;
    let mut settings = Vec::new();
    for d in 0..devices {
        let device = admin(&client, base, "/api/devices", json!({"name": format!("opcua-{d}")})).await;
        let id = device["id"].clone();
        let ids: Vec<String> = (0..nodes).map(|k| format!("ns=2;s=D{d}.V{k}")).collect();
        let map: Vec<Value> = ids.iter().enumerate().map(|(k, n)| json!({"node": n, "key": format!("v{k}")})).collect();
        admin(
            &client,
            base,
            "/api/bindings",
            json!({"plugin_id": decoder, "device_ids": [id], "config": {"nodes": map}}),
        )
        .await;
        settings.push(json!({"device_id": id, "nodes": ids}));
    }
    let connector = admin(
        &client,
        base,
        "/api/connectors",
        json!({"name": "bench", "settings": {"kind": "opcua", "url": url, "mode": mode, "sampling_interval_ms": period_ms,
               "publishing_interval_ms": period_ms, "poll_ms": period_ms, "devices": settings}}),
    )
    .await;
    let connector = connector["id"].as_str().expect("id").to_string();
    tokio::time::sleep(Duration::from_secs(3)).await;

    let before = counters(&client, base, &connector).await;
    let cpu_before = cpu_seconds(server.child.id());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let after = counters(&client, base, &connector).await;
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    let [readings, frames, errors] = [0, 1, 2].map(|i| after[i] - before[i]);
    let secs = seconds as f64;
    let offered = (devices * nodes) as f64 * 1000.0 / f64::from(period_ms);
    println!(
        "opcua {mode}: {devices} devices x {nodes} nodes changing every {period_ms} ms, decoder-opcua-nodes, SQLite, {seconds} s"
    );
    println!(
        "  {:.0} readings/s stored of {offered:.0} offered, {:.1} frames/s, {errors} errors, \
         server CPU {:.2} µs/reading ({:.0}% of a core)",
        readings as f64 / secs,
        frames as f64 / secs,
        if readings > 0 { cpu * 1e6 / readings as f64 } else { f64::NAN },
        cpu * 100.0 / secs
    );
    let status = status(&client, base, &connector).await;
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for problem in status["problems"].as_array().into_iter().flatten() {
        *codes.entry(problem["code"].as_str().unwrap_or("?").to_string()).or_default() += 1;
    }
    println!(
        "  state {}, restarts {}, codes of the last {} problems: {codes:?}",
        status["state"],
        status["restarts"],
        codes.values().sum::<usize>()
    );
    handle.cancel();
}
