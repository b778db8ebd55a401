//! The author's loop, as a vendor and a tenant admin run it: from an empty
//! directory, `nexus plugin new` → `build` → `test` → `keygen` → `publish`
//! → `approve` → `bind`, each the real command, and then a device's frame
//! fires the new rule's alarm on the server. And `nexus plugin push` /
//! `pull` against a real OCI registry (the CNCF distribution registry) on
//! loopback.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;
use crate::releases::{as_dev, vendor};
use nexus::plugin_files;

/// Runs `nexus plugin <args>`; panics with its stderr unless it succeeds.
fn plugin(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nexus"));
    command.arg("plugin").args(args);
    // The CI's build runs clippy as the workspace's compiler; the author's
    // crate builds with the plain toolchain, as it would for a vendor.
    command.env_remove("RUSTC_WORKSPACE_WRAPPER").env_remove("CLIPPY_ARGS");
    for (name, value) in env {
        command.env(name, value);
    }
    let Output { status, stdout, stderr } = command.output().expect("nexus runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&stdout), String::from_utf8_lossy(&stderr));
    assert!(status.success(), "nexus plugin {args:?}: {status}\n{stderr}\n{stdout}");
    stdout.into_owned()
}

/// Where the new crate builds: beside the shared target directory when
/// there is one (its dependencies stay built between runs), else inside
/// the temporary directory.
fn build_dir(scratch: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| scratch.join("target"), |t| PathBuf::from(t).join("author-loop"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_an_empty_directory_to_a_firing_alarm_with_the_plugin_cli() {
    let h = &Harness::start().await;
    let scratch = std::env::temp_dir().join(format!("nexus-author-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    assert_eq!(std::fs::read_dir(&scratch).expect("dir").count(), 0, "starts empty");
    let crate_dir = scratch.join("pressure-rule");
    let crate_path = crate_dir.to_str().expect("utf-8");
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk");
    let began = Instant::now();

    plugin(&["new", crate_path, "--sdk", sdk.to_str().expect("utf-8")], &[]);
    let target = build_dir(&scratch);
    let built: Value =
        serde_json::from_str(&plugin(&["build", "--dir", crate_path], &[("CARGO_TARGET_DIR", &target)])).expect("json");
    assert_eq!((built["name"].as_str(), built["version"].as_str()), (Some("pressure-rule"), Some("0.1.0")), "{built}");
    let imports = built["imports"].as_array().expect("imports");
    assert!(imports.iter().any(|i| i.as_str().is_some_and(|i| i.starts_with("nexus:plugin/host@"))), "{built}");
    let component = built["component"].as_str().expect("component").to_string();

    // Tried locally on the recorded readings: raised at 95.2, cleared at 84.
    let readings = format!("{crate_path}/readings.csv");
    let config = format!("@{crate_path}/config.json");
    let signals =
        plugin(&["test", "--component", &component, "--readings", &readings, "--binding-config", &config], &[]);
    let signals: Vec<Value> = signals.lines().map(|l| serde_json::from_str(l).expect("signal")).collect();
    let seen: Vec<(&str, i64)> =
        signals.iter().map(|s| (s["action"].as_str().expect("action"), s["ts"].as_i64().expect("ts"))).collect();
    assert_eq!(seen, [("raise", 1_767_225_602_000), ("clear", 1_767_225_605_000)], "{signals:?}");

    // The vendor signs and publishes it.
    let (acme, dev) = vendor(h, "acme").await;
    let key = scratch.join("acme.key");
    let public = plugin(&["keygen", "--out", key.to_str().expect("utf-8")], &[]);
    let body = json!({"public_key": public.trim()});
    let (status, registered, _) = h.send(as_dev(h, &dev, Method::POST, "/api/vendor-keys").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let server = ["--server", h.base.as_str()];
    let publish = [
        "publish",
        "--token",
        &dev,
        "--key",
        key.to_str().expect("utf-8"),
        "--component",
        &component,
        "--package",
        "acme/pressure-rule",
        "--version",
        "0.1.0",
        "--kind",
        "alarm-rule",
        "--description",
        "High pressure with a deadband",
        "--licence",
        "Apache-2.0",
    ];
    let release: Value = serde_json::from_str(&plugin(&[&publish[..], &server].concat(), &[])).expect("json");
    let release_id = release["id"].as_str().expect("release id");
    let digest = format!("sha256:{}", release["digest"].as_str().expect("digest"));
    assert_eq!(built["digest"].as_str(), Some(digest.as_str()), "{release}");

    // The tenant trusts the vendor; its admin approves and binds it.
    let trust = format!("/api/trusted-vendors/{acme}");
    let (status, body, _) = h.send(h.admin(Method::PUT, &trust, "acme").await).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let admin = h.token("acme").await;
    let approved: Value =
        serde_json::from_str(&plugin(&[&["approve", "--token", &admin, release_id][..], &server].concat(), &[]))
            .expect("json");
    let plugin_id = approved["id"].as_str().expect("plugin id").to_string();
    let decoder = {
        let bytes = plugin_files::read(&plugin_files::default_dir(), "decoder-thingsboard-json").expect("built");
        let path = "/api/plugins?kind=decoder&name=decoder-thingsboard-json&version=0.1.0";
        let (status, body, _) = h.send(h.admin(Method::POST, path, "acme").await.body(bytes)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_string()
    };
    let device = h.post("/api/devices", json!({"name": "WH-1"})).await;
    let device_id = device["id"].as_str().expect("device id").to_string();
    h.post("/api/bindings", json!({"plugin_id": decoder, "device_ids": [device_id]})).await;
    let bind =
        ["bind", "--token", &admin, "--plugin", &plugin_id, "--devices", &device_id, "--binding-config", &config];
    let binding: Value = serde_json::from_str(&plugin(&[&bind[..], &server].concat(), &[])).expect("json");
    assert_eq!(binding["plugin_id"], plugin_id.as_str(), "{binding}");

    // The device's frame fires it.
    let token = device["access_token"].as_str().expect("token");
    let (status, answer, _) = h.telemetry(token, json!({"pressure": 96.5}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let alarms = h.get(&format!("/api/alarms?device_id={device_id}")).await;
    let alarm = &alarms.as_array().expect("alarms")[0];
    assert_eq!(
        (alarm["alarm_type"].as_str(), alarm["severity"].as_str()),
        (Some("HighPressure"), Some("MAJOR")),
        "{alarm}"
    );
    eprintln!("author's loop: empty directory → firing alarm in {:.1} s", began.elapsed().as_secs_f64());
    std::fs::remove_dir_all(&scratch).expect("clean up");
}

/// A CNCF distribution registry (Debian's `docker-registry`) of its own on
/// a free loopback port, storing in `dir`; killed on drop.
struct OciRegistry {
    child: std::process::Child,
    url: String,
}

impl Drop for OciRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn oci_registry(dir: &Path) -> OciRegistry {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let config = dir.join("registry.yml");
    let storage = dir.join("registry");
    let yaml = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    );
    std::fs::write(&config, yaml).expect("registry config");
    let child = Command::new("docker-registry")
        .args(["serve", config.to_str().expect("utf-8")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("docker-registry (installed by .ci/services)");
    let registry = OciRegistry { child, url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client.get(format!("{}/v2/", registry.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return registry;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("docker-registry did not start on {}", registry.url);
}

#[tokio::test]
async fn push_to_and_pull_from_an_oci_registry_round_trips_the_digest() {
    let scratch = std::env::temp_dir().join(format!("nexus-oci-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).expect("scratch");
    let registry = oci_registry(&scratch).await;
    let component = plugin_files::default_dir().join("alarm_rule_threshold.wasm");
    let bytes = std::fs::read(&component).expect("built plugins");
    let reference = format!("{}/acme/threshold:1.2.0", registry.url);

    let pushed: Value = serde_json::from_str(&plugin(
        &["push", "--component", component.to_str().expect("utf-8"), "--kind", "alarm-rule", &reference],
        &[],
    ))
    .expect("json");
    let digest = format!("sha256:{}", nexus_registry::content_hash(&bytes));
    assert_eq!(pushed["digest"].as_str(), Some(digest.as_str()), "{pushed}");

    // What is stored is the artifact Spin and wasmCloud read.
    let client = reqwest::Client::new();
    let manifest: Value = client
        .get(format!("{}/v2/acme/threshold/manifests/1.2.0", registry.url))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .expect("manifest")
        .json()
        .await
        .expect("json");
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json", "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json", "{manifest}");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm", "{manifest}");
    assert_eq!(manifest["layers"][0]["digest"].as_str(), Some(digest.as_str()), "{manifest}");
    let config_digest = manifest["config"]["digest"].as_str().expect("config digest");
    let config: Value = client
        .get(format!("{}/v2/acme/threshold/blobs/{config_digest}", registry.url))
        .send()
        .await
        .expect("config")
        .json()
        .await
        .expect("json");
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("wasm"), Some("wasip2")), "{config}");
    assert_eq!(config["component"]["target"], "nexus:plugin/alarm-rule@0.2.0", "{config}");

    // Pulled back: the same bytes, and pushing again uploads nothing new.
    let out = scratch.join("pulled.wasm");
    let pulled: Value =
        serde_json::from_str(&plugin(&["pull", "--out", out.to_str().expect("utf-8"), &reference], &[])).expect("json");
    assert_eq!(pulled["digest"], pushed["digest"], "{pulled}");
    assert_eq!(std::fs::read(&out).expect("pulled"), bytes, "the same bytes");
    let again: Value = serde_json::from_str(&plugin(
        &["push", "--component", component.to_str().expect("utf-8"), "--kind", "alarm-rule", &reference],
        &[],
    ))
    .expect("json");
    assert_eq!(again["digest"], pushed["digest"]);

    // A tag that is not there is the registry's 404, said as such.
    let missing = format!("{}/acme/threshold:9.9.9", registry.url);
    let output = Command::new(env!("CARGO_BIN_EXE_nexus"))
        .args(["plugin", "pull", "--out", out.to_str().expect("utf-8"), &missing])
        .output()
        .expect("nexus runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("404"), "{}", String::from_utf8_lossy(&output.stderr));
    drop(registry);
    std::fs::remove_dir_all(&scratch).expect("clean up");
}
