//! What one hostile client or device cannot do to a fresh server: hold a
//! connection with a dribbled request head, grow a device's telemetry keys
//! without bound, pin "latest" with a reading stamped ahead of the clock,
//! keep dead letters forever, choose a weak token, or guess tokens freely.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use nexus_api::HttpTimeouts;
use nexus_model::Clock;
use nexus_services::ServicesConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Harness, frame};

fn data_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("nexus-e2e-{}", uuid::Uuid::new_v4()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dribbled_request_head_is_dropped_within_the_header_timeout() {
    let http = HttpTimeouts {
        header_read: Duration::from_secs(2),
        request: Duration::from_secs(2),
        ..HttpTimeouts::default()
    };
    let h = Harness::start_http(data_dir(), ServicesConfig::default(), http).await;
    let mut stream = tokio::net::TcpStream::connect(h.server().addr).await.expect("connect");
    let started = Instant::now();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: nexus\r\n").await.expect("request line");
    let (mut read, mut write) = stream.into_split();
    // One header line a second, never the blank line that ends the head.
    let writer = tokio::spawn(async move {
        for i in 0..30 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if write.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut answer = Vec::new();
    let read_all = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut answer)).await;
    let held = started.elapsed();
    writer.abort();
    assert!(read_all.is_ok(), "the connection was still open after 20 s");
    assert!(held < Duration::from_secs(8), "closed only after {held:?} with a 2 s header timeout");
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "the slow request was served");
    // The server still serves everyone else.
    let (status, _, _) = h.send(h.client.get(format!("{}/healthz", h.base))).await;
    assert_eq!(status, StatusCode::OK);

    // A whole head but a body that never comes: 408 within the request timeout.
    let mut stream = tokio::net::TcpStream::connect(h.server().addr).await.expect("connect");
    let head = format!(
        "POST /api/wells HTTP/1.1\r\nHost: nexus\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\": ",
        h.token("acme").await
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut answer = vec![0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut answer)).await;
    let n = read.expect("an answer within 20 s").expect("read");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request-timeout"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_past_its_key_cap_has_new_keys_refused_and_known_keys_stored() {
    let h = Harness::start_with(ServicesConfig { max_keys_per_device: 3, ..ServicesConfig::default() }).await;
    let (device_id, token, _) = h.field_with(false).await;
    let (status, body, _) = h.telemetry(&token, frame(json!({"a": 1, "b": 2, "c": 3}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 3);

    let (status, body, _) = h.telemetry(&token, frame(json!({"a": 10, "d": 4, "e": 5}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1, "{body}");
    let rejected = body["rejected"].as_array().expect("rejected");
    let mut keys: Vec<&str> = rejected.iter().filter_map(|r| r["key"].as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["d", "e"]);
    assert!(rejected.iter().all(|r| r["reason"].as_str().is_some_and(|s| s.contains("max_keys_per_device"))), "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest")).await;
    let stored: Vec<(&str, f64)> = latest
        .as_array()
        .expect("latest")
        .iter()
        .map(|r| (r["key"].as_str().unwrap_or(""), r["value"].as_f64().unwrap_or(0.0)))
        .collect();
    assert_eq!(stored, [("a", 10.0), ("b", 2.0), ("c", 3.0)]);
    let dead = h.get("/api/dead-letters").await;
    assert_eq!(dead[0]["error_code"], "invalid-reading", "{dead}");
    assert!(dead[0]["error"].as_str().is_some_and(|e| e.contains("d@") && e.contains("max_keys_per_device")), "{dead}");

    // The tenant's profile raises the cap: one more key fits.
    let (status, body, _) = h
        .send(
            h.system(reqwest::Method::PUT, "/api/tenants/acme/profile").await.json(&json!({"max_keys_per_device": 4})),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, body, _) = h.telemetry(&token, frame(json!({"d": 4, "e": 5}))).await;
    assert_eq!(body["accepted"], 1, "{body}");
    assert_eq!(body["rejected"][0]["key"], "e", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reading_stamped_far_ahead_is_stored_but_does_not_pin_latest() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let now = Clock::system().now();
    let ahead = now + 23 * 3600 * 1000;
    let (status, body, _) = h.telemetry(&token, json!({"ts": ahead, "values": {"pressure": 999.0}}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["accepted"].as_u64(), body["ahead_of_clock"].as_u64()), (Some(1), Some(1)), "{body}");
    let (_, body, _) = h.telemetry(&token, json!({"ts": now, "values": {"pressure": 700.0}}).to_string()).await;
    assert_eq!((body["accepted"].as_u64(), body["ahead_of_clock"].as_u64()), (Some(1), Some(0)), "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest?keys=pressure")).await;
    assert_eq!((latest[0]["ts"].as_i64(), latest[0]["value"].as_f64()), (Some(now), Some(700.0)), "{latest}");
    // A later reading inside the skew still moves latest on.
    let (_, body, _) = h.telemetry(&token, json!({"ts": now + 1000, "values": {"pressure": 710.0}}).to_string()).await;
    assert_eq!(body["ahead_of_clock"], 0);
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest?keys=pressure")).await;
    assert_eq!(latest[0]["value"].as_f64(), Some(710.0), "{latest}");
    let history =
        h.get(&format!("/api/devices/{device_id}/telemetry?key=pressure&start_ts={now}&end_ts={}", ahead + 1)).await;
    let stamps: Vec<i64> = history.as_array().expect("history").iter().filter_map(|r| r["ts"].as_i64()).collect();
    assert_eq!(stamps, [now, now + 1000, ahead], "the far-future reading is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_latest_values_walk_every_key_once() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    let values: serde_json::Map<String, Value> = (0..25).map(|i| (format!("key-{i:02}"), json!(i))).collect();
    let (status, body, _) = h.telemetry(&token, frame(Value::Object(values))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 25);
    let (mut seen, mut pages, mut after) = (Vec::new(), 0, None::<String>);
    loop {
        let mut path = format!("/api/devices/{device_id}/telemetry/latest?limit=10");
        if let Some(after) = &after {
            path.push_str(&format!("&after={after}"));
        }
        let response = h.admin(reqwest::Method::GET, &path, "acme").await.send().await.expect("page");
        assert_eq!(response.status(), StatusCode::OK);
        let next = response.headers().get("x-next-after").and_then(|v| v.to_str().ok()).map(str::to_string);
        let link = response.headers().get("link").is_some();
        let page: Value = response.json().await.expect("json");
        let page = page.as_array().expect("array").clone();
        assert!(page.len() <= 10);
        pages += 1;
        seen.extend(page.iter().filter_map(|r| r["key"].as_str().map(str::to_string)));
        assert_eq!(next.is_some(), link, "the cursor comes as X-Next-After and Link together");
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
        assert!(pages < 10, "the pages do not end");
    }
    let expected: Vec<String> = (0..25).map(|i| format!("key-{i:02}")).collect();
    assert_eq!(seen, expected, "every key once, in order");
    assert_eq!(pages, 3);
    let (status, body, _) = h
        .send(
            h.admin(reqwest::Method::GET, &format!("/api/devices/{device_id}/telemetry/latest?limit=10001"), "acme")
                .await,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letter_retention_removes_old_and_oversized_letters() {
    let clock = Clock::manual(Clock::system().now());
    let services = ServicesConfig {
        clock: clock.clone(),
        dead_letter_max_bytes: 1000,
        dead_letter_max_age: Duration::from_secs(7 * 24 * 3600),
        ..ServicesConfig::default()
    };
    let h = Harness::start_with(services).await;
    let (_, token, _) = h.field_with(false).await;
    // Four frames the decoder refuses, 400 bytes each: each a dead letter.
    for i in 0..4 {
        let garbage = format!("{{\"n\": {i}, \"pad\": \"{}\"", "x".repeat(380));
        h.telemetry(&token, garbage).await;
    }
    let letters = |dead: Value| dead.as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(letters(h.get("/api/dead-letters").await), 4);
    let records = h.server().services.records().clone();
    // 1000 bytes hold the newest two.
    assert_eq!(records.sweep_dead_letters().await.expect("sweep"), 2);
    assert_eq!(letters(h.get("/api/dead-letters").await), 2);
    // Six days on they stay; eight days on they are gone.
    clock.set(clock.now() + 6 * 86_400_000);
    assert_eq!(records.sweep_dead_letters().await.expect("sweep"), 0);
    clock.set(clock.now() + 2 * 86_400_000);
    assert_eq!(records.sweep_dead_letters().await.expect("sweep"), 2);
    // Eight days on, the access token of the first login has expired.
    h.forget_tokens().await;
    assert_eq!(letters(h.get("/api/dead-letters").await), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_chosen_token_is_refused_and_a_strong_one_works() {
    let h = Harness::start().await;
    let (_, _, _) = h.field_with(false).await;
    for (weak, why) in [("device-token-1", "22 to 128"), ("abcdefghijklmnopqrstuvwxy", "too weak")] {
        let request = h.admin(reqwest::Method::POST, "/api/devices", "acme").await;
        let (status, body, _) = h.send(request.json(&json!({"name": "ESP-2", "access_token": weak}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{weak}: {body}");
        assert_eq!(body["code"], "invalid-request");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("access_token") && d.contains(why)), "{body}");
    }
    let strong = "Xk9-pQ2_vL7mN4rT8wZ1bC";
    let device = h.post("/api/devices", json!({"name": "ESP-2", "access_token": strong})).await;
    assert_eq!(device["access_token"], strong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_wrong_tokens_from_one_address_get_429_and_others_still_work() {
    let h = Harness::start().await;
    let (_, token, _) = h.field_with(false).await;
    // The guesser sends from 127.0.0.2 (all of 127/8 is loopback).
    let guesser_ip: IpAddr = "127.0.0.2".parse().expect("ip");
    let guesser = reqwest::Client::builder().local_address(guesser_ip).build().expect("client");
    let url = |token: &str| format!("{}/api/v1/{token}/telemetry", h.base);
    let send = |client: &reqwest::Client, token: &str| {
        client.post(url(token)).header("content-type", "application/json").body(frame(json!({"t": 1})))
    };
    for i in 0..10 {
        let (status, body, _) = h.send(send(&guesser, &format!("wrong-guess-{i}"))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {i}: {body}");
    }
    let response = send(&guesser, "wrong-guess-10").send().await.expect("request");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("problem");
    assert_eq!(body["code"], "too-many-failed-tokens");
    // A blocked address learns nothing, not even from the right token.
    let (status, _, _) = h.send(send(&guesser, &token)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The device at another address is served.
    let (status, body, _) = h.telemetry(&token, frame(json!({"t": 2}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 1);
}
