//! The alarm lifecycle as stored: rules' signals through commits, people's
//! actions through `apply_operator`.

use nexus_model::{
    Actor, AlarmAction, AlarmFilter, AlarmId, AlarmSignal, AlarmStatus, EventBody, EventSeq, OperatorAction, Severity,
    TransitionKind,
};

use super::fixture::{Field, T0, field};
use crate::{Effects, SignalWrite, Store};

fn rule(f: &Field) -> Actor {
    Actor::Rule { binding_id: f.binding.id.clone(), plugin: "rule".into(), version: "1.0.0".into() }
}

async fn signal(store: &dyn Store, f: &Field, action: AlarmAction, severity: Severity, ts: i64) -> Vec<TransitionKind> {
    let mut effects = Effects::new(&f.tenant, ts);
    effects.signals.push(write(f, action, severity, ts));
    store.commit(effects).await.expect("commit").transitions.iter().map(|t| t.action).collect()
}

fn write(f: &Field, action: AlarmAction, severity: Severity, ts: i64) -> SignalWrite {
    SignalWrite {
        binding_id: f.binding.id.clone(),
        actor: rule(f),
        propagate: true,
        signal: AlarmSignal {
            action,
            device_id: f.device.id.clone(),
            alarm_type: "HighCasingPressure".into(),
            severity,
            ts,
            details: format!("{{\"ts\": {ts}}}"),
        },
    }
}

/// Raise, escalate, de-escalate, update, clear; one open alarm per
/// (originator, type); propagation; history and outbox agree.
pub async fn signals_follow_the_lifecycle(store: &dyn Store) {
    use AlarmAction::{Clear, Raise};
    use TransitionKind::*;
    let f = field(store, "tenant-a").await;
    assert_eq!(signal(store, &f, Raise, Severity::Major, T0 + 1000).await, [Raised]);
    assert_eq!(signal(store, &f, Raise, Severity::Critical, T0 + 2000).await, [Escalated]);
    assert_eq!(signal(store, &f, Raise, Severity::Minor, T0 + 3000).await, [DeEscalated]);
    assert_eq!(signal(store, &f, Raise, Severity::Minor, T0 + 3500).await, [Updated]);
    assert_eq!(signal(store, &f, Clear, Severity::Indeterminate, T0 + 4000).await, [Cleared]);
    assert!(signal(store, &f, Clear, Severity::Indeterminate, T0 + 4500).await.is_empty(), "nothing open to clear");
    assert_eq!(signal(store, &f, Raise, Severity::Warning, T0 + 5000).await, [Raised], "a raise after a clear is new");

    let alarms = store.alarms(&f.tenant, &AlarmFilter::default()).await.expect("alarms");
    assert_eq!(alarms.len(), 2);
    let (new, old) = (&alarms[0], &alarms[1]);
    assert_eq!((new.status, new.severity, new.start_ts), (AlarmStatus::ActiveUnack, Severity::Warning, T0 + 5000));
    assert_eq!((old.status, old.severity, old.clear_ts), (AlarmStatus::ClearedUnack, Severity::Minor, Some(T0 + 4000)));
    assert_eq!(old.end_ts, T0 + 3500, "an update moves the end time");
    assert_eq!((old.well_id.as_ref(), old.wellpad_id.as_ref()), (Some(&f.well.id), Some(&f.pad.id)));
    assert_eq!(old.binding_id.as_ref(), Some(&f.binding.id));
    let history: Vec<(TransitionKind, Severity)> =
        store.alarm_events(&f.tenant, &old.id).await.expect("events").iter().map(|e| (e.action, e.severity)).collect();
    assert_eq!(
        history,
        [
            (Raised, Severity::Major),
            (Escalated, Severity::Critical),
            (DeEscalated, Severity::Minor),
            (Cleared, Severity::Minor)
        ]
    );
    // The outbox holds the same transitions (not the update), in order.
    let outbox = outbox_actions(store, &f).await;
    assert_eq!(outbox, [Raised, Escalated, DeEscalated, Cleared, Raised]);
    let filters = [
        (AlarmFilter { active: Some(true), ..Default::default() }, 1),
        (AlarmFilter { active: Some(false), ..Default::default() }, 1),
        (AlarmFilter { severity: Some(Severity::Warning), ..Default::default() }, 1),
        (AlarmFilter { well_id: Some(f.well.id.clone()), ..Default::default() }, 2),
        (AlarmFilter { wellpad_id: Some(f.pad.id.clone()), ..Default::default() }, 2),
        (AlarmFilter { start_ts: Some(T0 + 4000), ..Default::default() }, 1),
        (AlarmFilter { end_ts: Some(T0 + 4000), ..Default::default() }, 1),
        (AlarmFilter { limit: Some(1), ..Default::default() }, 1),
    ];
    for (filter, expected) in filters {
        assert_eq!(store.alarms(&f.tenant, &filter).await.expect("alarms").len(), expected, "{filter:?}");
    }
}

/// The same signals in one unit of work (as a rule's call on a batch gives
/// them) leave the same alarms, history and outbox as one commit each.
pub async fn signals_in_one_unit_of_work_apply_in_order(store: &dyn Store) {
    use AlarmAction::{Clear, Raise};
    use TransitionKind::*;
    let f = field(store, "tenant-a").await;
    let sequence = [
        (Raise, Severity::Major, T0 + 1000),
        (Raise, Severity::Critical, T0 + 2000),
        (Raise, Severity::Minor, T0 + 3000),
        (Raise, Severity::Minor, T0 + 3500),
        (Clear, Severity::Indeterminate, T0 + 4000),
        (Clear, Severity::Indeterminate, T0 + 4500),
        (Raise, Severity::Warning, T0 + 5000),
        (Raise, Severity::Major, T0 + 6000),
    ];
    let mut effects = Effects::new(&f.tenant, T0 + 6000);
    effects.signals.extend(sequence.iter().map(|&(action, severity, ts)| write(&f, action, severity, ts)));
    let committed = store.commit(effects).await.expect("commit");
    let actions: Vec<TransitionKind> = committed.transitions.iter().map(|t| t.action).collect();
    assert_eq!(actions, [Raised, Escalated, DeEscalated, Updated, Cleared, Raised, Escalated]);

    let alarms = store.alarms(&f.tenant, &AlarmFilter::default()).await.expect("alarms");
    assert_eq!(alarms.len(), 2);
    let (new, old) = (&alarms[0], &alarms[1]);
    assert_eq!(
        (new.status, new.severity, new.start_ts, new.end_ts),
        (AlarmStatus::ActiveUnack, Severity::Major, T0 + 5000, T0 + 6000)
    );
    assert_eq!(
        (old.status, old.severity, old.clear_ts, old.end_ts),
        (AlarmStatus::ClearedUnack, Severity::Minor, Some(T0 + 4000), T0 + 3500)
    );
    assert_eq!(old.details, serde_json::json!({"ts": T0 + 4000}), "the last transition's details");
    assert_eq!((new.well_id.as_ref(), new.wellpad_id.as_ref()), (Some(&f.well.id), Some(&f.pad.id)));
    assert_eq!(
        history(store, &f, &old.id).await,
        [
            (Raised, Severity::Major, T0 + 1000),
            (Escalated, Severity::Critical, T0 + 2000),
            (DeEscalated, Severity::Minor, T0 + 3000),
            (Cleared, Severity::Minor, T0 + 4000)
        ]
    );
    assert_eq!(
        history(store, &f, &new.id).await,
        [(Raised, Severity::Warning, T0 + 5000), (Escalated, Severity::Major, T0 + 6000)]
    );
    let outbox = outbox_actions(store, &f).await;
    assert_eq!(outbox, [Raised, Escalated, DeEscalated, Cleared, Raised, Escalated]);
    // The next unit of work finds the open alarm the batch left, clears it
    // and raises a new one of the same type.
    let mut effects = Effects::new(&f.tenant, T0 + 8000);
    effects.signals.push(write(&f, Clear, Severity::Indeterminate, T0 + 7000));
    effects.signals.push(write(&f, Raise, Severity::Minor, T0 + 8000));
    let committed = store.commit(effects).await.expect("a clear and a raise of the same type in one commit");
    assert_eq!(committed.transitions.iter().map(|t| t.action).collect::<Vec<_>>(), [Cleared, Raised]);
    let alarms = store.alarms(&f.tenant, &AlarmFilter::default()).await.expect("alarms");
    let states: Vec<_> = alarms.iter().map(|a| (a.status, a.start_ts)).collect();
    assert_eq!(
        states,
        [
            (AlarmStatus::ActiveUnack, T0 + 8000),
            (AlarmStatus::ClearedUnack, T0 + 5000),
            (AlarmStatus::ClearedUnack, T0 + 1000)
        ]
    );
}

/// A unit of work as large as a rule's call may make — more alarm rows,
/// history rows and events than one statement of a backend takes — keeps
/// every one and its order: alarms of many types closed and a long run of
/// raises and clears, in the transitions, the history and the outbox, with
/// the readings that caused them.
pub async fn a_long_run_of_signals_keeps_every_row_in_order(store: &dyn Store) {
    use AlarmAction::{Clear, Raise};
    let f = field(store, "tenant-a").await;
    let typed = |action, ty: String, ts| {
        let mut w = write(&f, action, Severity::Major, ts);
        w.signal.alarm_type = ty;
        w
    };
    let types: Vec<String> = (0..20).map(|i| format!("T{i:02}")).collect();
    let mut effects = Effects::new(&f.tenant, T0);
    effects.signals.extend(types.iter().map(|ty| typed(Raise, ty.clone(), T0)));
    store.commit(effects).await.expect("the types raised");
    let head = store.tenant_events(&f.tenant, EventSeq(0), 10_000).await.expect("events").len();

    // The 20 open alarms cleared, then 540 raises and clears of one type.
    let mut effects = Effects::new(&f.tenant, T0 + 10_000);
    effects.signals.extend(types.iter().map(|ty| typed(Clear, ty.clone(), T0 + 1)));
    for i in 0..1080 {
        let action = if i % 2 == 0 { Raise } else { Clear };
        effects.signals.push(write(&f, action, Severity::Major, T0 + 2 + i));
    }
    let readings: Vec<nexus_model::Reading> = (0..2500)
        .map(|i| nexus_model::Reading {
            device_id: f.device.id.clone(),
            key: "casing_pressure".into(),
            ts: T0 + i,
            value: nexus_model::Value::Number(i as f64),
            quality: 1.0,
        })
        .collect();
    effects.add_readings(&readings);
    let committed = store.commit(effects).await.expect("a long run of signals");
    let actions: Vec<TransitionKind> = committed.transitions.iter().map(|t| t.action).collect();
    let mut expected = vec![TransitionKind::Cleared; 20];
    expected.extend((0..1080).map(|i| if i % 2 == 0 { TransitionKind::Raised } else { TransitionKind::Cleared }));
    assert_eq!(actions, expected);
    let events = store.tenant_events(&f.tenant, EventSeq(0), 10_000).await.expect("events");
    let published: Vec<(TransitionKind, i64)> = events[head..]
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Alarm(t) => Some((t.action, t.ts)),
            _ => None,
        })
        .collect();
    let made: Vec<(TransitionKind, i64)> = committed.transitions.iter().map(|t| (t.action, t.ts)).collect();
    assert_eq!(published, made, "the outbox holds every transition, in order");
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(store.count_readings(&f.tenant, &f.device.id).await.expect("count"), 2500);
    let latest = store.latest(&f.tenant, &f.device.id, &[]).await.expect("latest");
    assert_eq!(latest.iter().map(|r| (r.ts, r.value.as_f64())).collect::<Vec<_>>(), [(T0 + 2499, Some(2499.0))]);

    let all = AlarmFilter { limit: Some(1000), ..Default::default() };
    let alarms = store.alarms(&f.tenant, &all).await.expect("alarms");
    assert_eq!(alarms.len(), 20 + 540);
    assert!(alarms.iter().all(|a| a.status == AlarmStatus::ClearedUnack), "every alarm closed");
    let typed_ones: Vec<&nexus_model::Alarm> = alarms.iter().filter(|a| a.alarm_type.starts_with('T')).collect();
    assert_eq!(typed_ones.len(), 20);
    assert!(typed_ones.iter().all(|a| a.clear_ts == Some(T0 + 1)), "the known alarms updated");
    let middle = alarms.iter().find(|a| a.start_ts == T0 + 2 + 600).expect("the 301st raise's alarm");
    assert_eq!(
        history(store, &f, &middle.id).await,
        [(TransitionKind::Raised, Severity::Major, T0 + 602), (TransitionKind::Cleared, Severity::Major, T0 + 603)]
    );
}

/// The actions of the tenant's alarm events in the outbox, in order.
async fn outbox_actions(store: &dyn Store, f: &Field) -> Vec<TransitionKind> {
    let events = store.tenant_events(&f.tenant, EventSeq(0), 1000).await.expect("events");
    events
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Alarm(t) => Some(t.action),
            _ => None,
        })
        .collect()
}

/// An alarm's stored history: (action, severity, ts) per event.
async fn history(store: &dyn Store, f: &Field, id: &AlarmId) -> Vec<(TransitionKind, Severity, i64)> {
    store.alarm_events(&f.tenant, id).await.expect("events").iter().map(|e| (e.action, e.severity, e.ts)).collect()
}

/// People's actions are recorded with their actor and published; an action
/// already done changes nothing and publishes nothing.
pub async fn operator_actions_are_events_and_doing_it_twice_changes_nothing(store: &dyn Store) {
    let f = field(store, "tenant-a").await;
    signal(store, &f, AlarmAction::Raise, Severity::Major, T0 + 1000).await;
    let id = store.alarms(&f.tenant, &AlarmFilter::default()).await.expect("alarms")[0].id.clone();
    let ana = Actor::user("ana");
    let act = |action: OperatorAction, ts: i64| {
        let (tenant, id, ana) = (f.tenant.clone(), id.clone(), ana.clone());
        async move { store.apply_operator(&tenant, &id, &action, &ana, ts).await.expect("applies") }
    };
    let before = store.tenant_events(&f.tenant, EventSeq(0), 1000).await.expect("events").len();
    let acked = act(OperatorAction::Acknowledge, T0 + 2000).await;
    assert_eq!(acked.alarm.status, AlarmStatus::ActiveAck);
    assert_eq!(acked.alarm.ack_ts, Some(T0 + 2000));
    let again = act(OperatorAction::Acknowledge, T0 + 2100).await;
    assert!(again.transition.is_none());
    assert_eq!(again.alarm.ack_ts, Some(T0 + 2000));
    act(OperatorAction::Assign(Some("bruno".into())), T0 + 3000).await;
    act(OperatorAction::Comment("choke checked".into()), T0 + 4000).await;
    let cleared = act(OperatorAction::Clear, T0 + 5000).await;
    assert_eq!((cleared.alarm.status, cleared.alarm.assignee.as_deref()), (AlarmStatus::ClearedAck, Some("bruno")));
    assert!(act(OperatorAction::Clear, T0 + 5100).await.transition.is_none());

    let events = store.tenant_events(&f.tenant, EventSeq(0), 1000).await.expect("events");
    let published: Vec<(TransitionKind, String)> = events[before..]
        .iter()
        .filter_map(|e| match &e.body {
            EventBody::Alarm(t) => Some((t.action, t.actor.to_string())),
            _ => None,
        })
        .collect();
    use TransitionKind::*;
    let expected = [Acknowledged, Assigned, Commented, Cleared].map(|k| (k, "user:ana".to_string()));
    assert_eq!(published, expected);
    let history: Vec<TransitionKind> =
        store.alarm_events(&f.tenant, &id).await.expect("events").iter().map(|e| e.action).collect();
    assert_eq!(history, [Raised, Acknowledged, Assigned, Commented, Cleared]);
    let comments = store.alarm_comments(&f.tenant, &id).await.expect("comments");
    assert_eq!(comments.len(), 1);
    assert_eq!(
        (comments[0].text.as_str(), comments[0].actor.clone(), comments[0].ts),
        ("choke checked", ana, T0 + 4000)
    );
    let by_assignee = AlarmFilter { assignee: Some("bruno".into()), ..Default::default() };
    assert_eq!(store.alarms(&f.tenant, &by_assignee).await.expect("alarms").len(), 1);
}
