//! The two loops of notifications: [`Matcher`], the outbox subscriber that
//! enqueues deliveries, and [`run`], the worker that sends them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{
    DeliveryOutcome, Event, EventBody, NotificationDelivery, NotificationDeliveryId, NotificationRule, TenantId,
    TimestampMs,
};
use nexus_storage::{NewDelivery, StorageError};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::{ChannelSender, SendError, message};
use crate::Inner;
use crate::outbox::{StartFrom, Subscriber};

/// The outbox subscriber that turns alarm transitions into deliveries.
pub(crate) struct Matcher(pub(crate) Arc<Inner>);

/// The outbox cursor's name.
pub(crate) const SUBSCRIBER: &str = "notifications";

#[async_trait]
impl Subscriber for Matcher {
    fn name(&self) -> &str {
        SUBSCRIBER
    }

    /// History is not notified: the first start begins at the end of the
    /// outbox, and the stored cursor carries every later start.
    fn start_from(&self) -> StartFrom {
        StartFrom::Now
    }

    async fn deliver(&self, events: &[Event]) -> Result<(), String> {
        let store = &self.0.store;
        let mut rules: HashMap<&TenantId, Vec<NotificationRule>> = HashMap::new();
        let mut deliveries = Vec::new();
        for event in events.iter().filter(|e| matches!(e.body, EventBody::Alarm(_))) {
            if !rules.contains_key(&event.tenant_id) {
                let enabled = store.enabled_notification_rules(&event.tenant_id).await.map_err(|e| e.to_string())?;
                rules.insert(&event.tenant_id, enabled);
            }
            for rule in rules.get(&event.tenant_id).into_iter().flatten().filter(|r| r.matches(event)) {
                deliveries.push(NewDelivery {
                    id: NotificationDeliveryId::random(),
                    rule_id: rule.id.clone(),
                    event: event.clone(),
                    channel: rule.channel.kind(),
                });
            }
        }
        if deliveries.is_empty() {
            return Ok(());
        }
        let added = store.enqueue_notifications(&deliveries, self.0.now()).await.map_err(|e| e.to_string())?;
        if added > 0 {
            tracing::debug!(added, "Notifications enqueued.");
            self.0.notifications_due.notify_one();
        }
        Ok(())
    }
}

/// What one attempt left to do: when its delivery is due again, if it is.
struct Attempted {
    again_at: Option<TimestampMs>,
}

/// Sends due deliveries, `concurrency` at a time, until `shutdown`; then
/// waits for the sends in flight.
pub(crate) async fn run(inner: Arc<Inner>, sender: Arc<dyn ChannelSender>, mut shutdown: watch::Receiver<bool>) {
    let config = inner.config.notifications.clone();
    let most = config.concurrency.max(1);
    let mut tasks: JoinSet<Attempted> = JoinSet::new();
    let mut in_flight: HashMap<tokio::task::Id, NotificationDeliveryId> = HashMap::new();
    // The earliest time a retry this worker scheduled is due.
    let mut next_due: Option<TimestampMs> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = inner.now();
        // Storage failing: wait out the poll, whatever wakes the worker.
        let mut failing = false;
        if tasks.len() < most {
            let busy: HashSet<&NotificationDeliveryId> = in_flight.values().collect();
            let wanted = u32::try_from(most + busy.len()).unwrap_or(u32::MAX);
            match inner.store.due_notifications(now, wanted).await {
                Ok(due) => {
                    let fresh: Vec<NotificationDelivery> =
                        due.into_iter().filter(|d| !busy.contains(&d.id)).take(most - tasks.len()).collect();
                    if next_due.is_some_and(|t| t <= now) {
                        next_due = None;
                    }
                    for delivery in fresh {
                        let id = delivery.id.clone();
                        let handle = tasks.spawn(attempt(inner.clone(), sender.clone(), delivery));
                        in_flight.insert(handle.id(), id);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "Cannot read due notifications; retrying.");
                    failing = true;
                }
            }
        }
        let wait = next_due
            .map(|t| Duration::from_millis(u64::try_from(t - now).unwrap_or(0)))
            .map_or(config.poll, |until| until.min(config.poll));
        tokio::select! {
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                settle(done, &mut in_flight, &mut next_due);
            }
            () = inner.notifications_due.notified(), if !failing => {}
            () = tokio::time::sleep(wait) => {}
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    // A graceful stop: every send in flight finishes and is recorded.
    while let Some(done) = tasks.join_next_with_id().await {
        settle(done, &mut in_flight, &mut next_due);
    }
}

fn settle(
    done: Result<(tokio::task::Id, Attempted), tokio::task::JoinError>,
    in_flight: &mut HashMap<tokio::task::Id, NotificationDeliveryId>,
    next_due: &mut Option<TimestampMs>,
) {
    match done {
        Ok((task, attempted)) => {
            in_flight.remove(&task);
            if let Some(at) = attempted.again_at {
                *next_due = Some(next_due.map_or(at, |t| t.min(at)));
            }
        }
        Err(error) => {
            let delivery = in_flight.remove(&error.id());
            tracing::error!(?delivery, %error, "A notification send task failed.");
        }
    }
}

/// One attempt to send a delivery, and its record.
async fn attempt(inner: Arc<Inner>, sender: Arc<dyn ChannelSender>, delivery: NotificationDelivery) -> Attempted {
    let config = &inner.config.notifications;
    let rule = match inner.store.notification_rule(&delivery.tenant_id, &delivery.rule_id).await {
        Ok(rule) => rule,
        // Deleted since: its deliveries went with it.
        Err(StorageError::NotFound { .. }) => return Attempted { again_at: None },
        Err(error) => {
            tracing::warn!(delivery = %delivery.id, %error, "Cannot read a notification's rule; retrying.");
            return Attempted { again_at: Some(inner.now() + 1000) };
        }
    };
    let notification = message::compose(&delivery, &rule, inner.now());
    let sent = match tokio::time::timeout(config.send_timeout, sender.send(&notification)).await {
        Ok(result) => result,
        Err(_) => Err(SendError::transient(format!("no answer within {} ms", config.send_timeout.as_millis()))),
    };
    let failed = delivery.attempts.saturating_add(1);
    let now = inner.now();
    let outcome = match sent {
        Ok(()) => DeliveryOutcome::Sent,
        Err(error) if error.permanent => DeliveryOutcome::Dead { error: error.message },
        Err(error) if failed >= config.retry.attempts => DeliveryOutcome::Dead {
            error: format!("{} (attempt {failed} of {})", error.message, config.retry.attempts),
        },
        Err(error) => {
            let wait = i64::try_from(config.retry.delay(failed).as_millis()).unwrap_or(i64::MAX);
            DeliveryOutcome::Retry { error: error.message, next_attempt_time: now.saturating_add(wait) }
        }
    };
    let channel = rule.channel.kind();
    let again_at = match &outcome {
        DeliveryOutcome::Retry { next_attempt_time, .. } => Some(*next_attempt_time),
        _ => None,
    };
    match inner.store.record_notification_attempt(&delivery.tenant_id, &delivery.id, channel, &outcome, now).await {
        Ok(recorded) => log(&recorded, &outcome),
        // Sent but not recorded: it is sent again later (the receiver has
        // its id to recognize it).
        Err(error) => tracing::warn!(delivery = %delivery.id, %error, "Cannot record a notification attempt."),
    }
    Attempted { again_at }
}

fn log(delivery: &NotificationDelivery, outcome: &DeliveryOutcome) {
    let (tenant, id, rule, attempts) = (&delivery.tenant_id, &delivery.id, &delivery.rule_id, delivery.attempts);
    match outcome {
        DeliveryOutcome::Sent => tracing::debug!(%tenant, delivery = %id, %rule, attempts, "Notification sent."),
        DeliveryOutcome::Retry { error, .. } => {
            tracing::info!(%tenant, delivery = %id, %rule, attempts, %error, "Notification failed; retrying.")
        }
        DeliveryOutcome::Dead { error } => {
            tracing::warn!(%tenant, delivery = %id, %rule, attempts, %error, "Notification given up on (dead).")
        }
    }
}
