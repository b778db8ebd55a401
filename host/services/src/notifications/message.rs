//! What a delivery sends: the JSON body (the same bytes for every attempt,
//! so a receiver may compare them), and for email a subject and a text.

use nexus_model::{EventBody, NotificationDelivery, NotificationRule, TimestampMs};
use serde_json::json;

use super::Notification;

/// The notification of a delivery, sent over its rule's channel as it is
/// now (a rule fixed after a failure is used by the next attempt).
pub(crate) fn compose(delivery: &NotificationDelivery, rule: &NotificationRule, now: TimestampMs) -> Notification {
    let event = &delivery.event;
    let mut body = json!({
        "delivery_id": delivery.id,
        "rule_id": rule.id,
        "tenant_id": delivery.tenant_id,
        "event": {"seq": event.seq, "ts": event.ts, "type": event.body.type_name()},
    });
    let (subject, summary) = match &event.body {
        EventBody::Alarm(t) => {
            body["event"]["transition"] = json!(t.action);
            body["event"]["actor"] = json!(t.actor);
            body["event"]["transition_ts"] = json!(t.ts);
            if let Some(comment) = &t.comment {
                body["event"]["comment"] = json!(comment);
            }
            body["alarm"] = json!(t.alarm);
            let what = t.action.as_str().to_lowercase().replace('_', "-");
            let alarm = &t.alarm;
            (
                format!(
                    "[Nexus] {} {} {what} on device {}",
                    alarm.severity.as_str(),
                    alarm.alarm_type,
                    alarm.device_id
                ),
                format!(
                    "Alarm {} ({}) was {what} on device {} by {}.\nStatus: {}\nAlarm: {}\nAt: {} ms since the epoch",
                    alarm.alarm_type,
                    alarm.severity.as_str(),
                    alarm.device_id,
                    t.actor,
                    alarm.status.as_str(),
                    alarm.id,
                    t.ts
                ),
            )
        }
        other => {
            body["event"]["body"] = json!(other);
            let kind = other.type_name();
            (format!("[Nexus] {kind} event {}", event.seq), format!("A {kind} event, seq {}.", event.seq))
        }
    };
    let pretty = serde_json::to_string_pretty(&body).unwrap_or_default();
    let text = format!("{summary}\nRule: {} ({})\nDelivery: {}\n\n{pretty}\n", rule.name, rule.id, delivery.id);
    Notification {
        delivery_id: delivery.id.clone(),
        channel: rule.channel.clone(),
        body: body.to_string().into_bytes(),
        subject,
        text,
        time: now,
    }
}

#[cfg(test)]
mod tests {
    use nexus_model::{
        Actor, Alarm, AlarmStatus, AlarmTransition, Channel, ChannelKind, DeliveryStatus, Event, EventSeq,
        NotificationFilter, Severity, TransitionKind,
    };

    use super::*;

    #[test]
    fn the_body_names_the_delivery_the_rule_the_event_and_the_alarm() {
        let alarm = Alarm {
            id: "a-1".into(),
            tenant_id: "t".into(),
            device_id: "d-1".into(),
            alarm_type: "HighMotorTemperature".into(),
            severity: Severity::Major,
            status: AlarmStatus::ActiveUnack,
            start_ts: 5,
            end_ts: 5,
            ack_ts: None,
            clear_ts: None,
            binding_id: None,
            details: json!({"value": 120}),
            assignee: None,
            well_id: None,
            wellpad_id: None,
        };
        let transition =
            AlarmTransition { action: TransitionKind::Raised, actor: Actor::user("ana"), ts: 5, alarm, comment: None };
        let event = Event {
            seq: EventSeq(42),
            tenant_id: "t".into(),
            ts: 6,
            key: "d-1".into(),
            body: EventBody::Alarm(transition),
        };
        let delivery = NotificationDelivery {
            id: "dl-1".into(),
            tenant_id: "t".into(),
            rule_id: "r-1".into(),
            event,
            channel: ChannelKind::Email,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_time: 6,
            created_time: 6,
            updated_time: 6,
            sent_time: None,
        };
        let rule = NotificationRule {
            id: "r-1".into(),
            tenant_id: "t".into(),
            name: "pager".into(),
            enabled: true,
            filter: NotificationFilter::default(),
            channel: Channel::Email { to: vec!["ops@example.com".into()] },
            created_time: 1,
            updated_time: 1,
        };
        let n = compose(&delivery, &rule, 7);
        let body: serde_json::Value = serde_json::from_slice(&n.body).expect("json");
        assert_eq!(body["delivery_id"], "dl-1");
        assert_eq!(body["rule_id"], "r-1");
        assert_eq!(
            body["event"],
            json!({"seq": 42, "ts": 6, "type": "alarm", "transition": "RAISED",
            "actor": "user:ana", "transition_ts": 5})
        );
        assert_eq!(body["alarm"]["id"], "a-1");
        assert_eq!(body["alarm"]["severity"], "MAJOR");
        assert_eq!(n.subject, "[Nexus] MAJOR HighMotorTemperature raised on device d-1");
        assert!(n.text.contains("Delivery: dl-1") && n.text.contains("\"delivery_id\": \"dl-1\""), "{}", n.text);
        assert_eq!(compose(&delivery, &rule, 99).body, n.body, "every attempt sends the same bytes");
    }
}
