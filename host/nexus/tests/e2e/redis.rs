//! The Redis hot cache on a real `redis-server` the test starts (its own
//! port, nothing saved): the seed's keys appear, under the prefix and the
//! tenant, with their TTLs; latest-value reads use the cache, which never
//! goes back in time nor takes a reading ahead of the clock; the active
//! alarms follow the outbox; a well's status is read from its hash; and
//! with Redis killed, ingest still answers 200 and latest values and the
//! well's status come from the database.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

/// A `redis-server` child on a free loopback port, killed on drop.
struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (apt-get install redis-server)");
        let server = Self { child: Some(child), port };
        for _ in 0..100 {
            if server.cli(&["PING"]) == "PONG" {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// One `redis-cli` command's raw answer, trimmed.
    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// The keys matching `pattern`.
    fn keys(&self, pattern: &str) -> Vec<String> {
        self.cli(&["KEYS", pattern]).lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
    }

    /// Waits (up to 10 s) for exactly one key matching `pattern`.
    async fn one_key(&self, pattern: &str) -> String {
        for _ in 0..200 {
            if let [key] = self.keys(pattern).as_slice() {
                return key.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no key {pattern}; keys: {:?}", self.keys("*"));
    }

    /// A key's remaining time to live, ms.
    fn pttl(&self, key: &str) -> i64 {
        self.cli(&["PTTL", key]).parse().expect("PTTL is a number")
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn post_frame(h: &Harness, token: &str, ts: i64, values: Value) {
    let (status, body, _) = h.telemetry(token, json!({"ts": ts, "values": values}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// `GET …/telemetry/latest?keys={key}`: (value, ts).
async fn latest(h: &Harness, device: &str, key: &str) -> (f64, i64) {
    let readings = h.get(&format!("/api/devices/{device}/telemetry/latest?keys={key}")).await;
    let reading = &readings[0];
    (reading["value"].as_f64().unwrap_or(f64::NAN), reading["ts"].as_i64().unwrap_or_default())
}

/// Polls (up to 10 s) until `check` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_keys_appear_with_their_ttls_and_reads_fall_back_to_the_database_without_redis() {
    let mut redis = RedisServer::start();
    let h = Harness::start_with_redis(redis.url(), "e2e:".into()).await;
    let (device, token, _) = h.field_with(false).await;
    let well = h.get(&format!("/api/devices/{device}")).await["well_id"].as_str().expect("well").to_string();
    let t0 = nexus_model::Clock::system().now();

    // A reading over the threshold rule's 100 raises an alarm.
    post_frame(&h, &token, t0, json!({"motor_temperature": 130.0, "flow": 2.0})).await;

    // The device's and the well's latest values (1 min), the well's status
    // (5 min), under the prefix and the tenant.
    let device_key = redis.one_key(&format!("e2e:*:device:{device}:telemetry:latest")).await;
    let tenant = device_key.strip_prefix("e2e:").and_then(|k| k.split(':').next()).expect("tenant segment");
    assert!(!tenant.is_empty(), "{device_key}");
    let well_key = redis.one_key(&format!("e2e:{tenant}:well:{well}:telemetry:latest")).await;
    let status_key = redis.one_key(&format!("e2e:{tenant}:well:{well}:status")).await;
    for (key, ttl) in [(&device_key, 60_000), (&well_key, 60_000), (&status_key, 300_000)] {
        let left = redis.pttl(key);
        assert!(left > 0 && left <= ttl, "{key}: PTTL {left}, want 0 < ttl <= {ttl}");
    }
    let entry = redis.cli(&["HGET", &device_key, "motor_temperature"]);
    assert!(entry.starts_with(&format!("{t0}|")) && entry.contains("130"), "{entry}");
    assert!(redis.cli(&["HGET", &well_key, "flow"]).starts_with(&format!("{t0}|")));
    assert_eq!(redis.cli(&["HGET", &status_key, "last_report_ts"]), t0.to_string());
    assert_eq!(redis.cli(&["HGET", &status_key, "last_device"]), device);

    // The well's status endpoint reads the hash: a report put there (only
    // by this test) is what it answers; another tenant's admin gets 404.
    let status_path = format!("/api/wells/{well}/status");
    let status = h.get(&status_path).await;
    assert_eq!((status["last_report_ts"].as_i64(), status["source"].as_str()), (Some(t0), Some("cache")), "{status}");
    assert_eq!((status["last_device"].as_str(), status["monitored"].as_bool()), (Some(device.as_str()), Some(true)));
    redis.cli(&["HSET", &status_key, "last_report_ts", &(t0 - 1).to_string(), "last_device", "planted"]);
    let status = h.get(&status_path).await;
    assert_eq!((status["last_report_ts"].as_i64(), status["last_device"].as_str()), (Some(t0 - 1), Some("planted")));
    redis.cli(&["HSET", &status_key, "last_report_ts", &t0.to_string(), "last_device", &device]);
    h.field_in("other").await;
    let (code, body, _) = h.send(h.admin(Method::GET, &status_path, "other").await).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "another tenant's well: {body}");

    // The alarm joins the tenant's active set, scored by its start.
    let alarms = h.alarms(&device).await;
    let alarm = alarms.first().expect("an alarm was raised");
    let alarm_id = alarm["id"].as_str().expect("id").to_string();
    let active = format!("e2e:{tenant}:alarms:active");
    eventually("the alarm is in alarms:active", async || redis.cli(&["ZRANGE", &active, "0", "-1"]) == alarm_id).await;
    assert_eq!(redis.cli(&["ZSCORE", &active, &alarm_id]), alarm["start_ts"].as_i64().expect("start").to_string());

    // Latest reads use the cache: a value put there (only by this test)
    // is what the endpoint answers.
    let planted = json!({"device_id": device, "key": "flow", "ts": t0, "value": 999.0, "quality": 1.0});
    redis.cli(&["HSET", &device_key, "flow", &format!("{t0}|{planted}")]);
    assert_eq!(latest(&h, &device, "flow").await, (999.0, t0), "answered from the cache");

    // A newer reading replaces it; an older one and one too far ahead of
    // the clock (stored, never latest) do not.
    post_frame(&h, &token, t0 + 1, json!({"flow": 3.0})).await;
    eventually("the newer reading is cached", async || latest(&h, &device, "flow").await == (3.0, t0 + 1)).await;
    post_frame(&h, &token, t0 - 60_000, json!({"flow": 1.0})).await;
    post_frame(&h, &token, t0 + 3_600_000, json!({"flow": 500.0})).await;
    post_frame(&h, &token, t0 + 2, json!({"motor_temperature": 131.0})).await;
    // The writer is in order: once the last frame's value is cached, the two
    // before it were offered and refused.
    eventually("the last frame is cached", async || {
        redis.cli(&["HGET", &device_key, "motor_temperature"]).starts_with(&format!("{}|", t0 + 2))
    })
    .await;
    assert_eq!(latest(&h, &device, "flow").await, (3.0, t0 + 1), "neither the older nor the future reading is latest");
    assert!(redis.cli(&["HGET", &device_key, "flow"]).starts_with(&format!("{}|", t0 + 1)));

    // Cleared, the alarm leaves the set.
    let cleared = h.post(&format!("/api/alarms/{alarm_id}/clear"), json!({})).await;
    assert_eq!(cleared["action"].as_str(), Some("CLEARED"), "{cleared}");
    eventually("the cleared alarm left alarms:active", async || redis.cli(&["ZCARD", &active]) == "0").await;

    // Redis gone: ingest still answers 200, and latest values come from
    // the database, the new one included.
    redis.kill();
    post_frame(&h, &token, t0 + 3, json!({"motor_temperature": 132.0})).await;
    assert_eq!(latest(&h, &device, "motor_temperature").await, (132.0, t0 + 3), "from the database");
    let (status, page, _) =
        h.send(h.admin(Method::GET, &format!("/api/devices/{device}/telemetry/latest"), "acme").await).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let keys: Vec<&str> = page.as_array().expect("list").iter().filter_map(|r| r["key"].as_str()).collect();
    assert_eq!(keys, ["flow", "motor_temperature"], "{page}");
    assert_eq!((page[0]["value"].as_f64(), page[0]["ts"].as_i64()), (Some(3.0), Some(t0 + 1)), "{page}");
    assert_eq!(page[1]["value"], 132.0, "{page}");
    // The well's status too, from the database: the newest latest value
    // (not the reading an hour ahead of the clock, which is never latest).
    let status = h.get(&status_path).await;
    assert_eq!(
        (status["last_report_ts"].as_i64(), status["source"].as_str()),
        (Some(t0 + 3), Some("store")),
        "{status}"
    );
    assert_eq!((status["last_device"].as_str(), status["monitored"].as_bool()), (Some(device.as_str()), Some(true)));
}
