//! Device tokens: shown once, never listed, stored hashed, rotatable.

use reqwest::StatusCode;
use serde_json::json;

use crate::{Harness, frame};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_never_listed_and_a_rotated_token_replaces_the_old_one() {
    let h = Harness::start().await;
    let (device_id, token, _) = h.field_with(false).await;
    assert_eq!(token.len(), 40, "a generated token carries 160 random bits: {token}");

    for path in ["/api/devices".to_string(), format!("/api/devices/{device_id}"), "/api/events?limit=1000".into()] {
        let body = h.get(&path).await.to_string();
        assert!(!body.contains("access_token") && !body.contains(&token), "{path} shows a token: {body}");
        assert!(!body.contains("sha256:"), "{path} shows a token hash: {body}");
    }
    let (status, _, _) = h.telemetry(&token, frame(json!({"motor_temperature": 90.0}))).await;
    assert_eq!(status, StatusCode::OK);

    let rotated = h.post(&format!("/api/devices/{device_id}/token"), json!({})).await;
    let new_token = rotated["access_token"].as_str().expect("token").to_string();
    assert_ne!(new_token, token);
    assert_eq!(rotated["id"], device_id.as_str());
    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 91.0}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unknown-access-token")));
    let (status, body, _) = h.telemetry(&new_token, frame(json!({"motor_temperature": 92.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let latest = h.get(&format!("/api/devices/{device_id}/telemetry/latest")).await;
    assert_eq!(latest[0]["value"], 92.0, "the refused frame was stored");

    // The tokens survive a restart (only hashes are stored, and they still match).
    let h = h.restart().await;
    let (status, _, _) = h.telemetry(&new_token, frame(json!({"motor_temperature": 93.0}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = h.telemetry(&token, frame(json!({"motor_temperature": 94.0}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let events = h.get("/api/events?limit=1000").await;
    let rotations = events.as_array().expect("events").iter().filter(|e| e["action"] == "token_rotated").count();
    assert_eq!(rotations, 1);
}
