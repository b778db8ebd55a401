//! `/metrics` after demo-like traffic: every series the Grafana dashboard
//! queries (`deploy/grafana/series.txt`) is exported with a plausible
//! value, and a tenant's scrape shows its own series only.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Harness, frame, login_as};

/// One sample of a scrape.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// The samples of a Prometheus text exposition (label values without
/// escapes, as the tests' ids are).
pub(crate) fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (name, labels) = match series.split_once('{') {
                Some((name, rest)) => (name, rest.strip_suffix('}').expect("closing brace")),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                    (key.to_string(), value.trim_end_matches('"').to_string())
                })
                .collect();
            Sample { name: name.to_string(), labels, value: value.parse().expect("a number") }
        })
        .collect()
}

/// The samples of `name` whose labels include every pair of `with`.
fn select<'a>(samples: &'a [Sample], name: &str, with: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name && with.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect()
}

fn total(samples: &[Sample], name: &str, with: &[(&str, &str)]) -> f64 {
    select(samples, name, with).iter().map(|s| s.value).sum()
}

async fn scrape(request: reqwest::RequestBuilder) -> Vec<Sample> {
    let response = request.send().await.expect("scrape");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_string();
    assert_eq!(content_type, "text/plain; version=0.0.4");
    parse(&response.text().await.expect("text"))
}

/// The series the dashboard queries, from the repository.
fn dashboard_series() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana/series.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// Host-wide series: only the system administrator's whole-host scrape has them.
const HOST_SERIES: [&str; 8] = [
    "nexus_http_",
    "nexus_db_pool_",
    "nexus_outbox_lag_events",
    "nexus_kafka_consumer_lag",
    "nexus_ingest_batches_total",
    "nexus_ingest_batch_frames_total",
    "nexus_ingest_process_seconds_total",
    "nexus_ingest_commit_seconds_total",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_demo_traffic_every_dashboard_series_is_present_with_a_plausible_value() {
    let h = Harness::start().await;
    let (acme_device, acme_token, _) = h.field_in("acme").await;
    let (_, bravo_token, _) = h.field_in("bravo").await;

    // Telemetry: acme's motor runs hot (one MAJOR alarm), bravo's does not;
    // one frame of acme's is not JSON (its decoder rejects it).
    let mut stored = BTreeMap::from([("acme", (0.0, 0.0)), ("bravo", (0.0, 0.0))]);
    let frames = [
        ("acme", &acme_token, json!({"motor_temperature": 90.0, "intake_pressure": 700.0})),
        ("acme", &acme_token, json!({"motor_temperature": 120.0})),
        ("bravo", &bravo_token, json!({"motor_temperature": 80.0, "frequency": 52.0, "flow_rate": 1300.0})),
        ("bravo", &bravo_token, json!({"motor_temperature": 81.0})),
    ];
    for (tenant, token, values) in frames {
        let (status, body, _) = h.telemetry(token, frame(values)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let entry = stored.get_mut(tenant).expect("tenant");
        entry.0 += 1.0;
        entry.1 += body["accepted"].as_f64().expect("accepted");
    }
    let (status, _, _) = h.telemetry(&acme_token, "this is not JSON").await;
    assert!(status.is_client_error(), "{status}");
    let alarms = h.alarms(&acme_device).await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");

    // Some API traffic: wells listed five times, one path no route matches.
    for _ in 0..5 {
        h.get_as("/api/wells", "acme").await;
    }
    let (status, _, _) = h.send(h.admin(Method::GET, "/no/such/route", "acme").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let all = scrape(h.system(Method::GET, "/metrics").await).await;
    let names: BTreeSet<&str> = all.iter().map(|s| s.name.as_str()).collect();
    for series in dashboard_series() {
        if series == "nexus_kafka_consumer_lag" {
            // Only a running Kafka connector reports it (the kafka tests
            // check it); this field has none.
            assert!(!names.contains(series.as_str()), "a Kafka lag without a Kafka connector");
            continue;
        }
        assert!(names.contains(series.as_str()), "{series} is not exported; exported: {names:?}");
    }

    // HTTP: at least what this test sent, by route template; the histogram
    // agrees with the counter.
    let wells = [("method", "GET"), ("route", "/api/wells"), ("status", "200")];
    assert!(total(&all, "nexus_http_requests_total", &wells) >= 5.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(total(&all, "nexus_http_requests_total", &unmatched), 1.0);
    let telemetry = [("method", "POST"), ("route", "/api/v1/{token}/telemetry")];
    assert_eq!(total(&all, "nexus_http_requests_total", &telemetry), 5.0);
    assert!(
        all.iter().filter(|s| s.name == "nexus_http_requests_total").all(|s| !s.labels["route"].contains(&acme_token)),
        "a raw path with a device token became a label"
    );
    for count in select(&all, "nexus_http_request_duration_seconds_count", &[]) {
        let (method, route) = (count.labels["method"].as_str(), count.labels["route"].as_str());
        let key = [("method", method), ("route", route)];
        assert_eq!(count.value, total(&all, "nexus_http_requests_total", &key), "{method} {route}");
        let inf = [("method", method), ("route", route), ("le", "+Inf")];
        assert_eq!(total(&all, "nexus_http_request_duration_seconds_bucket", &inf), count.value);
        let buckets: Vec<f64> =
            select(&all, "nexus_http_request_duration_seconds_bucket", &key).iter().map(|s| s.value).collect();
        assert_eq!(buckets.len(), nexus_api::BUCKETS.len() + 1);
        assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{method} {route}: {buckets:?}");
        assert!(total(&all, "nexus_http_request_duration_seconds_sum", &key) >= 0.0);
    }

    // Database pools.
    for max in select(&all, "nexus_db_pool_max_connections", &[]) {
        let pool = max.labels["pool"].as_str();
        assert!(max.value > 0.0, "{pool}");
        let in_use = total(&all, "nexus_db_pool_connections", &[("pool", pool), ("state", "in_use")]);
        let idle = total(&all, "nexus_db_pool_connections", &[("pool", pool), ("state", "idle")]);
        assert!(
            in_use >= 0.0 && idle >= 0.0 && in_use + idle <= max.value,
            "{pool}: {in_use} + {idle} > {}",
            max.value
        );
    }

    // Field: each tenant's one well reported; acme's alarms are what the API lists.
    for tenant in ["acme", "bravo"] {
        let t = [("tenant", tenant)];
        assert_eq!(total(&all, "nexus_wells_monitored", &t), 1.0, "{tenant}");
        let active = h.get_as("/api/alarms?active=true", tenant).await;
        let active = active.as_array().expect("alarms");
        for severity in ["CRITICAL", "MAJOR", "MINOR", "WARNING", "INDETERMINATE"] {
            let listed = active.iter().filter(|a| a["severity"] == severity).count() as f64;
            let exported = select(&all, "nexus_active_alarms", &[("tenant", tenant), ("severity", severity)]);
            assert_eq!(exported.len(), 1, "{tenant} {severity}");
            assert_eq!(exported[0].value, listed, "{tenant} {severity}");
        }
        let (frames, points) = stored[tenant];
        assert_eq!(total(&all, "nexus_ingest_points_total", &t), points, "{tenant}");
        assert_eq!(total(&all, "nexus_ingest_frames_total", &[("tenant", tenant), ("outcome", "stored")]), frames);
        let calls = total(&all, "nexus_plugin_calls_total", &t);
        assert!(calls >= 2.0 * frames, "{tenant}: {calls} plugin calls for {frames} frames (decoder + rule each)");
        assert!(total(&all, "nexus_plugin_wall_seconds_total", &t) > 0.0);
        assert!(total(&all, "nexus_plugin_fuel_total", &t) > 0.0);
        assert!(!select(&all, "nexus_plugin_faults_total", &t).is_empty(), "{tenant}");
    }
    assert_eq!(total(&all, "nexus_active_alarms", &[("tenant", "acme"), ("severity", "MAJOR")]), 1.0);
    assert_eq!(total(&all, "nexus_ingest_frames_total", &[("tenant", "acme"), ("outcome", "rejected")]), 1.0);
    assert!(total(&all, "nexus_plugin_rejections_total", &[("tenant", "acme")]) >= 1.0);

    // The outbox: the log subscriber runs; its lag is a count.
    let lag = select(&all, "nexus_outbox_lag_events", &[("subscriber", "log")]);
    assert_eq!(lag.len(), 1, "{lag:?}");
    assert!(lag[0].value >= 0.0 && lag[0].value.fract() == 0.0);
    assert!(total(&all, "nexus_ingest_batches_total", &[]) >= 1.0);

    // A tenant's scrape (a VIEWER's API key, as Prometheus would use):
    // its own series, nothing of the other tenant's, nothing host-wide.
    let key = h.post("/api/api-keys", json!({"name": "prometheus", "role": "VIEWER"})).await;
    let key = key["key_secret"].as_str().expect("secret").to_string();
    let mine = scrape(h.client.get(format!("{}/metrics", h.base)).bearer_auth(&key)).await;
    assert_tenant_only(&mine, "acme");
    assert_eq!(total(&mine, "nexus_active_alarms", &[("severity", "MAJOR")]), 1.0);
    let operator = login_as(&h.client, &h.base, "bravo", "OPERATOR").await;
    let theirs = scrape(h.client.get(format!("{}/metrics", h.base)).bearer_auth(&operator)).await;
    assert_tenant_only(&theirs, "bravo");
    // The system administrator naming a tenant sees what that tenant sees.
    let named = scrape(h.system(Method::GET, "/metrics").await.header("x-nexus-tenant", "bravo")).await;
    assert_tenant_only(&named, "bravo");
    // A tenant may not name another.
    let (status, body, _) =
        h.send(h.client.get(format!("{}/metrics", h.base)).bearer_auth(&key).header("x-nexus-tenant", "bravo")).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("tenant-header-not-allowed")));
}

/// Every sample is `tenant`'s, every tenant series is there, and no
/// host-wide series is.
fn assert_tenant_only(samples: &[Sample], tenant: &str) {
    assert!(!samples.is_empty());
    for sample in samples {
        assert_eq!(sample.labels.get("tenant").map(String::as_str), Some(tenant), "{sample:?}");
        assert!(!HOST_SERIES.iter().any(|host| sample.name.starts_with(host)), "a host series: {sample:?}");
    }
    let names: BTreeSet<&str> = samples.iter().map(|s| s.name.as_str()).collect();
    for series in dashboard_series() {
        if !HOST_SERIES.iter().any(|host| series.starts_with(host)) {
            assert!(names.contains(series.as_str()), "{tenant}'s scrape lacks {series}");
        }
    }
}
