//! The alarm lifecycle against a real (in-memory) SQLite database.

use nexus_model::{AlarmAction, AlarmSignal, AlarmStatus, Severity};
use nexus_storage::{AlarmFilter, Storage};

fn signal(action: AlarmAction, severity: Severity, ts: i64) -> AlarmSignal {
    AlarmSignal {
        action,
        device_id: String::new(),
        alarm_type: "HighCasingPressure".into(),
        severity,
        ts,
        details: format!("{{\"ts\": {ts}}}"),
    }
}

#[tokio::test]
async fn raise_escalate_de_escalate_clear_acknowledge_with_history_and_propagation() {
    let storage = Storage::in_memory().await.unwrap();
    storage.ensure_tenant("t1", "t1").await.unwrap();
    let pad = storage.create_wellpad("t1", "Pad A").await.unwrap();
    let well = storage.create_well("t1", "W-1", Some(&pad.id), &serde_json::json!({})).await.unwrap();
    let device = storage.create_device("t1", "ESP-1", Some(&well.id), None).await.unwrap();
    let apply = |action, severity, ts| {
        let mut s = signal(action, severity, ts);
        s.device_id = device.id.clone();
        let storage = storage.clone();
        async move { storage.apply_alarm_signal("t1", "b1", "binding:b1/rule@1.0.0", true, &s).await.unwrap() }
    };

    let raised = apply(AlarmAction::Raise, Severity::Major, 1000).await.unwrap();
    assert_eq!(raised.action, "RAISED");
    assert_eq!(raised.alarm.status, AlarmStatus::ActiveUnack);
    assert_eq!(raised.alarm.well_id.as_deref(), Some(well.id.as_str()));
    assert_eq!(raised.alarm.wellpad_id.as_deref(), Some(pad.id.as_str()));
    let id = raised.alarm.id.clone();

    let escalated = apply(AlarmAction::Raise, Severity::Critical, 2000).await.unwrap();
    assert_eq!((escalated.action.as_str(), escalated.alarm.severity), ("ESCALATED", Severity::Critical));
    assert_eq!(escalated.alarm.id, id, "one open alarm per originator and type");
    let de_escalated = apply(AlarmAction::Raise, Severity::Minor, 3000).await.unwrap();
    assert_eq!((de_escalated.action.as_str(), de_escalated.alarm.severity), ("DE_ESCALATED", Severity::Minor));
    assert_eq!(apply(AlarmAction::Raise, Severity::Minor, 3500).await.unwrap().action, "UPDATED");
    let cleared = apply(AlarmAction::Clear, Severity::Indeterminate, 4000).await.unwrap();
    assert_eq!((cleared.alarm.status, cleared.alarm.clear_ts), (AlarmStatus::ClearedUnack, Some(4000)));
    assert!(apply(AlarmAction::Clear, Severity::Indeterminate, 4500).await.is_none(), "nothing open to clear");
    let acked = storage.acknowledge_alarm("t1", &id, "ana").await.unwrap();
    assert_eq!(acked.alarm.status, AlarmStatus::ClearedAck);
    storage.assign_alarm("t1", &id, "ana", Some("bruno")).await.unwrap();
    storage.comment_alarm("t1", &id, "bruno", "Choke checked, back to normal").await.unwrap();

    let events = storage.alarm_events("t1", &id).await.unwrap();
    let history: Vec<(&str, AlarmStatus, Severity)> =
        events.iter().map(|e| (e.action.as_str(), e.status, e.severity)).collect();
    assert_eq!(
        history,
        [
            ("RAISED", AlarmStatus::ActiveUnack, Severity::Major),
            ("ESCALATED", AlarmStatus::ActiveUnack, Severity::Critical),
            ("DE_ESCALATED", AlarmStatus::ActiveUnack, Severity::Minor),
            ("CLEARED", AlarmStatus::ClearedUnack, Severity::Minor),
            ("ACKNOWLEDGED", AlarmStatus::ClearedAck, Severity::Minor),
            ("ASSIGNED", AlarmStatus::ClearedAck, Severity::Minor),
            ("COMMENTED", AlarmStatus::ClearedAck, Severity::Minor),
        ]
    );
    assert_eq!(events[0].actor, "binding:b1/rule@1.0.0");
    assert_eq!(events[4].actor, "user:ana");
    assert_eq!(storage.alarm_comments("t1", &id).await.unwrap()[0].text, "Choke checked, back to normal");
    assert_eq!(storage.alarm("t1", &id).await.unwrap().assignee.as_deref(), Some("bruno"));

    // Propagation: the alarm shows on the well and the wellpad.
    let on_well =
        storage.alarms("t1", &AlarmFilter { well_id: Some(well.id.clone()), ..Default::default() }).await.unwrap();
    let on_pad =
        storage.alarms("t1", &AlarmFilter { wellpad_id: Some(pad.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!((on_well.len(), on_pad.len()), (1, 1));

    // A new raise after the clear is a new alarm; without propagation it
    // does not show on the well.
    let mut again = signal(AlarmAction::Raise, Severity::Warning, 5000);
    again.device_id = device.id.clone();
    let second = storage.apply_alarm_signal("t1", "b2", "binding:b2", false, &again).await.unwrap().unwrap();
    assert_ne!(second.alarm.id, id);
    assert_eq!(second.alarm.well_id, None);
    let on_well =
        storage.alarms("t1", &AlarmFilter { well_id: Some(well.id.clone()), ..Default::default() }).await.unwrap();
    assert_eq!(on_well.len(), 1);
    let active = storage.alarms("t1", &AlarmFilter { active: Some(true), ..Default::default() }).await.unwrap();
    assert_eq!(active.len(), 1);
    let critical =
        storage.alarms("t1", &AlarmFilter { severity: Some(Severity::Critical), ..Default::default() }).await.unwrap();
    assert!(critical.is_empty());
    let since = storage.alarms("t1", &AlarmFilter { start_ts: Some(4500), ..Default::default() }).await.unwrap();
    assert_eq!(since.len(), 1);

    // Another tenant sees none of it.
    assert!(storage.alarms("t2", &AlarmFilter::default()).await.unwrap().is_empty());
    assert!(storage.alarm("t2", &id).await.is_err());
}
