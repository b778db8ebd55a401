//! The isolation modes of the ingest benchmark: `--fairness S` (tenant B's
//! throughput and p99 alone, then beside a tenant A whose guests spin to
//! their deadline) and `--overload S` (open-loop load past what the server
//! sustains, with `/healthz` probed throughout).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::{KEYS, Run, Server, TOKEN, admin_of, body, cpu_seconds, percentile, run, upload_of};

/// Tenant B (the bench's field) alone, then while tenant A posts from
/// eight devices at full rate to a rule that spins to its deadline on every
/// frame, re-enabling it whenever its breaker opens. Prints B's throughput
/// and p99 both ways and their ratios.
pub(crate) async fn fairness(
    server: &Server,
    tokens: &Arc<Vec<String>>,
    samples: usize,
    connections: usize,
    seconds: u64,
    limit: Option<&str>,
) {
    let client = reqwest::Client::new();
    let base = server.base.clone();
    if let Some(limit) = limit {
        limit_messages(&client, &base, "attacker", limit).await;
    }
    let decoder = upload_of(&client, &base, "attacker", "decoder", "decoder-thingsboard-json").await;
    let spin = upload_of(&client, &base, "attacker", "alarm-rule", "test-infinite-loop").await;
    let mut ids = Vec::new();
    let mut a_tokens = Vec::new();
    for i in 0..8 {
        let device = admin_of(&client, &base, "attacker", "/api/devices", json!({"name": format!("a-{i}")})).await;
        ids.push(device["id"].clone());
        a_tokens.push(device["access_token"].as_str().expect("token").to_string());
    }
    admin_of(&client, &base, "attacker", "/api/bindings", json!({"plugin_id": decoder, "device_ids": ids})).await;
    let spinner =
        admin_of(&client, &base, "attacker", "/api/bindings", json!({"plugin_id": spin, "device_ids": ids})).await;
    let spinner = spinner["id"].as_str().expect("id").to_string();

    let solo = run(server, tokens, samples, connections, seconds).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let a_frames = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for token in a_tokens {
        let (client, base, stop, a_frames) = (client.clone(), base.clone(), stop.clone(), a_frames.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let frame = json!({"ts": nexus_model::Clock::system().now(), "values": {"k0": 1.0}}).to_string();
                let _ = client
                    .post(format!("{base}/api/v1/{token}/telemetry"))
                    .header("content-type", "application/json")
                    .body(frame)
                    .send()
                    .await;
                a_frames.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (client, base, stop) = (client.clone(), base.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = client
                    .post(format!("{base}/api/bindings/{spinner}/enable"))
                    .bearer_auth(TOKEN)
                    .header("x-nexus-tenant", "attacker")
                    .send()
                    .await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu_before = cpu_seconds(server.child.id());
    let shared = run(server, tokens, samples, connections, seconds).await;
    let cpu = cpu_seconds(server.child.id()) - cpu_before;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let rate = |r: &Run| r.points as f64 / r.seconds;
    let p99 = |r: &Run| percentile(&r.latencies_us, 0.99);
    println!(
        "fairness: tenant B ({samples} samples x {KEYS} keys, {connections} connections) alone, then beside tenant A"
    );
    println!("  (8 devices posting at full rate to a rule that spins to its 50 ms deadline, re-enabled every 20 ms)");
    if let Some(limit) = limit {
        println!("  (A's profile limits its devices' messages together to {limit})");
    }
    println!("{:>10} {:>12} {:>9} {:>9} {:>7}", "B", "points/s", "p50 ms", "p99 ms", "errors");
    for (name, r) in [("alone", &solo), ("beside A", &shared)] {
        println!(
            "{:>10} {:>12.0} {:>9.2} {:>9.2} {:>7}",
            name,
            rate(r),
            percentile(&r.latencies_us, 0.5),
            p99(r),
            r.errors
        );
    }
    println!(
        "  B kept {:.0} % of its throughput; its p99 was {:.2}x its solo value; A sent {} frames; server CPU {:.1} s",
        100.0 * rate(&shared) / rate(&solo).max(1e-9),
        p99(&shared) / p99(&solo).max(1e-9),
        a_frames.load(Ordering::Relaxed),
        cpu
    );
}

/// Sets `tenant`'s profile to its current one with its devices' messages
/// limited together to `windows`.
async fn limit_messages(client: &reqwest::Client, base: &str, tenant: &str, windows: &str) {
    super::ensure_tenant(client, base, tenant).await;
    let mut profile: serde_json::Value = client
        .get(format!("{base}/api/tenant/profile"))
        .bearer_auth(TOKEN)
        .header("x-nexus-tenant", tenant)
        .send()
        .await
        .expect("profile")
        .json()
        .await
        .expect("json");
    profile["ingest_limits"]["tenant_messages"] = json!(windows);
    let r = client
        .put(format!("{base}/api/tenants/{tenant}/profile"))
        .bearer_auth(TOKEN)
        .json(&profile)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "profile: {} {}", r.status(), r.text().await.unwrap_or_default());
}

/// Open-loop load at `rate` requests/s for `seconds` (requests are sent on
/// schedule whether or not earlier ones were answered), with `/healthz`
/// probed every 50 ms. Prints what was answered how, and health latency.
pub(crate) async fn overload(server: &Server, tokens: &Arc<Vec<String>>, samples: usize, rate: f64, seconds: u64) {
    let ts = super::stamps();
    let counts = Arc::new([(); 5].map(|_| AtomicU64::new(0))); // ok, 503 + Retry-After, 503 without, other, timeout
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let health = {
        let (client, base) = (client.clone(), server.base.clone());
        tokio::spawn(async move {
            let mut worst = Vec::new();
            let until = Instant::now() + Duration::from_secs(seconds);
            while Instant::now() < until {
                let started = Instant::now();
                let ok = client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success());
                worst.push(if ok { started.elapsed().as_micros() as u64 } else { u64::MAX });
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            worst
        })
    };
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut sent = 0usize;
    let mut inflight = tokio::task::JoinSet::new();
    while Instant::now() < until {
        tick.tick().await;
        let token = tokens[sent % tokens.len()].clone();
        sent += 1;
        let (client, base, counts, payload) = (client.clone(), server.base.clone(), counts.clone(), body(samples, &ts));
        inflight.spawn(async move {
            let sent = client
                .post(format!("{base}/api/v1/{token}/telemetry"))
                .header("content-type", "application/json")
                .body(payload)
                .send()
                .await;
            let slot = match sent {
                Ok(r) if r.status().is_success() => 0,
                Ok(r) if r.status() == 503 && r.headers().contains_key("retry-after") => 1,
                Ok(r) if r.status() == 503 => 2,
                Ok(_) => 3,
                Err(_) => 4,
            };
            counts[slot].fetch_add(1, Ordering::Relaxed);
        });
    }
    while inflight.join_next().await.is_some() {}
    let mut probes = health.await.expect("prober");
    probes.sort_unstable();
    let n = |i: usize| counts[i].load(Ordering::Relaxed);
    println!(
        "overload: {sent} requests of {samples} samples at {rate:.0}/s for {seconds} s: {} answered 200, {} shed with 503 + Retry-After, {} 503 without it, {} other, {} timed out",
        n(0),
        n(1),
        n(2),
        n(3),
        n(4)
    );
    println!(
        "  /healthz during it: {} probes, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, failed {}",
        probes.len(),
        percentile(&probes, 0.5),
        percentile(&probes, 0.99),
        probes.iter().filter(|&&p| p != u64::MAX).max().copied().unwrap_or(0) as f64 / 1000.0,
        probes.iter().filter(|&&p| p == u64::MAX).count()
    );
}
