//! Telemetry over HTTP by ThingsBoard's query (keys, interval, agg,
//! order_by, limit) and the per-tenant telemetry retention of the tenant
//! profile, swept on demand.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

const DAY: i64 = 86_400_000;

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Posts one frame of `values` stamped `ts`; asserts 200.
async fn post(h: &Harness, token: &str, ts: i64, values: Value) {
    let (status, body, _) = h.telemetry(token, json!({"ts": ts, "values": values}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// (key, ts, value) of a telemetry answer.
fn rows(answer: &Value) -> Vec<(String, i64, Value)> {
    answer
        .as_array()
        .expect("readings")
        .iter()
        .map(|r| (r["key"].as_str().expect("key").to_string(), r["ts"].as_i64().expect("ts"), r["value"].clone()))
        .collect()
}

/// Buckets from `start_ts`, stamped at their middle, the last clipped at
/// `end_ts`; AVG of numbers, COUNT of every sample, DESC order and limit;
/// the raw readings by default; bad queries are 400 problems.
#[tokio::test]
async fn history_is_aggregated_with_thingsboard_semantics() {
    let h = Harness::start().await;
    let (device, token, _) = h.field_with(false).await;
    let t0 = now_ms() - now_ms() % 60_000 - 3_600_000;
    // Ten frames a second apart: pressure 0..9, state "on"/"off".
    for i in 0..10 {
        let state = if i % 2 == 0 { "on" } else { "off" };
        post(&h, &token, t0 + i * 1000, json!({"pressure": i as f64, "state": state})).await;
    }
    let path = |query: &str| format!("/api/devices/{device}/telemetry?{query}");
    // [t0+500, t0+8500) in 3 s buckets: {1,2,3}, {4,5,6}, {7,8} (clipped).
    let range = format!("start_ts={}&end_ts={}", t0 + 500, t0 + 8500);
    let avg = h.get(&path(&format!("{range}&keys=pressure&interval=3000&agg=AVG"))).await;
    assert_eq!(
        rows(&avg),
        [
            ("pressure".into(), t0 + 500 + 1500, json!(2.0)),
            ("pressure".into(), t0 + 3500 + 1500, json!(5.0)),
            ("pressure".into(), t0 + 6500 + 1000, json!(7.5)),
        ]
    );
    let count = h.get(&path(&format!("{range}&keys=pressure,state&interval=3000&agg=COUNT&order_by=DESC"))).await;
    assert_eq!(
        rows(&count),
        [
            ("state".into(), t0 + 7500, json!(2)),
            ("pressure".into(), t0 + 7500, json!(2)),
            ("state".into(), t0 + 5000, json!(3)),
            ("pressure".into(), t0 + 5000, json!(3)),
            ("state".into(), t0 + 2000, json!(3)),
            ("pressure".into(), t0 + 2000, json!(3)),
        ]
    );
    // Text has no average: no buckets.
    assert_eq!(h.get(&path(&format!("{range}&keys=state&interval=3000&agg=MAX"))).await, json!([]));
    let sum = h.get(&path(&format!("{range}&keys=pressure&interval=3000&agg=sum&limit=1&order_by=desc"))).await;
    assert_eq!(rows(&sum), [("pressure".into(), t0 + 7500, json!(15.0))]);

    // NONE: the readings; DESC with limit keeps the newest.
    let raw = h.get(&path(&format!("{range}&key=pressure&order_by=DESC&limit=2"))).await;
    assert_eq!(rows(&raw), [("pressure".into(), t0 + 8000, json!(8.0)), ("pressure".into(), t0 + 7000, json!(7.0))]);
    assert_eq!(rows(&h.get(&path(&range)).await).len(), 16, "every key's readings by default");

    for (query, words) in [
        (format!("{range}&agg=AVG"), "interval"),
        (format!("{range}&agg=AVG&interval=999"), "at least"),
        (format!("start_ts=0&end_ts={}&agg=AVG&interval=1000", 10_001_000), "buckets"),
        (format!("{range}&agg=MEDIAN&interval=3000"), "agg"),
        (format!("{range}&order_by=UP"), "order_by"),
        (format!("{range}&key=a&keys=b"), "key"),
    ] {
        let (status, body, content_type) = h.send(h.admin(Method::GET, &path(&query), "acme").await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert!(body["detail"].as_str().unwrap_or_default().contains(words), "{query}: {body}");
    }
}

/// A tenant's profile keeps 30 days: the sweep deletes its older readings
/// and keeps the newer ones and its latest values; another tenant without
/// retention keeps everything. The retention is validated with the profile.
#[tokio::test]
async fn retention_deletes_a_tenants_old_telemetry_only() {
    let h = Harness::start().await;
    let (acme_device, acme_token, _) = h.field_with(false).await;
    let (other_device, other_token, _) = h.field_in("other").await;
    let now = now_ms();
    for (token, key) in [(&acme_token, "pressure"), (&other_token, "pressure")] {
        for age_days in [45, 31, 29, 1] {
            post(&h, token, now - age_days * DAY, json!({key: age_days as f64})).await;
        }
    }

    let path = "/api/tenants/acme/profile";
    let (_, mut profile, _) =
        h.send(h.system(Method::GET, "/api/tenant/profile").await.header("x-nexus-tenant", "acme")).await;
    profile["telemetry_retention_days"] = json!(0);
    let (status, body, _) = h.send(h.system(Method::PUT, path).await.json(&profile)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    profile["telemetry_retention_days"] = json!(30);
    let (status, body, _) = h.send(h.system(Method::PUT, path).await.json(&profile)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["telemetry_retention_days"], 30);

    let records = h.server().services.records().clone();
    assert!(records.sweep_now().await.expect("sweep") >= 2, "nothing swept");
    let ages = |tenant: &'static str, device: String| {
        let h = &h;
        async move {
            let all =
                h.get_as(&format!("/api/devices/{device}/telemetry?start_ts=0&end_ts={}", i64::MAX), tenant).await;
            rows(&all).into_iter().map(|(_, _, v)| v.as_f64().expect("number") as i64).collect::<Vec<_>>()
        }
    };
    assert_eq!(ages("acme", acme_device.clone()).await, [29, 1], "acme keeps 30 days");
    assert_eq!(ages("other", other_device).await, [45, 31, 29, 1], "the other tenant lost readings");
    let latest = h.get(&format!("/api/devices/{acme_device}/telemetry/latest?keys=pressure")).await;
    assert_eq!(latest[0]["value"], json!(1.0), "the latest value stays");
    assert_eq!(records.sweep_now().await.expect("sweep"), 0, "a second sweep found more");
}

/// When every tenant's profile keeps telemetry for a while, the days all of
/// them have let go are expired at once and each tenant's own rest after:
/// 30 days for acme and 40 for the other leave each exactly its own span.
#[tokio::test]
async fn retention_every_tenant_sets_leaves_each_its_own_span() {
    let h = Harness::start().await;
    let (acme_device, acme_token, _) = h.field_with(false).await;
    let (other_device, other_token, _) = h.field_in("other").await;
    let now = now_ms();
    for token in [&acme_token, &other_token] {
        for age_days in [45, 35, 31, 29, 1] {
            post(&h, token, now - age_days * DAY, json!({"pressure": age_days as f64})).await;
        }
    }
    let (status, tenants, _) = h.send(h.system(Method::GET, "/api/tenants").await).await;
    assert_eq!(status, StatusCode::OK, "{tenants}");
    let mut names: Vec<&str> =
        tenants.as_array().expect("tenants").iter().map(|t| t["id"].as_str().expect("id")).collect();
    names.sort_unstable();
    assert_eq!(names, ["acme", "other"], "a tenant without retention would keep the shared expiry from running");
    for (tenant, days) in [("acme", 30), ("other", 40)] {
        let (_, mut profile, _) =
            h.send(h.system(Method::GET, "/api/tenant/profile").await.header("x-nexus-tenant", tenant)).await;
        profile["telemetry_retention_days"] = json!(days);
        let (status, body, _) =
            h.send(h.system(Method::PUT, &format!("/api/tenants/{tenant}/profile")).await.json(&profile)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    let records = h.server().services.records().clone();
    // 45 days of both (the shared part), then 35 and 31 of acme's.
    assert_eq!(records.sweep_telemetry().await.expect("sweep"), 4);
    for (tenant, device, kept) in [("acme", &acme_device, vec![29, 1]), ("other", &other_device, vec![35, 31, 29, 1])] {
        let all = h.get_as(&format!("/api/devices/{device}/telemetry?start_ts=0&end_ts={}", i64::MAX), tenant).await;
        let ages: Vec<i64> = rows(&all).into_iter().map(|(_, _, v)| v.as_f64().expect("number") as i64).collect();
        assert_eq!(ages, kept, "{tenant}");
    }
    assert_eq!(records.sweep_telemetry().await.expect("again"), 0, "a second sweep found more");
}
