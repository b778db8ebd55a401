//! Hostile neighbours, tried as an attacker would: a tenant raising its own
//! limits, a tenant saturating its share of the host, a device sending
//! input its decoder cannot take, and a quarantined binding run by hand.
//! Each case must stay contained to whoever caused it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use nexus::plugin_files;
use nexus_services::ServicesConfig;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, frame};

/// Uploads a built component for a tenant; returns its id.
async fn upload_for(h: &Harness, tenant: &str, kind: &str, name: &str) -> String {
    let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built");
    let path = format!("/api/plugins?kind={kind}&name={name}&version=0.1.0");
    let (status, body, _) = h.send(h.admin(Method::POST, &path, tenant).await.body(bytes)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_str().expect("id").to_string()
}

async fn post_for(h: &Harness, tenant: &str, path: &str, body: Value) -> Value {
    let (status, response, _) = h.send(h.admin(Method::POST, path, tenant).await.json(&body)).await;
    assert!(status.is_success(), "POST {path}: {status} {response}");
    response
}

async fn get_for(h: &Harness, tenant: &str, path: &str) -> Value {
    let (status, response, _) = h.send(h.admin(Method::GET, path, tenant).await).await;
    assert!(status.is_success(), "GET {path}: {status} {response}");
    response
}

/// A device of `tenant`; returns (id, token).
async fn device_for(h: &Harness, tenant: &str, name: &str) -> (String, String) {
    let device = post_for(h, tenant, "/api/devices", json!({"name": name})).await;
    (device["id"].as_str().expect("id").into(), device["access_token"].as_str().expect("token").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_binding_cannot_raise_its_limits_and_a_profile_stays_under_the_system_ceilings() {
    let h = Harness::start().await;
    let rule = upload_for(&h, "acme", "alarm-rule", "test-noop").await;
    let (device, _) = device_for(&h, "acme", "ESP-1").await;
    // No profile: the kind's defaults cap the binding. Each raised limit is
    // refused, naming it.
    for (limit, value) in [
        ("deadline_ms", json!(600_000)),
        ("memory_bytes", json!(268_435_456)),
        ("host_call_bytes", json!(4_294_967_295u64)),
        ("max_output", json!(1_000_000)),
        ("log_lines", json!(100_000)),
        ("fuel", Value::Null),
    ] {
        let request = json!({"plugin_id": rule, "device_ids": [device], "config": {}, "limits": {limit: value}});
        let (status, body, _) = h.send(h.admin(Method::POST, "/api/bindings", "acme").await.json(&request)).await;
        if limit == "fuel" {
            // Unmetered is the kind's default: not a raise.
            assert_eq!(status, StatusCode::CREATED, "{body}");
            continue;
        }
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
        assert_eq!(body["limit"], limit, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("the plugin kind's default")), "{body}");
    }
    // Lowering is allowed.
    let lowered = json!({"plugin_id": rule, "device_ids": [device], "config": {}, "limits": {"deadline_ms": 20}});
    let binding = post_for(&h, "acme", "/api/bindings", lowered).await;
    assert_eq!(binding["limits"]["deadline_ms"], 20);
    // A profile above the system ceilings is refused; under them it is taken,
    // and then caps bindings instead of the defaults.
    let too_big = json!({"limits": {"deadline_ms": 600_000}});
    let (status, body, _) =
        h.send(h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&too_big)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("system ceiling")), "{body}");
    let share = json!({"max_concurrent_calls": 100_000});
    let (status, body, _) =
        h.send(h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&share)).await;
    assert_eq!((status, body["limit"].as_str()), (StatusCode::BAD_REQUEST, Some("max_concurrent_calls")), "{body}");
    let profile = json!({"limits": {"deadline_ms": 200}});
    let (status, body, _) =
        h.send(h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&profile)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let within = json!({"plugin_id": rule, "device_ids": [device], "config": {}, "limits": {"deadline_ms": 150}});
    assert_eq!(post_for(&h, "acme", "/api/bindings", within).await["limits"]["deadline_ms"], 150);
    let above = json!({"plugin_id": rule, "device_ids": [device], "config": {}, "limits": {"deadline_ms": 201}});
    let (status, body, _) = h.send(h.admin(Method::POST, "/api/bindings", "acme").await.json(&above)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("tenant profile")), "{body}");
}

/// A ThingsBoard JSON frame of `samples` timestamped samples of ten keys.
fn samples(samples: usize, base: i64) -> String {
    let values: serde_json::Map<String, Value> = (0..10).map(|k| (format!("k{k}"), json!(k))).collect();
    let rows: Vec<Value> = (0..samples).map(|i| json!({"ts": base + i as i64, "values": values})).collect();
    serde_json::to_string(&rows).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_devices_oversized_frames_quarantine_its_input_only() {
    let h = Harness::start().await;
    let decoder = upload_for(&h, "acme", "decoder", "decoder-thingsboard-json").await;
    let (one, one_token) = device_for(&h, "acme", "ESP-1").await;
    let (two, two_token) = device_for(&h, "acme", "ESP-2").await;
    // The binding caps a call's output at 200 readings (as the default
    // 10,000 caps a bigger frame; a smaller cap keeps the test quick).
    let request = json!({"plugin_id": decoder, "device_ids": [one, two], "limits": {"max_output": 200}});
    let binding = post_for(&h, "acme", "/api/bindings", request).await;
    let binding_id = binding["id"].as_str().expect("id");
    let now = chrono_now_ms();
    // Ten frames that decode to more readings than a call may return: the
    // sender's input, 422, counted by one device's breaker.
    for i in 0..10 {
        let (status, body, _) = h.telemetry(&one_token, samples(30, now - 60_000 + i * 100)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("input-rejected")),
            "{body}"
        );
        assert_eq!(body["decoder_code"], "plugin-output-too-large", "{body}");
        let (status, body, _) = h.telemetry(&two_token, frame(json!({"flow": i}))).await;
        assert_eq!(status, StatusCode::OK, "device 2 keeps flowing: {body}");
    }
    // Device 1's input is quarantined — even a good frame — and device 2's
    // frames keep getting 200: the binding they share stays up.
    let (status, body, _) = h.telemetry(&one_token, frame(json!({"flow": 1.0}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("device-quarantined")),
        "{body}"
    );
    for i in 0..5 {
        let (status, body, _) = h.telemetry(&two_token, frame(json!({"flow": 100 + i}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let shown = get_for(&h, "acme", &format!("/api/bindings/{binding_id}")).await;
    assert_eq!(shown["enabled"], true, "{shown}");
    assert_eq!(shown["quarantine_reason"], Value::Null, "{shown}");
    let reason = shown["quarantined_devices"][&one].as_str().expect("device 1 quarantined");
    assert!(reason.starts_with("10 rejected inputs in a row"), "{reason}");
    assert!(shown["quarantined_devices"].get(&two).is_none(), "{shown}");
    let metering = get_for(&h, "acme", "/api/metering").await;
    let meter = metering.as_array().expect("list").iter().find(|m| m["binding_id"] == binding_id).expect("metered");
    assert_eq!((meter["faults"].as_u64(), meter["rejections"].as_u64()), (Some(0), Some(10)), "{meter}");
    // An admin releases the device; its good frames flow again.
    post_for(&h, "acme", &format!("/api/bindings/{binding_id}/devices/{one}/release"), json!({})).await;
    let (status, body, _) = h.telemetry(&one_token, frame(json!({"flow": 2.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_saturating_its_share_leaves_the_others_flowing_and_their_breakers_closed() {
    let config =
        ServicesConfig { tenant_call_share: 1, capacity_wait: Duration::from_millis(200), ..ServicesConfig::default() };
    let h = Arc::new(Harness::start_with(config).await);
    // Tenant A: every frame runs a rule that spins to its deadline, on
    // eight devices posting at once, re-enabling the rule whenever its
    // breaker opens — all the load A can make.
    let a_decoder = upload_for(&h, "attacker", "decoder", "decoder-thingsboard-json").await;
    let spin = upload_for(&h, "attacker", "alarm-rule", "test-infinite-loop").await;
    let mut a_devices = Vec::new();
    for i in 0..8 {
        a_devices.push(device_for(&h, "attacker", &format!("A-{i}")).await);
    }
    let ids: Vec<&String> = a_devices.iter().map(|(id, _)| id).collect();
    post_for(&h, "attacker", "/api/bindings", json!({"plugin_id": a_decoder, "device_ids": ids})).await;
    let spinner = post_for(&h, "attacker", "/api/bindings", json!({"plugin_id": spin, "device_ids": ids})).await;
    let spinner_id = spinner["id"].as_str().expect("id").to_string();
    // Tenant B: the decoder and a threshold rule on one device.
    let b_decoder = upload_for(&h, "acme", "decoder", "decoder-thingsboard-json").await;
    let threshold = upload_for(&h, "acme", "alarm-rule", "alarm-rule-threshold").await;
    let (b_device, b_token) = device_for(&h, "acme", "B-1").await;
    post_for(&h, "acme", "/api/bindings", json!({"plugin_id": b_decoder, "device_ids": [b_device]})).await;
    let rule = json!({"plugin_id": threshold, "device_ids": [b_device],
                      "config": {"key": "flow", "high": 1e9, "severity": "major", "alarm_type": "High"}});
    post_for(&h, "acme", "/api/bindings", rule).await;

    let stop = Arc::new(AtomicBool::new(false));
    let a_frames = Arc::new(AtomicUsize::new(0));
    let mut attackers = Vec::new();
    for (_, token) in a_devices.clone() {
        let (h, stop, a_frames) = (h.clone(), stop.clone(), a_frames.clone());
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = h.telemetry(&token, frame(json!({"flow": 1.0}))).await;
                a_frames.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (h, stop, spinner_id) = (h.clone(), stop.clone(), spinner_id.clone());
        attackers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let binding = get_for(&h, "attacker", &format!("/api/bindings/{spinner_id}")).await;
                if binding["enabled"] == false {
                    // Refused while the breaker backs off; A keeps trying.
                    let path = format!("/api/bindings/{spinner_id}/enable");
                    let _ = h.send(h.admin(Method::POST, &path, "attacker").await.json(&json!({}))).await;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B's frames all succeed while A saturates its share (for at least
    // two seconds: forty of A's 50 ms spins, over ten breaker trips).
    let started = std::time::Instant::now();
    let mut i = 0u32;
    while i < 60 || started.elapsed() < Duration::from_secs(2) {
        let (status, body, _) = h.telemetry(&b_token, frame(json!({"flow": f64::from(i)}))).await;
        assert_eq!(status, StatusCode::OK, "B's frame {i} while A spins: {body}");
        i += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for task in attackers {
        task.await.expect("attacker");
    }
    // A's guests really spun: its faults are A's.
    let a_meters = get_for(&h, "attacker", "/api/metering").await;
    let a_faults: u64 = a_meters.as_array().expect("list").iter().filter_map(|m| m["faults"].as_u64()).sum();
    assert!(a_faults >= 10, "A's rule faulted while B ran: {a_meters}");
    assert!(a_frames.load(Ordering::Relaxed) >= 10);
    // B's breakers stayed closed: no fault, no quarantine, no refusal.
    let b_meters = get_for(&h, "acme", "/api/metering").await;
    for meter in b_meters.as_array().expect("list") {
        assert_eq!((meter["faults"].as_u64(), meter["consecutive_faults"].as_u64()), (Some(0), Some(0)), "{meter}");
        assert_eq!(meter["host_refusals"].as_u64(), Some(0), "{meter}");
    }
    for binding in get_for(&h, "acme", "/api/bindings").await.as_array().expect("list") {
        assert_eq!((binding["enabled"].as_bool(), &binding["quarantine_reason"]), (Some(true), &Value::Null));
    }
    let b_letters = get_for(&h, "acme", "/api/dead-letters").await;
    assert_eq!(b_letters, json!([]), "nothing of B's was refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_a_quarantined_binding_by_hand_is_a_conflict() {
    let h = Harness::start().await;
    let optimizer = upload_for(&h, "acme", "optimizer", "optimizer-esp-frequency").await;
    let well = post_for(&h, "acme", "/api/wells", json!({"name": "W-1", "static_data": crate::esp_well()})).await;
    let device = post_for(&h, "acme", "/api/devices", json!({"name": "ESP-1", "well_id": well["id"]})).await;
    // One unit of fuel: every run runs out of it at once (a fault).
    let binding = post_for(
        &h,
        "acme",
        "/api/bindings",
        json!({"plugin_id": optimizer, "device_ids": [device["id"]], "schedule_ms": 3_600_000, "config": {},
               "limits": {"fuel": 1}}),
    )
    .await;
    let id = binding["id"].as_str().expect("id");
    // Run by hand (the schedule may run it too) until the breaker opens.
    for _ in 0..10 {
        let (status, body, _) = h.send(h.admin(Method::POST, &format!("/api/bindings/{id}/run"), "acme").await).await;
        if status == StatusCode::CONFLICT {
            break;
        }
        assert!(status.is_success(), "{body}");
    }
    let shown = get_for(&h, "acme", &format!("/api/bindings/{id}")).await;
    assert!(shown["quarantine_reason"].as_str().is_some_and(|r| r.contains("fuel")), "{shown}");
    let (status, body, _) = h.send(h.admin(Method::POST, &format!("/api/bindings/{id}/run"), "acme").await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("quarantined")), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cannot_forge_log_lines() {
    // A real `nexus serve` whose log the test reads.
    let dir = std::env::temp_dir().join(format!("nexus-forge-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log_path = dir.join("server.log");
    let addr = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").to_string();
    let log_file = std::fs::File::create(&log_path).expect("log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["serve", "--data-dir", &dir.join("data").display().to_string(), "--listen", &addr])
        .env("NEXUS_ADMIN_TOKEN", crate::TOKEN)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .spawn()
        .expect("nexus starts");
    let mut server = Killed(child);
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(std::time::Instant::now() < deadline, "nexus did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = crate::login_as(&client, &base, "acme", "TENANT_ADMIN").await;
    let admin = |method: Method, path: &str| client.request(method, format!("{base}{path}")).bearer_auth(&token);
    let upload = |name: &'static str, kind: &'static str| {
        let bytes = plugin_files::read(&plugin_files::default_dir(), name).expect("built");
        admin(Method::POST, &format!("/api/plugins?kind={kind}&name={name}&version=0.1.0")).body(bytes).send()
    };
    let decoder: Value =
        upload("decoder-thingsboard-json", "decoder").await.expect("upload").json().await.expect("json");
    let guest: Value = upload("test-host-abuse", "alarm-rule").await.expect("upload").json().await.expect("json");
    let device: Value = admin(Method::POST, "/api/devices")
        .json(&json!({"name": "D-1"}))
        .send()
        .await
        .expect("device")
        .json()
        .await
        .expect("json");
    let forged = "ok\n2026-12-01T00:00:00.000000Z  INFO nexus_api: forged admin login\r\u{1b}[2K";
    for (plugin, config) in [(&decoder["id"], json!({})), (&guest["id"], json!({"log": forged}))] {
        let binding = json!({"plugin_id": plugin, "device_ids": [device["id"]], "config": config});
        let status = admin(Method::POST, "/api/bindings").json(&binding).send().await.expect("bind").status();
        assert_eq!(status, StatusCode::CREATED);
    }
    let token = device["access_token"].as_str().expect("token");
    let response = client.post(format!("{base}/api/v1/{token}/telemetry")).body(frame(json!({"x": 1.0}))).send().await;
    assert_eq!(response.expect("frame").status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.stop();
    let log = std::fs::read_to_string(&log_path).expect("log");
    let _ = std::fs::remove_dir_all(&dir);
    // One line holds the guest's text, escaped, attributed to the plugin;
    // no line starts with the forged timestamp, and no raw escape reached the log.
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("forged admin login")).collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines[0].contains("nexus::plugin") && lines[0].contains("test-host-abuse"), "{}", lines[0]);
    assert!(lines[0].contains("ok\\n2026-12-01") && lines[0].contains("\\r\\u{1b}[2K"), "{}", lines[0]);
    assert!(!log.lines().any(|l| l.starts_with("2026-12-01T00:00:00.000000Z")), "{log}");
    assert!(!log.contains('\u{1b}'), "no raw escape sequence in the log");
}

/// A child server killed when the test ends, whether it passes or panics.
struct Killed(std::process::Child);

impl Killed {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A binding stored under higher ceilings does not run above lowered ones:
/// at load it is clamped (to what caps it now: its profile, or the kind's
/// defaults when the profile itself is above the new ceilings), and the
/// fault it then makes names the clamped deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_binding_above_lowered_ceilings_is_clamped_at_load() {
    let h = Harness::start().await;
    let decoder = upload_for(&h, "acme", "decoder", "decoder-thingsboard-json").await;
    let profile = json!({"limits": {"deadline_ms": 400}});
    let (status, body, _) = h.send(h.system(Method::PUT, "/api/tenants/acme/profile").await.json(&profile)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let spin = upload_for(&h, "acme", "alarm-rule", "test-infinite-loop").await;
    let (device, token) = device_for(&h, "acme", "ESP-1").await;
    post_for(&h, "acme", "/api/bindings", json!({"plugin_id": decoder, "device_ids": [device]})).await;
    let binding = json!({"plugin_id": spin, "device_ids": [device], "config": {}, "limits": {"deadline_ms": 300}});
    let binding_id = post_for(&h, "acme", "/api/bindings", binding).await["id"].as_str().expect("id").to_string();
    let _ = h.telemetry(&token, frame(json!({"flow": 1.0}))).await;
    let before = last_fault(&h).await;
    assert!(before.contains("300 ms deadline"), "the stored limit applies first: {before}");

    // The operator lowers the system ceiling of deadlines to 60 ms and restarts.
    let lowered = ServicesConfig {
        limit_ceilings: nexus_model::Limits { deadline_ms: 60, ..nexus_model::Limits::system_ceilings() },
        ..ServicesConfig::default()
    };
    let h = h.restart_with(lowered).await;
    let stored = get_for(&h, "acme", &format!("/api/bindings/{binding_id}")).await;
    assert_eq!(stored["limits"]["deadline_ms"], 300, "the row is not rewritten: {stored}");
    let _ = h.telemetry(&token, frame(json!({"flow": 2.0}))).await;
    let after = last_fault(&h).await;
    // The profile (400 ms) is itself above the new ceiling, so the kind's
    // default (50 ms, under the ceiling) caps the binding.
    assert!(after.contains("50 ms deadline"), "clamped at load: {after}");
}

/// The newest failed call's error message of `acme`.
async fn last_fault(h: &Harness) -> String {
    let runs = get_for(h, "acme", "/api/plugin-runs").await;
    runs.as_array().and_then(|r| r.first()).and_then(|r| r["error"].as_str()).unwrap_or_default().to_string()
}
