//! The ports: one narrow trait per aggregate, and [`Store`], all of them.
//! Reads take the tenant and never see another tenant's rows. Writes of
//! entities, plugins, bindings and alarms by people append their event to
//! the outbox in the same transaction; everything the telemetry plane
//! changes is committed through [`UnitOfWork::commit`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use nexus_model::{
    Actor, Alarm, AlarmComment, AlarmEvent, AlarmFilter, AlarmId, Binding, BindingId, Bucket, DeadLetter, Device,
    DeviceId, Event, EventSeq, FieldConstraints, OperatorAction, Page, PluginKind, PluginRun, PluginVersion,
    PluginVersionId, Reading, RecommendationId, RecommendationStatus, RecommendationTransition, RecordedWellTest,
    Setpoint, StoredForecast, StoredRecommendation, Tenant, TenantId, TenantProfile, TimestampMs, Usage, Well, WellId,
    WellTest, Wellpad, WellpadId,
};

use crate::{Committed, Effects, NewBinding, NewDevice, NewPlugin, NewWell, OperatorOutcome, Result};

/// Tenants, wellpads, wells and devices.
#[async_trait]
pub trait EntityStore: Send + Sync {
    /// Creates a tenant, or returns the existing one with that id.
    async fn ensure_tenant(&self, id: &TenantId, name: &str, now: TimestampMs) -> Result<Tenant>;
    /// The tenant's profile (the defaults when none was set).
    async fn tenant_profile(&self, tenant: &TenantId) -> Result<TenantProfile>;
    /// Sets the tenant's profile.
    async fn set_tenant_profile(
        &self,
        tenant: &TenantId,
        profile: &TenantProfile,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<()>;
    /// Creates a wellpad.
    async fn create_wellpad(&self, tenant: &TenantId, name: &str, actor: &Actor, now: TimestampMs) -> Result<Wellpad>;
    /// A wellpad of the tenant.
    async fn wellpad(&self, tenant: &TenantId, id: &WellpadId) -> Result<Wellpad>;
    /// Replaces what a wellpad's wells share (checked by the caller).
    async fn set_wellpad_constraints(
        &self,
        tenant: &TenantId,
        id: &WellpadId,
        constraints: &FieldConstraints,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Wellpad>;
    /// Creates a well; its wellpad must be the tenant's.
    async fn create_well(&self, tenant: &TenantId, new: &NewWell, actor: &Actor, now: TimestampMs) -> Result<Well>;
    /// A well of the tenant.
    async fn well(&self, tenant: &TenantId, id: &WellId) -> Result<Well>;
    /// A page of the tenant's wells, by name.
    async fn wells(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Well>>;
    /// Creates a device; its well must be the tenant's. Only the token's
    /// hash is stored.
    async fn create_device(
        &self,
        tenant: &TenantId,
        new: &NewDevice,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Device>;
    /// A device of the tenant.
    async fn device(&self, tenant: &TenantId, id: &DeviceId) -> Result<Device>;
    /// A page of the tenant's devices, by name.
    async fn devices(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Device>>;
    /// The device whose access token hashes to `token_hash`, of any tenant.
    async fn device_by_token_hash(&self, token_hash: &str) -> Result<Option<Device>>;
    /// Replaces a device's token hash; the old token stops working.
    async fn rotate_device_token(
        &self,
        tenant: &TenantId,
        id: &DeviceId,
        token_hash: &str,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Device>;
}

/// Plugin versions and bindings.
#[async_trait]
pub trait PluginStore: Send + Sync {
    /// Stores an uploaded plugin version; name + version are unique per
    /// tenant and kind.
    async fn insert_plugin(&self, new: &NewPlugin<'_>, actor: &Actor, now: TimestampMs) -> Result<PluginVersion>;
    /// A plugin version of the tenant, without bytes.
    async fn plugin(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<PluginVersion>;
    /// A page of the tenant's plugin versions, by kind, name and upload.
    async fn plugins(&self, tenant: &TenantId, page: &Page) -> Result<Vec<PluginVersion>>;
    /// The bytes of a plugin version.
    async fn plugin_bytes(&self, tenant: &TenantId, id: &PluginVersionId) -> Result<Vec<u8>>;
    /// Creates a binding; the plugin and every device must be the tenant's.
    async fn insert_binding(&self, new: &NewBinding<'_>, actor: &Actor, now: TimestampMs) -> Result<Binding>;
    /// A binding of the tenant.
    async fn binding(&self, tenant: &TenantId, id: &BindingId) -> Result<Binding>;
    /// A page of the tenant's bindings, oldest first.
    async fn bindings(&self, tenant: &TenantId, page: &Page) -> Result<Vec<Binding>>;
    /// Every enabled binding of every tenant (start-up and the scheduler).
    async fn enabled_bindings(&self) -> Result<Vec<Binding>>;
    /// The bindings of one kind that apply to a device, enabled or not,
    /// oldest first.
    async fn device_bindings(&self, tenant: &TenantId, device: &DeviceId, kind: PluginKind) -> Result<Vec<Binding>>;
    /// Points a binding at another version of the same kind, in one
    /// statement; configuration, limits and state stay.
    async fn swap_binding_plugin(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        plugin: &PluginVersionId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding>;
    /// Takes a step of a binding's rollout with its event, in one
    /// transaction: a [`StorageError::Conflict`] unless the binding's
    /// rollout is still the expected one.
    async fn change_rollout(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        change: &crate::RolloutChange<'_>,
        now: TimestampMs,
    ) -> Result<Binding>;
    /// Sets (or, with `None`, removes) a binding's auto-approve policy.
    async fn set_auto_approve(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        policy: Option<&nexus_model::AutoApprove>,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding>;

    /// Re-enables a binding, clearing its quarantine and that of every
    /// device's input to it.
    async fn enable_binding(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding>;

    /// Lifts the quarantine of one device's input to a binding.
    async fn release_device(
        &self,
        tenant: &TenantId,
        id: &BindingId,
        device: &DeviceId,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Binding>;
}

/// Plugin state, per (tenant, binding, device). Written by commits.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The state of a (binding, device) of the tenant.
    async fn plugin_state(
        &self,
        tenant: &TenantId,
        binding: &BindingId,
        device: &DeviceId,
    ) -> Result<BTreeMap<String, Vec<u8>>>;
}

/// Telemetry reads. Written by commits.
#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// The latest reading of every key of a device (or of the given keys), by key.
    async fn latest(&self, tenant: &TenantId, device: &DeviceId, keys: &[String]) -> Result<Vec<Reading>>;
    /// A page of the latest readings of a device: at most `limit` keys
    /// after `after` (from the first key when `None`), in key order
    /// (byte-wise).
    async fn latest_page(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Reading>>;
    /// Every telemetry key a device has (any order).
    async fn device_keys(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<String>>;
    /// Readings of a device in `[start, end)`, oldest first, at most
    /// `limit`; all keys when `key` is `None`.
    async fn history(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>>;
    /// Readings of a device in `[start, end)`, newest first, at most
    /// `limit` (the newest ones); all keys when `key` is `None`. Ties of
    /// `ts` in descending key order.
    async fn history_newest(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        key: Option<&str>,
        start: TimestampMs,
        end: TimestampMs,
        limit: u32,
    ) -> Result<Vec<Reading>>;
    /// Time buckets of a device's keys (all keys when `keys` is empty):
    /// bucket `i` of a key covers `[start + i·interval, start +
    /// (i+1)·interval)` intersected with `[start, end)`, with the average,
    /// minimum, maximum and sum of its numeric samples and the count of all
    /// its samples. Only buckets holding a sample are returned, ordered by
    /// (key, index). `interval` is positive.
    async fn aggregate(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        keys: &[String],
        start: TimestampMs,
        end: TimestampMs,
        interval: i64,
    ) -> Result<Vec<Bucket>>;
    /// Deletes the tenant's readings stamped before `before` (retention);
    /// latest values stay. Returns how many stored rows went.
    async fn delete_telemetry_before(&self, tenant: &TenantId, before: TimestampMs) -> Result<u64>;
    /// Deletes **every** tenant's readings stamped before `before` — the
    /// part of retention that all tenants share — dropping what the backend
    /// stores by time wholesale (PostgreSQL: the day partitions that end by
    /// then) instead of row by row. Latest values stay.
    async fn expire_telemetry_before(&self, before: TimestampMs) -> Result<Expired>;
    /// The newest readings of a device (all keys), oldest first.
    async fn recent(&self, tenant: &TenantId, device: &DeviceId, limit: u32) -> Result<Vec<Reading>>;
    /// Number of stored readings of a device.
    async fn count_readings(&self, tenant: &TenantId, device: &DeviceId) -> Result<i64>;
}

/// What [`TelemetryStore::expire_telemetry_before`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expired {
    /// Whole partitions dropped (their rows are not counted in `rows`).
    pub partitions: u32,
    /// Rows deleted one by one.
    pub rows: u64,
}

/// Alarm reads, and people's actions on alarms.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// One alarm of the tenant.
    async fn alarm(&self, tenant: &TenantId, id: &AlarmId) -> Result<Alarm>;
    /// The tenant's alarms matching a filter, newest first.
    async fn alarms(&self, tenant: &TenantId, filter: &AlarmFilter) -> Result<Vec<Alarm>>;
    /// The transitions of an alarm, oldest first.
    async fn alarm_events(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmEvent>>;
    /// The comments of an alarm, oldest first.
    async fn alarm_comments(&self, tenant: &TenantId, id: &AlarmId) -> Result<Vec<AlarmComment>>;
    /// Applies a person's action ([`nexus_model::lifecycle::apply_operator`])
    /// and, if it changed something, records the transition and its event in
    /// one transaction.
    async fn apply_operator(
        &self,
        tenant: &TenantId,
        id: &AlarmId,
        action: &OperatorAction,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<OperatorOutcome>;
}

/// Recommendations, failed runs, dead letters and metered use.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The tenant's recommendations, newest first.
    async fn recommendations(&self, tenant: &TenantId, limit: u32) -> Result<Vec<StoredRecommendation>>;
    /// The tenant's failed plugin calls, newest first.
    async fn plugin_runs(&self, tenant: &TenantId, limit: u32) -> Result<Vec<PluginRun>>;
    /// The tenant's dead letters, newest first.
    async fn dead_letters(&self, tenant: &TenantId, limit: u32) -> Result<Vec<DeadLetter>>;
    /// Retention of dead letters, for every tenant: deletes the letters
    /// stamped before `before`, then each tenant's oldest letters until its
    /// letters' payloads add up to at most `max_bytes_per_tenant`. Returns
    /// how many letters it deleted.
    async fn prune_dead_letters(&self, before: TimestampMs, max_bytes_per_tenant: u64) -> Result<u64>;
    /// A tenant's metered use in a month (`YYYY-MM`).
    async fn usage(&self, tenant: &TenantId, month: &str) -> Result<Usage>;
}

/// The outbox: events in commit order, and a delivery cursor per subscriber.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events after `after`, in order, at most `limit` (all tenants: the
    /// dispatcher's view).
    async fn events_after(&self, after: EventSeq, limit: u32) -> Result<Vec<Event>>;
    /// The tenant's events after `after`, in order, at most `limit`.
    async fn tenant_events(&self, tenant: &TenantId, after: EventSeq, limit: u32) -> Result<Vec<Event>>;
    /// The `seq` of the last event appended (0 when there is none).
    async fn head(&self) -> Result<EventSeq>;
    /// Where a subscriber is (0 before its first delivery).
    async fn cursor(&self, subscriber: &str) -> Result<EventSeq>;
    /// Moves a subscriber's cursor (never backwards).
    async fn set_cursor(&self, subscriber: &str, seq: EventSeq) -> Result<()>;
}

/// The one write path of the telemetry plane: a unit of work's effects in
/// one transaction.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Commits everything in `effects` atomically: readings, plugin state,
    /// alarm signals (through [`nexus_model::lifecycle::apply_signal`]),
    /// recommendations, failed runs, dead letters, quarantines, metered use
    /// and the outbox events of all of them ([`crate::outbox_events`]).
    /// Either all of it is durable when this returns `Ok`, or none of it.
    async fn commit(&self, effects: Effects) -> Result<Committed>;

    /// Commits several units of work (of any tenants) in one transaction:
    /// group commit. Either every one is durable when this returns `Ok` (one
    /// [`Committed`] each, in order), or none is.
    async fn commit_all(&self, batch: Vec<Effects>) -> Result<Vec<Committed>>;
}

/// Well tests: the measured rates and conditions of a well's tests.
#[async_trait]
pub trait WellTestStore: Send + Sync {
    /// Records a test of one of the tenant's wells, with its entity event;
    /// another test of the same well at the same `ts` is a conflict.
    async fn record_well_test(
        &self,
        tenant: &TenantId,
        well: &WellId,
        test: &WellTest,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<RecordedWellTest>;
    /// A well's newest `limit` tests, newest first (not found: no such well
    /// in the tenant).
    async fn well_tests(&self, tenant: &TenantId, well: &WellId, limit: u32) -> Result<Vec<RecordedWellTest>>;
}

/// Setpoints: each (device, parameter)'s current value, unit, limits and
/// source. A confirmed write ([`crate::Effects::setpoint_writes`]) sets the
/// value in the commit that records it.
#[async_trait]
pub trait SetpointStore: Send + Sync {
    /// Sets a setpoint of one of the tenant's devices whole (value, unit,
    /// limits, source), with its entity event.
    async fn put_setpoint(
        &self,
        tenant: &TenantId,
        device: &DeviceId,
        setpoint: &Setpoint,
        actor: &Actor,
        now: TimestampMs,
    ) -> Result<Setpoint>;
    /// A device's setpoints by parameter (not found: no such device in the
    /// tenant).
    async fn setpoints(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<Setpoint>>;
}

/// Recommendations' lives: one compare-and-set step at a time, each with
/// its transition row and event in one transaction. (A recommendation is
/// made by a commit, which also supersedes the proposed ones it replaces.)
#[async_trait]
pub trait RecommendationStore: Send + Sync {
    /// A recommendation of the tenant.
    async fn recommendation(&self, tenant: &TenantId, id: &RecommendationId) -> Result<StoredRecommendation>;
    /// Moves a recommendation from `from` to `to` if it is still `from`
    /// (else a conflict naming its status), with the transition row and its
    /// event.
    #[allow(clippy::too_many_arguments)]
    async fn transition_recommendation(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
        from: RecommendationStatus,
        to: RecommendationStatus,
        actor: &Actor,
        reason: Option<&str>,
        now: TimestampMs,
    ) -> Result<(StoredRecommendation, RecommendationTransition)>;
    /// Recommendations of every tenant in `status` made before `before`
    /// (ms), oldest first, at most `limit` (the approval sweep's reads).
    async fn recommendations_in(
        &self,
        status: RecommendationStatus,
        before: TimestampMs,
        limit: u32,
    ) -> Result<Vec<StoredRecommendation>>;
    /// A recommendation's steps, oldest first.
    async fn recommendation_transitions(
        &self,
        tenant: &TenantId,
        id: &RecommendationId,
    ) -> Result<Vec<RecommendationTransition>>;
}

/// Forecasts: the newest of each (device, key), written by commits
/// ([`crate::Effects::forecasts`]).
#[async_trait]
pub trait ForecastStore: Send + Sync {
    /// The newest forecast of each key of a device, by key.
    async fn forecasts(&self, tenant: &TenantId, device: &DeviceId) -> Result<Vec<StoredForecast>>;
}

/// Every port: what the services are given.
pub trait Store:
    EntityStore
    + PluginStore
    + StateStore
    + TelemetryStore
    + AlarmStore
    + RecordStore
    + OutboxStore
    + UnitOfWork
    + crate::IdentityStore
    + crate::MonitorStore
    + crate::NotificationStore
    + crate::ConnectorStore
    + WellTestStore
    + SetpointStore
    + RecommendationStore
    + ForecastStore
    + crate::ReleaseStore
{
    /// The backend's name, e.g. `sqlite`.
    fn backend(&self) -> &'static str;

    /// How many writing transactions may usefully run at once: 1 where
    /// writes are serialized anyway (SQLite's single writer), more where
    /// the database runs them side by side.
    fn concurrent_writers(&self) -> usize {
        1
    }
}
