//! Bad input gets a clear error and stores nothing.

use std::time::{Duration, Instant};

use nexus::plugin_files;
use reqwest::StatusCode;
use serde_json::json;

use crate::{Harness, frame};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field().await;

    // Malformed JSON: 422 problem+json naming the decoder's reason (the
    // sender's input, not the host's fault); nothing stored.
    let (status, body, content_type) = h.telemetry(&token, "{\"motor_temperature\": 12,").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "input-rejected");
    assert_eq!(body["decoder_code"], "malformed-json");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("line 1")), "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest")).await;
    assert_eq!(latest, json!([]));
    let dead = h.get("/api/dead-letters").await;
    assert_eq!(dead[0]["stage"], "decode");
    assert_eq!(dead[0]["error_code"], "plugin-error");

    // Unknown access token: 401.
    let (status, body, content_type) = h.telemetry("no-such-token", frame(json!({"t": 1}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(body["code"], "unknown-access-token");

    // Uploads that are not what they claim: 422 with the validator's reason.
    let before = h.get("/api/plugins").await.as_array().map(Vec::len);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("alarm-rule", b"definitely not wasm".to_vec(), "not-a-component"),
        ("alarm-rule", b"\0asm\x01\0\0\0".to_vec(), "core-module"),
        ("alarm-rule", b"\0asm\x0d\0\x01\0\x07\x05garbage".to_vec(), "invalid-component"),
        (
            "decoder",
            plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built"),
            "wrong-world",
        ),
    ];
    for (kind, bytes, code) in cases {
        let (status, body, content_type) = h.upload(kind, "bad-plugin", bytes).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(body["code"], code, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
    let (_, body, _) = h
        .upload(
            "decoder",
            "bad-plugin",
            plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built"),
        )
        .await;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("decoder")), "{body}");
    assert_eq!(h.get("/api/plugins").await.as_array().map(Vec::len), before, "a refused upload stored something");

    // A malformed admin body, a missing token, an unknown kind.
    let (status, body, _) = h
        .send(
            h.admin(reqwest::Method::POST, "/api/devices", "acme")
                .await
                .body("{oops")
                .header("content-type", "application/json"),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed-json")));
    let (status, body, _) = h.send(h.client.get(format!("{}/api/alarms", h.base))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthenticated")));
    let (status, body, _) = h.upload("converter", "x", vec![1]).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid-request")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_refused_with_a_stable_code_and_nothing_stored() {
    let h = Harness::start().await;
    let real = plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let forbidden =
        |interface: &str| wat::parse_str(format!("(component (import \"{interface}\" (instance)))")).expect("wat");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("truncated", real[..real.len() / 2].to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid-component"),
        ("sockets", forbidden("wasi:sockets/tcp@0.2.6"), StatusCode::UNPROCESSABLE_ENTITY, "forbidden-import"),
        ("filesystem", forbidden("wasi:filesystem/types@0.2.6"), StatusCode::UNPROCESSABLE_ENTITY, "forbidden-import"),
        ("http", forbidden("wasi:http/outgoing-handler@0.2.6"), StatusCode::UNPROCESSABLE_ENTITY, "forbidden-import"),
    ];
    for (case, bytes, status, code) in cases {
        let (got, body, content_type) = h.upload("alarm-rule", "refused", bytes).await;
        assert_eq!(got, status, "{case}: {body}");
        assert_eq!(body["code"], code, "{case}: {body}");
        assert_eq!(content_type, "application/problem+json", "{case}");
    }
    // Oversized: announce 11 MiB and send none of it; the 413 comes from the
    // headers alone, before any of the body is read.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = h.base.trim_start_matches("http://").to_string();
        let mut stream = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        let head = format!(
            "POST /api/plugins?kind=alarm-rule&name=refused&version=0.1.0 HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
            h.token("acme").await,
            11 << 20
        );
        stream.write_all(head.as_bytes()).await.expect("write");
        let mut response = vec![0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut response))
            .await
            .expect("answered")
            .expect("read");
        let response = String::from_utf8_lossy(&response[..n]);
        assert!(response.starts_with("HTTP/1.1 413"), "{response}");
        assert!(response.contains("payload-too-large"), "{response}");
    }
    let (_, body, _) = h.upload("alarm-rule", "refused", forbidden("wasi:sockets/tcp@0.2.6")).await;
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("wasi:sockets/tcp")), "{body}");
    assert_eq!(h.get("/api/plugins").await, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compile_bomb_gets_a_422_and_the_api_stays_responsive() {
    // The bound is scaled down so a few MiB of code exceed it; the
    // production default is 20 s.
    let h = Harness::start_with(nexus_services::ServicesConfig {
        compile_timeout: Duration::from_millis(150),
        compile_workers: 1,
        ..nexus_services::ServicesConfig::default()
    })
    .await;
    let body: String = (0..400).map(|i| format!("(i64.mul (i64.const {i}))")).collect();
    let funcs: String = (0..3000).map(|_| format!("(func (param i64) (result i64) (local.get 0) {body})")).collect();
    let bomb = wat::parse_str(format!("(component (core module {funcs}))")).expect("wat");
    let upload = {
        let (client, base, token) = (h.client.clone(), h.base.clone(), h.token("acme").await);
        tokio::spawn(async move {
            client
                .post(format!("{base}/api/plugins?kind=alarm-rule&name=bomb&version=0.1.0"))
                .bearer_auth(token)
                .body(bomb)
                .send()
                .await
                .expect("upload")
        })
    };
    // While it compiles, the API answers.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let started = Instant::now();
    let health = h.client.get(format!("{}/healthz", h.base)).send().await.expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(100), "healthz took {:?}", started.elapsed());
    let response = upload.await.expect("task");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let problem: serde_json::Value = response.json().await.expect("json");
    assert_eq!(problem["code"], "compile-timeout", "{problem}");
    assert_eq!(h.get("/api/plugins").await, json!([]));
}
