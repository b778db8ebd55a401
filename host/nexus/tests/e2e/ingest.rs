//! Group commit: concurrent frames share a transaction, yet no frame is
//! answered before it is durable; a full queue sheds load with 503 and
//! `Retry-After` while health stays fast, and the host recovers on its own.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_reading_is_readable_the_moment_its_answer_arrives() {
    let h = Arc::new(Harness::start().await);
    let (device_id, token, _) = h.field_with(false).await;
    let before = h.server().services.ingest().stats();
    let t0 = nexus_model::Clock::system().now() - 60_000;
    let senders: Vec<_> = (0..16i64)
        .map(|s| {
            let (h, token, device_id) = (h.clone(), token.clone(), device_id.clone());
            tokio::spawn(async move {
                for i in 0..25i64 {
                    let ts = t0 + s * 1000 + i;
                    let body = json!({"ts": ts, "values": {"motor_temperature": 90.0, "seq": s * 100 + i}}).to_string();
                    let (status, report, _) = h.telemetry(&token, body).await;
                    assert_eq!(status, StatusCode::OK, "{report}");
                    // Answered: it must be stored already, visible to any reader.
                    let path = format!("/api/devices/{device_id}/telemetry?key=seq&start_ts={ts}&end_ts={}", ts + 1);
                    let stored = h.get(&path).await;
                    assert_eq!(stored[0]["value"], s * 100 + i, "acknowledged before it was committed");
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.expect("sender");
    }
    let stats = h.server().services.ingest().stats();
    let (frames, batches) = (stats.frames - before.frames, stats.batches - before.batches);
    assert_eq!(frames, 400);
    assert!(batches < frames, "frames were never committed together: {batches} batches for {frames} frames");
    println!("400 frames from 16 concurrent senders in {batches} group commits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_sheds_load_with_503_and_retry_after_while_health_stays_fast() {
    let config = nexus_services::ServicesConfig { ingest_queue_frames: 4, ..Default::default() };
    let h = Arc::new(Harness::start_with(config).await);
    let (device_id, token, _) = h.field_with(false).await;
    // 100 samples per frame, 128 frames at once: far more than the queue holds.
    let frame = |n: i64| {
        let rows: Vec<_> = (0..100)
            .map(|i| json!({"ts": 1_700_000_000_000 + n * 1000 + i, "values": {"motor_temperature": 50.0}}))
            .collect();
        serde_json::Value::Array(rows).to_string()
    };
    let flood: Vec<_> = (0..128)
        .map(|n| {
            let (h, token, body) = (h.clone(), token.clone(), frame(n));
            tokio::spawn(async move {
                let response = h
                    .client
                    .post(format!("{}/api/v1/{token}/telemetry", h.base))
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("answered, not timed out");
                let retry = response.headers().get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
                let status = response.status();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                (status, retry, body)
            })
        })
        .collect();
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let started = Instant::now();
        let health = h.client.get(format!("{}/healthz", h.base)).send().await.expect("healthz");
        assert_eq!(health.status(), StatusCode::OK);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(slowest < Duration::from_millis(100), "healthz took {slowest:?} under load");
    let (mut ok, mut shed) = (0, 0);
    for answer in flood {
        let (status, retry, body) = answer.await.expect("request");
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!((body["code"].as_str(), retry.as_deref()), (Some("overloaded"), Some("1")), "{body}");
                shed += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(ok >= 1 && shed >= 1, "{ok} accepted, {shed} shed");
    // Everything acknowledged is stored; nothing shed is.
    let stored = h
        .get(&format!(
            "/api/devices/{device_id}/telemetry?key=motor_temperature&start_ts=0&end_ts={}&limit=10000",
            i64::MAX
        ))
        .await;
    assert_eq!(stored.as_array().map(Vec::len), Some(ok * 100));
    // And it recovers on its own.
    let (status, body, _) = h.telemetry(&token, frame(1000)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(h.server().services.ingest().stats().overloaded, shed as u64);
}
