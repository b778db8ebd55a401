//! Notification rules and their deliveries.

use nexus_model::{
    AlarmAction, AlarmSignal, Channel, ChannelKind, DeliveryOutcome, DeliveryStatus, EventBody, EventSeq,
    NotificationDeliveryId, NotificationFilter, NotificationRule, NotificationRuleId, Page, Severity, TenantId,
    TransitionKind,
};

use super::fixture::{T0, admin, field};
use crate::{Effects, NewDelivery, SignalWrite, StorageError, Store};

fn rule(tenant: &TenantId, name: &str, enabled: bool, channel: Channel) -> NotificationRule {
    NotificationRule {
        id: NotificationRuleId::random(),
        tenant_id: tenant.clone(),
        name: name.into(),
        enabled,
        filter: NotificationFilter {
            alarm_types: vec!["High".into()],
            transitions: vec![TransitionKind::Raised],
            ..NotificationFilter::default()
        },
        channel,
        created_time: T0,
        updated_time: T0,
    }
}

fn webhook() -> Channel {
    Channel::Webhook { url: "https://example.com/hook".into(), secret: "a-secret-of-sixteen+".into() }
}

fn email() -> Channel {
    Channel::Email { to: vec!["ops@example.com".into()] }
}

/// Rules are the tenant's alone, unique by name, and keep their secret; a
/// delivery is enqueued once per (rule, event), and moves from pending to
/// sent, due again or dead (with its event), and from dead back to
/// pending; deleting a rule deletes its deliveries.
pub async fn notification_rules_and_deliveries_stay_in_their_tenant_and_enqueue_once(store: &dyn Store) {
    let a = field(store, "tenant-a").await;
    let b = field(store, "tenant-b").await;
    let hook =
        store.insert_notification_rule(&rule(&a.tenant, "pager", true, webhook()), &admin()).await.expect("rule");
    assert_eq!(hook.channel, webhook(), "the secret is kept for signing");
    let mail = store.insert_notification_rule(&rule(&a.tenant, "mail", false, email()), &admin()).await.expect("rule");
    let other = store.insert_notification_rule(&rule(&b.tenant, "pager", true, email()), &admin()).await.expect("rule");
    let twin = store.insert_notification_rule(&rule(&a.tenant, "pager", true, email()), &admin()).await;
    assert!(matches!(twin, Err(StorageError::Conflict(_))), "{twin:?}");
    assert_eq!(store.notification_rule(&a.tenant, &hook.id).await.expect("own"), hook);
    let foreign = store.notification_rule(&b.tenant, &hook.id).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    let first = store.notification_rules(&a.tenant, &Page::first(1)).await.expect("page");
    assert_eq!(first.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["mail"]);
    let next = Page { after: Some(first[0].id.to_string()), limit: 10 };
    assert_eq!(store.notification_rules(&a.tenant, &next).await.expect("page"), vec![hook.clone()]);
    assert_eq!(store.enabled_notification_rules(&a.tenant).await.expect("enabled"), vec![hook.clone()]);

    // Updating: the whole rule; another tenant's is not found.
    let mut enabled = mail.clone();
    enabled.enabled = true;
    enabled.name = "mail-ops".into();
    enabled.updated_time = T0 + 5;
    let updated = store.update_notification_rule(&enabled, &admin()).await.expect("update");
    assert_eq!(updated, enabled);
    assert_eq!(store.enabled_notification_rules(&a.tenant).await.expect("enabled").len(), 2);
    let mut stolen = other.clone();
    stolen.tenant_id = a.tenant.clone();
    let update = store.update_notification_rule(&stolen, &admin()).await;
    assert!(matches!(update, Err(StorageError::NotFound { .. })), "{update:?}");
    let kinds: Vec<_> = store
        .tenant_events(&a.tenant, EventSeq(0), 10_000)
        .await
        .expect("events")
        .into_iter()
        .filter_map(|e| match e.body {
            EventBody::Entity(c) if c.kind == nexus_model::EntityKind::NotificationRule => Some(c.action),
            _ => None,
        })
        .collect();
    use nexus_model::EntityAction::{Created, Updated};
    assert_eq!(kinds, [Created, Created, Updated], "rule changes are events");

    // Enqueueing is idempotent on (rule, event seq). The events: an entity
    // change and an alarm transition (whose `ts` is the event's and its
    // body's).
    let mut effects = Effects::new(&a.tenant, T0 + 1);
    effects.signals.push(SignalWrite {
        binding_id: a.binding.id.clone(),
        actor: admin(),
        propagate: true,
        signal: AlarmSignal {
            action: AlarmAction::Raise,
            device_id: a.device.id.clone(),
            alarm_type: "High".into(),
            severity: Severity::Major,
            ts: T0,
            details: "{}".into(),
        },
    });
    let raised = store.commit(effects).await.expect("commit").events;
    let first = store.tenant_events(&a.tenant, EventSeq(0), 1).await.expect("events");
    let events = [first[0].clone(), raised[0].clone()];
    let new = |rule: &NotificationRule, event: usize| NewDelivery {
        id: NotificationDeliveryId::random(),
        rule_id: rule.id.clone(),
        event: events[event].clone(),
        channel: rule.channel.kind(),
    };
    let batch = [new(&hook, 0), new(&hook, 1), new(&mail, 0)];
    assert_eq!(store.enqueue_notifications(&batch, T0).await.expect("enqueue"), 3);
    let again = [new(&hook, 0), new(&hook, 1), new(&mail, 0)];
    assert_eq!(store.enqueue_notifications(&again, T0 + 1).await.expect("again"), 0, "enqueued twice");
    let (d1, d2, d3) = (&batch[0].id, &batch[1].id, &batch[2].id);
    assert!(store.due_notifications(T0 - 1, 10).await.expect("due").is_empty());
    let due = store.due_notifications(T0, 10).await.expect("due");
    assert_eq!(due.len(), 3);
    assert!(due.iter().all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0 && d.tenant_id == a.tenant));
    assert_eq!(store.due_notifications(T0, 2).await.expect("due").len(), 2, "limit");
    let stored = store.notification_delivery(&a.tenant, d1).await.expect("delivery");
    assert_eq!(
        (stored.event, stored.channel, stored.rule_id),
        (events[0].clone(), ChannelKind::Webhook, hook.id.clone())
    );
    let alarm = store.notification_delivery(&a.tenant, d2).await.expect("delivery");
    assert_eq!(alarm.event, events[1], "the alarm transition comes back whole");

    // Attempts: due again later, sent, dead.
    let retry = DeliveryOutcome::Retry { error: "connection refused".into(), next_attempt_time: T0 + 100 };
    let d = store.record_notification_attempt(&a.tenant, d1, ChannelKind::Webhook, &retry, T0 + 1).await.expect("r");
    assert_eq!(
        (d.status, d.attempts, d.last_error.as_deref()),
        (DeliveryStatus::Pending, 1, Some("connection refused"))
    );
    assert!(store.due_notifications(T0 + 50, 10).await.expect("due").iter().all(|d| d.id != *d1), "not due yet");
    assert!(store.due_notifications(T0 + 100, 10).await.expect("due").iter().any(|d| d.id == *d1), "due again");
    let sent = DeliveryOutcome::Sent;
    let d = store.record_notification_attempt(&a.tenant, d2, ChannelKind::Webhook, &sent, T0 + 2).await.expect("s");
    assert_eq!((d.status, d.attempts, d.sent_time), (DeliveryStatus::Sent, 1, Some(T0 + 2)));
    let twice = store.record_notification_attempt(&a.tenant, d2, ChannelKind::Webhook, &sent, T0 + 3).await;
    assert!(matches!(twice, Err(StorageError::Conflict(_))), "{twice:?}");
    let foreign = store.record_notification_attempt(&b.tenant, d1, ChannelKind::Webhook, &sent, T0 + 3).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    let dead = DeliveryOutcome::Dead { error: "550 no such mailbox".into() };
    let d = store.record_notification_attempt(&a.tenant, d3, ChannelKind::Email, &dead, T0 + 4).await.expect("d");
    assert_eq!((d.status, d.attempts), (DeliveryStatus::Dead, 1));
    let tail = store.tenant_events(&a.tenant, EventSeq(0), 10_000).await.expect("events");
    let told = tail.iter().any(|e| {
        matches!(&e.body, EventBody::NotificationDead(n)
            if n.delivery_id == *d3 && n.attempts == 1 && n.error == "550 no such mailbox" && n.rule_id == mail.id)
    });
    assert!(told, "a dead delivery is an event");

    // Lists by status, per tenant, paged.
    let everything = Page::all();
    let list = |status| store.notification_deliveries(&a.tenant, status, &everything);
    assert_eq!(list(Some(DeliveryStatus::Dead)).await.expect("dead").iter().map(|d| &d.id).collect::<Vec<_>>(), [d3]);
    assert_eq!(list(None).await.expect("all").len(), 3);
    assert!(store.notification_deliveries(&b.tenant, None, &Page::all()).await.expect("b").is_empty());
    let first = store.notification_deliveries(&a.tenant, None, &Page::first(2)).await.expect("page");
    let rest = Page { after: Some(first[1].id.to_string()), limit: 10 };
    let rest = store.notification_deliveries(&a.tenant, None, &rest).await.expect("page");
    assert_eq!(first.len() + rest.len(), 3);
    assert!(first[0].event.seq <= first[1].event.seq && first[1].event.seq <= rest[0].event.seq, "event order");

    // A dead delivery is retried with a fresh budget; only a dead one.
    let pending = store.retry_notification(&a.tenant, d1, T0 + 5).await;
    assert!(matches!(pending, Err(StorageError::Conflict(_))), "{pending:?}");
    let again = store.retry_notification(&a.tenant, d3, T0 + 6).await.expect("retry");
    assert_eq!((again.status, again.attempts, again.next_attempt_time), (DeliveryStatus::Pending, 0, T0 + 6));
    assert_eq!(again.last_error.as_deref(), Some("550 no such mailbox"));

    // Deleting a rule takes its deliveries; enqueueing for it adds nothing.
    let foreign = store.delete_notification_rule(&b.tenant, &hook.id, &admin(), T0 + 7).await;
    assert!(matches!(foreign, Err(StorageError::NotFound { .. })), "{foreign:?}");
    store.delete_notification_rule(&a.tenant, &hook.id, &admin(), T0 + 7).await.expect("delete");
    let gone = store.notification_delivery(&a.tenant, d1).await;
    assert!(matches!(gone, Err(StorageError::NotFound { .. })), "{gone:?}");
    assert_eq!(store.enqueue_notifications(&[new(&hook, 0)], T0 + 8).await.expect("enqueue"), 0);
    assert_eq!(list(None).await.expect("left").len(), 1);
    assert_eq!(store.notification_rules(&b.tenant, &Page::all()).await.expect("b's"), vec![other]);
}
