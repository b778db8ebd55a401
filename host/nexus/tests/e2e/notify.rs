//! Notifications end to end, to real receivers on loopback: a webhook
//! receiver (an HTTP server in the test) and aiosmtpd. Every matching
//! alarm transition arrives exactly once, signed, across a restart of the
//! host, and nothing else arrives; a receiver that is down gets it when it
//! is back, within the retry policy; one down for too long, or refusing,
//! ends dead, and is sent again by hand.

#[path = "notify_receivers.rs"]
mod receivers;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use nexus::NotifierConfig;
use nexus_services::{NotificationConfig, RetryPolicy, ServicesConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use receivers::{Received, SmtpSink, WebhookReceiver, closed_port};

use crate::{Harness, frame};

const SECRET_A: &str = "tenant-a-webhook-secret-0123";
const SECRET_B: &str = "tenant-b-webhook-secret-4567";

fn config(retry: RetryPolicy) -> ServicesConfig {
    let notifications = NotificationConfig {
        retry,
        send_timeout: Duration::from_secs(5),
        poll: Duration::from_millis(100),
        ..NotificationConfig::default()
    };
    ServicesConfig { notifications, ..ServicesConfig::default() }
}

async fn create_rule(h: &Harness, tenant: &str, rule: Value) -> String {
    let (status, body, _) = h.send(h.admin(Method::POST, "/api/notification-rules", tenant).await.json(&rule)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["channel"].get("secret").is_none(), "the secret is shown: {body}");
    body["id"].as_str().expect("id").to_string()
}

/// Every delivery of the tenant.
async fn deliveries(h: &Harness, tenant: &str) -> Vec<Value> {
    h.get_as("/api/notification-deliveries?limit=1000", tenant).await.as_array().cloned().unwrap_or_default()
}

/// Polls until `done` holds for the tenant's deliveries.
async fn wait_for(h: &Harness, tenant: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let all = deliveries(h, tenant).await;
        if done(&all) {
            return all;
        }
        assert!(Instant::now() < deadline, "{what}: {all:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the notification subscriber's cursor has passed every
/// event of these tenants: nothing more will be enqueued for them.
async fn wait_for_matching(h: &Harness, tenants: &[&str]) {
    let mut last = 0;
    for tenant in tenants {
        let mut after = 0;
        loop {
            let page = h.get_as(&format!("/api/events?after={after}&limit=1000"), tenant).await;
            let Some(seq) = page.as_array().and_then(|p| p.last()).map(|e| e["seq"].as_i64().expect("seq")) else {
                break;
            };
            after = seq;
        }
        last = last.max(after);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while h.server().services.outbox().cursor("notifications").await.expect("cursor").0 < last {
        assert!(Instant::now() < deadline, "the notification subscriber did not reach {last}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn telemetry(h: &Harness, token: &str, temperature: f64) {
    let (status, body, _) = h.telemetry(token, frame(json!({"motor_temperature": temperature}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The newest alarm of a device.
async fn newest_alarm(h: &Harness, tenant: &str, device: &str) -> String {
    let alarms = h.get_as(&format!("/api/alarms?device_id={device}"), tenant).await;
    alarms[0]["id"].as_str().expect("an alarm").to_string()
}

/// Checks a webhook request's signature and its delivery header against
/// its body; returns (alarm id, transition).
fn verified(request: &Received, secret: &str) -> (String, String) {
    let expected = format!("sha256={}", nexus::notifiers::sign(secret.as_bytes(), &request.body));
    assert_eq!(request.header("x-nexus-signature"), expected, "a bad signature");
    let body = request.json();
    assert_eq!(request.header("x-nexus-delivery"), body["delivery_id"], "{body}");
    assert!(request.header("x-nexus-timestamp").parse::<i64>().is_ok_and(|t| t > 1_600_000_000), "{request:?}");
    assert_eq!(request.header("content-type"), "application/json");
    (body["alarm"]["id"].as_str().expect("alarm").into(), body["event"]["transition"].as_str().expect("t").into())
}

fn pairs(items: &[(String, String)]) -> BTreeSet<(String, String)> {
    items.iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_matching_transition_arrives_once_across_a_restart_and_nothing_else_does() {
    // A slow receiver: sends are still in flight when the host stops.
    let hooks =
        WebhookReceiver::start_slow("127.0.0.1:0".parse().expect("addr"), &[], Duration::from_millis(400)).await;
    let smtp = SmtpSink::start().await;
    let notifier = NotifierConfig {
        smtp_url: Some(format!("smtp://127.0.0.1:{}", smtp.port)),
        smtp_from: "nexus@example.com".into(),
    };
    let services = config(RetryPolicy::default());
    let h = Harness::start_notifying(services.clone(), notifier).await;
    let (device_a, token_a, _) = h.field_of("notify-a", false).await;
    let (device_b, token_b, _) = h.field_of("notify-b", false).await;
    let filter = json!({"alarm_types": ["HighMotorTemperature"], "min_severity": "MAJOR",
                        "transitions": ["RAISED", "ACKNOWLEDGED", "CLEARED"]});
    let webhook = |path: &str, secret: &str| json!({"kind": "webhook", "url": hooks.url(path), "secret": secret});
    let pager =
        create_rule(&h, "notify-a", json!({"name": "pager", "filter": filter, "channel": webhook("/a", SECRET_A)}))
            .await;
    let mail = create_rule(
        &h,
        "notify-a",
        json!({"name": "mail", "filter": filter, "channel": {"kind": "email", "to": ["ops@example.com"]}}),
    )
    .await;
    // Rules that match none of these alarms: another type, a higher severity.
    let other_type = json!({"alarm_types": ["LowIntakePressure"], "transitions": ["RAISED", "CLEARED"]});
    create_rule(
        &h,
        "notify-a",
        json!({"name": "other type", "filter": other_type, "channel": webhook("/a-type", SECRET_A)}),
    )
    .await;
    let critical = json!({"min_severity": "CRITICAL", "transitions": ["RAISED", "CLEARED"]});
    create_rule(
        &h,
        "notify-a",
        json!({"name": "critical", "filter": critical, "channel": webhook("/a-critical", SECRET_A)}),
    )
    .await;
    // Tenant B's own rule: every alarm raised, escalated or cleared.
    create_rule(&h, "notify-b", json!({"name": "pager", "channel": webhook("/b", SECRET_B)})).await;
    let rule = h.get_as(&format!("/api/notification-rules/{pager}"), "notify-a").await;
    assert_eq!(rule["channel"], json!({"kind": "webhook", "url": hooks.url("/a")}), "the secret is never shown");

    // Before the restart: A's alarm raised and acknowledged, B's raised.
    telemetry(&h, &token_a, 120.0).await;
    let a1 = newest_alarm(&h, "notify-a", &device_a).await;
    let (status, body, _) = h.send(h.admin(Method::POST, &format!("/api/alarms/{a1}/ack"), "notify-a").await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    telemetry(&h, &token_b, 120.0).await;
    let b1 = newest_alarm(&h, "notify-b", &device_b).await;
    // Mid-stream: whatever is enqueued or in flight now must survive it.
    let h = h.restart_with(services.clone()).await;
    // After it: A's alarm cleared, a second raised and cleared; B's cleared.
    telemetry(&h, &token_a, 80.0).await;
    telemetry(&h, &token_a, 130.0).await;
    let a2 = newest_alarm(&h, "notify-a", &device_a).await;
    assert_ne!(a1, a2);
    telemetry(&h, &token_a, 70.0).await;
    telemetry(&h, &token_b, 80.0).await;

    wait_for_matching(&h, &["notify-a", "notify-b"]).await;
    let sent = |all: &[Value]| all.iter().all(|d| d["status"] == "sent");
    let a = wait_for(&h, "notify-a", "A's 10 deliveries sent", |all| all.len() >= 10 && sent(all)).await;
    let b = wait_for(&h, "notify-b", "B's 2 deliveries sent", |all| all.len() >= 2 && sent(all)).await;
    assert_eq!((a.len(), b.len()), (10, 2), "deliveries enqueued: {a:#?} {b:#?}");
    assert!(a.iter().chain(&b).all(|d| d["attempts"] == 1), "{a:#?}");

    let transitions =
        |alarm: &str, kinds: &[&str]| kinds.iter().map(|k| (alarm.to_string(), k.to_string())).collect::<Vec<_>>();
    let want_a =
        [transitions(&a1, &["RAISED", "ACKNOWLEDGED", "CLEARED"]), transitions(&a2, &["RAISED", "CLEARED"])].concat();
    let want_b = transitions(&b1, &["RAISED", "CLEARED"]);
    // The webhooks: exactly one request per transition, signed with the
    // rule's secret; none for the rules that match nothing.
    let requests = hooks.received();
    let on = |path: &str| requests.iter().filter(|r| r.path == path).collect::<Vec<_>>();
    let got_a: Vec<_> = on("/a").into_iter().map(|r| verified(r, SECRET_A)).collect();
    let got_b: Vec<_> = on("/b").into_iter().map(|r| verified(r, SECRET_B)).collect();
    assert_eq!((got_a.len(), pairs(&got_a)), (5, pairs(&want_a)), "tenant A's webhook");
    assert_eq!((got_b.len(), pairs(&got_b)), (2, pairs(&want_b)), "tenant B's webhook");
    assert_eq!(requests.len(), 7, "other requests arrived: {:?}", requests.iter().map(|r| &r.path).collect::<Vec<_>>());
    let ids = |requests: Vec<&Received>| requests.iter().map(|r| r.header("x-nexus-delivery").to_string()).collect();
    let delivered: BTreeSet<String> = ids(on("/a"));
    let listed: BTreeSet<String> =
        a.iter().filter(|d| d["rule_id"] == pager.as_str()).map(|d| d["id"].as_str().expect("id").into()).collect();
    assert_eq!(delivered, listed, "the webhook got exactly the pager's deliveries");
    for request in on("/a").into_iter().chain(on("/b")) {
        assert_eq!(request.json()["tenant_id"], if request.path == "/a" { "notify-a" } else { "notify-b" });
    }

    // The emails: exactly one per transition, the delivery id as Message-ID.
    let messages = smtp.messages();
    assert_eq!(messages.len(), 5, "{messages:#?}");
    let mut got_mail = Vec::new();
    let mail_ids: HashMap<String, &Value> = a
        .iter()
        .filter(|d| d["rule_id"] == mail.as_str())
        .map(|d| (d["id"].as_str().expect("id").to_string(), d))
        .collect();
    for message in &messages {
        let delivery = message["delivery"].as_str().expect("X-Nexus-Delivery");
        assert_eq!(message["message_id"], format!("<{delivery}@nexus>"));
        assert_eq!(
            (message["mail_from"].as_str(), &message["rcpt_tos"]),
            (Some("nexus@example.com"), &json!(["ops@example.com"]))
        );
        let listed = mail_ids.get(delivery).unwrap_or_else(|| panic!("not a delivery of the mail rule: {message}"));
        let text = message["body"].as_str().expect("body");
        let body: Value = serde_json::from_str(&text[text.find('{').expect("JSON in the text")..]).expect("JSON");
        assert_eq!(body["delivery_id"], delivery);
        assert_eq!(body["event"]["transition"], listed["transition"]);
        let subject = message["subject"].as_str().expect("subject");
        assert!(subject.starts_with("[Nexus] MAJOR HighMotorTemperature"), "{subject}");
        got_mail.push((
            body["alarm"]["id"].as_str().expect("alarm").to_string(),
            body["event"]["transition"].as_str().expect("t").to_string(),
        ));
    }
    assert_eq!(pairs(&got_mail), pairs(&want_a), "the emails");
    assert_eq!(mail_ids.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_comes_back_gets_it_one_down_too_long_or_refusing_ends_dead() {
    // 6 attempts, 0.4 s doubling to 1.6 s: the last about 6 s after the first.
    let retry =
        RetryPolicy { attempts: 6, base_delay: Duration::from_millis(400), max_delay: Duration::from_millis(1600) };
    let h = Harness::start_with(config(retry)).await;
    let (_, token, _) = h.field_of("notify-down", false).await;
    let tenant = "notify-down";
    let late = closed_port().await;
    let never = closed_port().await;
    let refusing = WebhookReceiver::start("127.0.0.1:0".parse().expect("addr"), &[("/gone", 410)]).await;
    let hook = |url: String| json!({"kind": "webhook", "url": url, "secret": SECRET_A});
    let late_rule =
        create_rule(&h, tenant, json!({"name": "late", "channel": hook(format!("http://{late}/late"))})).await;
    let never_rule =
        create_rule(&h, tenant, json!({"name": "never", "channel": hook(format!("http://{never}/never"))})).await;
    let gone_rule = create_rule(&h, tenant, json!({"name": "gone", "channel": hook(refusing.url("/gone"))})).await;
    telemetry(&h, &token, 120.0).await;
    let of = |all: &[Value], rule: &str| all.iter().find(|d| d["rule_id"] == rule).cloned().unwrap_or(Value::Null);

    // The late receiver is down for the first two attempts at least.
    let all = wait_for(&h, tenant, "the late delivery failed twice", |all| {
        of(all, &late_rule)["attempts"].as_u64() >= Some(2)
    })
    .await;
    let failed = of(&all, &late_rule);
    assert_eq!(failed["status"], "pending", "{failed}");
    assert!(failed["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{failed}");
    let back = WebhookReceiver::start(late, &[]).await;
    let all = wait_for(&h, tenant, "the late delivery sent", |all| of(all, &late_rule)["status"] == "sent").await;
    let sent = of(&all, &late_rule);
    assert!(sent["attempts"].as_u64() > Some(1), "{sent}");
    let arrived = back.received();
    assert_eq!(arrived.len(), 1, "{arrived:?}");
    assert_eq!(arrived[0].header("x-nexus-delivery"), sent["id"]);
    verified(&arrived[0], SECRET_A);

    // The receiver that never comes back: dead after the 6th attempt, with
    // its error and an event.
    let all = wait_for(&h, tenant, "the never delivery dead", |all| of(all, &never_rule)["status"] == "dead").await;
    let dead = of(&all, &never_rule);
    assert_eq!(dead["attempts"], 6, "{dead}");
    assert!(dead["last_error"].as_str().is_some_and(|e| e.contains("attempt 6 of 6")), "{dead}");
    let events = h.get_as("/api/events?limit=1000", tenant).await;
    let told = events
        .as_array()
        .expect("events")
        .iter()
        .any(|e| e["type"] == "notification_dead" && e["delivery_id"] == dead["id"]);
    assert!(told, "no notification_dead event: {events}");

    // A refusal (410) is dead at once; fixed and retried by hand, it is sent
    // with the secret kept from before.
    let all = wait_for(&h, tenant, "the gone delivery dead", |all| of(all, &gone_rule)["status"] == "dead").await;
    let gone = of(&all, &gone_rule);
    assert_eq!(gone["attempts"], 1, "{gone}");
    assert!(gone["last_error"].as_str().is_some_and(|e| e.contains("410")), "{gone}");
    let fixed = json!({"name": "gone", "channel": {"kind": "webhook", "url": refusing.url("/fixed")}});
    let path = format!("/api/notification-rules/{gone_rule}");
    let (status, body, _) = h.send(h.admin(Method::PUT, &path, tenant).await.json(&fixed)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let retry = format!("/api/notification-deliveries/{}/retry", gone["id"].as_str().expect("id"));
    let (status, body, _) = h.send(h.admin(Method::POST, &retry, tenant).await).await;
    assert_eq!((status, &body["status"], &body["attempts"]), (StatusCode::OK, &json!("pending"), &json!(0)), "{body}");
    wait_for(&h, tenant, "the retried delivery sent", |all| of(all, &gone_rule)["status"] == "sent").await;
    let to_fixed: Vec<_> = refusing.received().into_iter().filter(|r| r.path == "/fixed").collect();
    assert_eq!(to_fixed.len(), 1);
    assert_eq!(to_fixed[0].header("x-nexus-delivery"), gone["id"]);
    verified(&to_fixed[0], SECRET_A);
    let (status, body, _) = h.send(h.admin(Method::POST, &retry, tenant).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "a sent one is not retried");
    let (status, body, _) =
        h.send(h.admin(Method::GET, "/api/notification-deliveries?status=dead", tenant).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().map(Vec::len), Some(1), "only the never delivery is dead: {body}");
}

#[tokio::test]
async fn rules_are_validated_and_email_needs_an_smtp_server() {
    let harness = Harness::start().await;
    let h = &harness;
    let tenant = "notify-rules";
    let post = |body: Value| async move {
        h.send(h.admin(Method::POST, "/api/notification-rules", tenant).await.json(&body)).await
    };
    let hook = |url: &str, secret: &str| json!({"kind": "webhook", "url": url, "secret": secret});
    let good = hook("https://example.com/", "0123456789abcdef");
    for (body, code) in [
        (json!({"name": "x", "channel": hook("ftp://example.com/", "0123456789abcdef")}), "invalid-webhook-url"),
        (json!({"name": "x", "channel": hook("https://example.com/", "short")}), "invalid-webhook-secret"),
        (json!({"name": "x", "channel": {"kind": "webhook", "url": "https://example.com/"}}), "invalid-webhook-secret"),
        (json!({"name": "x", "channel": {"kind": "email", "to": ["ops@example.com"]}}), "email-not-configured"),
        (json!({"name": "x", "filter": {"transitions": []}, "channel": good}), "invalid-request"),
        (
            json!({"name": "x", "filter": {"min_severity": "MAJOR", "severities": ["MINOR"]}, "channel": good}),
            "invalid-request",
        ),
        (json!({"name": "x", "channel": good, "extra": 1}), "invalid-request"),
    ] {
        let (status, answer, content_type) = post(body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}: {answer}");
        assert_eq!(content_type, "application/problem+json");
    }
    assert_eq!(h.get_as("/api/notification-rules", tenant).await, json!([]), "a refused rule was stored");
    let good = json!({"name": "pager", "channel": hook("https://example.com/hook", "0123456789abcdef")});
    assert_eq!(post(good.clone()).await.0, StatusCode::CREATED);
    let (status, answer, _) = post(good).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{answer}");
    let rules = h.get_as("/api/notification-rules", tenant).await;
    assert_eq!(rules[0]["filter"]["transitions"], json!(["RAISED", "ESCALATED", "CLEARED"]), "the default: {rules}");
    let id = rules[0]["id"].as_str().expect("id");
    let (status, _, _) = h.send(h.admin(Method::DELETE, &format!("/api/notification-rules/{id}"), tenant).await).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = h.send(h.admin(Method::GET, &format!("/api/notification-rules/{id}"), tenant).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
