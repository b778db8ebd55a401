//! `--half-load S`: request → committed alarm at half the sustainable load.
//!
//! Requests are sent open loop (on schedule, whether or not earlier ones
//! were answered) at half the best rate the sweep measured, for S seconds.
//! A frame's readings and the alarms its rules raised or cleared commit in
//! one transaction before its 200, and the answer counts those alarm
//! transitions (`alarm_transitions`), so the latency of an answer that
//! reports one bounds the time from request to committed alarm from above.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Server, body, percentile};

/// One answered request: latency, µs, and whether it committed an alarm transition.
type Answer = Option<(u64, bool)>;

/// Runs the open-loop load and prints latency percentiles of every answer
/// and of the answers that committed an alarm transition.
pub(crate) async fn half_load(server: &Server, tokens: &Arc<Vec<String>>, samples: usize, rate: f64, seconds: u64) {
    let ts = super::stamps();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let counters_before = super::ingest_counters(&server.base).await;
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut sent = 0usize;
    let mut inflight = tokio::task::JoinSet::new();
    while Instant::now() < until {
        tick.tick().await;
        let token = tokens[sent % tokens.len()].clone();
        sent += 1;
        let (client, base, payload) = (client.clone(), server.base.clone(), body(samples, &ts));
        inflight.spawn(async move {
            let started = Instant::now();
            let response = client
                .post(format!("{base}/api/v1/{token}/telemetry"))
                .header("content-type", "application/json")
                .body(payload)
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())?;
            let report: serde_json::Value = response.json().await.ok()?;
            let alarms = report["alarm_transitions"].as_u64().unwrap_or(0) > 0;
            Some((started.elapsed().as_micros() as u64, alarms)) as Answer
        });
    }
    let mut all = Vec::with_capacity(sent);
    let mut alarms = Vec::new();
    let mut failed = 0usize;
    while let Some(answer) = inflight.join_next().await {
        match answer.ok().flatten() {
            Some((us, alarm)) => {
                all.push(us);
                if alarm {
                    alarms.push(us);
                }
            }
            None => failed += 1,
        }
    }
    let counters_after = super::ingest_counters(&server.base).await;
    all.sort_unstable();
    alarms.sort_unstable();
    let line = |v: &[u64]| {
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, p999 {:.2} ms, max {:.2} ms",
            percentile(v, 0.5),
            percentile(v, 0.99),
            percentile(v, 0.999),
            v.last().copied().unwrap_or(0) as f64 / 1000.0
        )
    };
    println!(
        "half load: {sent} requests of {samples} samples at {rate:.0}/s ({:.0} points/s) for {seconds} s, {failed} failed",
        rate * (samples * super::KEYS) as f64
    );
    println!("  every answer ({}): {}", all.len(), line(&all));
    println!("  request → committed alarm ({} answers with an alarm transition): {}", alarms.len(), line(&alarms));
    if let Some([n, frames, process_ms, commit_ms]) = super::batch_means(counters_before, counters_after) {
        println!(
            "  {n:.0} group commits of {frames:.1} frames: {process_ms:.2} ms processing, {commit_ms:.2} ms committing each (mean)"
        );
    }
}
