//! Backtests through the server: an alarm-rule version with a lower
//! threshold, run over stored telemetry beside the bound version, shows
//! exactly the alarms the difference implies, and changes nothing stored;
//! an optimizer version with a shorter steady window recommends at exactly
//! the steps of virtual time the difference implies, and the bound
//! version, replayed, recommends what it did live.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

/// The stored temperatures, one frame a second: two peaks only the lower
/// threshold (95) sees, one both see (the bound rule's is 100), and a
/// trough after each that clears either (deadband 5).
const TEMPERATURES: [f64; 7] = [80.0, 97.0, 80.0, 110.0, 80.0, 97.0, 80.0];

/// Polls a backtest until it is done (60 s at most), checking its progress
/// on the way.
pub(crate) async fn finished(h: &Harness, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let backtest = h.get(&format!("/api/backtests/{id}")).await;
        match backtest["status"].as_str() {
            Some("done") => return backtest,
            Some("running") => {
                let progress = backtest["progress"].as_f64().expect("progress");
                assert!((0.0..=1.0).contains(&progress), "{backtest}");
            }
            _ => panic!("the backtest did not finish: {backtest}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "the backtest is still running: {backtest}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn starts_and_ends(alarms: &Value, t0: i64) -> Vec<(i64, Option<i64>)> {
    alarms
        .as_array()
        .unwrap_or_else(|| panic!("alarms: {alarms}"))
        .iter()
        .map(|a| (a["start_ts"].as_i64().expect("start") - t0, a["end_ts"].as_i64().map(|e| e - t0)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_version_with_a_lower_threshold_shows_exactly_the_alarms_the_difference_implies() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;
    let t0 = nexus_model::Clock::system().now() - 60_000;
    for (i, t) in TEMPERATURES.iter().enumerate() {
        let frame = json!({"ts": t0 + i as i64 * 1000, "values": {"motor_temperature": t}});
        let (status, body, _) = h.telemetry(&token, frame.to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let live = h.alarms(&device_id).await;
    assert_eq!(live.len(), 1, "the bound rule (100) raised once: {live:?}");
    assert_eq!(live[0]["start_ts"].as_i64(), Some(t0 + 3000));

    // The candidate: a new version of the same plugin, with threshold 95.
    let bytes = nexus::plugin_files::read(&nexus::plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let path = "/api/plugins?kind=alarm-rule&name=alarm-rule-threshold&version=0.2.0";
    let (status, candidate, _) = h.send(h.admin(Method::POST, path, "acme").await.body(bytes)).await;
    assert_eq!(status, StatusCode::CREATED, "{candidate}");
    let config = json!({"key": "motor_temperature", "high": 95.0, "deadband": 5.0, "severity": "major",
                        "alarm_type": "HighMotorTemperature"});
    let request = json!({"plugin_id": candidate["id"], "device_ids": [device_id], "start_ts": t0,
                         "end_ts": t0 + 7000, "config": config});
    let (status, started, _) = h.send(h.admin(Method::POST, "/api/backtests", "acme").await.json(&request)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let id = started["id"].as_str().expect("id").to_string();
    let done = finished(&h, &id).await;
    assert_eq!((done["frames"].as_u64(), done["progress"].as_f64()), (Some(7), Some(1.0)), "{done}");
    // The bound version, replayed, does what it did live.
    assert_eq!(starts_and_ends(&done["compared"]["alarms"], t0), [(3000, Some(4000))], "{done}");
    assert_eq!(done["compared"]["plugin"]["version"], "0.1.0");
    assert_eq!(
        starts_and_ends(&done["candidate"]["alarms"], t0),
        [(1000, Some(2000)), (3000, Some(4000)), (5000, Some(6000))]
    );
    assert_eq!(done["candidate"]["plugin"]["version"], "0.2.0");
    assert_eq!(done["candidate"]["faults"], 0);
    // The difference is exactly the two peaks between 95 and 100.
    assert_eq!(starts_and_ends(&done["only_candidate"], t0), [(1000, Some(2000)), (5000, Some(6000))]);
    assert_eq!(done["only_compared"], json!([]));
    // Nothing stored changed.
    assert_eq!(h.alarms(&device_id).await.len(), 1);

    // Clear refusals.
    let refused = |body: Value| {
        let h = &h;
        async move { h.send(h.admin(Method::POST, "/api/backtests", "acme").await.json(&body)).await }
    };
    let decoder = h.get("/api/plugins").await;
    let decoder =
        decoder.as_array().expect("plugins").iter().find(|p| p["kind"] == "decoder").expect("decoder")["id"].clone();
    for (body, code, words) in [
        (
            json!({"plugin_id": candidate["id"], "device_ids": [device_id], "start_ts": t0, "end_ts": t0}),
            StatusCode::BAD_REQUEST,
            "after",
        ),
        (
            json!({"plugin_id": candidate["id"], "device_ids": [device_id], "start_ts": t0, "end_ts": t0 + 32 * 86_400_000_i64}),
            StatusCode::BAD_REQUEST,
            "31 days",
        ),
        (
            json!({"plugin_id": candidate["id"], "device_ids": [], "start_ts": t0, "end_ts": t0 + 1}),
            StatusCode::BAD_REQUEST,
            "device",
        ),
        (
            json!({"plugin_id": decoder, "device_ids": [device_id], "start_ts": t0, "end_ts": t0 + 1}),
            StatusCode::BAD_REQUEST,
            "alarm-rule",
        ),
        (
            json!({"plugin_id": candidate["id"], "device_ids": ["no-such-device"], "start_ts": t0, "end_ts": t0 + 1}),
            StatusCode::NOT_FOUND,
            "device",
        ),
    ] {
        let (status, problem, _) = refused(body.clone()).await;
        assert_eq!(status, code, "{body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(words)), "{body}: {problem}");
    }
    let (status, _, _) = h.send(h.admin(Method::GET, "/api/backtests/no-such-backtest", "acme").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another tenant sees neither the backtest nor the devices.
    let (status, _, _) = h.send(h.admin(Method::GET, &format!("/api/backtests/{id}"), "bravo").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

const MINUTE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optimizer_version_with_a_shorter_steady_window_recommends_exactly_where_the_difference_implies() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    // An hour of steady frames, one a minute from t0; the bound optimizer
    // (a 60-minute steady window) runs once at once and recommends.
    let t0 = h.store_steady_esp_hour(&token).await;
    let (binding, live) = h.esp_recommendation(&device_id, 86_400_000).await;
    let created = live["created_ts"].as_i64().expect("created");
    assert!((t0 + 60 * MINUTE..t0 + 70 * MINUTE).contains(&created), "{live}");

    // The candidate: the same optimizer as 0.2.0 with a 30-minute window.
    let bytes =
        nexus::plugin_files::read(&nexus::plugin_files::default_dir(), "optimizer-esp-frequency").expect("built");
    let path = "/api/plugins?kind=optimizer&name=optimizer-esp-frequency&version=0.2.0";
    let (status, candidate, _) = h.send(h.admin(Method::POST, path, "acme").await.body(bytes)).await;
    assert_eq!(status, StatusCode::CREATED, "{candidate}");
    let request = json!({"plugin_id": candidate["id"], "device_ids": [device_id], "start_ts": t0,
                         "end_ts": t0 + 70 * MINUTE, "every_ms": 15 * MINUTE,
                         "config": {"steady_window_ms": 30 * MINUTE}});
    let (status, started, _) = h.send(h.admin(Method::POST, "/api/backtests", "acme").await.json(&request)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    assert_eq!((started["kind"].as_str(), started["every_ms"].as_i64()), (Some("optimizer"), Some(15 * MINUTE)));
    let done = finished(&h, started["id"].as_str().expect("id")).await;
    assert_eq!((done["frames"].as_u64(), done["readings"].as_u64()), (Some(61), Some(244)), "{done}");
    let steps = |run: &Value| -> Vec<i64> {
        let list = run["recommendations"].as_array().unwrap_or_else(|| panic!("{run}"));
        list.iter().map(|r| r["ts"].as_i64().expect("ts") - t0).collect()
    };
    // Steps at 0, 15, 30, 45 and 60 minutes, each seeing only the frames
    // stamped by then: a window is steady once frames cover 80 % of it.
    let (ours, theirs) = (&done["candidate"], &done["compared"]);
    assert_eq!((ours["calls"].as_u64(), theirs["calls"].as_u64()), (Some(5), Some(5)), "{done}");
    assert_eq!(steps(ours), [30 * MINUTE, 45 * MINUTE, 60 * MINUTE], "{done}");
    assert_eq!(steps(theirs), [60 * MINUTE], "{done}");
    assert_eq!((ours["faults"].as_u64(), theirs["faults"].as_u64()), (Some(0), Some(0)), "{done}");
    assert_eq!(theirs["binding_id"], binding["id"]);
    assert_eq!(
        (ours["plugin"]["version"].as_str(), theirs["plugin"]["version"].as_str()),
        (Some("0.2.0"), Some("0.1.0"))
    );
    // The bound version, replayed, proposes what it proposed live.
    let proposed = live["proposed_value"].as_f64().expect("proposed");
    assert_eq!(theirs["recommendations"][0]["proposed_value"].as_f64(), Some(proposed), "{done}");
    assert_eq!(done["recorded"].as_array().map(Vec::len), Some(1), "{done}");
    assert_eq!(
        (done["recorded"][0]["ts"].as_i64(), done["recorded"][0]["proposed_value"].as_f64()),
        (Some(created), Some(proposed))
    );
    // The difference: the candidate's two earlier steps, nothing else.
    let differences: Vec<(i64, Option<f64>, Option<f64>)> = done["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| (d["ts"].as_i64().expect("ts") - t0, d["candidate"].as_f64(), d["compared"].as_f64()))
        .collect();
    assert_eq!(differences, [(30 * MINUTE, Some(proposed), None), (45 * MINUTE, Some(proposed), None)], "{done}");
    assert_eq!(done["differing"], 2);
    // Nothing stored changed.
    assert_eq!(h.get("/api/recommendations").await.as_array().map(Vec::len), Some(1));

    // Clear refusals.
    let rule = h.get("/api/plugins").await;
    let rule =
        rule.as_array().expect("plugins").iter().find(|p| p["kind"] == "alarm-rule").expect("rule")["id"].clone();
    let bindings = h.get("/api/bindings").await;
    let decoder_binding =
        bindings.as_array().expect("bindings").iter().find(|b| b["kind"] == "decoder").expect("decoder")["id"].clone();
    let base = |extra: Value| {
        let mut body = json!({"plugin_id": candidate["id"], "device_ids": [device_id], "start_ts": t0, "end_ts": t0 + 70 * MINUTE});
        body.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        body
    };
    for (body, words) in [
        (base(json!({"every_ms": 500})), "at least 1000"),
        (base(json!({"every_ms": 1000, "end_ts": t0 + 31 * 86_400_000_i64})), "at most 100000"),
        (base(json!({"binding_id": decoder_binding})), "decoder"),
        (base(json!({"plugin_id": rule, "every_ms": MINUTE})), "every stored frame"),
    ] {
        let (status, problem, _) = h.send(h.admin(Method::POST, "/api/backtests", "acme").await.json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(problem["detail"].as_str().is_some_and(|d| d.contains(words)), "{body}: {problem}");
    }
}
