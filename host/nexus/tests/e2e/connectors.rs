//! The connector API as a tenant admin and a neighbour see it: settings
//! are checked and the error names the field; a password is taken, never
//! shown, and a replace with `********` keeps it; a connector whose broker
//! is down backs off and says why, and recovers nothing it should not; a
//! disabled one stops; another tenant sees none of it; `/metrics` carries
//! the connectors' series; a setpoint no connector can write is refused
//! with `not-writable`.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::Harness;

fn broker(port: u16) -> Value {
    json!({"name": "field-broker", "settings": {
        "kind": "mqtt", "url": format!("mqtt://127.0.0.1:{port}"), "username": "nexus", "password": "broker-secret-42"
    }})
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

async fn status_of(h: &Harness, tenant: &str, id: &str) -> Value {
    h.get_as(&format!("/api/connectors/{id}"), tenant).await
}

async fn wait_for(h: &Harness, tenant: &str, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = status_of(h, tenant, id).await;
        if done(&view) {
            return view;
        }
        assert!(Instant::now() < deadline, "{what}: {view:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn connectors_are_checked_kept_secret_supervised_and_stay_in_their_tenant() {
    let h = Harness::start().await;
    let port = closed_port();

    // Settings that cannot work are refused, naming the field.
    let bad = [
        (json!({"name": "x", "settings": {"kind": "mqtt", "url": "http://broker"}}), "settings.url"),
        (
            json!({"name": "x", "settings": {"kind": "mqtt", "url": "mqtt://b", "topics": ["a/#/b"]}}),
            "settings.topics[0]",
        ),
        (
            json!({"name": "x", "settings": {"kind": "modbus", "devices": [{"device_id": "d", "address": "h:502",
            "blocks": [{"start": 0, "count": 126}]}]}}),
            "settings.devices[0].blocks[0]",
        ),
        (json!({"name": "x", "settings": {"kind": "profibus"}}), "profibus"),
        (
            json!({"name": "x", "settings": {"kind": "opcua", "url": "opc.tcp://plc:4840",
            "devices": [{"device_id": "d", "nodes": ["Well.W1"]}]}}),
            "settings.devices[0].nodes[0]",
        ),
        (json!({"name": "x", "settings": {"kind": "mqtt", "url": "mqtt://b", "colour": "red"}}), "colour"),
    ];
    for (body, field) in bad {
        let (status, problem, _) = h.send(h.admin(Method::POST, "/api/connectors", "acme").await.json(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {problem}");
        assert!(problem["detail"].as_str().unwrap_or_default().contains(field), "{field} not named: {problem}");
    }

    // Created: the password is not shown; the broker is down, so it backs
    // off and says why.
    let (status, created, _) = h.send(h.admin(Method::POST, "/api/connectors", "acme").await.json(&broker(port))).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["settings"]["password"], "********", "{created}");
    assert!(!created.to_string().contains("broker-secret-42"), "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let backing_off = wait_for(&h, "acme", &id, "a connector whose broker is down backs off", |v| {
        v["status"]["state"] == "backoff" && v["status"]["restarts"].as_u64() >= Some(1)
    })
    .await;
    let problems = backing_off["status"]["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|p| p["code"] == "connect-failed"
                && p["reason"].as_str().unwrap_or_default().contains(&port.to_string())),
        "the reason names the broker: {backing_off:#}"
    );
    let twin = h.send(h.admin(Method::POST, "/api/connectors", "acme").await.json(&broker(port))).await;
    assert_eq!(twin.0, StatusCode::CONFLICT, "{}", twin.1);

    // A replace with `********` keeps the password (the event log never
    // carries it); disabling stops the connector.
    let mut replaced = broker(port);
    replaced["enabled"] = json!(false);
    replaced["settings"]["password"] = json!("********");
    let path = format!("/api/connectors/{id}");
    let (status, view, _) = h.send(h.admin(Method::PUT, &path, "acme").await.json(&replaced)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    wait_for(&h, "acme", &id, "a disabled connector stops", |v| v["status"]["state"] == "stopped").await;
    let stored = h.server().services.connectors().get(&"acme".into(), &id.as_str().into()).await.expect("stored");
    let nexus_model::ConnectorSettings::Mqtt(mqtt) = stored.settings else { panic!("kind changed") };
    assert_eq!(mqtt.password.as_deref(), Some("broker-secret-42"), "`********` keeps the stored password");
    let events = h.get_as("/api/events?limit=1000", "acme").await;
    assert!(events.to_string().contains(&id), "changes are events");
    assert!(!events.to_string().contains("broker-secret-42"), "an event carries the password");

    // Another tenant sees nothing of it and cannot change it.
    let foreign = h.send(h.admin(Method::GET, &path, "globex").await).await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    let foreign = h.send(h.admin(Method::DELETE, &path, "globex").await).await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "{}", foreign.1);
    assert_eq!(h.get_as("/api/connectors", "globex").await, json!([]));

    // Its series are in /metrics for its tenant, not for the neighbour.
    let metrics = |tenant: &'static str| {
        let h = &h;
        async move {
            let request = h.admin(Method::GET, "/metrics", tenant).await;
            request.send().await.expect("metrics").text().await.expect("text")
        }
    };
    let own = metrics("acme").await;
    assert!(
        own.contains(&format!("nexus_connector_restarts_total{{tenant=\"acme\",connector=\"{id}\",kind=\"mqtt\"}}")),
        "{own}"
    );
    assert!(own.contains("nexus_connector_up{"), "{own}");
    assert!(!metrics("globex").await.contains(&id), "a neighbour sees the connector's series");

    // No running connector writes this setpoint.
    let (device, _, _) = h.field_with(false).await;
    let write = h
        .send(
            h.admin(Method::POST, &format!("/api/devices/{device}/setpoint-writes"), "acme")
                .await
                .json(&json!({"parameter": "frequency_hz", "value": 52.0})),
        )
        .await;
    assert_eq!(write.0, StatusCode::CONFLICT, "{}", write.1);
    assert_eq!(write.1["code"], "not-writable", "{}", write.1);
    let foreign = h
        .send(
            h.admin(Method::POST, &format!("/api/devices/{device}/setpoint-writes"), "globex")
                .await
                .json(&json!({"parameter": "frequency_hz", "value": 52.0})),
        )
        .await;
    assert_eq!(foreign.0, StatusCode::NOT_FOUND, "another tenant's device: {}", foreign.1);

    // Deleted: gone, and stopped.
    let deleted = h.send(h.admin(Method::DELETE, &path, "acme").await).await;
    assert_eq!(deleted.0, StatusCode::NO_CONTENT, "{}", deleted.1);
    assert_eq!(h.send(h.admin(Method::GET, &path, "acme").await).await.0, StatusCode::NOT_FOUND);
    assert!(h.server().services.connectors().statuses(None).is_empty(), "a deleted connector is forgotten");
}
