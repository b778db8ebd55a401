//! Field optimization through the real server: a wellpad is a well group
//! with shared constraints (checked, tenant-scoped); a field-optimizer
//! binding runs `optimizer-gas-lift-allocation` once per wellpad of its
//! wells, which fits each well's gas-lift curve to its recorded well tests
//! and shares the wellpad's lift gas by equal marginal oil — reproducing
//! the published allocation of the 4-well worked example; a backtest of
//! the version replays it in virtual time and reproduces the live plan.

use nexus::plugin_files;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, login_as};

/// The worked example's wells: oil = a + b·g + c·g² (STB/d, g in Mscf/d).
const WELLS: [(f64, f64, f64); 4] =
    [(200.0, 0.40, -2.0e-4), (150.0, 0.55, -3.5e-4), (300.0, 0.30, -1.0e-4), (100.0, 0.70, -6.0e-4)];
const DAY: i64 = 86_400_000;
/// Its published optimum with 1000 Mscf/d of lift gas.
const AT_1000: [f64; 4] = [265.24, 365.85, 30.49, 338.41];

async fn put(h: &Harness, path: &str, body: Value) -> (StatusCode, Value) {
    let (status, body, _) = h.send(h.admin(Method::PUT, path, "acme").await.json(&body)).await;
    (status, body)
}

/// A well on `pad` with a device, six tests along its curve and a
/// `gas_injection_mscf_d` setpoint at 200; returns (well id, device id).
async fn gas_lift_well(h: &Harness, pad: &str, name: &str, (a, b, c): (f64, f64, f64)) -> (String, String) {
    let well = h.post("/api/wells", json!({"name": name, "wellpad_id": pad})).await;
    let well_id = well["id"].as_str().expect("id").to_string();
    let device = h.post("/api/devices", json!({"name": format!("{name}-GL"), "well_id": well_id})).await;
    let device_id = device["id"].as_str().expect("id").to_string();
    let now = nexus_model::Clock::system().now();
    for (i, g) in [0.0, 200.0, 400.0, 600.0, 900.0, 1200.0].into_iter().enumerate() {
        let oil = a + b * g + c * g * g;
        let ts = now - (i as i64 + 1) * 86_400_000;
        h.post(
            &format!("/api/wells/{well_id}/well-tests"),
            json!({"ts": ts, "duration_h": 12, "oil_bbl_d": oil, "water_bbl_d": 0.2 * oil,
                   "conditions": {"gas_injection_mscf_d": g}}),
        )
        .await;
    }
    let path = format!("/api/devices/{device_id}/setpoints/gas_injection_mscf_d");
    let (status, body) = put(h, &path, json!({"value": 200, "unit": "Mscf/d", "min": 0, "max": 2000})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (well_id, device_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_optimizer_shares_each_wellpads_lift_gas_by_equal_marginal_oil() {
    let h = Harness::start().await;
    let bytes = plugin_files::read(&plugin_files::default_dir(), "optimizer-gas-lift-allocation").expect("built");
    let (status, plugin, _) = h.upload("field-optimizer", "optimizer-gas-lift-allocation", bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    let pad = h.post("/api/wellpads", json!({"name": "GL pad"})).await;
    let pad_id = pad["id"].as_str().expect("id").to_string();
    assert_eq!(pad["constraints"]["injection_bounds"], json!([]), "a new wellpad shares nothing: {pad}");
    let mut wells = Vec::new();
    for (i, curve) in WELLS.into_iter().enumerate() {
        wells.push(gas_lift_well(&h, &pad_id, &format!("GL-{}", i + 1), curve).await);
    }
    // A second wellpad, one well (W3's curve), 500 Mscf/d: its own group.
    let other = h.post("/api/wellpads", json!({"name": "GL pad 2"})).await;
    let other_id = other["id"].as_str().expect("id").to_string();
    let (lone_well, lone_device) = gas_lift_well(&h, &other_id, "GL-5", WELLS[2]).await;

    // Constraints are checked: each wrong one is a 400 naming it, and a
    // viewer may not set them.
    let constraints = format!("/api/wellpads/{pad_id}/constraints");
    for (body, names) in [
        (json!({"lift_gas_available": -1}), "lift_gas_available"),
        (json!({"injection_bounds": [{"well_id": wells[0].0, "min": 10, "max": 5}]}), "injection_bounds[0]"),
        (json!({"injection_bounds": [{"well_id": lone_well, "min": 0, "max": 5}]}), "not a well of this wellpad"),
        (json!({"lift_gas": 1000}), "lift_gas"),
    ] {
        let (status, problem) = put(&h, &constraints, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(names)), "{names}: {problem}");
    }
    let viewer = login_as(&h.client, &h.base, "acme", "VIEWER").await;
    let url = format!("{}{constraints}", h.base);
    let (status, _, _) = h.send(h.client.put(&url).bearer_auth(&viewer).json(&json!({}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, set) = put(&h, &constraints, json!({"lift_gas_available": 1000, "compressor_capacity": 1500})).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(h.get(&format!("/api/wellpads/{pad_id}")).await["constraints"]["lift_gas_available"], 1000.0);
    let (status, _) =
        put(&h, &format!("/api/wellpads/{other_id}/constraints"), json!({"lift_gas_available": 500})).await;
    assert_eq!(status, StatusCode::OK);

    // One binding over both wellpads' devices: one call per wellpad.
    let mut devices: Vec<&str> = wells.iter().map(|(_, d)| d.as_str()).collect();
    devices.push(&lone_device);
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": plugin["id"], "device_ids": devices, "schedule_ms": 86_400_000, "config": {}}),
        )
        .await;
    let made = h.post(&format!("/api/bindings/{}/run", binding["id"].as_str().expect("id")), json!({})).await;
    let made = made.as_array().expect("recommendations");
    assert_eq!(made.len(), 5, "one per well: {made:#?}");
    for ((_, device), want) in wells.iter().zip(AT_1000) {
        let r = made.iter().find(|r| r["device_id"] == device.as_str()).expect("each well has one");
        assert_eq!(r["parameter"], "gas_injection_mscf_d", "{r}");
        assert_eq!(r["current_value"], 200.0, "{r}");
        let proposed = r["proposed_value"].as_f64().expect("value");
        assert!((proposed - want).abs() < 0.05, "{proposed} against the published {want}: {r}");
        let plan = &r["details"]["field_plan"];
        assert_eq!(plan["group_id"], pad_id.as_str(), "{r}");
        let lambda = plan["details"]["lambda_bbl_per_mscf"].as_f64().expect("λ");
        assert!((lambda - 0.293902).abs() < 1e-3, "λ {lambda}: {plan}");
        assert!(plan["rationale"].as_str().is_some_and(|t| !t.is_empty()), "{plan}");
    }
    // The lone well takes all 500 Mscf/d of its own wellpad.
    let lone = made.iter().find(|r| r["device_id"] == lone_device.as_str()).expect("lone well");
    assert_eq!(lone["details"]["field_plan"]["group_id"], other_id.as_str(), "{lone}");
    assert!((lone["proposed_value"].as_f64().expect("value") - 500.0).abs() < 0.05, "{lone}");

    // A backtest of the same version, a step a day over the last six days
    // beside the binding: each step sees the well tests made by then, one
    // call per wellpad; the last step, now, sees what the run saw and
    // proposes what it did; the two (the same bytes) never differ; the
    // run's plan is what the binding recommended live.
    let now = nexus_model::Clock::system().now();
    let request = json!({"plugin_id": plugin["id"], "device_ids": devices, "start_ts": now - 6 * DAY,
                         "end_ts": now + 1, "every_ms": DAY});
    let (status, started, _) = h.send(h.admin(Method::POST, "/api/backtests", "acme").await.json(&request)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let done = crate::backtests::finished(&h, started["id"].as_str().expect("id")).await;
    assert_eq!(done["kind"], "field-optimizer", "{done}");
    assert_eq!(done["compared"]["binding_id"], binding["id"], "{done}");
    let calls = (done["candidate"]["calls"].as_u64(), done["compared"]["calls"].as_u64());
    assert_eq!(calls, (Some(14), Some(14)), "two wellpads × 7 steps: {done}");
    assert_eq!(done["differing"], 0, "{done}");
    let replayed = done["compared"]["recommendations"].as_array().expect("recommendations");
    let recorded = done["recorded"].as_array().expect("recorded");
    for r in made {
        let at_now = |x: &&Value| x["device_id"] == r["device_id"] && x["ts"].as_i64() == Some(now);
        let again = replayed.iter().find(at_now).unwrap_or_else(|| panic!("{r} not replayed at now: {done}"));
        assert_eq!(again["proposed_value"], r["proposed_value"], "{again}");
        assert_eq!(again["details"]["field_plan"]["group_id"], r["details"]["field_plan"]["group_id"], "{again}");
        let live = |x: &&Value| x["device_id"] == r["device_id"] && x["ts"] == r["created_ts"];
        let live = recorded.iter().find(live).unwrap_or_else(|| panic!("{r} not recorded: {done}"));
        assert_eq!(live["proposed_value"], r["proposed_value"]);
    }

    // Another tenant neither reads nor sets the wellpad.
    let (status, _, _) = h.send(h.admin(Method::GET, &format!("/api/wellpads/{pad_id}"), "globex").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let request = h.admin(Method::PUT, &constraints, "globex").await.json(&json!({"lift_gas_available": 1}));
    let (status, _, _) = h.send(request).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
