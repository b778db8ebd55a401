//! Uploads one tenant cannot use against another: a compile bomb is
//! compiled in a child process that is killed at the compile timeout,
//! holds no slot another tenant needs, and leaves nothing behind; a
//! tenant's second upload waits its turn and is refused with `compile-busy`
//! past the bound; the compile cache is per tenant. A tenant's upload cap
//! is its profile's, up to the system ceiling that also caps vendors.

use std::path::Path;
use std::time::{Duration, Instant};

use nexus::plugin_files;
use reqwest::StatusCode;
use serde_json::Value;

use crate::Harness;

/// A component whose one core module has thousands of long functions:
/// valid, small enough to upload, and far longer than a few seconds for
/// Cranelift on one core.
fn compile_bomb() -> Vec<u8> {
    let body: String = (0..400).map(|i| format!("(i64.mul (i64.const {i}))")).collect();
    let funcs: String = (0..5000).map(|_| format!("(func (param i64) (result i64) (local.get 0) {body})")).collect();
    let bomb = wat::parse_str(format!("(component (core module {funcs}))")).expect("wat");
    assert!(bomb.len() < nexus_services::MAX_COMPONENT_BYTES, "{} bytes", bomb.len());
    bomb
}

async fn upload(h: &Harness, tenant: &str, kind: &str, name: &str, version: &str, bytes: Vec<u8>) -> reqwest::Response {
    h.client
        .post(format!("{}/api/plugins?kind={kind}&name={name}&version={version}", h.base))
        .bearer_auth(h.token(tenant).await)
        .body(bytes)
        .send()
        .await
        .expect("upload")
}

/// Uploads on its own task; answers the status, the problem or plugin, and
/// how long it took.
async fn spawn_upload(
    h: &Harness,
    tenant: &'static str,
    kind: &'static str,
    name: &'static str,
    version: &'static str,
    bytes: Vec<u8>,
) -> tokio::task::JoinHandle<(StatusCode, Option<String>, Value, Duration)> {
    let (client, base, token) = (h.client.clone(), h.base.clone(), h.token(tenant).await);
    tokio::spawn(async move {
        let started = Instant::now();
        let response = client
            .post(format!("{base}/api/plugins?kind={kind}&name={name}&version={version}"))
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .expect("upload");
        let status = response.status();
        let retry_after = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(String::from);
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, retry_after, body, started.elapsed())
    })
}

/// The pids of this process's children running `nexus compile-worker` for
/// the server whose data lives in `data_dir` (other tests' servers run in
/// this process too).
fn compile_workers(data_dir: &Path) -> Vec<u32> {
    let mine = data_dir.join("compiled");
    let mine = mine.to_string_lossy();
    let me = std::process::id().to_string();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: the comm may hold spaces, so split after it.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1));
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline);
        if ppid == Some(me.as_str()) && cmdline.contains("compile-worker") && cmdline.contains(&*mine) {
            pids.push(pid);
        }
    }
    pids
}

/// The files in the compile cache.
fn cache_files(data_dir: &Path) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(data_dir.join("compiled"))
        .map(|dir| dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_compile_bomb_is_killed_at_its_timeout_holds_no_other_tenants_slot_and_leaves_nothing() {
    let timeout = Duration::from_secs(2);
    let h = Harness::start_with(nexus_services::ServicesConfig {
        compile_timeout: timeout,
        compile_workers: 2,
        compile_wait: Duration::from_millis(500),
        ..nexus_services::ServicesConfig::default()
    })
    .await;
    // Small valid uploads: two of the sandbox's test rules (about 55 KB).
    let dir = plugin_files::default_dir();
    let small = plugin_files::read(&dir, "test-noop").expect("built");
    let other = plugin_files::read(&dir, "test-trap").expect("built");
    let bomb = compile_bomb();

    // Tenant A's bomb compiles in a child process.
    let started = Instant::now();
    let bombing = spawn_upload(&h, "tenant-a", "alarm-rule", "bomb", "0.1.0", bomb.clone()).await;
    let mut workers = Vec::new();
    while workers.is_empty() && started.elapsed() < timeout {
        tokio::time::sleep(Duration::from_millis(20)).await;
        workers = compile_workers(&h.data_dir);
    }
    assert_eq!(workers.len(), 1, "the bomb compiles in one child process");

    // Meanwhile A's second upload waits for A's turn and is refused past
    // the bound; B's small upload is answered at once.
    let second = spawn_upload(&h, "tenant-a", "alarm-rule", "small", "0.1.0", small.clone()).await;
    let (status, _, body, took) =
        spawn_upload(&h, "tenant-b", "alarm-rule", "small", "0.1.0", small).await.await.expect("task");
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(took < Duration::from_secs(1), "B's upload took {took:?} while A's bomb compiled");
    let (status, retry_after, body, took) = second.await.expect("task");
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "compile-busy", "{body}");
    assert_eq!(retry_after.as_deref(), Some("2"), "Retry-After: the compile timeout");
    assert!(took >= Duration::from_millis(500), "it waited its turn first ({took:?})");
    assert_eq!(compile_workers(&h.data_dir), workers, "the bomb was still compiling");

    // The bomb is refused at its timeout and its compiler is gone.
    let (status, _, body, took) = bombing.await.expect("task");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "compile-timeout", "{body}");
    assert!(took < timeout + Duration::from_secs(2), "refused after {took:?}");
    // The answer came after the compiler was killed and reaped.
    assert_eq!(compile_workers(&h.data_dir), Vec::<u32>::new(), "the compiler child was killed");
    assert!(!Path::new(&format!("/proc/{}", workers[0])).exists(), "pid {} is gone (reaped)", workers[0]);

    // Right after, B's next upload is answered at once.
    let started = Instant::now();
    let response = upload(&h, "tenant-b", "alarm-rule", "other", "0.1.0", other).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(started.elapsed() < Duration::from_secs(1), "B's upload took {:?} after the bomb", started.elapsed());

    // Nothing of the bomb stayed: the cache holds B's two accepted
    // components and nothing else (no temp file), and the same bytes
    // compile again and are refused again.
    let cached = cache_files(&h.data_dir);
    assert_eq!(cached.len(), 2, "{cached:?}");
    assert!(cached.iter().all(|f| f.ends_with(".cwasm")), "{cached:?}");
    let (status, _, body, _) =
        spawn_upload(&h, "tenant-a", "alarm-rule", "bomb", "0.1.1", bomb).await.await.expect("task");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "compile-timeout", "{body}");
    assert_eq!(cache_files(&h.data_dir), cached);
    let plugins = h.get("/api/plugins").await;
    assert_eq!(plugins, serde_json::json!([]), "tenant acme has none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bytes_cost_another_tenant_a_full_compile() {
    let h = Harness::start().await;
    let decoder = plugin_files::read(&plugin_files::default_dir(), "decoder-thingsboard-json").expect("built");
    let response = upload(&h, "tenant-a", "decoder", "decoder", "0.1.0", decoder.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let before = h.server().services.runtime_stats();
    assert_eq!(cache_files(&h.data_dir).len(), 1);

    // Another tenant, the same bytes: compiled again, cached apart.
    let response = upload(&h, "tenant-b", "decoder", "decoder", "0.1.0", decoder.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let after = h.server().services.runtime_stats();
    assert_eq!(after.compiled, before.compiled + 1, "{before:?} → {after:?}");
    assert_eq!(after.from_cache, before.from_cache);
    assert_eq!(cache_files(&h.data_dir).len(), 2);

    // The same tenant, the same bytes, a new version: its own cache.
    let response = upload(&h, "tenant-a", "decoder", "decoder", "0.2.0", decoder).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(h.server().services.runtime_stats().compiled, after.compiled);
    assert_eq!(cache_files(&h.data_dir).len(), 2);
}

#[tokio::test]
async fn a_profile_raises_a_tenants_upload_cap_up_to_the_ceiling_and_vendors_publish_up_to_it() {
    use crate::releases::{claims, publish, register, vendor};
    let h = &Harness::start().await;
    let code = plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    // 12 MiB: about what componentize-js makes of a small rule.
    let big = plugin_files::padded(code, 12 << 20, 7);
    let upload = |name: &'static str| {
        let big = big.clone();
        async move { h.upload("alarm-rule", name, big).await }
    };
    let (status, body, _) = upload("big-rule").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "the default cap is 10 MiB: {body}");

    let set = |profile: Value| async move {
        let path = "/api/tenants/acme/profile";
        h.send(h.system(reqwest::Method::PUT, path).await.json(&profile)).await
    };
    let (status, body, _) = set(serde_json::json!({"max_component_bytes": 100u64 << 20})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("limit-above-ceiling")), "{body}");
    let (status, body, _) = set(serde_json::json!({"max_component_bytes": 0})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body, _) = set(serde_json::json!({"max_component_bytes": 16u64 << 20})).await;
    assert!(status.is_success(), "{body}");
    let (status, body, _) = upload("big-rule").await;
    assert_eq!(status, StatusCode::CREATED, "16 MiB allowed by the profile: {body}");
    assert_eq!(body["size_bytes"].as_u64(), Some(12 << 20), "{body}");

    // A vendor's release may be as large as the ceiling.
    let (_, dev) = vendor(h, "acme").await;
    let seed = [41u8; 32];
    let key = register(h, &dev, &seed).await;
    let mut signed = claims(&big, "acme/big-rule", "1.0.0", "large");
    signed.kind = "alarm-rule".into();
    let (status, release) = publish(h, &dev, &signed, &key, &nexus_registry::signing::sign(&seed, &signed), &big).await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    assert_eq!(release["size_bytes"].as_u64(), Some(12 << 20), "{release}");
}
