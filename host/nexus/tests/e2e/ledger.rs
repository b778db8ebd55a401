//! Durability with a ledger, on PostgreSQL: a sender posts numbered
//! readings while the database is stopped hard (`pg_ctl stop -m immediate`,
//! as a crash) for several seconds and started again. Afterwards every
//! reading the server acknowledged (200) is stored exactly once, the
//! readings it could not store were refused (503 + `Retry-After`), nothing
//! else was answered, and the server took readings again on its own.
//!
//! The test starts its own PostgreSQL server (`initdb` into a temporary
//! directory, a free port), so killing it harms nobody else.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::Harness;

/// A PostgreSQL server of the test's own, removed when dropped.
struct PrivateServer {
    dir: PathBuf,
    port: u16,
}

/// Runs a PostgreSQL tool as the `postgres` user when this is root
/// (`initdb` and `postgres` refuse to run as root).
fn pg(tool: &str, args: &[&str]) -> std::process::Output {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0"));
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", tool]);
        c
    } else {
        Command::new(tool)
    };
    command.args(args).output().unwrap_or_else(|e| panic!("running {tool} (PostgreSQL's tools, see .ci/services): {e}"))
}

impl PrivateServer {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("nexus-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let _ = Command::new("chown").args(["postgres:postgres", dir.to_str().expect("path")]).output();
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let data = dir.join("data");
        let out = pg("initdb", &["-D", data.to_str().expect("path"), "-U", "postgres", "--auth=trust", "-E", "UTF8"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let server = Self { dir, port };
        server.pg_ctl_start();
        server
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.join("data");
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.display());
        let log = self.dir.join("postgres.log");
        let out = pg(
            "pg_ctl",
            &["-D", data.to_str().expect("path"), "-o", &options, "-l", log.to_str().expect("path"), "-w", "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops it as a crash would: no checkpoint, connections cut.
    fn crash(&self) {
        let data = self.dir.join("data");
        let out = pg("pg_ctl", &["-D", data.to_str().expect("path"), "-m", "immediate", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = pg("pg_ctl", &["-D", data.to_str().unwrap_or_default(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_reading_survives_a_database_crash_exactly_once() {
    let postgres = PrivateServer::start();
    let h = Harness::start_on(postgres.url()).await;
    let (device, token, _) = h.field_with(false).await;
    let base_ts = nexus_model::Clock::system().now() - 3_600_000;

    // The sender: reading n has ts = base + n and value n, one per request,
    // over the whole run; the ledger keeps each answer.
    let mut ledger: Vec<(i64, StatusCode)> = Vec::new();
    let mut retry_after_missing = 0;
    let started = Instant::now();
    let mut crashed_at = None;
    let mut restarted = false;
    let mut n = 0i64;
    loop {
        let elapsed = started.elapsed();
        if crashed_at.is_none() && elapsed > Duration::from_secs(2) {
            postgres.crash();
            crashed_at = Some(Instant::now());
        }
        if let Some(at) = crashed_at
            && !restarted
            && at.elapsed() > Duration::from_secs(5)
        {
            postgres.pg_ctl_start();
            restarted = true;
        }
        let body = json!([{"ts": base_ts + n, "values": {"seq": n}}]).to_string();
        let response = h
            .client
            .post(format!("{}/api/v1/{token}/telemetry", h.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the server answers, whatever the database does");
        let status = response.status();
        if status == StatusCode::SERVICE_UNAVAILABLE && response.headers().get("retry-after").is_none() {
            retry_after_missing += 1;
        }
        ledger.push((n, status));
        n += 1;
        // Stop once the server has taken readings again for a while.
        let taken_after_restart =
            restarted && ledger.iter().rev().take_while(|(_, s)| *s == StatusCode::OK).count() >= 50;
        if taken_after_restart || started.elapsed() > Duration::from_secs(90) {
            break;
        }
    }
    assert!(restarted, "the database was crashed and started again");
    let acknowledged: Vec<i64> = ledger.iter().filter(|(_, s)| *s == StatusCode::OK).map(|(n, _)| *n).collect();
    let refused = ledger.iter().filter(|(_, s)| *s == StatusCode::SERVICE_UNAVAILABLE).count();
    let other: Vec<_> = ledger.iter().filter(|(_, s)| !matches!(s.as_u16(), 200 | 503)).collect();
    assert!(other.is_empty(), "only 200 or 503: {other:?}");
    assert!(refused > 0, "the outage was seen: {} requests, none refused", ledger.len());
    assert_eq!(retry_after_missing, 0, "every 503 says when to retry");
    let last = ledger.last().map(|(_, s)| *s);
    assert_eq!(last, Some(StatusCode::OK), "the server took readings again on its own");

    // Every acknowledged reading is stored exactly once.
    let end = base_ts + n + 1;
    let history =
        h.get(&format!("/api/devices/{device}/telemetry?key=seq&start_ts={base_ts}&end_ts={end}&limit=10000")).await;
    let stored: Vec<i64> =
        history.as_array().expect("list").iter().filter_map(|r| r["ts"].as_i64()).map(|ts| ts - base_ts).collect();
    let mut unique = stored.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a reading stored twice");
    let missing: Vec<&i64> = acknowledged.iter().filter(|n| unique.binary_search(n).is_err()).collect();
    assert!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    println!(
        "ledger: {} readings sent, {} acknowledged and all stored once, {refused} refused with 503 during the outage",
        ledger.len(),
        acknowledged.len()
    );
}
