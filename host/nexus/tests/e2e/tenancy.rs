//! One tenant never reaches another, and every role gets exactly what
//! README's role table says. Both tests walk the API as it is served: the
//! cross-tenant test reads `/api/openapi.json` (a new endpoint is covered
//! without editing it), the role matrix reads README's table.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Harness, PASSWORD, TOKEN, esp_well, login, login_as};

/// Tenant B: a field with an alarm, a comment, a user and an API key, all
/// made through B's own credentials. Returns B's ids by parameter name.
async fn victim(h: &Harness, tenant: &str) -> BTreeMap<&'static str, String> {
    let plugins = h.upload_first_party(tenant).await;
    let as_b = |method: Method, path: &'static str, body: Value| async move {
        let (status, response, _) = h.send(h.admin(method, path, tenant).await.json(&body)).await;
        assert!(status.is_success(), "{path}: {status} {response}");
        response
    };
    let pad = as_b(Method::POST, "/api/wellpads", json!({"name": "B pad"})).await;
    let well =
        as_b(Method::POST, "/api/wells", json!({"name": "B well", "wellpad_id": pad["id"], "static_data": esp_well()}))
            .await;
    let device = as_b(Method::POST, "/api/devices", json!({"name": "B device", "well_id": well["id"]})).await;
    let tests = format!("/api/wells/{}/well-tests", well["id"].as_str().expect("well id"));
    let test = json!({"ts": 1_700_000_000_000_i64, "duration_h": 24, "oil_bbl_d": 500, "water_bbl_d": 500});
    let (status, body, _) = h.send(h.admin(Method::POST, &tests, tenant).await.json(&test)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let device_id = device["id"].as_str().expect("id").to_string();
    let setpoint = format!("/api/devices/{device_id}/setpoints/frequency_hz");
    let limits = json!({"value": 52.0, "unit": "Hz", "min": 35.0, "max": 62.0, "max_step": 1.0});
    let (status, body, _) = h.send(h.admin(Method::PUT, &setpoint, tenant).await.json(&limits)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = device["access_token"].as_str().expect("token").to_string();
    let decoder =
        as_b(Method::POST, "/api/bindings", json!({"plugin_id": plugins[0], "device_ids": [device_id]})).await;
    as_b(
        Method::POST,
        "/api/bindings",
        json!({"plugin_id": plugins[1], "device_ids": [device_id],
               "config": {"key": "t", "high": 50.0, "deadband": 1.0, "severity": "major", "alarm_type": "HighT"}}),
    )
    .await;
    let optimizer =
        as_b(Method::POST, "/api/bindings", json!({"plugin_id": plugins[2], "device_ids": [device_id]})).await;
    // A recommendation of B's: a steady hour, then the optimizer run by hand.
    for frame in crate::steady_esp_hour() {
        let (status, body, _) = h.telemetry(&token, frame).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let run = format!("/api/bindings/{}/run", optimizer["id"].as_str().expect("id"));
    let (status, made, _) = h.send(h.admin(Method::POST, &run, tenant).await.json(&json!({}))).await;
    assert!(status.is_success(), "{status} {made}");
    // The binding's schedule may have run first: then the run by hand holds
    // (one is open) and the scheduled run's recommendation is B's.
    let made = if made[0]["id"].is_string() { made } else { h.get_as("/api/recommendations", tenant).await };
    let recommendation = made[0]["id"].as_str().unwrap_or_else(|| panic!("a recommendation: {made}")).to_string();
    // That run of B's (ended: it stays still).
    let runs = h.get_as("/api/runs", tenant).await;
    let run = runs[0]["id"].as_str().unwrap_or_else(|| panic!("a run: {runs}")).to_string();
    // A notification rule whose receiver (this host, on no route) refuses
    // it: the alarm's delivery is dead after one attempt, and stays so.
    let refused = format!("{}/no-such-receiver", h.base);
    let rule = as_b(
        Method::POST,
        "/api/notification-rules",
        json!({"name": "B pager", "channel": {"kind": "webhook", "url": refused, "secret": "B-secret-0123456789"}}),
    )
    .await;
    // A connector (disabled: its status stays still between snapshots).
    let connector = as_b(
        Method::POST,
        "/api/connectors",
        json!({"name": "B broker", "enabled": false,
               "settings": {"kind": "mqtt", "url": "mqtt://127.0.0.1:1", "password": "B-broker-secret"}}),
    )
    .await;
    let (status, body, _) =
        h.telemetry(&token, json!({"ts": 1_700_000_000_000_i64, "values": {"t": 60.0}}).to_string()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A backtest of B's (finished before the walk, so it stays still).
    let backtest = as_b(
        Method::POST,
        "/api/backtests",
        json!({"plugin_id": plugins[1], "device_ids": [device_id], "start_ts": 1_700_000_000_000_i64,
               "end_ts": 1_700_000_001_000_i64}),
    )
    .await;
    let backtest = backtest["id"].as_str().expect("backtest id").to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while h.get_as(&format!("/api/backtests/{backtest}"), tenant).await["status"] != "done" {
        assert!(std::time::Instant::now() < deadline, "B's backtest did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alarms = h.get_as(&format!("/api/alarms?device_id={device_id}"), tenant).await;
    let alarm = alarms[0]["id"].as_str().expect("an alarm").to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let delivery = loop {
        let dead = h.get_as("/api/notification-deliveries?status=dead", tenant).await;
        if let Some(id) = dead[0]["id"].as_str() {
            break id.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "B's notification is not dead: {dead}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let (status, _, _) = h
        .send(
            h.admin(Method::POST, &format!("/api/alarms/{alarm}/comments"), tenant).await.json(&json!({"text": "B's"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let user = as_b(
        Method::POST,
        "/api/users",
        json!({"email": format!("viewer@{tenant}.test"), "password": PASSWORD, "role": "VIEWER"}),
    )
    .await;
    let key = as_b(Method::POST, "/api/api-keys", json!({"name": "B key", "role": "VIEWER"})).await;
    // A vendor, for the system administrator's vendor operations.
    let vendor: Value = h
        .client
        .post(format!("{}/api/vendors", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({"name": format!("vendor-of-{tenant}")}))
        .send()
        .await
        .expect("vendor")
        .json()
        .await
        .expect("json");
    // Its signed release, which B trusts and approves.
    let (vendor_key, release) = crate::releases::signed_release(h, &vendor, &format!("vendor-of-{tenant}")).await;
    let trust = format!("/api/trusted-vendors/{}", vendor["id"].as_str().expect("vendor id"));
    let (status, body, _) = h.send(h.admin(Method::PUT, &trust, tenant).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let approve = format!("/api/releases/{release}/approve");
    let (status, body, _) = h.send(h.admin(Method::POST, &approve, tenant).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    BTreeMap::from([
        ("alarm", alarm),
        ("binding", decoder["id"].as_str().expect("id").to_string()),
        ("optimizer", optimizer["id"].as_str().expect("id").to_string()),
        ("device", device_id),
        ("plugin", plugins[1].clone()),
        ("well", well["id"].as_str().expect("id").to_string()),
        ("wellpad", pad["id"].as_str().expect("id").to_string()),
        ("user", user["id"].as_str().expect("id").to_string()),
        ("key", key["id"].as_str().expect("id").to_string()),
        ("tenant", tenant.to_string()),
        ("vendor", vendor["id"].as_str().expect("vendor id").to_string()),
        ("notification_rule", rule["id"].as_str().expect("id").to_string()),
        ("notification_delivery", delivery),
        ("connector", connector["id"].as_str().expect("id").to_string()),
        ("setpoint", "frequency_hz".to_string()),
        ("recommendation", recommendation),
        ("backtest", backtest),
        ("run", run),
        ("release", release),
        ("vendor_key", vendor_key),
    ])
}

/// B's id for a parameter of an operation on `path`.
fn id_for(ids: &BTreeMap<&'static str, String>, path: &str, param: &str) -> Option<String> {
    let kind = match param {
        "id" => {
            let collection = path.trim_start_matches("/api/").split('/').next().unwrap_or_default();
            match collection {
                "alarms" => "alarm",
                "bindings" if path.ends_with("/run") => "optimizer",
                "bindings" => "binding",
                "devices" => "device",
                "plugins" => "plugin",
                "users" => "user",
                "api-keys" => "key",
                "wells" => "well",
                "wellpads" => "wellpad",
                "notification-rules" => "notification_rule",
                "notification-deliveries" => "notification_delivery",
                "connectors" => "connector",
                "recommendations" => "recommendation",
                "backtests" => "backtest",
                "runs" => "run",
                "releases" | "vendor-releases" => "release",
                "vendor-keys" => "vendor_key",
                _ => return None,
            }
        }
        "device_id" => "device",
        "well_id" => "well",
        "wellpad_id" => "wellpad",
        "plugin_id" => "plugin",
        "tenant_id" => "tenant",
        "vendor_id" => "vendor",
        "alarm_id" => "alarm",
        "binding_id" => "binding",
        "parameter" => "setpoint",
        _ => return None,
    };
    ids.get(kind).cloned()
}

/// Follows a `$ref` inside the document.
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            spec.pointer(pointer).map_or(schema, |target| resolve(spec, target))
        }
        None => schema,
    }
}

/// A body for a request schema in which every id names B's object, and
/// every other member is a plausible value.
fn body_for(spec: &Value, schema: &Value, ids: &BTreeMap<&'static str, String>, path: &str) -> Value {
    let schema = resolve(spec, schema);
    // One of several shapes (a tagged enum): the first.
    if let Some(first) = schema.get("oneOf").and_then(|shapes| shapes.get(0)) {
        return body_for(spec, first, ids, path);
    }
    // All of several parts (a tagged enum's variant and its tag): merged.
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        let mut merged = serde_json::Map::new();
        for part in parts {
            if let Value::Object(members) = body_for(spec, part, ids, path) {
                merged.extend(members);
            }
        }
        return Value::Object(merged);
    }
    let mut body = serde_json::Map::new();
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            // Optional members are left out, unless they name an object.
            if !required.contains(&name.as_str()) && name != "device_ids" && id_for(ids, path, name).is_none() {
                continue;
            }
            let property = resolve(spec, property);
            let value = if name == "device_ids" {
                json!([ids["device"]])
            } else if let Some(id) = id_for(ids, path, name) {
                json!(id)
            } else if let Some(first) = property.get("enum").and_then(|values| values.get(0)) {
                first.clone()
            } else if property.get("properties").is_some()
                || property.get("oneOf").is_some()
                || property.get("allOf").is_some()
            {
                body_for(spec, property, ids, path)
            } else {
                match property.get("type").and_then(|t| t.as_str().or_else(|| t.get(0).and_then(Value::as_str))) {
                    Some("string") => json!("x"),
                    Some("integer") | Some("number") => json!(1),
                    Some("boolean") => json!(true),
                    Some("array") => json!([]),
                    _ => json!({}),
                }
            };
            body.insert(name.clone(), value);
        }
    }
    Value::Object(body)
}

/// Everything B can read about itself, through B's own credentials.
async fn snapshot(
    h: &Harness,
    spec: &Value,
    tenant: &str,
    ids: &BTreeMap<&'static str, String>,
) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if item.get("get").is_none() || !path.starts_with("/api/") || path.starts_with("/api/v1/") {
            continue;
        }
        let mut concrete = path.clone();
        let mut ok = true;
        for param in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            match id_for(ids, path, param) {
                Some(id) => concrete = concrete.replace(&format!("{{{param}}}"), &id),
                None => ok = false,
            }
        }
        if !ok {
            continue;
        }
        let (status, body, _) = h.send(h.admin(Method::GET, &concrete, tenant).await).await;
        if status == StatusCode::OK {
            seen.insert(concrete, body);
        }
    }
    seen
}

#[tokio::test]
async fn tenant_a_reaches_nothing_of_tenant_b_through_any_operation_of_the_served_api() {
    let h = Harness::start().await;
    let b = victim(&h, "bravo").await;
    h.token("alpha").await;
    let spec: Value =
        h.client.get(format!("{}/api/openapi.json", h.base)).send().await.expect("spec").json().await.expect("json");
    assert!(spec["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", spec["openapi"]);
    let before = snapshot(&h, &spec, "bravo", &b).await;
    assert!(before.len() >= 10, "B reads its own objects: {:?}", before.keys().collect::<Vec<_>>());

    let (mut walked, mut on_b) = (0, 0);
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let access = nexus_api::access::access_of(method.as_str(), path);
            if matches!(access, Some(nexus_api::access::Access::Public | nexus_api::access::Access::Authenticated)) {
                continue;
            }
            // Trusting a vendor names no tenant's object (vendors are
            // shared); A trusting B's vendor would only change what A sees.
            if method == Method::PUT && path == "/api/trusted-vendors/{vendor_id}" {
                continue;
            }
            let mut concrete = path.clone();
            let mut names_b = false;
            let mut query = Vec::new();
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let param = resolve(&spec, param);
                let name = param["name"].as_str().unwrap_or_default();
                let id = id_for(&b, path, name);
                match param["in"].as_str() {
                    Some("path") => {
                        let id = id.unwrap_or_else(|| panic!("{method} {path}: no B id for path parameter {name}"));
                        concrete = concrete.replace(&format!("{{{name}}}"), &id);
                        names_b = true;
                    }
                    Some("query") => {
                        if let Some(id) = id {
                            query.push((name.to_string(), id));
                            names_b = true;
                        } else if param["required"] == true {
                            let schema = resolve(&spec, &param["schema"]);
                            let numeric =
                                schema.to_string().contains("integer") || schema.to_string().contains("number");
                            let value = match (numeric, name.starts_with("end")) {
                                (true, true) => "4102444800000",
                                (true, false) => "0",
                                (false, _) => "x",
                            };
                            query.push((name.to_string(), value.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            let mut request = h.admin(method.clone(), &concrete, "alpha").await.query(&query);
            let json_body = &operation["requestBody"]["content"]["application/json"]["schema"];
            if !json_body.is_null() {
                let body = body_for(&spec, json_body, &b, path);
                names_b |= body
                    .as_object()
                    .is_some_and(|members| members.iter().any(|(k, _)| k.ends_with("_id") || k == "device_ids"));
                request = request.json(&body);
            }
            let (status, answer, _) = h.send(request).await;
            walked += 1;
            assert!(!status.is_server_error(), "{method} {concrete} {query:?}: {status} {answer}");
            if !names_b {
                continue;
            }
            on_b += 1;
            let listed_nothing = status == StatusCode::OK && answer.as_array().is_some_and(Vec::is_empty);
            // Operations of the installation or of vendors are refused to a
            // tenant admin before any id is looked at.
            let system_only =
                matches!(access, Some(nexus_api::access::Access::System | nexus_api::access::Access::Publish));
            assert!(
                status == StatusCode::NOT_FOUND || listed_nothing || (system_only && status == StatusCode::FORBIDDEN),
                "{method} {concrete} {query:?} as tenant A on B's ids: {status} {answer}"
            );
        }
    }
    println!("walked {walked} operations as tenant A, {on_b} of them on B's ids");
    assert!(walked >= 45 && on_b >= 25, "walked {walked} operations, {on_b} on B's ids");
    let after = snapshot(&h, &spec, "bravo", &b).await;
    assert_eq!(before, after, "B's objects changed");
}

/// README's role table: operation → (role → allowed).
fn readme_table() -> Vec<(String, String, BTreeMap<String, bool>)> {
    let readme = include_str!("../../../../README.md");
    let start = readme.find("<!-- role-table:begin -->").expect("marker");
    let end = readme.find("<!-- role-table:end -->").expect("marker");
    let mut lines = readme[start..end].lines().filter(|l| l.starts_with('|'));
    let header: Vec<String> = lines.next().expect("header").split('|').map(|c| c.trim().to_string()).collect();
    let roles = &header[2..header.len() - 1];
    lines
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let (method, path) = cells[1].trim_matches('`').split_once(' ').expect("METHOD path");
            let allowed = roles.iter().zip(&cells[2..]).map(|(role, cell)| (role.clone(), *cell == "yes")).collect();
            (method.to_string(), path.to_string(), allowed)
        })
        .collect()
}

#[tokio::test]
async fn every_role_gets_what_the_readme_role_table_says_for_every_operation() {
    let h = Harness::start().await;
    let ids = victim(&h, "acme").await;
    let table = readme_table();
    assert!(table.len() >= 50, "{} rows", table.len());
    // One principal per role in `acme` (the vendor developer in a vendor),
    // and an OPERATOR API key, which must act as its role.
    let mut principals: Vec<(String, String, Option<&str>)> = vec![("SYS_ADMIN".into(), TOKEN.into(), Some("acme"))];
    for role in ["TENANT_ADMIN", "OPERATOR", "VIEWER"] {
        principals.push((role.into(), login_as(&h.client, &h.base, "acme", role).await, None));
    }
    let vendor: Value = h
        .client
        .post(format!("{}/api/vendors", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "Pumps Inc"}))
        .send()
        .await
        .expect("vendor")
        .json()
        .await
        .expect("json");
    let email = "dev@pumps.test";
    let created = h
        .client
        .post(format!("{}/api/vendors/{}/users", h.base, vendor["id"].as_str().expect("id")))
        .bearer_auth(TOKEN)
        .json(&json!({"email": email, "password": PASSWORD, "role": "VENDOR_DEVELOPER"}))
        .send()
        .await
        .expect("vendor user");
    assert_eq!(created.status(), StatusCode::CREATED);
    let developer = login(&h.client, &h.base, email).await["access_token"].as_str().expect("token").to_string();
    principals.push(("VENDOR_DEVELOPER".into(), developer, None));
    let key = h.post("/api/api-keys", json!({"name": "operator key", "role": "OPERATOR"})).await;
    principals.push(("OPERATOR".into(), key["key_secret"].as_str().expect("secret").to_string(), None));

    let mut checked = 0;
    // Logout ends the caller's session: it goes last.
    let (last, first): (Vec<_>, Vec<_>) = table.iter().partition(|(_, path, _)| path == "/api/auth/logout");
    for (method, path, allowed) in first.into_iter().chain(last) {
        if path.starts_with("/api/v1/")
            || path == "/healthz"
            || path.starts_with("/api/auth/login")
            || path.starts_with("/api/auth/refresh")
        {
            continue;
        }
        let mut concrete = path.clone();
        for param in path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')) {
            let id = id_for(&ids, path, param).unwrap_or_else(|| "unknown".into());
            concrete = concrete.replace(&format!("{{{param}}}"), &id);
        }
        for (role, credential, tenant) in &principals {
            let method: Method = method.parse().expect("method");
            let mut request = h.client.request(method.clone(), format!("{}{concrete}", h.base)).bearer_auth(credential);
            if let Some(tenant) = tenant {
                request = request.header("x-nexus-tenant", *tenant);
            }
            if method != Method::GET && method != Method::DELETE {
                // Authorization comes before the body is read: an empty
                // object is enough to tell 403 from anything else.
                request = request.json(&json!({}));
            }
            let (status, body, _) = h.send(request).await;
            let may = allowed[role];
            if may {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{role} {method} {concrete}: the table says yes, got {status} {body}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {concrete}: the table says 403: {body}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 250, "checked {checked}");
}
