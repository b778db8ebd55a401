//! The lifecycle's table tests: every (state, signal) and (state, action) pair.

use super::*;
use crate::{AlarmSignal, Severity};

const T0: i64 = 1_000;

fn rule() -> Actor {
    Actor::Rule { binding_id: "b".into(), plugin: "threshold".into(), version: "1.0.0".into() }
}

fn alarm(status: AlarmStatus, severity: Severity) -> Alarm {
    Alarm {
        id: "a-1".into(),
        tenant_id: "t".into(),
        device_id: "d".into(),
        alarm_type: "High".into(),
        severity,
        status,
        start_ts: T0,
        end_ts: T0,
        ack_ts: None,
        clear_ts: None,
        binding_id: Some("b".into()),
        details: serde_json::json!({}),
        assignee: None,
        well_id: None,
        wellpad_id: None,
    }
}

fn signal(action: AlarmAction, severity: Severity) -> AlarmSignal {
    AlarmSignal {
        action,
        device_id: "d".into(),
        alarm_type: "High".into(),
        severity,
        ts: T0 + 500,
        details: r#"{"value": 7}"#.into(),
    }
}

fn new_alarm() -> NewAlarm {
    NewAlarm {
        id: "a-new".into(),
        tenant_id: "t".into(),
        binding_id: "b".into(),
        well_id: Some("w".into()),
        wellpad_id: None,
    }
}

use AlarmStatus::{ActiveAck, ActiveUnack, ClearedAck, ClearedUnack};
use TransitionKind::*;

/// The current alarm is MAJOR; signals are CRITICAL (more severe), MAJOR
/// (same) or MINOR (less severe), or a clear.
#[test]
fn every_state_and_signal() {
    use AlarmAction::{Clear, Raise};
    // (state before or none, signal action, signal severity) →
    // (transition, status after, severity after, a new alarm?)
    type Row = (Option<AlarmStatus>, AlarmAction, Severity, Option<(TransitionKind, AlarmStatus, Severity, bool)>);
    let table: Vec<Row> = vec![
        (None, Raise, Severity::Critical, Some((Raised, ActiveUnack, Severity::Critical, true))),
        (None, Raise, Severity::Major, Some((Raised, ActiveUnack, Severity::Major, true))),
        (None, Raise, Severity::Minor, Some((Raised, ActiveUnack, Severity::Minor, true))),
        (None, Clear, Severity::Indeterminate, None),
        (Some(ActiveUnack), Raise, Severity::Critical, Some((Escalated, ActiveUnack, Severity::Critical, false))),
        (Some(ActiveUnack), Raise, Severity::Major, Some((Updated, ActiveUnack, Severity::Major, false))),
        (Some(ActiveUnack), Raise, Severity::Minor, Some((DeEscalated, ActiveUnack, Severity::Minor, false))),
        (Some(ActiveUnack), Clear, Severity::Indeterminate, Some((Cleared, ClearedUnack, Severity::Major, false))),
        (Some(ActiveAck), Raise, Severity::Critical, Some((Escalated, ActiveAck, Severity::Critical, false))),
        (Some(ActiveAck), Raise, Severity::Major, Some((Updated, ActiveAck, Severity::Major, false))),
        (Some(ActiveAck), Raise, Severity::Minor, Some((DeEscalated, ActiveAck, Severity::Minor, false))),
        (Some(ActiveAck), Clear, Severity::Indeterminate, Some((Cleared, ClearedAck, Severity::Major, false))),
        // A cleared alarm is closed: a raise opens a new one, a clear does nothing.
        (Some(ClearedUnack), Raise, Severity::Critical, Some((Raised, ActiveUnack, Severity::Critical, true))),
        (Some(ClearedUnack), Raise, Severity::Major, Some((Raised, ActiveUnack, Severity::Major, true))),
        (Some(ClearedUnack), Raise, Severity::Minor, Some((Raised, ActiveUnack, Severity::Minor, true))),
        (Some(ClearedUnack), Clear, Severity::Indeterminate, None),
        (Some(ClearedAck), Raise, Severity::Critical, Some((Raised, ActiveUnack, Severity::Critical, true))),
        (Some(ClearedAck), Raise, Severity::Major, Some((Raised, ActiveUnack, Severity::Major, true))),
        (Some(ClearedAck), Raise, Severity::Minor, Some((Raised, ActiveUnack, Severity::Minor, true))),
        (Some(ClearedAck), Clear, Severity::Indeterminate, None),
    ];
    assert_eq!(table.len(), 5 * 4, "every state × every signal");
    for (state, action, severity, expected) in table {
        let before = state.map(|s| alarm(s, Severity::Major));
        let got = apply_signal(before.as_ref(), &signal(action, severity), &rule(), new_alarm);
        let case = format!("{state:?} + {action:?} {severity:?}");
        match (got, expected) {
            (None, None) => {}
            (Some(t), Some((kind, status, severity, new))) => {
                assert_eq!((t.action, t.alarm.status, t.alarm.severity), (kind, status, severity), "{case}");
                assert_eq!(t.alarm.id.as_str(), if new { "a-new" } else { "a-1" }, "{case}");
                assert_eq!(t.actor, rule(), "{case}");
                assert_eq!(t.ts, T0 + 500, "{case}");
                assert_eq!(t.alarm.details, serde_json::json!({"value": 7}), "{case}");
                if new {
                    assert_eq!((t.alarm.start_ts, t.alarm.well_id.as_ref().map(|w| w.as_str())), (T0 + 500, Some("w")));
                    assert_eq!(t.alarm.binding_id.as_ref().map(|b| b.as_str()), Some("b"));
                } else {
                    assert_eq!(t.alarm.start_ts, T0, "{case}: the start of an open alarm stays");
                }
                if kind == Cleared {
                    assert_eq!(t.alarm.clear_ts, Some(T0 + 500), "{case}");
                } else {
                    assert_eq!(t.alarm.end_ts, T0 + 500, "{case}");
                }
            }
            (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn every_state_and_operator_action() {
    let ana = Actor::user("ana");
    let assigned_to = |who: Option<&str>| {
        let mut a = alarm(ActiveUnack, Severity::Major);
        a.assignee = who.map(str::to_string);
        a
    };
    // (status before, action) → (transition, status after)
    type Row = (AlarmStatus, OperatorAction, Option<(TransitionKind, AlarmStatus)>);
    let table: Vec<Row> = vec![
        (ActiveUnack, OperatorAction::Acknowledge, Some((Acknowledged, ActiveAck))),
        (ActiveAck, OperatorAction::Acknowledge, None),
        (ClearedUnack, OperatorAction::Acknowledge, Some((Acknowledged, ClearedAck))),
        (ClearedAck, OperatorAction::Acknowledge, None),
        (ActiveUnack, OperatorAction::Clear, Some((Cleared, ClearedUnack))),
        (ActiveAck, OperatorAction::Clear, Some((Cleared, ClearedAck))),
        (ClearedUnack, OperatorAction::Clear, None),
        (ClearedAck, OperatorAction::Clear, None),
        (ActiveUnack, OperatorAction::Comment("checked".into()), Some((Commented, ActiveUnack))),
        (ActiveAck, OperatorAction::Comment("checked".into()), Some((Commented, ActiveAck))),
        (ClearedUnack, OperatorAction::Comment("checked".into()), Some((Commented, ClearedUnack))),
        (ClearedAck, OperatorAction::Comment("checked".into()), Some((Commented, ClearedAck))),
        (ActiveUnack, OperatorAction::Assign(Some("bruno".into())), Some((Assigned, ActiveUnack))),
        (ClearedAck, OperatorAction::Assign(Some("bruno".into())), Some((Assigned, ClearedAck))),
        (ActiveAck, OperatorAction::Assign(None), None),
    ];
    for (status, action, expected) in table {
        let before = alarm(status, Severity::Major);
        let got = apply_operator(&before, &action, &ana, T0 + 9);
        let case = format!("{status:?} + {action:?}");
        match (got, expected) {
            (None, None) => {}
            (Some(t), Some((kind, after))) => {
                assert_eq!((t.action, t.alarm.status), (kind, after), "{case}");
                assert_eq!((t.actor.clone(), t.ts), (ana.clone(), T0 + 9), "{case}");
                assert_eq!(t.alarm.severity, Severity::Major, "{case}: people do not change severity");
                match kind {
                    Acknowledged => assert_eq!(t.alarm.ack_ts, Some(T0 + 9), "{case}"),
                    Cleared => assert_eq!(t.alarm.clear_ts, Some(T0 + 9), "{case}"),
                    Commented => assert_eq!(t.comment.as_deref(), Some("checked"), "{case}"),
                    _ => {}
                }
            }
            (got, expected) => panic!("{case}: got {got:?}, expected {expected:?}"),
        }
    }
    // Assigning: to someone new, to the same person (nothing), and back to nobody.
    let t = apply_operator(&assigned_to(Some("ana")), &OperatorAction::Assign(Some("bruno".into())), &ana, T0);
    assert_eq!(t.map(|t| (t.action, t.alarm.assignee)), Some((Assigned, Some("bruno".to_string()))));
    assert!(apply_operator(&assigned_to(Some("ana")), &OperatorAction::Assign(Some("ana".into())), &ana, T0).is_none());
    let t = apply_operator(&assigned_to(Some("ana")), &OperatorAction::Assign(None), &ana, T0);
    assert_eq!(t.map(|t| (t.action, t.alarm.assignee)), Some((Unassigned, None)));
}

#[test]
fn an_operator_clear_then_a_rule_raise_opens_a_new_alarm() {
    let open = alarm(ActiveUnack, Severity::Major);
    let cleared = apply_operator(&open, &OperatorAction::Clear, &Actor::user("ana"), T0 + 100).expect("clears");
    assert_eq!(cleared.alarm.status, ClearedUnack);
    // The rule still believes its alarm is raised and signals again.
    let raised = apply_signal(Some(&cleared.alarm), &signal(AlarmAction::Raise, Severity::Major), &rule(), new_alarm)
        .expect("raises");
    assert_eq!((raised.action, raised.alarm.id.as_str()), (Raised, "a-new"));
    // Its clear of the alarm the operator closed does nothing.
    assert!(
        apply_signal(Some(&cleared.alarm), &signal(AlarmAction::Clear, Severity::Major), &rule(), new_alarm).is_none()
    );
}

#[test]
fn kinds_have_stable_names() {
    for kind in [Raised, Escalated, DeEscalated, Updated, Cleared, Acknowledged, Assigned, Unassigned, Commented] {
        assert_eq!(TransitionKind::parse(kind.as_str()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::Value::String(kind.as_str().into()));
        assert_eq!(kind.is_event(), kind != Updated);
    }
}
