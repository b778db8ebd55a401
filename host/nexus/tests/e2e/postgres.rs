//! The server on PostgreSQL (`--database postgres://…`): the same flow as on
//! the embedded store — a field, telemetry, an alarm and a person's action
//! on it — surviving a restart. Each test gets a fresh database on the
//! local server (`NEXUS_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432`), dropped afterwards.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::{Harness, frame};

/// A database made for one test, dropped (with its connections) when done.
pub(crate) struct FreshDatabase {
    /// Its URL.
    pub(crate) url: String,
    name: String,
    server: String,
}

impl FreshDatabase {
    /// Creates `nexus_e2e_<uuid>` with `psql` (installed with the server by
    /// `.ci/services`).
    pub(crate) fn create() -> Self {
        let server = std::env::var("NEXUS_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
            .trim_end_matches('/')
            .to_string();
        let name = format!("nexus_e2e_{}", uuid::Uuid::new_v4().simple());
        psql(&server, &format!("CREATE DATABASE {name}"));
        Self { url: format!("{server}/{name}"), name, server }
    }
}

impl Drop for FreshDatabase {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .args([
                &format!("{}/postgres", self.server),
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

fn psql(server: &str, sql: &str) {
    let output = std::process::Command::new("psql")
        .args([&format!("{server}/postgres"), "-v", "ON_ERROR_STOP=1", "-qc", sql])
        .output()
        .unwrap_or_else(|e| panic!("running psql (start PostgreSQL with .ci/services): {e}"));
    assert!(
        output.status.success(),
        "psql {sql}: {} (is PostgreSQL running? .ci/services starts it; NEXUS_TEST_POSTGRES_URL points elsewhere)",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_postgres_and_keeps_everything_across_a_restart() {
    let h = Harness::start_on_postgres().await;
    assert_eq!(h.server().services.backend(), "postgres");
    let (device, token, _) = h.field_with(false).await;
    let (status, body, _) = h.telemetry(&token, frame(json!({"motor_temperature": 130.0, "flow": 1200.0}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alarm_transitions"], 1, "{body}");
    let alarms = h.alarms(&device).await;
    assert_eq!(alarms.len(), 1);
    let alarm_id = alarms[0]["id"].as_str().expect("id").to_string();

    let h = h.restart().await;
    assert_eq!(h.server().services.backend(), "postgres");
    let latest = h.get(&format!("/api/devices/{device}/telemetry/latest?keys=flow")).await;
    assert_eq!(latest[0]["value"], 1200.0, "{latest}");
    let (status, body, _) =
        h.send(h.admin(Method::POST, &format!("/api/alarms/{alarm_id}/ack"), "acme").await.json(&json!({}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["alarm"]["status"], "ACTIVE_ACK", "{body}");
    // The device's token still works after the restart, and the open alarm
    // is updated, not raised again.
    let (status, _, _) = h.telemetry(&token, frame(json!({"motor_temperature": 131.0}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h.alarms(&device).await.len(), 1, "the open alarm is updated, not raised again");
    let events = h.get("/api/events").await;
    let kinds: Vec<&str> = events.as_array().expect("list").iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"alarm") && kinds.contains(&"entity"), "{kinds:?}");
}
