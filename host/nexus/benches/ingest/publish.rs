//! `--publish R`: publish → live for a 1 MiB signed alarm-rule component, R
//! rounds (each a new version), then a cached reload after a restart.
//!
//! The component is the threshold rule (its code) padded to exactly 1 MiB
//! with a custom section (`nexus::plugin_files::padded`; its bytes differ by round,
//! so every round is a new digest), so hashing, signing,
//! storing, reading and verifying see 1 MiB while the compiler sees the
//! rule's code. Each round times, from this process: signing; publishing
//! (upload, validation, signature check, compile in the vendor's turn,
//! the component store); a tenant admin's approval (the blob read and
//! hashed again, the signature verified, installed); binding it to a
//! device (whose decoder binding, made first, is not timed); and the
//! device's first frame answered after the alarm it raises is committed. Then the server is stopped and started on the same
//! data directory, and the first frame's answer is timed again: the
//! version is loaded from the component store, checked again and taken
//! from the compile cache on disk.

use std::time::{Duration, Instant};

use nexus_registry::signing::{ReleaseClaims, public_key_of, sign};
use serde_json::{Value, json};

use super::{Server, TOKEN, ensure_tenant, plugin_dir, upload};

const PASSWORD: &str = "bench-password-0123456789";
const SIZE: usize = 1 << 20;

async fn call(request: reqwest::RequestBuilder, what: &str) -> (Value, Duration) {
    let began = Instant::now();
    let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let took = began.elapsed();
    assert!(status.is_success(), "{what}: {status} {body}");
    (body, took)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) async fn run(server: &mut Server, rounds: usize) {
    let client = reqwest::Client::new();
    let base = server.base.clone();
    let code = std::fs::read(plugin_dir().join("alarm_rule_threshold.wasm")).expect("built plugins");
    ensure_tenant(&client, &base, "default").await;
    let system =
        |method: reqwest::Method, path: &str| client.request(method, format!("{base}{path}")).bearer_auth(TOKEN);
    let (vendor, _) =
        call(system(reqwest::Method::POST, "/api/vendors").json(&json!({"name": "acme"})), "vendor").await;
    let vendor_id = vendor["id"].as_str().expect("vendor id").to_string();
    let user = json!({"email": "dev@acme.test", "password": PASSWORD, "role": "VENDOR_DEVELOPER"});
    call(system(reqwest::Method::POST, &format!("/api/vendors/{vendor_id}/users")).json(&user), "developer").await;
    let login = json!({"email": "dev@acme.test", "password": PASSWORD});
    let (tokens, _) = call(client.post(format!("{base}/api/auth/login")).json(&login), "login").await;
    let dev = tokens["access_token"].as_str().expect("token").to_string();
    let seed = [7u8; 32];
    let (key, _) = call(
        client
            .post(format!("{base}/api/vendor-keys"))
            .bearer_auth(&dev)
            .json(&json!({"public_key": public_key_of(&seed)})),
        "key",
    )
    .await;
    let key_id = key["id"].as_str().expect("key id").to_string();
    let tenant = |method: reqwest::Method, path: &str| {
        client.request(method, format!("{base}{path}")).bearer_auth(TOKEN).header("x-nexus-tenant", "default")
    };
    call(tenant(reqwest::Method::PUT, &format!("/api/trusted-vendors/{vendor_id}")), "trust").await;
    let decoder = upload(&client, &base, "decoder", "decoder-thingsboard-json").await;

    println!(
        "publish: a {} KiB signed alarm rule ({} KiB of code, padded with a custom section; other padding bytes, so \
         another digest, each round), {rounds} rounds (ms):",
        SIZE / 1024,
        code.len() / 1024
    );
    println!("| round | sign | publish | approve | bind | first alarm | publish → live |");
    println!("|---|---|---|---|---|---|---|");
    let mut last_token = String::new();
    for round in 0..rounds {
        let version = format!("1.{round}.0");
        // Another digest each round: nothing is compiled already.
        let component = nexus::plugin_files::padded(code.clone(), SIZE, round as u8);
        let began = Instant::now();
        let claims = ReleaseClaims {
            digest: format!("sha256:{}", nexus_registry::content_hash(&component)),
            package: "acme/threshold".into(),
            version: version.clone(),
            kind: "alarm-rule".into(),
            description: "Threshold with a deadband".into(),
            licence: "Apache-2.0".into(),
            source_url: "https://example.com/acme/threshold".into(),
            changelog: format!("round {round}"),
        };
        let signature = sign(&seed, &claims);
        let signed = began.elapsed();
        let query = [
            ("package", claims.package.as_str()),
            ("version", &claims.version),
            ("kind", &claims.kind),
            ("key_id", &key_id),
            ("signature", &signature),
            ("description", &claims.description),
            ("licence", &claims.licence),
            ("source_url", &claims.source_url),
            ("changelog", &claims.changelog),
        ];
        let publish = client.post(format!("{base}/api/vendor-releases")).bearer_auth(&dev).query(&query);
        let (release, published) = call(publish.body(component), "publish").await;
        let release_id = release["id"].as_str().expect("release id");
        let (plugin, approved) =
            call(tenant(reqwest::Method::POST, &format!("/api/releases/{release_id}/approve")), "approve").await;
        let (device, _) =
            call(tenant(reqwest::Method::POST, "/api/devices").json(&json!({"name": format!("D-{round}")})), "device")
                .await;
        let token = device["access_token"].as_str().expect("token").to_string();
        let decode = json!({"plugin_id": decoder, "device_ids": [device["id"]]});
        call(tenant(reqwest::Method::POST, "/api/bindings").json(&decode), "decoder binding").await;
        let binding = json!({"plugin_id": plugin["id"], "device_ids": [device["id"]],
                             "config": {"key": "k0", "high": 90.0, "alarm_type": "High"}});
        let (_, bound) = call(tenant(reqwest::Method::POST, "/api/bindings").json(&binding), "bind").await;
        let frame = client.post(format!("{base}/api/v1/{token}/telemetry")).body(json!({"k0": 95.0}).to_string());
        let (_, fired) = call(frame, "first frame").await;
        let total = began.elapsed();
        let alarms =
            tenant(reqwest::Method::GET, &format!("/api/alarms?device_id={}", device["id"].as_str().expect("id")));
        let (alarms, _) = call(alarms, "alarms").await;
        assert_eq!(alarms.as_array().map(Vec::len), Some(1), "the first frame raised the alarm: {alarms}");
        println!(
            "| {round} | {:.2} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} |",
            ms(signed),
            ms(published),
            ms(approved),
            ms(bound),
            ms(fired),
            ms(total)
        );
        last_token = token;
    }

    let began = Instant::now();
    server.restart().await;
    let ready = began.elapsed();
    let frame = client.post(format!("{base}/api/v1/{last_token}/telemetry")).body(json!({"k0": 80.0}).to_string());
    let (_, first) = call(frame, "first frame after the restart").await;
    let frame = client.post(format!("{base}/api/v1/{last_token}/telemetry")).body(json!({"k0": 95.0}).to_string());
    let (_, second) = call(frame, "second frame after the restart").await;
    println!(
        "cached reload: server ready in {:.0} ms; its first frame (load from the component store, digest and signature \
         checked, compiled code from the disk cache, alarm cleared) {:.1} ms; the next {:.1} ms",
        ms(ready),
        ms(first),
        ms(second)
    );
}
