//! Vendors' signed releases, end to end with real ed25519 signatures: a
//! vendor's developer publishes `acme/optimizer-esp@1.2.0`; a tenant that
//! does not trust the vendor cannot see, approve or bind it; once it
//! trusts the vendor and approves that digest, it binds and runs. A
//! signature over other metadata, a package under another vendor's name, a
//! revoked key and a byte flipped in the stored blob are each refused with
//! their own code, and nothing of them runs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, PASSWORD, esp_well, login};
use nexus::plugin_files;
use nexus_registry::signing::{ReleaseClaims, public_key_of, sign};

/// A vendor named `name` and a developer of it; returns (vendor id, the
/// developer's access token).
pub(crate) async fn vendor(h: &Harness, name: &str) -> (String, String) {
    let (status, vendor, _) = h.send(h.system(Method::POST, "/api/vendors").await.json(&json!({"name": name}))).await;
    assert_eq!(status, StatusCode::CREATED, "{vendor}");
    let id = vendor["id"].as_str().expect("vendor id").to_string();
    let email = format!("dev@{name}.test");
    let user = json!({"email": email, "password": PASSWORD, "role": "VENDOR_DEVELOPER"});
    let (status, body, _) = h.send(h.system(Method::POST, &format!("/api/vendors/{id}/users")).await.json(&user)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = login(&h.client, &h.base, &email).await["access_token"].as_str().expect("token").to_string();
    (id, token)
}

/// A request as a vendor's developer.
pub(crate) fn as_dev(h: &Harness, token: &str, method: Method, path: &str) -> reqwest::RequestBuilder {
    h.client.request(method, format!("{}{path}", h.base)).bearer_auth(token)
}

/// Registers the public key of `seed`; returns its id.
pub(crate) async fn register(h: &Harness, token: &str, seed: &[u8; 32]) -> String {
    let body = json!({"public_key": public_key_of(seed)});
    let (status, key, _) = h.send(as_dev(h, token, Method::POST, "/api/vendor-keys").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    key["id"].as_str().expect("key id").to_string()
}

pub(crate) fn claims(bytes: &[u8], package: &str, version: &str, changelog: &str) -> ReleaseClaims {
    ReleaseClaims {
        digest: format!("sha256:{}", nexus_registry::content_hash(bytes)),
        package: package.into(),
        version: version.into(),
        kind: "optimizer".into(),
        description: "ESP frequency by nodal analysis".into(),
        licence: "Apache-2.0".into(),
        source_url: "https://example.com/acme/optimizer-esp".into(),
        changelog: changelog.into(),
    }
}

/// Publishes `bytes` with the metadata of `claims` and `signature`.
pub(crate) async fn publish(
    h: &Harness,
    token: &str,
    claims: &ReleaseClaims,
    key_id: &str,
    signature: &str,
    bytes: &[u8],
) -> (StatusCode, Value) {
    let query = [
        ("package", claims.package.as_str()),
        ("version", &claims.version),
        ("kind", &claims.kind),
        ("key_id", key_id),
        ("signature", signature),
        ("description", &claims.description),
        ("licence", &claims.licence),
        ("source_url", &claims.source_url),
        ("changelog", &claims.changelog),
    ];
    let request = as_dev(h, token, Method::POST, "/api/vendor-releases").query(&query).body(bytes.to_vec());
    let (status, body, _) = h.send(request).await;
    (status, body)
}

/// A developer of `vendor` (named `name`, the system administrator's
/// answer) registers a key and publishes the ESP optimizer as `name/esp`;
/// returns (key id, release id).
pub(crate) async fn signed_release(h: &Harness, vendor: &Value, name: &str) -> (String, String) {
    let id = vendor["id"].as_str().expect("vendor id");
    let email = format!("dev@{name}.test");
    let user = json!({"email": email, "password": PASSWORD, "role": "VENDOR_DEVELOPER"});
    let (status, body, _) = h.send(h.system(Method::POST, &format!("/api/vendors/{id}/users")).await.json(&user)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let token = login(&h.client, &h.base, &email).await["access_token"].as_str().expect("token").to_string();
    let seed = [21u8; 32];
    let key = register(h, &token, &seed).await;
    let bytes = plugin_files::read(&plugin_files::default_dir(), "optimizer-esp-frequency").expect("built");
    let signed = claims(&bytes, &format!("{name}/esp"), "1.0.0", "First.");
    let (status, release) = publish(h, &token, &signed, &key, &sign(&seed, &signed), &bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    (key, release["id"].as_str().expect("release id").to_string())
}

/// Runs the `nexus` binary; its standard output (it must succeed).
fn cli(args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_nexus")).args(args).output().expect("nexus runs");
    assert!(output.status.success(), "nexus {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("utf-8")
}

pub(crate) fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_signed_release_runs_only_once_trusted_and_approved_and_every_forgery_is_refused_by_its_own_code() {
    let h = &Harness::start().await;
    let bytes = plugin_files::read(&plugin_files::default_dir(), "optimizer-esp-frequency").expect("built");
    let (acme, dev) = vendor(h, "acme").await;
    let (_, globex_dev) = vendor(h, "globex").await;
    // The vendor's key and the release's signature, made by the CLI where
    // the vendor builds.
    let keys = h.data_dir().join("vendor-side");
    std::fs::create_dir_all(&keys).expect("vendor's directory");
    let key_file = keys.join("acme.key");
    let public = cli(&["plugin", "keygen", "--out", key_file.to_str().expect("utf-8")]);
    let seed = nexus::author::read_key(&key_file).expect("key file");
    assert_eq!(public.trim(), public_key_of(&seed));
    let key = register(h, &dev, &seed).await;
    let component = plugin_files::path(&plugin_files::default_dir(), "optimizer-esp-frequency");
    let signed = claims(&bytes, "acme/optimizer-esp", "1.2.0", "First release.");
    let made: Value = serde_json::from_str(&cli(&[
        "plugin",
        "sign",
        "--key",
        key_file.to_str().expect("utf-8"),
        "--component",
        component.to_str().expect("utf-8"),
        "--package",
        &signed.package,
        "--version",
        &signed.version,
        "--kind",
        &signed.kind,
        "--description",
        &signed.description,
        "--licence",
        &signed.licence,
        "--source-url",
        &signed.source_url,
        "--changelog",
        &signed.changelog,
    ]))
    .expect("the CLI prints JSON");
    assert_eq!(made["digest"], signed.digest);
    let signature = made["signature"].as_str().expect("signature").to_string();
    assert_eq!(signature, sign(&seed, &signed), "ed25519 signatures are deterministic");

    // Published: signed over the digest and the metadata.
    let (status, release) = publish(h, &dev, &signed, &key, &signature, &bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{release}");
    assert_eq!(release["digest"], nexus_registry::content_hash(&bytes));
    assert_eq!(release["kind"], "optimizer");
    assert_eq!(release["info"]["name"], "optimizer-esp-frequency");
    let imports: Vec<&str> = release["imports"].as_array().expect("imports").iter().filter_map(Value::as_str).collect();
    assert!(imports.iter().any(|i| i.starts_with("nexus:plugin/host@")), "{imports:?}");
    let id = release["id"].as_str().expect("release id").to_string();

    // A tenant that does not trust acme sees nothing and can approve nothing.
    let tenant = "operator-co";
    assert_eq!(h.get_as("/api/releases", tenant).await, json!([]));
    let one = format!("/api/releases/{id}");
    let approve = format!("/api/releases/{id}/approve");
    let (status, body, _) = h.send(h.admin(Method::GET, &one, tenant).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body, _) = h.send(h.admin(Method::POST, &approve, tenant).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(h.get_as("/api/plugins", tenant).await, json!([]));

    // Trusted: visible, but nothing is installed until approved.
    let trust = format!("/api/trusted-vendors/{acme}");
    let (status, _, _) = h.send(h.admin(Method::PUT, &trust, tenant).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let seen = h.get_as("/api/releases", tenant).await;
    assert_eq!(seen.as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(h.get_as(&one, tenant).await["signature"], release["signature"]);
    assert_eq!(h.get_as("/api/plugins", tenant).await, json!([]));
    let (status, plugin, _) = h.send(h.admin(Method::POST, &approve, tenant).await).await;
    assert_eq!(status, StatusCode::CREATED, "{plugin}");
    assert_eq!((plugin["name"].as_str(), plugin["release_id"].as_str()), (Some("acme/optimizer-esp"), Some(&*id)));
    assert_eq!(plugin["hash"], release["digest"]);
    let (status, body, _) = h.send(h.admin(Method::POST, &approve, tenant).await).await;
    assert_eq!(status, StatusCode::CONFLICT, "approved once: {body}");

    // Bound and run: it recommends on the tenant's well.
    let plugins = h.upload_first_party(tenant).await;
    let post = |path: &'static str, body: Value| async move {
        let (status, answer, _) = h.send(h.admin(Method::POST, path, tenant).await.json(&body)).await;
        assert!(status.is_success(), "POST {path}: {status} {answer}");
        answer
    };
    let well = post("/api/wells", json!({"name": "W-1", "static_data": esp_well()})).await;
    let device = post("/api/devices", json!({"name": "ESP-1", "well_id": well["id"]})).await;
    let device_id = device["id"].as_str().expect("device id");
    post("/api/bindings", json!({"plugin_id": plugins[0], "device_ids": [device_id]})).await;
    h.store_steady_esp_hour(device["access_token"].as_str().expect("token")).await;
    let binding =
        post("/api/bindings", json!({"plugin_id": plugin["id"], "device_ids": [device_id], "schedule_ms": 86_400_000}))
            .await;
    let binding_id = binding["id"].as_str().expect("binding id");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    let recommendation = loop {
        let made = h.get_as("/api/recommendations", tenant).await;
        if let Some(first) = made.as_array().and_then(|r| r.first()).cloned() {
            break first;
        }
        assert!(tokio::time::Instant::now() < deadline, "the approved release recommended nothing");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(recommendation["binding_id"], binding["id"], "{recommendation}");

    // A signature over other metadata: refused, nothing published.
    let other = claims(&bytes, "acme/optimizer-esp", "1.3.0", "Says something else.");
    let mut shown = other.clone();
    shown.changelog = "What the tenant would read.".into();
    let (status, body) = publish(h, &dev, &shown, &key, &sign(&seed, &other), &bytes).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "signature-invalid"), "{body}");

    // Another vendor's name, properly signed by that other vendor's key.
    let globex_seed = [12u8; 32];
    let globex_key = register(h, &globex_dev, &globex_seed).await;
    let squatted = claims(&bytes, "acme/optimizer-esp", "1.4.0", "Not acme's.");
    let signature = sign(&globex_seed, &squatted);
    let (status, body) = publish(h, &globex_dev, &squatted, &globex_key, &signature, &bytes).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "vendor-mismatch"), "{body}");
    // Nor can acme's developer name globex's key.
    let (status, body) = publish(h, &dev, &squatted, &globex_key, &signature, &bytes).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "unknown-key"), "{body}");

    // A revoked key signs nothing.
    let leaked_seed = [13u8; 32];
    let leaked = register(h, &dev, &leaked_seed).await;
    let revoke = format!("/api/vendor-keys/{leaked}/revoke");
    let (status, body, _) =
        h.send(as_dev(h, &dev, Method::POST, &revoke).json(&json!({"reason": "laptop stolen"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["revoked_reason"], "laptop stolen");
    let late = claims(&bytes, "acme/optimizer-esp", "1.5.0", "Signed after the revocation.");
    let (status, body) = publish(h, &dev, &late, &leaked, &sign(&leaked_seed, &late), &bytes).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "key-revoked"), "{body}");
    let (status, listed, _) = h.send(as_dev(h, &dev, Method::GET, "/api/vendor-releases")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "only 1.2.0 is published: {listed}");

    // A byte flipped in the stored blob: a good 1.6.0 is published (the
    // same bytes: the same blob), then the blob changes on disk. Approving
    // it is refused, and nothing is installed.
    let good = claims(&bytes, "acme/optimizer-esp", "1.6.0", "Same component, new metadata.");
    let (status, newer) = publish(h, &dev, &good, &key, &sign(&seed, &good), &bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{newer}");
    let digest = nexus_registry::content_hash(&bytes);
    let blob = h.data_dir().join("components/sha256").join(&digest[..2]).join(&digest);
    let mut stored = std::fs::read(&blob).expect("the blob is in the data directory's component store");
    assert_eq!(stored, bytes);
    let middle = stored.len() / 2;
    stored[middle] ^= 0x01;
    std::fs::write(&blob, &stored).expect("flip a byte");
    let approve_newer = format!("/api/releases/{}/approve", newer["id"].as_str().expect("id"));
    let (status, body, _) = h.send(h.admin(Method::POST, &approve_newer, tenant).await).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "digest-mismatch"), "{body}");
    let installed = h.get_as("/api/plugins", tenant).await;
    assert!(!installed.to_string().contains("1.6.0"), "{installed}");

    // The key of 1.2.0 revoked: the loaded version is dropped and checked
    // again on its next run, which is refused; nothing more is recommended.
    let before = h.get_as("/api/recommendations", tenant).await.as_array().map_or(0, Vec::len);
    let revoke = format!("/api/vendor-keys/{key}/revoke");
    let (status, body, _) = h.send(as_dev(h, &dev, Method::POST, &revoke).json(&json!({"reason": "rotated"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let run = format!("/api/bindings/{binding_id}/run");
    let (status, body, _) = h.send(h.admin(Method::POST, &run, tenant).await.json(&json!({}))).await;
    assert_eq!((status, code(&body)), (StatusCode::UNPROCESSABLE_ENTITY, "key-revoked"), "{body}");
    let after = h.get_as("/api/recommendations", tenant).await.as_array().map_or(0, Vec::len);
    assert_eq!(before, after);

    // The bootstrap administrator is no vendor: publishing is a vendor's.
    let (status, body, _) = h.send(h.system(Method::GET, "/api/vendor-releases").await).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
