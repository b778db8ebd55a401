//! Which events a notification rule matches, as a table.

use super::*;
use crate::{Actor, Alarm, AlarmStatus, EntityAction, EntityChange, EntityKind};

fn transition(tenant: &str, alarm_type: &str, severity: Severity, action: TransitionKind) -> Event {
    let alarm = Alarm {
        id: "a-1".into(),
        tenant_id: tenant.into(),
        device_id: "d".into(),
        alarm_type: alarm_type.into(),
        severity,
        status: AlarmStatus::ActiveUnack,
        start_ts: 1,
        end_ts: 1,
        ack_ts: None,
        clear_ts: None,
        binding_id: None,
        details: serde_json::json!({}),
        assignee: None,
        well_id: None,
        wellpad_id: None,
    };
    let body = EventBody::Alarm(AlarmTransition { action, actor: Actor::system("test"), ts: 1, alarm, comment: None });
    Event { seq: EventSeq(7), tenant_id: tenant.into(), ts: 1, key: "d".into(), body }
}

fn rule(filter: NotificationFilter) -> NotificationRule {
    NotificationRule {
        id: "r".into(),
        tenant_id: "t".into(),
        name: "ops".into(),
        enabled: true,
        filter,
        channel: Channel::Email { to: vec!["ops@example.com".into()] },
        created_time: 1,
        updated_time: 1,
    }
}

fn raised_and_cleared() -> NotificationFilter {
    NotificationFilter {
        transitions: vec![TransitionKind::Raised, TransitionKind::Cleared],
        ..NotificationFilter::default()
    }
}

#[test]
fn a_rule_matches_its_tenants_alarm_transitions_that_pass_every_condition() {
    use Severity::*;
    use TransitionKind::*;
    let high = |mut f: NotificationFilter| {
        f.alarm_types = vec!["High".into()];
        f
    };
    let at_least_major = |mut f: NotificationFilter| {
        f.min_severity = Some(Major);
        f
    };
    let only = |severities: Vec<Severity>| {
        move |mut f: NotificationFilter| {
            f.severities = severities.clone();
            f
        }
    };
    let cases: Vec<(NotificationFilter, Event, bool)> = vec![
        (raised_and_cleared(), transition("t", "Any", Warning, Raised), true),
        (raised_and_cleared(), transition("t", "Any", Warning, Cleared), true),
        (raised_and_cleared(), transition("t", "Any", Warning, Acknowledged), false),
        (raised_and_cleared(), transition("other", "Any", Critical, Raised), false),
        (high(raised_and_cleared()), transition("t", "High", Minor, Raised), true),
        (high(raised_and_cleared()), transition("t", "Low", Minor, Raised), false),
        (at_least_major(raised_and_cleared()), transition("t", "High", Critical, Raised), true),
        (at_least_major(raised_and_cleared()), transition("t", "High", Major, Raised), true),
        (at_least_major(raised_and_cleared()), transition("t", "High", Minor, Raised), false),
        (at_least_major(raised_and_cleared()), transition("t", "High", Indeterminate, Raised), false),
        (only(vec![Critical, Minor])(raised_and_cleared()), transition("t", "High", Minor, Raised), true),
        (only(vec![Critical, Minor])(raised_and_cleared()), transition("t", "High", Major, Raised), false),
    ];
    for (i, (filter, event, expected)) in cases.into_iter().enumerate() {
        assert_eq!(rule(filter.clone()).matches(&event), expected, "case {i}: {filter:?}");
    }
}

#[test]
fn a_disabled_rule_and_other_events_match_nothing() {
    let mut disabled = rule(raised_and_cleared());
    disabled.enabled = false;
    assert!(!disabled.matches(&transition("t", "High", Severity::Critical, TransitionKind::Raised)));
    let entity = Event {
        seq: EventSeq(1),
        tenant_id: "t".into(),
        ts: 1,
        key: "w".into(),
        body: EventBody::Entity(EntityChange {
            kind: EntityKind::Well,
            id: "w".into(),
            action: EntityAction::Created,
            actor: Actor::user("ana"),
            summary: serde_json::json!({}),
        }),
    };
    assert!(!rule(raised_and_cleared()).matches(&entity));
}

#[test]
fn names_round_trip_and_the_secret_stays_out_of_debug_output() {
    for kind in [ChannelKind::Webhook, ChannelKind::Email] {
        assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).expect("json"), kind.as_str());
    }
    for status in [DeliveryStatus::Pending, DeliveryStatus::Sent, DeliveryStatus::Dead] {
        assert_eq!(DeliveryStatus::parse(status.as_str()), Some(status));
        assert_eq!(serde_json::to_value(status).expect("json"), status.as_str());
    }
    let channel = Channel::Webhook { url: "https://example.com/hook".into(), secret: "s3cret-s3cret".into() };
    assert!(!format!("{channel:?}").contains("s3cret"));
    let json = serde_json::to_value(&channel).expect("json");
    assert_eq!(json["kind"], "webhook");
    assert_eq!(serde_json::from_value::<Channel>(json).expect("back"), channel);
}
