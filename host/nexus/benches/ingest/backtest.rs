//! `--backtest D`: D days of one device's 1 Hz telemetry (key `k0`, a daily
//! swing that peaks at 95 once an hour) stored through the device API, 1000
//! samples a request; then `POST /api/backtests` of the threshold rule as a
//! new version with threshold 80 beside the bound one (90), polled until
//! done. Prints the store time, the backtest's wall time, frames/s and both
//! versions' alarm counts.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Server, TOKEN, plugin_dir};

const PER_REQUEST: i64 = 1000;

pub(crate) async fn run(server: &Server, token: &str, days: u64) {
    let client = reqwest::Client::new();
    let base = &server.base;
    let frames = days as i64 * 86_400;
    let t0 = nexus_model::Clock::system().now() - frames * 1000 - 60_000;
    let began = Instant::now();
    let mut tasks = Vec::new();
    for lane in 0..4 {
        let (client, base, token) = (client.clone(), base.clone(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut first = lane * PER_REQUEST;
            while first < frames {
                let rows: Vec<Value> = (first..(first + PER_REQUEST).min(frames))
                    .map(|i| {
                        let hour = (i % 3600) as f64 / 3600.0;
                        json!({"ts": t0 + i * 1000, "values": {"k0": 50.0 + 45.0 * (hour * std::f64::consts::TAU).sin()}})
                    })
                    .collect();
                let r = client
                    .post(format!("{base}/api/v1/{token}/telemetry"))
                    .body(Value::Array(rows).to_string())
                    .send()
                    .await
                    .expect("telemetry");
                assert!(r.status().is_success(), "telemetry: {}", r.status());
                first += 4 * PER_REQUEST;
            }
        }));
    }
    for task in tasks {
        task.await.expect("lane");
    }
    let stored = began.elapsed().as_secs_f64();
    println!("backtest: stored {frames} frames (1 key, 1 Hz, {days} days) in {stored:.1} s");

    let bytes = std::fs::read(plugin_dir().join("alarm_rule_threshold.wasm")).expect("built plugins");
    let r = client
        .post(format!("{base}/api/plugins?kind=alarm-rule&name=alarm-rule-threshold&version=2.0.0"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", "default")
        .body(bytes)
        .send()
        .await
        .expect("upload");
    let candidate: Value = r.json().await.expect("json");
    let device = client
        .get(format!("{base}/api/devices"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", "default")
        .send()
        .await
        .expect("devices")
        .json::<Value>()
        .await
        .expect("json")[0]["id"]
        .clone();
    let config = json!({"key": "k0", "high": 80.0, "deadband": 5.0, "alarm_type": "High"});
    let request = json!({"plugin_id": candidate["id"], "device_ids": [device], "start_ts": t0,
                         "end_ts": t0 + frames * 1000, "config": config});
    let began = Instant::now();
    let r = client
        .post(format!("{base}/api/backtests"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", "default")
        .json(&request)
        .send()
        .await
        .expect("backtest");
    assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap_or_default());
    let id = r.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    let mut shown = Instant::now();
    let done = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let b: Value = client
            .get(format!("{base}/api/backtests/{id}"))
            .bearer_auth(TOKEN)
            .header("x-nexus-tenant", "default")
            .send()
            .await
            .expect("poll")
            .json()
            .await
            .expect("json");
        match b["status"].as_str() {
            Some("running") if shown.elapsed() > Duration::from_secs(5) => {
                println!("  {:.0} % ({} frames)", b["progress"].as_f64().unwrap_or(0.0) * 100.0, b["frames"]);
                shown = Instant::now();
            }
            Some("running") => {}
            Some("done") => break b,
            _ => panic!("backtest failed: {b}"),
        }
    };
    let wall = began.elapsed().as_secs_f64();
    let count = |v: &Value| v.as_array().map_or(0, Vec::len);
    println!(
        "backtest: {} frames through two versions in {wall:.2} s ({:.0} frames/s, server's own {} ms); \
         alarms: candidate {}, bound {}, only the candidate's {}",
        done["frames"],
        done["frames"].as_f64().unwrap_or(0.0) / wall,
        done["elapsed_ms"],
        count(&done["candidate"]["alarms"]),
        count(&done["compared"]["alarms"]),
        count(&done["only_candidate"]),
    );
}
