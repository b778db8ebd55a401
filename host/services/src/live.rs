//! The live stream: each tenant's committed telemetry and events, as they
//! commit, for whoever watches (the API's server-sent events, the console).
//!
//! Telemetry is fed by the commit path after a successful commit, events
//! by an outbox subscriber that keeps no cursor, so nothing is shown that
//! is not durable. It is a view, not a log: a
//! watcher that falls behind by more than [`BUFFER`] items is told how many
//! it missed ([`LiveItem::Lagged`]) and goes on; the outbox
//! (`GET /api/events?after=`) is where nothing is ever missed. Nothing is
//! copied for a tenant nobody watches.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use nexus_model::{DeviceId, EntityKind, Event, EventBody, Page, Series, TenantId, WellId};
use nexus_storage::DeviceSeries;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::{Inner, Result, ServiceError, StartFrom, Subscriber, Subscription};

/// Items a watcher may fall behind by before it is told it lagged.
pub const BUFFER: usize = 1024;
/// Streams one tenant may have open at once.
pub const MAX_STREAMS_PER_TENANT: usize = 32;
/// Samples of one device shown per commit; the rest are counted.
const MAX_SAMPLES: usize = 1000;

/// What a watcher sees.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveItem {
    /// Readings of one device, committed together.
    Telemetry {
        /// The device.
        device_id: DeviceId,
        /// One series per key (at most 1000 samples in all).
        series: Vec<Series>,
        /// Samples left out past that.
        #[serde(skip_serializing_if = "is_zero")]
        omitted: usize,
    },
    /// An outbox event (an alarm transition, a recommendation, a fault, …).
    Event(Box<Event>),
    /// The watcher fell behind and missed this many items.
    Lagged {
        /// How many.
        missed: u64,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl LiveItem {
    /// The device it is about, if any.
    pub fn device_id(&self) -> Option<&DeviceId> {
        match self {
            LiveItem::Telemetry { device_id, .. } => Some(device_id),
            LiveItem::Event(event) => event_device(event),
            LiveItem::Lagged { .. } => None,
        }
    }

    /// The well it is about, when it names one (a recommendation).
    pub fn well_id(&self) -> Option<&WellId> {
        match self {
            LiveItem::Event(event) => match &event.body {
                EventBody::Recommendation(r) => r.well_id.as_ref(),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The device of an event, when it is about one.
fn event_device(event: &Event) -> Option<&DeviceId> {
    match &event.body {
        EventBody::Alarm(transition) => Some(&transition.alarm.device_id),
        EventBody::Recommendation(r) => Some(&r.recommendation.device_id),
        EventBody::RecommendationChanged(t) => Some(&t.device_id),
        EventBody::PluginFault(run) => run.device_id.as_ref(),
        EventBody::DeadLetter(letter) => letter.device_id.as_ref(),
        EventBody::BindingQuarantined { device_id, .. } => device_id.as_ref(),
        EventBody::SetpointWrite(record) => Some(&record.write.device_id),
        EventBody::Forecast(f) => Some(&f.forecast.device_id),
        EventBody::Rollout(r) => r.device_id.as_ref(),
        EventBody::Entity(_) | EventBody::NotificationDead(_) => None,
    }
}

/// One tenant's channel and its open streams.
struct Channel {
    sender: broadcast::Sender<Arc<LiveItem>>,
    open: Arc<AtomicUsize>,
}

/// The channels of the tenants being watched.
#[derive(Default)]
pub(crate) struct Channels(Mutex<HashMap<TenantId, Channel>>);

impl Channels {
    /// The sender of a tenant someone watches.
    fn watched(&self, tenant: &TenantId) -> Option<broadcast::Sender<Arc<LiveItem>>> {
        let channels = self.0.lock().unwrap_or_else(|e| e.into_inner());
        channels.get(tenant).filter(|c| c.open.load(Ordering::Relaxed) > 0).map(|c| c.sender.clone())
    }

    /// Whether anyone watches any of these tenants (cheap: no copy).
    pub(crate) fn any_watched<'a>(&self, mut tenants: impl Iterator<Item = &'a TenantId>) -> bool {
        let channels = self.0.lock().unwrap_or_else(|e| e.into_inner());
        !channels.is_empty() && tenants.any(|t| channels.get(t).is_some_and(|c| c.open.load(Ordering::Relaxed) > 0))
    }

    /// Shows the telemetry one unit of work committed.
    pub(crate) fn publish(&self, tenant: &TenantId, telemetry: &[DeviceSeries]) {
        let Some(sender) = self.watched(tenant) else { return };
        for device in telemetry.iter().filter(|d| d.series.iter().any(|s| !s.ts.is_empty())) {
            let mut budget = MAX_SAMPLES;
            let mut omitted = 0;
            let mut series = Vec::with_capacity(device.series.len());
            for s in &device.series {
                if s.ts.len() <= budget {
                    budget -= s.ts.len();
                    series.push(s.clone());
                } else {
                    omitted += s.ts.len();
                }
            }
            let _ = sender.send(Arc::new(LiveItem::Telemetry { device_id: device.device_id.clone(), series, omitted }));
        }
    }

    /// Shows events, in outbox order.
    fn publish_events(&self, events: &[Event]) {
        for event in events {
            if let Some(sender) = self.watched(&event.tenant_id) {
                let _ = sender.send(Arc::new(LiveItem::Event(Box::new(event.clone()))));
            }
        }
    }
}

/// Feeds every outbox event to the live stream, from the end of the outbox
/// at start; it keeps no cursor (what was missed is in `GET /api/events`).
struct LiveSubscriber(Arc<Inner>);

#[async_trait::async_trait]
impl Subscriber for LiveSubscriber {
    fn name(&self) -> &str {
        "live"
    }

    fn start_from(&self) -> StartFrom {
        StartFrom::Now
    }

    fn keeps_cursor(&self) -> bool {
        false
    }

    async fn deliver(&self, events: &[Event]) -> std::result::Result<(), String> {
        self.0.live.publish_events(events);
        Ok(())
    }
}

/// What a watcher wants to see.
#[derive(Debug, Clone, Default)]
pub struct LiveFilter {
    /// Only this device's items.
    pub device_id: Option<DeviceId>,
    /// Only items of this well's devices (and the well's recommendations).
    pub well_id: Option<WellId>,
    /// Telemetry (default: yes).
    pub telemetry: bool,
    /// Events (default: yes).
    pub events: bool,
}

/// An open stream of one tenant; closing it (dropping) frees its place.
pub struct LiveStream {
    receiver: broadcast::Receiver<Arc<LiveItem>>,
    open: Arc<AtomicUsize>,
    inner: Arc<Inner>,
    tenant: TenantId,
    filter: LiveFilter,
    /// The well's devices, when filtering by well (refreshed when a device
    /// is created or changed).
    well_devices: HashSet<DeviceId>,
}

impl LiveStream {
    /// The next item the filter lets through; `None` when the host stops.
    pub async fn next(&mut self) -> Option<Arc<LiveItem>> {
        loop {
            let item = match self.receiver.recv().await {
                Ok(item) => item,
                Err(broadcast::error::RecvError::Lagged(missed)) => return Some(Arc::new(LiveItem::Lagged { missed })),
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            if let LiveItem::Event(event) = &*item
                && let EventBody::Entity(change) = &event.body
                && change.kind == EntityKind::Device
                && let Some(well) = self.filter.well_id.clone()
            {
                self.well_devices = well_devices(&self.inner, &self.tenant, &well).await.unwrap_or_default();
            }
            if self.wants(&item) {
                return Some(item);
            }
        }
    }

    fn wants(&self, item: &LiveItem) -> bool {
        let kind = match item {
            LiveItem::Telemetry { .. } => self.filter.telemetry,
            LiveItem::Event(_) => self.filter.events,
            LiveItem::Lagged { .. } => true,
        };
        let device = |d: &DeviceId| item.device_id() == Some(d);
        let well =
            |w: &WellId| item.well_id() == Some(w) || item.device_id().is_some_and(|d| self.well_devices.contains(d));
        kind && (matches!(item, LiveItem::Lagged { .. })
            || (self.filter.device_id.as_ref().is_none_or(device) && self.filter.well_id.as_ref().is_none_or(well)))
    }
}

impl Drop for LiveStream {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The devices of a well (paging through the tenant's devices).
async fn well_devices(inner: &Inner, tenant: &TenantId, well: &WellId) -> Result<HashSet<DeviceId>> {
    let mut devices = HashSet::new();
    let mut page = Page { after: None, limit: Page::MAX };
    loop {
        let batch = inner.store.devices(tenant, &page).await?;
        let Some(last) = batch.last() else { break };
        page.after = Some(last.id.to_string());
        let full = batch.len() as u32 == page.limit;
        devices.extend(batch.into_iter().filter(|d| d.well_id.as_ref() == Some(well)).map(|d| d.id));
        if !full {
            break;
        }
    }
    Ok(devices)
}

/// The live stream. Cheap to clone.
#[derive(Clone)]
pub struct LiveService(pub(crate) Arc<Inner>);

impl LiveService {
    /// Starts feeding the outbox's events to the live stream (the server
    /// does it once at start).
    pub fn start(&self, outbox: &crate::OutboxService) -> Subscription {
        outbox.subscribe(Arc::new(LiveSubscriber(self.0.clone())))
    }

    /// Opens a stream of the tenant's commits from now on. The filter's
    /// device and well must be the tenant's ([`ServiceError::NotFound`]
    /// otherwise); refused with [`ServiceError::TooManyStreams`] past
    /// [`MAX_STREAMS_PER_TENANT`].
    pub async fn watch(&self, tenant: &TenantId, filter: LiveFilter) -> Result<LiveStream> {
        if let Some(device) = &filter.device_id {
            self.0.store.device(tenant, device).await?;
        }
        let well_devices = match &filter.well_id {
            Some(well) => {
                self.0.store.well(tenant, well).await?;
                well_devices(&self.0, tenant, well).await?
            }
            None => HashSet::new(),
        };
        let mut channels = self.0.live.0.lock().unwrap_or_else(|e| e.into_inner());
        let channel = channels
            .entry(tenant.clone())
            .or_insert_with(|| Channel { sender: broadcast::channel(BUFFER).0, open: Arc::new(AtomicUsize::new(0)) });
        let open = channel.open.load(Ordering::Relaxed);
        if open >= MAX_STREAMS_PER_TENANT {
            return Err(ServiceError::TooManyStreams { open, limit: MAX_STREAMS_PER_TENANT });
        }
        channel.open.fetch_add(1, Ordering::Relaxed);
        Ok(LiveStream {
            receiver: channel.sender.subscribe(),
            open: channel.open.clone(),
            inner: self.0.clone(),
            tenant: tenant.clone(),
            filter,
            well_devices,
        })
    }
}
