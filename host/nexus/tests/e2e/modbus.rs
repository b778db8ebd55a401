//! The Modbus TCP connector through the real server: in-process
//! tokio-modbus slaves (and raw fake slaves that break the protocol) on
//! loopback ports, connectors configured with `POST /api/connectors`,
//! frames decoded by the tenant's `decoder-modbus-registers` binding.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nexus::plugin_files;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response};

use crate::Harness;

/// Registers a slave serves (holding and input, 1 000 each) and how many
/// reads it answered.
#[derive(Clone, Default)]
struct Bank {
    holding: Arc<Mutex<Vec<u16>>>,
    input: Arc<Mutex<Vec<u16>>>,
    reads: Arc<AtomicU64>,
}

impl Bank {
    fn new() -> Self {
        Self {
            holding: Arc::new(Mutex::new(vec![0; 1000])),
            input: Arc::new(Mutex::new(vec![0; 1000])),
            reads: Arc::default(),
        }
    }

    fn set(&self, address: usize, words: &[u16]) {
        self.holding.lock().expect("bank")[address..address + words.len()].copy_from_slice(words);
    }

    fn holding(&self, address: usize, count: usize) -> Vec<u16> {
        self.holding.lock().expect("bank")[address..address + count].to_vec()
    }
}

fn read(table: &Mutex<Vec<u16>>, start: u16, count: u16) -> Result<Vec<u16>, ExceptionCode> {
    let table = table.lock().expect("bank");
    table
        .get(usize::from(start)..usize::from(start) + usize::from(count))
        .map(<[u16]>::to_vec)
        .ok_or(ExceptionCode::IllegalDataAddress)
}

fn write(table: &Mutex<Vec<u16>>, start: u16, words: &[u16]) -> Result<(), ExceptionCode> {
    let mut table = table.lock().expect("bank");
    let slot =
        table.get_mut(usize::from(start)..usize::from(start) + words.len()).ok_or(ExceptionCode::IllegalDataAddress)?;
    slot.copy_from_slice(words);
    Ok(())
}

impl tokio_modbus::server::Service for Bank {
    type Request = Request<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = std::future::Ready<Result<Response, ExceptionCode>>;

    fn call(&self, request: Request<'static>) -> Self::Future {
        let response = match request {
            Request::ReadHoldingRegisters(start, count) => {
                self.reads.fetch_add(1, Relaxed);
                read(&self.holding, start, count).map(Response::ReadHoldingRegisters)
            }
            Request::ReadInputRegisters(start, count) => {
                self.reads.fetch_add(1, Relaxed);
                read(&self.input, start, count).map(Response::ReadInputRegisters)
            }
            Request::WriteSingleRegister(address, word) => {
                write(&self.holding, address, &[word]).map(|()| Response::WriteSingleRegister(address, word))
            }
            Request::WriteMultipleRegisters(address, words) => write(&self.holding, address, &words)
                .map(|()| Response::WriteMultipleRegisters(address, words.len() as u16)),
            _ => Err(ExceptionCode::IllegalFunction),
        };
        std::future::ready(response)
    }
}

/// Starts a tokio-modbus TCP server over `bank` on a loopback port; it
/// runs until the test's runtime ends.
async fn slave(bank: Bank) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let server = Server::new(listener);
        let service = Arc::new(bank);
        let new_service = |_| Ok(Some(Arc::clone(&service)));
        let on_connected = |stream, peer| async move { accept_tcp_connection(stream, peer, new_service) };
        let _ = server.serve(&on_connected, |_| {}).await;
    });
    address
}

/// How a fake slave answers an FC03/FC04 read.
#[derive(Clone, Copy)]
enum Fake {
    /// Accepts the connection and never answers.
    Silent,
    /// The byte count says `count` registers; one register fewer follows.
    Truncated,
    /// One register more than asked for, consistently framed.
    Oversized,
}

/// A raw TCP fake slave.
async fn fake_slave(fake: Fake) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 12];
                while stream.read_exact(&mut request).await.is_ok() {
                    let count = u16::from_be_bytes([request[10], request[11]]);
                    let (claimed, sent) = match fake {
                        Fake::Silent => continue,
                        Fake::Truncated => (count, count - 1),
                        Fake::Oversized => (count + 1, count + 1),
                    };
                    let pdu_len = 2 + 2 * sent;
                    let mut reply = Vec::new();
                    reply.extend_from_slice(&request[0..4]); // transaction, protocol
                    reply.extend_from_slice(&(pdu_len + 1).to_be_bytes());
                    reply.push(request[6]); // unit
                    reply.push(request[7]); // function
                    reply.push((2 * claimed) as u8);
                    for i in 0..sent {
                        reply.extend_from_slice(&i.to_be_bytes());
                    }
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// A loopback port nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("address")
}

/// Uploads a first-party plugin to acme; returns its id.
async fn upload(h: &Harness, kind: &str, name: &str) -> String {
    let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built plugin");
    let (status, body, _) = h.upload(kind, name, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

/// Creates `n` devices named `{prefix}-{i}`; returns their ids.
async fn devices(h: &Harness, prefix: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let device = h.post("/api/devices", json!({"name": format!("{prefix}-{i}")})).await;
        ids.push(device["id"].as_str().expect("id").to_string());
    }
    ids
}

/// Binds the register decoder, with `registers` as its map, to `devices`.
async fn bind_decoder(h: &Harness, devices: &[String], registers: Value) {
    let decoder = upload(h, "decoder", "decoder-modbus-registers").await;
    h.post("/api/bindings", json!({"plugin_id": decoder, "device_ids": devices, "config": {"registers": registers}}))
        .await;
}

fn slave_settings(device: &str, address: SocketAddr, poll_ms: u32, count: u16) -> Value {
    json!({"device_id": device, "address": address.to_string(), "unit": 1, "poll_ms": poll_ms, "timeout_ms": 500,
           "blocks": [{"table": "holding", "start": 0, "count": count}]})
}

async fn create_connector(h: &Harness, name: &str, slaves: Vec<Value>) -> String {
    let (status, body, _) = h
        .send(
            h.admin(Method::POST, "/api/connectors", "acme")
                .await
                .json(&json!({"name": name, "settings": {"kind": "modbus", "devices": slaves}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

pub(crate) async fn status(h: &Harness, connector: &str) -> Value {
    h.get(&format!("/api/connectors/{connector}")).await["status"].clone()
}

/// The stored readings of `key` of a device: (ts, value), oldest first.
pub(crate) async fn history(h: &Harness, device: &str, key: &str) -> Vec<(i64, f64)> {
    let path = format!("/api/devices/{device}/telemetry?key={key}&start_ts=0&end_ts={}&limit=10000", i64::MAX);
    let body = h.get(&path).await;
    body.as_array()
        .expect("readings")
        .iter()
        .map(|r| (r["ts"].as_i64().expect("ts"), r["value"].as_f64().expect("value")))
        .collect()
}

/// Polls `check` every 100 ms until it holds or `within` has passed.
pub(crate) async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_registers_are_decoded_stored_and_raise_an_alarm() {
    let h = Harness::start().await;
    let bank = Bank::new();
    // motor_temperature 112.5 (×0.1), frequency 52.3 (×0.01).
    bank.set(0, &[1125, 5230]);
    let address = slave(bank.clone()).await;
    let device = devices(&h, "PLC", 1).await.remove(0);
    bind_decoder(
        &h,
        std::slice::from_ref(&device),
        json!([{"key": "motor_temperature", "address": 0, "type": "u16", "scale": 0.1},
               {"key": "frequency", "address": 1, "type": "u16", "scale": 0.01}]),
    )
    .await;
    let rule = upload(&h, "alarm-rule", "alarm-rule-threshold").await;
    h.post(
        "/api/bindings",
        json!({"plugin_id": rule, "device_ids": [device],
               "config": {"key": "motor_temperature", "high": 100.0, "deadband": 5.0, "severity": "major",
                          "alarm_type": "HighMotorTemperature"}}),
    )
    .await;

    let connector = create_connector(&h, "plc", vec![slave_settings(&device, address, 200, 4)]).await;
    eventually(Duration::from_secs(15), "an alarm from the register", || async { !h.alarms(&device).await.is_empty() })
        .await;
    let alarms = h.alarms(&device).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["alarm_type"], "HighMotorTemperature");
    assert_eq!(alarms[0]["details"]["value"], 112.5);
    let latest = h.get(&format!("/api/devices/{device}/telemetry/latest?keys=motor_temperature,frequency")).await;
    let values: Vec<f64> = latest.as_array().expect("latest").iter().filter_map(|r| r["value"].as_f64()).collect();
    assert!(values.contains(&112.5), "{latest}");
    assert!(values.iter().any(|v| (v - 52.3).abs() < 1e-9), "{latest}");
    let status = status(&h, &connector).await;
    assert_eq!(status["state"], "running", "{status}");
    assert!(status["frames"].as_u64() >= Some(1), "{status}");
    assert_eq!(status["errors"], 0, "{status}");
}

/// Percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_slaves_at_one_hertz_and_a_dead_one_delays_no_other() {
    let h = Harness::start().await;
    // 99 answering slaves, one that never answers (the case) and,
    // beyond it, one whose port is closed.
    let ids = devices(&h, "RTU", 101).await;
    bind_decoder(&h, &ids, json!([{"key": "level", "address": 0, "type": "u16"}])).await;
    let (good, dead) = ids.split_at(99);
    let mut slaves = Vec::new();
    for (i, device) in good.iter().enumerate() {
        let bank = Bank::new();
        bank.set(0, &[i as u16]);
        slaves.push(slave_settings(device, slave(bank).await, 1000, 1));
    }
    slaves.push(slave_settings(&dead[0], fake_slave(Fake::Silent).await, 1000, 1));
    slaves.push(slave_settings(&dead[1], closed_port().await, 1000, 1));
    let connector = create_connector(&h, "rtus", slaves).await;

    let started = nexus_model::Clock::system().now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    // The window: 2 s to 14 s after the start (12 cycles).
    let (from, to) = (started + 2_000, started + 14_000);
    let window_cycles = (to - from) / 1_000;
    let mut deviations = Vec::new();
    let (mut fewest, mut most, mut gaps) = (i64::MAX, 0, 0);
    for device in good {
        let readings = history(&h, device, "level").await;
        let in_window = readings.iter().filter(|(ts, _)| (from..to).contains(ts)).count() as i64;
        fewest = fewest.min(in_window);
        most = most.max(in_window);
        // A missed cycle shows as two readings 2 s apart (the poll timer
        // skips a missed tick); jitter cannot move a reading 500 ms.
        let missed = readings.windows(2).filter(|w| w[1].0 - w[0].0 > 1_500 && (from..to).contains(&w[1].0)).count();
        gaps += missed;
        assert_eq!(missed, 0, "{device} missed a cycle in the window: {readings:?}");
        assert!(in_window >= window_cycles - 1, "{device}: {in_window} cycles in {window_cycles} s: {readings:?}");
        deviations.extend(readings.windows(2).map(|w| ((w[1].0 - w[0].0) - 1_000).abs() as f64));
    }
    deviations.sort_by(f64::total_cmp);
    println!(
        "modbus 99 slaves at 1 Hz (+1 silent, +1 closed port): cycles per slave in {window_cycles} s = {fewest}..={most}; \
         gaps over 1.5 s = {gaps}; jitter |Δts − 1000 ms| over {} intervals: p50 {} ms, p99 {} ms, max {} ms",
        deviations.len(),
        percentile(&deviations, 0.5),
        percentile(&deviations, 0.99),
        deviations.last().copied().unwrap_or_default()
    );

    let status = status(&h, &connector).await;
    let errors = &status["device_errors"];
    assert!(errors[&dead[0]].as_u64() >= Some(1), "{status}");
    assert!(errors[&dead[1]].as_u64() >= Some(1), "{status}");
    assert!(good.iter().all(|d| errors[d].is_null()), "{status}");
    let problems = status["problems"].as_array().expect("problems");
    let reason = |device: &str, code: &str| {
        problems.iter().any(|p| p["device"] == device && p["code"] == code && p["reason"].as_str().is_some())
    };
    assert!(reason(&dead[0], "modbus-timeout"), "{status}");
    assert!(reason(&dead[1], "modbus-connect"), "{status}");
    assert_eq!(status["restarts"], 0, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setpoints_are_written_with_fc06_and_fc16_and_read_back() {
    let h = Harness::start().await;
    let bank = Bank::new();
    let address = slave(bank.clone()).await;
    let device = devices(&h, "VFD", 1).await.remove(0);
    bind_decoder(&h, std::slice::from_ref(&device), json!([{"key": "frequency_hz", "address": 10, "type": "u16"}]))
        .await;
    let mut settings = slave_settings(&device, address, 500, 4);
    settings["setpoints"] = json!([
        {"parameter": "frequency_hz", "address": 10, "type": "u16", "scale": 0.01},
        {"parameter": "choke_pct", "address": 20, "type": "f32", "word_order": "little"},
        {"parameter": "beyond_the_map", "address": 5000, "type": "u16"}
    ]);
    create_connector(&h, "vfd", vec![settings]).await;
    let write = |parameter: &'static str, value: f64| {
        let h = &h;
        let device = device.clone();
        async move {
            let path = format!("/api/devices/{device}/setpoint-writes");
            h.send(h.admin(Method::POST, &path, "acme").await.json(&json!({"parameter": parameter, "value": value})))
                .await
        }
    };
    // The connector may still be connecting: a first write can find it
    // unreachable.
    let deadline = Instant::now() + Duration::from_secs(10);
    let outcome = loop {
        let (status, body, _) = write("frequency_hz", 52.5).await;
        if status == StatusCode::OK {
            break body;
        }
        assert!(Instant::now() < deadline, "an FC06 write: {status} {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(outcome["confirmed"], true, "{outcome}");
    assert!((outcome["read_back"].as_f64().expect("read back") - 52.5).abs() < 1e-9, "{outcome}");
    assert_eq!(bank.holding(10, 1), [5250]);

    let (status, outcome, _) = write("choke_pct", 123.456).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["confirmed"], true, "{outcome}");
    assert_eq!(outcome["read_back"], 123.456, "{outcome}");
    assert_eq!(bank.holding(20, 2), [0xE979, 0x42F6], "f32 in little word order");

    let (status, problem, _) = write("frequency_hz", 700.0).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], "out-of-range");
    assert_eq!(bank.holding(10, 1), [5250], "nothing written");
    // The slave answers IllegalDataAddress: refused, with the exception.
    let (status, problem, _) = write("beyond_the_map", 1.0).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert_eq!(problem["code"], "write-refused");
    assert!(problem.to_string().contains("IllegalDataAddress"), "{problem}");
    let (status, problem, _) = write("speed_rpm", 1.0).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "not-writable");

    // Setpoints are data: each confirmed write set its value (the read-back).
    let setpoints = h.get(&format!("/api/devices/{device}/setpoints")).await;
    let current = |all: &Value, parameter: &str| {
        all.as_array().expect("setpoints").iter().find(|s| s["parameter"] == parameter).cloned().expect(parameter)
    };
    assert_eq!(
        (current(&setpoints, "frequency_hz")["value"].as_f64(), current(&setpoints, "frequency_hz")["source"].as_str()),
        (Some(52.5), Some("written"))
    );
    assert_eq!(current(&setpoints, "choke_pct")["value"], 123.456);
    // With limits (the interlocks), a change that breaks one is refused
    // and nothing reaches the slave; one inside them is written.
    let limits = json!({"value": 52.5, "unit": "Hz", "min": 35, "max": 60, "max_step": 1, "min_interval_ms": 0});
    let put = format!("/api/devices/{device}/setpoints/frequency_hz");
    let (status, body, _) = h.send(h.admin(Method::PUT, &put, "acme").await.json(&limits)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["source"], "manual");
    for (value, limit) in [(54.0, "largest step"), (34.0, "below the minimum")] {
        let (status, problem, _) = write("frequency_hz", value).await;
        assert_eq!(status, StatusCode::CONFLICT, "{value}: {problem}");
        assert_eq!(problem["code"], "setpoint-interlock", "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(limit)), "{problem}");
        assert_eq!(bank.holding(10, 1), [5250], "nothing written");
    }
    let (status, outcome, _) = write("frequency_hz", 53.5).await;
    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(bank.holding(10, 1), [5350]);
    let moved = current(&h.get(&format!("/api/devices/{device}/setpoints")).await, "frequency_hz");
    assert_eq!((moved["value"].as_f64(), moved["source"].as_str()), (Some(53.5), Some("written")), "{moved}");
    assert_eq!((moved["max_step"].as_f64(), moved["unit"].as_str()), (Some(1.0), Some("Hz")), "limits kept: {moved}");
    let spaced = json!({"value": 53.5, "unit": "Hz", "max_step": 1, "min_interval_ms": 3_600_000});
    let (status, body, _) = h.send(h.admin(Method::PUT, &put, "acme").await.json(&spaced)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, problem, _) = write("frequency_hz", 54.0).await;
    assert_eq!((status, problem["code"].as_str()), (StatusCode::CONFLICT, Some("setpoint-interlock")), "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("3600 s apart")), "{problem}");
    assert_eq!(bank.holding(10, 1), [5350], "nothing written");
    // Bad limits are refused, naming the field.
    let (status, problem, _) =
        h.send(h.admin(Method::PUT, &put, "acme").await.json(&json!({"value": 70, "max": 60}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("above the maximum")), "{problem}");

    // A slave that takes the connection and never answers: the write ends
    // after the slave's timeout (500 ms) as 504 write-timeout.
    let mute = devices(&h, "MUTE", 1).await.remove(0);
    let mut settings = slave_settings(&mute, fake_slave(Fake::Silent).await, 500, 4);
    settings["setpoints"] = json!([{"parameter": "frequency_hz", "address": 10, "type": "u16"}]);
    create_connector(&h, "mute", vec![settings]).await;
    let path = format!("/api/devices/{mute}/setpoint-writes");
    let deadline = Instant::now() + Duration::from_secs(10);
    let (status, problem) = loop {
        let started = Instant::now();
        let request =
            h.admin(Method::POST, &path, "acme").await.json(&json!({"parameter": "frequency_hz", "value": 50}));
        let (status, problem, _) = h.send(request).await;
        // Until the connector has connected the device is unreachable.
        if status != StatusCode::BAD_GATEWAY || Instant::now() > deadline {
            assert!(started.elapsed() >= Duration::from_millis(500), "it waited for the slave's timeout");
            break (status, problem);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{problem}");
    assert_eq!(problem["code"], "write-timeout", "{problem}");

    // Every write that reached a connector is recorded with its outcome:
    // an outbox event (`/api/events`, the live stream, Kafka).
    let events = h.get("/api/events?limit=1000").await;
    let writes: Vec<&Value> =
        events.as_array().expect("events").iter().filter(|e| e["type"] == "setpoint_write").collect();
    let confirmed = writes
        .iter()
        .find(|e| e["parameter"] == "choke_pct" && e["outcome"]["confirmed"] == true)
        .unwrap_or_else(|| panic!("the confirmed f32 write: {writes:?}"));
    assert_eq!(confirmed["device_id"], device.as_str(), "{confirmed}");
    assert_eq!(confirmed["key"], device.as_str(), "{confirmed}");
    assert!(writes.iter().any(|e| e["parameter"] == "beyond_the_map" && e["error_code"] == "write-refused"));
    assert!(writes.iter().any(|e| e["device_id"] == mute.as_str() && e["error_code"] == "write-timeout"));
    let refused = writes.iter().filter(|e| e["error_code"] == "setpoint-interlock").count();
    assert_eq!(refused, 3, "each interlock refusal is recorded: {writes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_replies_are_reported_and_good_slaves_keep_polling() {
    let h = Harness::start().await;
    let ids = devices(&h, "BAD", 3).await;
    bind_decoder(&h, &ids, json!([{"key": "level", "address": 0, "type": "u16"}])).await;
    let bank = Bank::new();
    bank.set(0, &[42]);
    let connector = create_connector(
        &h,
        "bad",
        vec![
            slave_settings(&ids[0], slave(bank).await, 200, 4),
            slave_settings(&ids[1], fake_slave(Fake::Truncated).await, 200, 4),
            slave_settings(&ids[2], fake_slave(Fake::Oversized).await, 200, 4),
        ],
    )
    .await;
    eventually(Duration::from_secs(15), "both bad replies reported", || async {
        let status = status(&h, &connector).await;
        let errors = &status["device_errors"];
        errors[&ids[1]].as_u64() >= Some(2) && errors[&ids[2]].as_u64() >= Some(2)
    })
    .await;
    let status = status(&h, &connector).await;
    let problems = status["problems"].as_array().expect("problems");
    let reason_of = |device: &str| {
        problems
            .iter()
            .find(|p| p["device"] == device && p["code"] == "modbus-bad-reply")
            .and_then(|p| p["reason"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(reason_of(&ids[1]).contains("truncated"), "{status}");
    assert!(reason_of(&ids[2]).contains("asked for 4 registers, the reply holds 5"), "{status}");
    assert!(status["device_errors"][&ids[0]].is_null(), "{status}");
    assert_eq!(status["restarts"], 0, "{status}");
    // The good slave kept going meanwhile, and still does.
    let before = history(&h, &ids[0], "level").await.len();
    assert!(before >= 2, "{before}");
    eventually(Duration::from_secs(10), "more readings of the good slave", || async {
        history(&h, &ids[0], "level").await.len() > before + 2
    })
    .await;
    assert!(history(&h, &ids[1], "level").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_poll_period_and_fewer_slaves_apply_without_a_restart() {
    let h = Harness::start().await;
    let ids = devices(&h, "RE", 2).await;
    bind_decoder(&h, &ids, json!([{"key": "level", "address": 0, "type": "u16"}])).await;
    let (kept, dropped) = (Bank::new(), Bank::new());
    let (kept_at, dropped_at) = (slave(kept.clone()).await, slave(dropped.clone()).await);
    let connector = create_connector(
        &h,
        "re",
        vec![slave_settings(&ids[0], kept_at, 1000, 1), slave_settings(&ids[1], dropped_at, 1000, 1)],
    )
    .await;
    eventually(Duration::from_secs(10), "both slaves polled", || async {
        kept.reads.load(Relaxed) >= 2 && dropped.reads.load(Relaxed) >= 2
    })
    .await;

    let body =
        json!({"name": "re", "settings": {"kind": "modbus", "devices": [slave_settings(&ids[0], kept_at, 100, 1)]}});
    let (status, view, _) =
        h.send(h.admin(Method::PUT, &format!("/api/connectors/{connector}"), "acme").await.json(&body)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["settings"]["devices"].as_array().map(Vec::len), Some(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (kept_before, dropped_before) = (kept.reads.load(Relaxed), dropped.reads.load(Relaxed));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let kept_reads = kept.reads.load(Relaxed) - kept_before;
    // 30 at 100 ms; at the old 1 s period it could be at most 4.
    assert!(kept_reads >= 10, "{kept_reads} reads in 3 s");
    assert_eq!(dropped.reads.load(Relaxed), dropped_before, "the removed slave is no longer polled");
    let status = self::status(&h, &connector).await;
    assert_eq!(status["state"], "running", "{status}");
}
