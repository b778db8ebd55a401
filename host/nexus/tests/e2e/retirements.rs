//! A vendor withdraws releases, and a tenant rolls a binding back, end to
//! end with real signatures. A yanked release keeps running where it runs,
//! with a warning event, and can be neither approved nor bound again; a
//! revoked one runs nowhere: a tenant that trusts the vendor with fallback
//! moves to its previous approved version, another tenant's binding stops.
//! A rollback is one call, and a numbered sender across two switches loses
//! no reading and has each evaluated by exactly one version. A review of a
//! new release lists the package's versions in use and what changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::releases::{as_dev, claims, code, publish, register, vendor};
use crate::{Harness, esp_well};
use nexus::plugin_files;
use nexus_registry::signing::sign;

/// A well with an ESP device in `tenant`, its decoder bound and an hour of
/// steady telemetry stored; returns the device id.
async fn esp_device(h: &Harness, tenant: &str) -> String {
    let plugins = h.upload_first_party(tenant).await;
    let well = post(h, tenant, "/api/wells", json!({"name": "W-1", "static_data": esp_well()})).await;
    let device = post(h, tenant, "/api/devices", json!({"name": "ESP-1", "well_id": well["id"]})).await;
    let device_id = device["id"].as_str().expect("device id").to_string();
    post(h, tenant, "/api/bindings", json!({"plugin_id": plugins[0], "device_ids": [device_id]})).await;
    h.store_steady_esp_hour(device["access_token"].as_str().expect("token")).await;
    device_id
}

async fn post(h: &Harness, tenant: &str, path: &str, body: Value) -> Value {
    let (status, answer, _) = h.send(h.admin(Method::POST, path, tenant).await.json(&body)).await;
    assert!(status.is_success(), "POST {path}: {status} {answer}");
    answer
}

/// `tenant` trusts `vendor` (with or without fallback) and approves each
/// release; returns the installed plugin versions' ids.
async fn trust_and_approve(h: &Harness, tenant: &str, vendor: &str, fallback: bool, releases: &[&str]) -> Vec<String> {
    let trust = format!("/api/trusted-vendors/{vendor}?fallback={fallback}");
    let (status, body, _) = h.send(h.admin(Method::PUT, &trust, tenant).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let mut installed = Vec::new();
    for release in releases {
        let (status, plugin, _) =
            h.send(h.admin(Method::POST, &format!("/api/releases/{release}/approve"), tenant).await).await;
        assert_eq!(status, StatusCode::CREATED, "{plugin}");
        installed.push(plugin["id"].as_str().expect("plugin id").to_string());
    }
    installed
}

/// Publishes `bytes` as `package` at each version, signed with `seed`
/// (registered as `key`); returns the releases' ids.
async fn publish_versions(
    h: &Harness,
    dev: &str,
    (seed, key): (&[u8; 32], &str),
    bytes: &[u8],
    (package, kind): (&str, &str),
    versions: &[&str],
) -> Vec<String> {
    let mut ids = Vec::new();
    for version in versions {
        let mut signed = claims(bytes, package, version, "A version.");
        signed.kind = kind.into();
        let (status, release) = publish(h, dev, &signed, key, &sign(seed, &signed), bytes).await;
        assert_eq!(status, StatusCode::CREATED, "{release}");
        ids.push(release["id"].as_str().expect("release id").to_string());
    }
    ids
}

async fn retire(h: &Harness, dev: &str, release: &str, action: &str, reason: &str) -> (StatusCode, Value) {
    let path = format!("/api/vendor-releases/{release}/{action}");
    let (status, body, _) = h.send(as_dev(h, dev, Method::POST, &path).json(&json!({"reason": reason}))).await;
    (status, body)
}

/// The tenant's events about its installed version `plugin` saying the
/// release became `status`: the bindings each named.
async fn told(h: &Harness, tenant: &str, plugin: &str, status: &str) -> Vec<Value> {
    let events = h.get_as("/api/events?limit=1000", tenant).await;
    events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "entity" && e["id"] == plugin && e["summary"]["release_status"] == status)
        .map(|e| e["summary"]["bindings"].clone())
        .collect()
}

#[tokio::test]
async fn a_yanked_release_keeps_running_with_a_warning_and_a_revoked_one_falls_back_or_stops() {
    let h = &Harness::start().await;
    let bytes = plugin_files::read(&plugin_files::default_dir(), "optimizer-esp-frequency").expect("built");
    let (acme, dev) = vendor(h, "acme").await;
    let seed = [31u8; 32];
    let key = register(h, &dev, &seed).await;
    let package = ("acme/optimizer-esp", "optimizer");
    let releases = publish_versions(h, &dev, (&seed, &key), &bytes, package, &["1.0.0", "1.1.0"]).await;
    let (old, new) = (&releases[0], &releases[1]);

    // `careful` trusts acme with fallback and runs 1.1.0 after 1.0.0;
    // `trusting` trusts it without and runs 1.1.0 only.
    let careful = trust_and_approve(h, "careful", &acme, true, &[old, new]).await;
    let trusting = trust_and_approve(h, "trusting", &acme, false, &[new]).await;
    let (mut bindings, mut devices) = (Vec::new(), Vec::new());
    for (tenant, first) in [("careful", &careful[0]), ("trusting", &trusting[0])] {
        let device = esp_device(h, tenant).await;
        let body = json!({"plugin_id": first, "device_ids": [device], "schedule_ms": 86_400_000});
        bindings.push(post(h, tenant, "/api/bindings", body).await["id"].as_str().expect("id").to_string());
        devices.push(device);
    }
    let swap = format!("/api/bindings/{}/plugin", bindings[0]);
    let (status, body, _) =
        h.send(h.admin(Method::PUT, &swap, "careful").await.json(&json!({"plugin_id": careful[1]}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["previous_plugin_id"], careful[0].as_str());
    let run = |tenant: &'static str, binding: String| async move {
        let path = format!("/api/bindings/{binding}/run");
        let (status, body, _) = h.send(h.admin(Method::POST, &path, tenant).await.json(&json!({}))).await;
        (status, body)
    };

    // Yanked: each tenant hears of it, with its bindings named; they keep
    // running; nobody can approve or bind it any more.
    let (status, yanked) = retire(h, &dev, new, "yank", "wrong units in the changelog's example").await;
    assert_eq!(status, StatusCode::OK, "{yanked}");
    assert_eq!((yanked["status"].as_str(), yanked["status_reason"].is_string()), (Some("yanked"), true));
    assert_eq!(told(h, "careful", &careful[1], "yanked").await, vec![json!([bindings[0]])]);
    assert_eq!(told(h, "trusting", &trusting[0], "yanked").await, vec![json!([bindings[1]])]);
    for (tenant, binding) in [("careful", &bindings[0]), ("trusting", &bindings[1])] {
        let (status, body) = run(tenant, binding.clone()).await;
        assert_eq!(status, StatusCode::OK, "{tenant} still runs the yanked version: {body}");
    }
    let trust = format!("/api/trusted-vendors/{acme}");
    let (status, _, _) = h.send(h.admin(Method::PUT, &trust, "latecomer").await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let approve = format!("/api/releases/{new}/approve");
    let (status, body, _) = h.send(h.admin(Method::POST, &approve, "latecomer").await).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "release-yanked"), "{body}");
    let again = json!({"plugin_id": trusting[0], "device_ids": [devices[1]], "schedule_ms": 86_400_000});
    let (status, body, _) = h.send(h.admin(Method::POST, "/api/bindings", "trusting").await.json(&again)).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "release-yanked"), "{body}");
    let (status, body) = retire(h, &dev, new, "yank", "twice").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Revoked: `careful` moves back to 1.0.0 and keeps running; `trusting`
    // stops; both hear of it; 1.1.0 runs nowhere.
    let (status, revoked) = retire(h, &dev, new, "revoke", "CVE-2026-4242: unbounded frequency step").await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    let moved = h.get_as(&format!("/api/bindings/{}", bindings[0]), "careful").await;
    assert_eq!((&moved["plugin_id"], moved["enabled"].as_bool()), (&json!(careful[0]), Some(true)), "{moved}");
    assert_eq!(moved["previous_plugin_id"], careful[1].as_str());
    let (status, body) = run("careful", bindings[0].clone()).await;
    assert_eq!(status, StatusCode::OK, "the fallback runs: {body}");
    let stopped = h.get_as(&format!("/api/bindings/{}", bindings[1]), "trusting").await;
    assert_eq!(stopped["enabled"], false, "{stopped}");
    assert!(stopped["quarantine_reason"].as_str().is_some_and(|r| r.contains("revoked")), "{stopped}");
    let (status, body) = run("trusting", bindings[1].clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "a stopped binding does not run: {body}");
    assert_eq!(told(h, "careful", &careful[1], "revoked").await, vec![json!([bindings[0]])]);
    assert_eq!(told(h, "trusting", &trusting[0], "revoked").await, vec![json!([bindings[1]])]);
    let events = h.get_as("/api/events?limit=1000", "trusting").await;
    let quarantined = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "binding_quarantined" && e["binding_id"] == bindings[1].as_str());
    assert_eq!(quarantined.count(), 1, "{events}");
    let events = h.get_as("/api/events?limit=1000", "careful").await;
    let fell_back = events
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "entity" && e["id"] == bindings[0].as_str() && e["summary"]["fallback"] == true);
    assert_eq!(fell_back.count(), 1, "{events}");

    // Nothing brings it back: no rollback to it, no swap, no second revoke.
    let rollback = format!("/api/bindings/{}/rollback", bindings[0]);
    let (status, body, _) = h.send(h.admin(Method::POST, &rollback, "careful").await).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "release-revoked"), "{body}");
    let (status, body, _) =
        h.send(h.admin(Method::PUT, &swap, "careful").await.json(&json!({"plugin_id": careful[1]}))).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "release-revoked"), "{body}");
    let (status, body) = retire(h, &dev, new, "revoke", "again").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(h.get_as(&format!("/api/releases/{new}"), "careful").await["status"], "revoked");
    // Another vendor's developer cannot touch acme's releases.
    let (_, globex) = vendor(h, "globex").await;
    let (status, body) = retire(h, &globex, old, "revoke", "not mine").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_is_one_call_and_a_numbered_sender_across_it_loses_nothing() {
    const FRAMES: usize = 150;
    let h = Arc::new(Harness::start().await);
    let bytes = plugin_files::read(&plugin_files::default_dir(), "alarm-rule-threshold").expect("built");
    let (acme, dev) = vendor(&h, "acme").await;
    let seed = [32u8; 32];
    let key = register(&h, &dev, &seed).await;
    let package = ("acme/flag-rule", "alarm-rule");
    let releases = publish_versions(&h, &dev, (&seed, &key), &bytes, package, &["1.0.0", "2.0.0"]).await;
    let versions = trust_and_approve(&h, "acme", &acme, false, &[&releases[0], &releases[1]]).await;
    let (device_id, token, _) = h.field_with(false).await;

    // Every frame flips `flag`, so every frame makes exactly one transition.
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": versions[0], "device_ids": [device_id],
                   "config": {"key": "flag", "high": 0.5, "alarm_type": "Flag"}}),
        )
        .await;
    let binding_id = binding["id"].as_str().expect("id").to_string();
    let rollback = format!("/api/bindings/{binding_id}/rollback");
    let (status, body, _) = h.send(h.admin(Method::POST, &rollback, "acme").await).await;
    assert_eq!((status, code(&body)), (StatusCode::CONFLICT, "no-previous-version"), "{body}");

    let sent = Arc::new(AtomicUsize::new(0));
    let base_ts = nexus_model::Clock::system().now() - 1_000_000;
    let sender = {
        let (h, sent, token) = (h.clone(), sent.clone(), token.clone());
        tokio::spawn(async move {
            for i in 0..FRAMES {
                let body = json!({"ts": base_ts + i as i64, "values": {"seq": i, "flag": (i % 2 == 0) as i64}});
                let (status, response, _) = h.telemetry(&token, body.to_string()).await;
                assert_eq!(status, StatusCode::OK, "frame {i}: {response}");
                sent.store(i + 1, Ordering::SeqCst);
            }
        })
    };
    let wait_for = |target: usize| {
        let (sent, sender) = (sent.clone(), &sender);
        async move {
            while sent.load(Ordering::SeqCst) < target {
                assert!(!sender.is_finished(), "the sender stopped early");
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    wait_for(FRAMES / 3).await;
    let swap = format!("/api/bindings/{binding_id}/plugin");
    let (status, body, _) =
        h.send(h.admin(Method::PUT, &swap, "acme").await.json(&json!({"plugin_id": versions[1]}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_for(2 * FRAMES / 3).await;
    let (status, body, _) = h.send(h.admin(Method::POST, &rollback, "acme").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["plugin_id"].as_str(), body["previous_plugin_id"].as_str()),
        (Some(&*versions[0]), Some(&*versions[1]))
    );
    sender.await.expect("sender");

    // Every reading stored once, every frame evaluated by exactly one
    // version: 1.0.0, then 2.0.0, then 1.0.0 again after the rollback.
    let mut runs = crate::faults::versions_per_frame(&h, &device_id, FRAMES).await;
    runs.dedup();
    assert_eq!(runs, ["1.0.0", "2.0.0", "1.0.0"], "the versions in the order they ran");
}

#[tokio::test]
async fn a_review_shows_the_versions_in_use_and_what_approving_would_change() {
    let h = &Harness::start().await;
    let dir = plugin_files::default_dir();
    let (acme, dev) = vendor(h, "acme").await;
    let seed = [33u8; 32];
    let key = register(h, &dev, &seed).await;
    let package = ("acme/rule", "alarm-rule");
    let threshold = plugin_files::read(&dir, "alarm-rule-threshold").expect("built");
    let conditions = plugin_files::read(&dir, "alarm-rule-conditions").expect("built");
    let old = publish_versions(h, &dev, (&seed, &key), &threshold, package, &["1.0.0"]).await;
    let new = publish_versions(h, &dev, (&seed, &key), &conditions, package, &["2.0.0"]).await;
    let installed = trust_and_approve(h, "acme", &acme, false, &[&old[0]]).await;

    // Nothing of the package runs yet: nothing to compare with.
    let review = h.get(&format!("/api/releases/{}/review", new[0])).await;
    assert_eq!(
        (review["release"]["version"].as_str(), review["in_use"].as_array().map(Vec::len)),
        (Some("2.0.0"), Some(0))
    );
    assert_eq!(review["config_changes"], json!([]), "{review}");

    let (device_id, _, _) = h.field_with(false).await;
    let binding = h
        .post(
            "/api/bindings",
            json!({"plugin_id": installed[0], "device_ids": [device_id], "config": {"key": "p", "high": 1.0}}),
        )
        .await;
    let review = h.get(&format!("/api/releases/{}/review", new[0])).await;
    let in_use = &review["in_use"][0];
    assert_eq!(
        (in_use["plugin_id"].as_str(), in_use["version"].as_str()),
        (Some(&*installed[0]), Some("1.0.0")),
        "{review}"
    );
    assert_eq!(in_use["release_id"].as_str(), Some(&*old[0]));
    assert_eq!(in_use["binding_ids"], json!([binding["id"]]), "{review}");
    // The two rules' schemas differ: the review lists it as the model
    // computes it from the two `describe`s, and it is not empty.
    let schema =
        async |release: &str| h.get(&format!("/api/releases/{release}")).await["info"]["config_schema"].clone();
    let expected = nexus_model::schema_changes(&schema(&old[0]).await, &schema(&new[0]).await);
    assert!(!expected.is_empty());
    assert_eq!(review["config_changes"], json!(expected), "{review}");
    assert_eq!(
        (review["imports_added"].clone(), review["imports_removed"].clone()),
        (json!([]), json!([])),
        "{review}"
    );
    // Another tenant that does not trust acme cannot review it.
    let (status, _, _) = h.send(h.admin(Method::GET, &format!("/api/releases/{}/review", new[0]), "other").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
