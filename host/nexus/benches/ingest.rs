//! End-to-end ingest benchmark: a real `nexus serve` process (SQLite, the
//! ThingsBoard JSON decoder and one threshold rule bound to every device),
//! loaded over HTTP by closed-loop clients in this process. For each
//! (samples per request, connections) it reports accepted data points/s,
//! requests/s, latency percentiles and the server's CPU time per data point.
//!
//! ```sh
//! .ci/build-plugins && cargo bench -p nexus --bench ingest -- \
//!     --devices 100 --samples 1,100 --connections 1,32 --seconds 10
//! ```
//!
//! `--modbus N` instead measures the Modbus connector polling N slaves
//! (see `ingest/modbus.rs`); `--opcua N [--nodes K] [--opcua-mode poll]` the
//! OPC UA connector subscribed to (or polling) N devices of K nodes each
//! (see `ingest/opcua.rs`).
//!
//! `--backtest D` stores D days of one device's 1 Hz telemetry, then times
//! a backtest of a threshold-rule version over it (see `ingest/backtest.rs`):
//!
//! ```sh
//! cargo bench -p nexus --bench ingest -- --devices 1 --backtest 7
//! ```
//!
//! `--fairness S` then measures tenant B's throughput and p99 for S seconds
//! alone and S seconds beside a tenant A whose guests spin at full rate;
//! `--overload S` sheds load at twice the sustainable rate for S seconds.
//! `--half-load S` sends S seconds of open-loop load at half of it and
//! reports request → committed alarm percentiles (`ingest/latency.rs`;
//! `--half-load-rate R` sends R requests/s instead).
//!
//! `--mqtt M [--publishers P]` measures the MQTT connector instead: M
//! messages of one 10-reading sample each, published QoS 1 by P clients
//! through a local mosquitto of its own, until all are stored:
//!
//! ```sh
//! cargo bench -p nexus --bench ingest -- --devices 100 --mqtt 20000 --publishers 4
//! ```
//!
//! `--postgres SERVER` runs the server on PostgreSQL instead of SQLite: a
//! fresh database `nexus_bench_<pid>` on SERVER (e.g.
//! `postgres://postgres@127.0.0.1:5432`), made with `psql` and dropped at
//! the end.
//!
//! `--kafka M` measures the Kafka connector: M records of one 10-reading
//! sample each, keyed by device, produced (idempotent, `acks=all`) to a
//! local tansu broker of its own, until all are stored:
//!
//! ```sh
//! cargo bench -p nexus --bench ingest -- --devices 100 --kafka 20000
//! ```
//!
//! `--storage B` commits B batches straight into each backend's unit of
//! work, with no server (see `ingest/storage.rs`).
//!
//! `--publish R` times publish → live of a 1 MiB signed component R times,
//! then its cached reload after a restart (see `ingest/publish.rs`):
//!
//! ```sh
//! cargo bench -p nexus --bench ingest -- --publish 5
//! ```
//!
//! Every request is answered only after its readings and the rule's effects
//! are committed, so "accepted" means durable and evaluated. `NEXUS_BIN`
//! points the same load at another build of the server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use options::options;

#[path = "ingest/backtest.rs"]
mod backtest;
#[path = "ingest/fairness.rs"]
mod fairness;
#[path = "ingest/kafka.rs"]
mod kafka;
#[path = "ingest/latency.rs"]
mod latency;
#[path = "ingest/modbus.rs"]
mod modbus;
#[path = "ingest/mqtt.rs"]
mod mqtt;
#[path = "ingest/opcua.rs"]
mod opcua;
#[path = "ingest/options.rs"]
mod options;
#[path = "ingest/publish.rs"]
mod publish;
#[path = "ingest/storage.rs"]
mod storage;

const TOKEN: &str = "bench-admin-token-0123456789";
const KEYS: usize = 10;

/// The PostgreSQL server of `--postgres`, set once in `main`.
static POSTGRES: OnceLock<Option<String>> = OnceLock::new();

/// The storage backend the server runs on, for the reports.
fn backend() -> &'static str {
    if POSTGRES.get().is_some_and(Option::is_some) { "PostgreSQL" } else { "SQLite" }
}

/// Runs `sql` on `server`'s maintenance database with `psql`.
fn psql(server: &str, sql: &str) {
    let output = Command::new("psql")
        .args([&format!("{server}/postgres"), "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .expect("psql (installed with PostgreSQL)");
    assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
}

fn plugin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NEXUS_PLUGIN_DIR") {
        return dir.into();
    }
    let exe = std::env::current_exe().expect("exe");
    let target = exe.ancestors().find(|p| p.join("wasm32-wasip2").is_dir()).map(Path::to_path_buf);
    target.unwrap_or_else(|| PathBuf::from("target")).join("wasm32-wasip2/plugin")
}

/// The server's user + system CPU time so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based) of the whole line: 11 and 12 after the `)`.
    (ticks(11) + ticks(12)) / 100.0
}

struct Server {
    child: Child,
    /// How it was started, for [`Server::restart`].
    command: (String, Vec<String>),
    base: String,
    data_dir: PathBuf,
    /// (server, database) made for this run on PostgreSQL.
    database: Option<(String, String)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        if let Some((server, name)) = &self.database {
            psql(server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

async fn start_server() -> Server {
    let data_dir = std::env::temp_dir().join(format!("nexus-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    std::fs::create_dir_all(&data_dir).expect("data dir");
    let addr = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").to_string();
    // `NEXUS_BIN` measures another build (e.g. an earlier commit's) with the same load.
    let binary = std::env::var("NEXUS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nexus").to_string());
    let mut args =
        vec!["serve".to_string(), "--data-dir".into(), data_dir.display().to_string(), "--listen".into(), addr.clone()];
    let database = POSTGRES.get().cloned().flatten().map(|server| {
        let name = format!("nexus_bench_{}", std::process::id());
        psql(&server, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        psql(&server, &format!("CREATE DATABASE {name}"));
        args.extend(["--database".to_string(), format!("{server}/{name}")]);
        (server, name)
    });
    let command = (binary, args);
    let child = spawn(&command);
    let server = Server { child, command, base: format!("http://{addr}"), data_dir, database };
    server.ready().await;
    server
}

fn spawn((binary, args): &(String, Vec<String>)) -> Child {
    Command::new(binary)
        .args(args)
        .env("NEXUS_ADMIN_TOKEN", TOKEN)
        // The bench's broker and slaves are on loopback.
        .env("NEXUS_CONNECTOR_NETWORKS", "any")
        .env("RUST_LOG", std::env::var("NEXUS_BENCH_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nexus starts")
}

impl Server {
    /// Waits up to 60 s for `/healthz`.
    async fn ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while client.get(format!("{}/healthz", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "nexus did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the process (SIGKILL) and starts it again on the same data.
    async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.command);
        self.ready().await;
    }
}

async fn admin(client: &reqwest::Client, base: &str, path: &str, body: Value) -> Value {
    admin_of(client, base, "default", path, body).await
}

/// Creates a tenant as the system administrator (the bootstrap key) unless
/// it exists; the bench then acts inside it with `X-Nexus-Tenant`.
async fn ensure_tenant(client: &reqwest::Client, base: &str, tenant: &str) {
    let r = client
        .post(format!("{base}/api/tenants"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"id": tenant, "name": tenant}))
        .send()
        .await
        .expect("tenant");
    // An earlier build (NEXUS_BIN) may not have the endpoint: it made tenants on first use.
    assert!(matches!(r.status().as_u16(), 201 | 404 | 409), "creating tenant {tenant}: {}", r.status());
}

async fn admin_of(client: &reqwest::Client, base: &str, tenant: &str, path: &str, body: Value) -> Value {
    ensure_tenant(client, base, tenant).await;
    let r = client
        .post(format!("{base}{path}"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", tenant)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("json")
}

async fn upload(client: &reqwest::Client, base: &str, kind: &str, name: &str) -> String {
    upload_of(client, base, "default", kind, name).await
}

async fn upload_of(client: &reqwest::Client, base: &str, tenant: &str, kind: &str, name: &str) -> String {
    let bytes = std::fs::read(plugin_dir().join(format!("{}.wasm", name.replace('-', "_"))))
        .expect("built plugins (run .ci/build-plugins)");
    ensure_tenant(client, base, tenant).await;
    let r = client
        .post(format!("{base}/api/plugins?kind={kind}&name={name}&version=1.0.0"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", tenant)
        .body(bytes)
        .send()
        .await
        .expect("upload");
    assert!(r.status().is_success(), "upload {name}: {}", r.status());
    r.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string()
}

/// Creates the devices and binds the decoder and a threshold rule; returns the tokens.
async fn field(base: &str, devices: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let decoder = upload(&client, base, "decoder", "decoder-thingsboard-json").await;
    let rule = upload(&client, base, "alarm-rule", "alarm-rule-threshold").await;
    let mut ids = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..devices {
        let device = admin(&client, base, "/api/devices", json!({"name": format!("bench-{i}")})).await;
        ids.push(device["id"].clone());
        tokens.push(device["access_token"].as_str().expect("token").to_string());
    }
    admin(&client, base, "/api/bindings", json!({"plugin_id": decoder, "device_ids": ids})).await;
    let config = json!({"key": "k0", "high": 90.0, "deadband": 5.0, "alarm_type": "High"});
    admin(&client, base, "/api/bindings", json!({"plugin_id": rule, "device_ids": ids, "config": config})).await;
    tokens
}

fn body(samples: usize, ts: &AtomicI64) -> String {
    let start = ts.fetch_add(samples as i64, Ordering::Relaxed);
    let rows: Vec<Value> = (0..samples as i64)
        .map(|i| {
            let t = start + i;
            let values: serde_json::Map<String, Value> =
                (0..KEYS).map(|k| (format!("k{k}"), json!(((t * 7 + k as i64) % 100) as f64))).collect();
            json!({"ts": t, "values": values})
        })
        .collect();
    Value::Array(rows).to_string()
}

/// Counts a failed request; the first few say why.
async fn count_error(response: reqwest::Result<reqwest::Response>, errors: &AtomicU64) {
    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
        match response {
            Ok(r) => eprintln!("  error: {} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => eprintln!("  error: {e}"),
        }
    }
}

struct Run {
    requests: u64,
    points: u64,
    errors: u64,
    latencies_us: Vec<u64>,
    seconds: f64,
    cpu: f64,
}

/// The clock every phase's frames take their stamps from: one for the whole
/// run, starting 30 days back, so each phase goes on where the one before
/// ended, as devices do. (Phases that each started over re-delivered the
/// samples of the phases before them: a workload of its own.)
fn stamps() -> Arc<AtomicI64> {
    static STAMPS: std::sync::OnceLock<Arc<AtomicI64>> = std::sync::OnceLock::new();
    STAMPS.get_or_init(|| Arc::new(AtomicI64::new(nexus_model::Clock::system().now() - 30 * 86_400_000))).clone()
}

async fn run(server: &Server, tokens: &Arc<Vec<String>>, samples: usize, connections: usize, seconds: u64) -> Run {
    let ts = stamps();
    let points = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = cpu_seconds(server.child.id());
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let (tokens, ts, points, errors, base) =
                (tokens.clone(), ts.clone(), points.clone(), errors.clone(), server.base.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("client");
                let mut latencies = Vec::new();
                let mut i = c;
                while Instant::now() < deadline {
                    let token = &tokens[i % tokens.len()];
                    i += connections;
                    let payload = body(samples, &ts);
                    let sent = Instant::now();
                    let response = client
                        .post(format!("{base}/api/v1/{token}/telemetry"))
                        .header("content-type", "application/json")
                        .body(payload)
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().is_success() => {
                            let report: Value = r.json().await.unwrap_or(Value::Null);
                            points.fetch_add(report["accepted"].as_u64().unwrap_or(0), Ordering::Relaxed);
                            latencies.push(sent.elapsed().as_micros() as u64);
                        }
                        other => count_error(other, &errors).await,
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await.expect("client task"));
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Run {
        requests: latencies_us.len() as u64,
        points: points.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        latencies_us,
        seconds,
        cpu: cpu_seconds(server.child.id()) - cpu_before,
    }
}

/// The server's ingest counters (batches, frames, process s, commit s) from
/// `/metrics`, when it exports them (an earlier build may not).
async fn ingest_counters(base: &str) -> Option<[f64; 4]> {
    let client = reqwest::Client::new();
    // The host's own series: the system administrator's scrape without a tenant.
    let request = client.get(format!("{base}/metrics")).bearer_auth(TOKEN);
    let text = request.send().await.ok()?.text().await.ok()?;
    let value = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
            .and_then(|l| l[name.len()..].trim().parse::<f64>().ok())
    };
    Some([
        value("nexus_ingest_batches_total")?,
        value("nexus_ingest_batch_frames_total")?,
        value("nexus_ingest_process_seconds_total")?,
        value("nexus_ingest_commit_seconds_total")?,
    ])
}

/// Between two readings of [`ingest_counters`]: the group commits, and per
/// commit its frames and its processing and commit times, ms.
fn batch_means(before: Option<[f64; 4]>, after: Option<[f64; 4]>) -> Option<[f64; 4]> {
    let (a, b) = (before?, after?);
    let n = b[0] - a[0];
    if n > 0.0 { Some([n, (b[1] - a[1]) / n, (b[2] - a[2]) * 1e3 / n, (b[3] - a[3]) * 1e3 / n]) } else { None }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Writes back the page cache's dirty pages before anything is measured.
/// The kernel writes a file's pages back about 30 s after they were
/// written, a build's output half a gigabyte at once, and a database's
/// commit then waits behind that for its own flush: a stall of 50–100 ms
/// in a run started soon after a build (README, "Where the stalls come
/// from").
fn flush_dirty_pages() {
    match std::process::Command::new("sync").status() {
        Ok(status) if status.success() => {}
        other => eprintln!("`sync` before measuring did not run ({other:?}): figures may include write-back stalls"),
    }
}

#[tokio::main]
async fn main() {
    let o = options();
    flush_dirty_pages();
    POSTGRES.set(o.postgres.clone()).expect("set once");
    if o.modbus > 0 {
        return modbus::run(o.modbus, o.registers, o.poll_ms, o.seconds).await;
    }
    if o.opcua > 0 {
        return opcua::run(o.opcua, o.nodes, &o.opcua_mode, o.poll_ms, o.seconds).await;
    }
    if o.storage > 0 {
        let samples = o.samples.last().copied().unwrap_or(100).max(1);
        let shape = storage::Shape {
            batches: o.storage,
            frames: o.frames,
            samples,
            devices: o.devices.max(1),
            committers: o.committers,
            signals: o.signals,
        };
        return storage::run(shape, o.postgres.as_deref()).await;
    }
    let mut server = start_server().await;
    if o.publish > 0 {
        return publish::run(&mut server, o.publish).await;
    }
    let tokens = Arc::new(field(&server.base, o.devices).await);
    if o.backtest > 0 {
        backtest::run(&server, &tokens[0], o.backtest).await;
        return;
    }
    if o.mqtt > 0 {
        mqtt::run(&server, o.devices, o.mqtt, o.publishers).await;
        return;
    }
    if o.kafka > 0 {
        kafka::run(&server, o.devices, o.kafka).await;
        return;
    }
    println!(
        "end-to-end ingest: {} devices, decoder + threshold rule, {KEYS} keys per sample, {} s per row, {}",
        o.devices,
        o.seconds,
        backend()
    );
    println!(
        "{:>8} {:>6} {:>12} {:>10} {:>9} {:>9} {:>9} {:>11} {:>7} {:>13} {:>10} {:>10}",
        "samples",
        "conns",
        "points/s",
        "req/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "CPU µs/pt",
        "errors",
        "frames/batch",
        "process ms",
        "commit ms"
    );
    let mut sustainable = None;
    for &samples in &o.samples {
        for &connections in &o.connections {
            let before = ingest_counters(&server.base).await;
            let r = run(&server, &tokens, samples, connections, o.seconds).await;
            // Per group commit: frames, and the time processing and committing it.
            let batches = match batch_means(before, ingest_counters(&server.base).await) {
                Some([_, frames, process_ms, commit_ms]) => {
                    format!("{frames:>13.1} {process_ms:>10.2} {commit_ms:>10.2}")
                }
                None => format!("{:>13} {:>10} {:>10}", "-", "-", "-"),
            };
            let rate = r.requests as f64 / r.seconds;
            if sustainable.is_none_or(|(_, best): (usize, f64)| samples == o.samples[0] && rate > best) {
                sustainable = Some((samples, rate));
            }
            println!(
                "{:>8} {:>6} {:>12.0} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>11.2} {:>7} {batches}",
                samples,
                connections,
                r.points as f64 / r.seconds,
                r.requests as f64 / r.seconds,
                percentile(&r.latencies_us, 0.50),
                percentile(&r.latencies_us, 0.99),
                percentile(&r.latencies_us, 0.999),
                if r.points > 0 { r.cpu * 1e6 / r.points as f64 } else { f64::NAN },
                r.errors
            );
        }
    }
    if o.fairness > 0 {
        let connections = *o.connections.last().unwrap_or(&32);
        fairness::fairness(&server, &tokens, o.samples[0], connections, o.fairness, o.fairness_limit.as_deref()).await;
    }
    if let Some((samples, rate)) = sustainable.filter(|_| o.half_load > 0) {
        latency::half_load(&server, &tokens, samples, o.half_load_rate.unwrap_or(rate / 2.0), o.half_load).await;
    }
    if let Some((samples, rate)) = sustainable.filter(|_| o.overload > 0) {
        fairness::overload(&server, &tokens, samples, 2.0 * rate, o.overload).await;
        let after = run(&server, &tokens, samples, *o.connections.last().unwrap_or(&32), o.seconds).await;
        println!(
            "  recovery: {:.0} requests/s ({:.0} points/s), {} errors, in the {} s right after",
            after.requests as f64 / after.seconds,
            after.points as f64 / after.seconds,
            after.errors,
            o.seconds
        );
    }
}
