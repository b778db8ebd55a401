//! The Modbus mode of the ingest benchmark: `--modbus N` starts N
//! tokio-modbus slaves in this process, each serving `--registers R`
//! holding registers (default 125, one full FC03 read) whose values change
//! every read, and has the server's Modbus connector poll them every
//! `--poll-ms P` (default 100) through the tenant's
//! `decoder-modbus-registers` binding (a map of R `u16` keys). It reports
//! the readings and frames stored per second, as the connector's status
//! counts them, against the offered rate N × R × 1000 / P, the errors
//! (timeouts, missed cycles) and the server's CPU time per reading.
//!
//! ```sh
//! .ci/build-plugins && cargo bench -p nexus --bench ingest -- --modbus 20 --registers 125 --poll-ms 100 --seconds 10
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response};

use super::{TOKEN, admin, cpu_seconds, start_server, upload};

/// A slave whose registers hold a counter bumped on every read.
#[derive(Default)]
struct Counter(AtomicU16);

impl tokio_modbus::server::Service for Counter {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Request<'static>) -> Self::Future {
        std::future::ready(match request {
            Request::ReadHoldingRegisters(start, count) => {
                let base = self.0.fetch_add(1, Ordering::Relaxed);
                Ok(Response::ReadHoldingRegisters(
                    (0..count).map(|i| base.wrapping_add(start).wrapping_add(i) % 1000).collect(),
                ))
            }
            _ => Err(ExceptionCode::IllegalFunction),
        })
    }
}

async fn slave() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let server = Server::new(listener);
        let service = Arc::new(Counter::default());
        let new_service = |_| Ok(Some(Arc::clone(&service)));
        let on_connected = |stream, peer| async move { accept_tcp_connection(stream, peer, new_service) };
        let _ = server.serve(&on_connected, |_| {}).await;
    });
    address
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

/// Runs the Modbus mode.
pub(crate) async fn run(slaves: usize, registers: u16, poll_ms: u32, seconds: u64) {
    let server = start_server().await;
    let client = reqwest::Client::new();
    let base = server.base.as_str();
    let decoder = upload(&client, base, "decoder", "decoder-modbus-registers").await;
    let mut ids = Vec::new();
    let mut devices = Vec::new();
    for i in 0..slaves {
        let device = admin(&client, base, "/api/devices", json!({"name": format!("modbus-{i}")})).await;
        let id = device["id"].clone();
        devices.push(json!({"device_id": id, "address": slave().await.to_string(), "poll_ms": poll_ms,
                            "timeout_ms": 1000, "blocks": [{"start": 0, "count": registers}]}));
        ids.push(id);
    }
    let map: Vec<Value> =
        (0..registers).map(|a| json!({"key": format!("r{a}"), "address": a, "type": "u16"})).collect();
    admin(
        &client,
        base,
        "/api/bindings",
        json!({"plugin_id": decoder, "device_ids": ids, "config": {"registers": map}}),
    )
    .await;
    let connector = admin(
        &client,
        base,
        "/api/connectors",
        json!({"name": "bench", "settings": {"kind": "modbus", "devices": devices}}),
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
    let offered = slaves as f64 * f64::from(registers) * 1000.0 / f64::from(poll_ms);
    println!(
        "modbus polling: {slaves} slaves x {registers} registers every {poll_ms} ms, decoder-modbus-registers, {}, {seconds} s",
        super::backend()
    );
    println!(
        "  {:.0} readings/s stored of {offered:.0} offered, {:.1} frames/s, {errors} errors (timeouts, missed cycles), \
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
    println!("  codes of the last {} problems: {codes:?}", codes.values().sum::<usize>());
}
