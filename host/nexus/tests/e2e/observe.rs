//! Operations: `/readyz` says which dependency is not usable, every answer
//! carries a request id, and a `nexus serve` process writes JSON log lines
//! with the request id and exports its spans over OTLP/HTTP.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, TOKEN};

async fn readyz(h: &Harness) -> (StatusCode, Value) {
    let (status, body, _) = h.send(h.client.get(format!("{}/readyz", h.base))).await;
    (status, body)
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"].as_array().and_then(|c| c.iter().find(|c| c["name"] == name)).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_compile_cache_or_the_database_when_it_is_not_usable() {
    let h = Harness::start().await;
    let (status, body) = readyz(&h).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(check(&body, "database")["status"], "ok");
    assert_eq!(check(&body, "compile-cache")["status"], "ok");
    assert_eq!(check(&body, "broker")["status"], "not-configured", "{body}");

    // The compile cache's directory replaced by a file (a read-only mode
    // would not stop root, which the tests may run as).
    let compiled = h.data_dir().join("compiled");
    let aside = h.data_dir().join("compiled.aside");
    std::fs::rename(&compiled, &aside).expect("move the cache aside");
    std::fs::write(&compiled, b"not a directory").expect("a file in its place");
    let (status, body) = readyz(&h).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not-ready")), "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("compile-cache: ")), "{body}");
    assert_eq!(check(&body, "compile-cache")["status"], "failed");
    assert_eq!(check(&body, "database")["status"], "ok");
    std::fs::remove_file(&compiled).expect("remove the file");
    std::fs::rename(&aside, &compiled).expect("put the cache back");
    assert_eq!(readyz(&h).await.0, StatusCode::OK);

    // The database file gone from its place: the open connections still
    // answer, a new one finds no database.
    let database = h.data_dir().join("nexus.db");
    let aside = h.data_dir().join("nexus.db.aside");
    std::fs::rename(&database, &aside).expect("move the database aside");
    let (status, body) = readyz(&h).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("database: ")), "{body}");
    assert_eq!(check(&body, "database")["status"], "failed");
    assert!(check(&body, "database")["error"].as_str().is_some_and(|e| e.contains("nexus.db")), "{body}");
    std::fs::rename(&aside, &database).expect("put the database back");
    let (status, body) = readyz(&h).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_a_sane_given_one_is_kept() {
    let h = Harness::start().await;
    let id = |response: &reqwest::Response| {
        response.headers().get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_string)
    };
    // Public, unmatched, unauthenticated, authenticated: each has one, each new.
    let mut seen = std::collections::BTreeSet::new();
    for (method, path, token) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/no/such/route", None),
        (Method::GET, "/api/wells", None),
        (Method::GET, "/api/tenants", Some(TOKEN)),
    ] {
        let mut request = h.client.request(method, format!("{}{path}", h.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let given = id(&response).unwrap_or_else(|| panic!("{path}: no request id"));
        assert_eq!(given.len(), 36, "{path}: {given}");
        assert!(seen.insert(given), "{path}: a request id twice");
    }
    // A sane id is echoed, and it is the audit entry's.
    let created = h
        .admin(Method::POST, "/api/wells", "acme")
        .await
        .header("x-request-id", "deploy-7f3a:step.2")
        .json(&json!({"name": "W-echo"}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(id(&created).as_deref(), Some("deploy-7f3a:step.2"));
    let audit = h.get("/api/audit?action=POST%20/api/wells").await;
    let entry = audit.as_array().and_then(|a| a.first()).cloned().unwrap_or_default();
    assert_eq!(entry["request_id"], "deploy-7f3a:step.2", "{audit}");
    // Insane ones are replaced: too long, or characters outside the set.
    for insane in ["x".repeat(129), "two words".into(), "semi;colon".into(), "<script>".into()] {
        let response = h
            .client
            .get(format!("{}/healthz", h.base))
            .header("x-request-id", insane.as_str())
            .send()
            .await
            .expect("request");
        let given = id(&response).expect("an id");
        assert_ne!(given, insane);
        assert_eq!(given.len(), 36, "{given}");
    }
    let longest = "y".repeat(128);
    let response =
        h.client.get(format!("{}/healthz", h.base)).header("x-request-id", &longest).send().await.expect("ok");
    assert_eq!(id(&response), Some(longest));
}

/// What a tiny OTLP/HTTP collector received: (path, content type, body).
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A collector on loopback: reads HTTP/1.1 requests with a
/// `Content-Length` body and answers each 200 (an empty protobuf answer).
fn collector() -> (String, Received) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let received: Received = Arc::default();
    let store = received.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                let mut read = |buffer: &mut Vec<u8>, stream: &mut std::net::TcpStream| match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => false,
                    Ok(n) => {
                        buffer.extend_from_slice(&chunk[..n]);
                        true
                    }
                };
                loop {
                    let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
                        if !read(&mut buffer, &mut stream) {
                            return;
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)))
                            .map(|(_, v)| v.trim().to_string())
                    };
                    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
                    while buffer.len() < end + 4 + length {
                        if !read(&mut buffer, &mut stream) {
                            return;
                        }
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                    let body = buffer[end + 4..end + 4 + length].to_vec();
                    store.lock().expect("lock").push((path, header("content-type").unwrap_or_default(), body));
                    buffer.drain(..end + 4 + length);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if stream.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (base, received)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_process_logs_json_with_the_request_id_and_exports_its_spans_over_otlp() {
    let (collector, received) = collector();
    let data_dir = std::env::temp_dir().join(format!("nexus-otlp-{}", uuid::Uuid::new_v4()));
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        listener.local_addr().expect("addr").to_string()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["serve", "--data-dir", &data_dir.display().to_string(), "--listen", &addr])
        .env("NEXUS_ADMIN_TOKEN", TOKEN)
        .env("NEXUS_LOG_FORMAT", "json")
        .env("RUST_LOG", "info,nexus_api=debug")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_SERVICE_NAME", "nexus-e2e")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("nexus starts");
    // Log lines, read on a thread as they come.
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let stdout = child.stdout.take().expect("stdout");
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().expect("lock").push(line);
        }
    });

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(child.try_wait().expect("wait").is_none(), "nexus exited at start-up");
        assert!(Instant::now() < deadline, "nexus did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let request_id = format!("otlp-e2e-{}", uuid::Uuid::new_v4().simple());
    let answer = client
        .get(format!("{base}/api/tenants"))
        .bearer_auth(TOKEN)
        .header("x-request-id", &request_id)
        .send()
        .await
        .expect("request");
    assert_eq!(answer.status(), StatusCode::OK);

    // The collector receives the request's span: protobuf carries strings
    // as they are, so the id and the route template are in the body.
    let deadline = Instant::now() + Duration::from_secs(20);
    let exported = loop {
        let found =
            received.lock().expect("lock").iter().find(|(_, _, body)| contains(body, request_id.as_bytes())).cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no trace export with the request's span arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(exported.0, "/v1/traces");
    assert_eq!(exported.1, "application/x-protobuf");
    assert!(contains(&exported.2, b"/api/tenants"), "the route template is an attribute");
    assert!(contains(&exported.2, b"nexus-e2e"), "the service name is the resource's");

    // The JSON log line of the request carries its id.
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let found = lines.lock().expect("lock").iter().find(|l| l.contains(&request_id)).cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(Instant::now() < deadline, "no log line with the request id: {:?}", lines.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line: Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(line["span"]["request_id"], request_id.as_str(), "{line}");
    assert_eq!(line["span"]["route"], "/api/tenants");
    assert_eq!(line["span"]["status"], 200);
    assert!(
        lines.lock().expect("lock").iter().all(|l| serde_json::from_str::<Value>(l).is_ok()),
        "every stdout line is JSON"
    );

    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data_dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
