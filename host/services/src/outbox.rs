//! Delivering the outbox. Each [`Subscriber`] gets every event after its
//! stored cursor, in commit order (so in order per device), at least once:
//! a batch is delivered, then the cursor moves past it. A subscriber that
//! fails is retried with backoff and holds up nobody else; ingest only
//! appends to the outbox and never waits for a subscriber.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use nexus_model::{Event, EventBody, EventSeq, TenantId};

use crate::{Inner, Result};

/// Events read per delivery.
const BATCH: u32 = 256;
/// How often an idle subscriber looks for events it was not woken for.
const POLL: Duration = Duration::from_millis(250);
/// Longest wait before retrying a failed delivery.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Where a subscriber without a stored cursor starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartFrom {
    /// Every event ever appended.
    Beginning,
    /// Only events appended after it first starts.
    Now,
}

/// Something that receives the outbox's events.
#[async_trait]
pub trait Subscriber: Send + Sync + 'static {
    /// A stable name: the key of its stored cursor.
    fn name(&self) -> &str;

    /// Where to start when it has no cursor yet.
    fn start_from(&self) -> StartFrom {
        StartFrom::Beginning
    }

    /// Whether its cursor is stored. One that is not (a view of what
    /// happens now, such as the live stream) starts at the end of the
    /// outbox on every start and costs no write per delivery.
    fn keeps_cursor(&self) -> bool {
        true
    }

    /// Takes a batch of events in order. An error means "not delivered":
    /// the same batch is offered again later.
    async fn deliver(&self, events: &[Event]) -> std::result::Result<(), String>;
}

/// A running subscription; dropping it (or [`Subscription::stop`]) stops it.
pub struct Subscription {
    task: tokio::task::JoinHandle<()>,
    _running: Running,
}

/// Keeps a subscription among the running ones while it lives (the outbox
/// lag reports running subscribers).
struct Running {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.inner.subscribers.remove(self.id);
    }
}

impl Subscription {
    /// Stops delivering; the cursor stays where the last delivery left it.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The outbox. Cheap to clone.
#[derive(Clone)]
pub struct OutboxService(pub(crate) Arc<Inner>);

impl OutboxService {
    /// Starts delivering to a subscriber from its stored cursor.
    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) -> Subscription {
        let inner = self.0.clone();
        let (id, position) = inner.subscribers.register(subscriber.name());
        let running = Running { inner: inner.clone(), id };
        Subscription { task: tokio::spawn(deliver_forever(inner, subscriber, position)), _running: running }
    }

    /// How far each running subscriber is behind, by name: the outbox
    /// head's `seq` minus the last `seq` it was delivered (stored cursor or
    /// not). SQLite's `seq` has no gaps, so that is a count of events; a
    /// PostgreSQL sequence may skip numbers, so there it is at most that.
    pub async fn lag(&self) -> Result<Vec<(String, u64)>> {
        let head = self.0.store.head().await?;
        Ok(self.0.subscribers.lag(head))
    }

    /// Starts delivering to a subscriber once its cursor is settled: a
    /// subscriber that starts [`StartFrom::Now`] gets every event appended
    /// after this returns.
    pub async fn subscribe_ready(&self, subscriber: Arc<dyn Subscriber>) -> Result<Subscription> {
        let cursor = start(&self.0, subscriber.as_ref()).await?;
        let inner = self.0.clone();
        let (id, position) = inner.subscribers.register(subscriber.name());
        let running = Running { inner: inner.clone(), id };
        Ok(Subscription { task: tokio::spawn(deliver_from(inner, subscriber, cursor, position)), _running: running })
    }

    /// The tenant's events after `after`, oldest first (at most 1000).
    pub async fn tenant_events(&self, tenant: &TenantId, after: EventSeq, limit: u32) -> Result<Vec<Event>> {
        Ok(self.0.store.tenant_events(tenant, after, limit.clamp(1, 1000)).await?)
    }

    /// Where a subscriber's cursor is.
    pub async fn cursor(&self, subscriber: &str) -> Result<EventSeq> {
        Ok(self.0.store.cursor(subscriber).await?)
    }
}

async fn deliver_forever(
    inner: Arc<Inner>,
    subscriber: Arc<dyn Subscriber>,
    position: Arc<std::sync::atomic::AtomicI64>,
) {
    let mut backoff = Duration::from_millis(50);
    let cursor = loop {
        match start(&inner, subscriber.as_ref()).await {
            Ok(cursor) => break cursor,
            Err(error) => {
                let name = subscriber.name();
                tracing::warn!(subscriber = %name, %error, "Outbox subscriber cannot read its cursor; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    };
    deliver_from(inner, subscriber, cursor, position).await
}

async fn deliver_from(
    inner: Arc<Inner>,
    subscriber: Arc<dyn Subscriber>,
    mut cursor: EventSeq,
    position: Arc<std::sync::atomic::AtomicI64>,
) {
    use std::sync::atomic::Ordering::Relaxed;
    position.store(cursor.0, Relaxed);
    let name = subscriber.name().to_string();
    let mut woken = inner.outbox_head.subscribe();
    let mut backoff = Duration::from_millis(50);
    loop {
        // Whatever commits from here on wakes the wait below: its events are
        // either in this read or announced after it.
        woken.borrow_and_update();
        let events = match inner.store.events_after(cursor, BATCH).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(subscriber = %name, %error, "Outbox unreadable; retrying.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        let Some(last) = events.last().map(|e| e.seq) else {
            // Caught up: wait to be woken, or poll.
            let _ = tokio::time::timeout(POLL, woken.changed()).await;
            continue;
        };
        // Fewer than a batch: that was all there was when it was read, so
        // the next read waits for a commit (one read per wake, not two).
        let caught_up = events.len() < BATCH as usize;
        match subscriber.deliver(&events).await {
            Ok(()) => {
                backoff = Duration::from_millis(50);
                cursor = last;
                position.store(cursor.0, Relaxed);
                while subscriber.keeps_cursor()
                    && let Err(error) = inner.store.set_cursor(&name, cursor).await
                {
                    tracing::warn!(subscriber = %name, %error, "Cannot store the outbox cursor; retrying.");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                if caught_up {
                    let _ = tokio::time::timeout(POLL, woken.changed()).await;
                }
            }
            Err(error) => {
                tracing::warn!(subscriber = %name, %error, retry_in_ms = backoff.as_millis() as u64, "Outbox delivery failed.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn start(inner: &Inner, subscriber: &dyn Subscriber) -> Result<EventSeq> {
    let cursor = if subscriber.keeps_cursor() { inner.store.cursor(subscriber.name()).await? } else { EventSeq(0) };
    if cursor > EventSeq(0) || subscriber.start_from() == StartFrom::Beginning {
        return Ok(cursor);
    }
    // No cursor and only new events wanted: start at the end of the outbox.
    let mut end = EventSeq(0);
    loop {
        let page = inner.store.events_after(end, 1000).await?;
        match page.last() {
            Some(last) => end = last.seq,
            None => break,
        }
    }
    if subscriber.keeps_cursor() {
        inner.store.set_cursor(subscriber.name(), end).await?;
    }
    Ok(end)
}

/// Writes what happened to the log: alarm transitions, recommendations,
/// faults, dead letters and quarantines.
pub(crate) struct LogSubscriber;

#[async_trait]
impl Subscriber for LogSubscriber {
    fn name(&self) -> &str {
        "log"
    }

    fn start_from(&self) -> StartFrom {
        StartFrom::Now
    }

    async fn deliver(&self, events: &[Event]) -> std::result::Result<(), String> {
        for event in events {
            let tenant = &event.tenant_id;
            match &event.body {
                EventBody::Alarm(t) => tracing::info!(
                    seq = event.seq.0,
                    %tenant,
                    action = t.action.as_str(),
                    actor = %t.actor,
                    device = %t.alarm.device_id,
                    alarm_type = %t.alarm.alarm_type,
                    severity = t.alarm.severity.as_str(),
                    status = t.alarm.status.as_str(),
                    "Alarm {}.", t.action.as_str().to_lowercase().replace('_', "-")
                ),
                EventBody::Recommendation(r) => tracing::info!(
                    seq = event.seq.0,
                    %tenant,
                    device = %r.recommendation.device_id,
                    parameter = %r.recommendation.parameter,
                    current = r.recommendation.current_value,
                    proposed = r.recommendation.proposed_value,
                    "Recommendation stored."
                ),
                EventBody::RecommendationChanged(t) => tracing::info!(
                    seq = event.seq.0,
                    %tenant,
                    recommendation = %t.recommendation_id,
                    device = %t.device_id,
                    from = t.from.as_str(),
                    to = t.to.as_str(),
                    actor = %t.actor,
                    reason = t.reason.as_deref().unwrap_or(""),
                    "Recommendation {}.", t.to.as_str().to_lowercase().replace('_', "-")
                ),
                EventBody::BindingQuarantined { binding_id, device_id: None, reason } => {
                    tracing::warn!(seq = event.seq.0, %tenant, binding = %binding_id, %reason, "Binding quarantined.")
                }
                EventBody::BindingQuarantined { binding_id, device_id: Some(device), reason } => {
                    tracing::warn!(seq = event.seq.0, %tenant, binding = %binding_id, %device, %reason,
                        "A device's input to a binding quarantined.")
                }
                EventBody::PluginFault(run) => {
                    tracing::debug!(seq = event.seq.0, %tenant, code = %run.error_code, "Plugin fault recorded.")
                }
                EventBody::DeadLetter(letter) => {
                    tracing::debug!(seq = event.seq.0, %tenant, code = %letter.error_code, "Dead letter kept.")
                }
                EventBody::Entity(change) => {
                    tracing::debug!(seq = event.seq.0, %tenant, kind = ?change.kind, id = %change.id, action = ?change.action, "Entity changed.")
                }
                EventBody::SetpointWrite(record) => {
                    tracing::info!(seq = event.seq.0, %tenant, device = %record.write.device_id,
                        parameter = %record.write.parameter, value = record.write.value,
                        error = record.error_code.as_deref().unwrap_or("none"), "Setpoint write recorded.")
                }
                EventBody::Forecast(f) => {
                    tracing::debug!(seq = event.seq.0, %tenant, device = %f.forecast.device_id, key = %f.forecast.key,
                        points = f.forecast.points.len(), "Forecast stored.")
                }
                EventBody::Rollout(r) => {
                    tracing::info!(seq = event.seq.0, %tenant, binding = %r.binding_id, step = r.step.as_str(),
                        mode = r.mode.as_str(), candidate = %r.candidate_plugin_id, reason = r.reason.as_deref().unwrap_or(""),
                        "Rollout step.")
                }
                EventBody::NotificationDead(dead) => {
                    tracing::warn!(seq = event.seq.0, %tenant, delivery = %dead.delivery_id, rule = %dead.rule_id,
                        attempts = dead.attempts, error = %dead.error, "Notification dead.")
                }
            }
        }
        Ok(())
    }
}

impl OutboxService {
    /// Starts the log subscriber.
    pub fn subscribe_log(&self) -> Subscription {
        self.subscribe(Arc::new(LogSubscriber))
    }
}
