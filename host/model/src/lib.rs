//! # nexus-model
//!
//! The domain vocabulary every Nexus crate shares, and the domain decisions
//! that need no I/O: typed ids, readings and frames, alarm signals and
//! alarms with their lifecycle as pure functions ([`lifecycle`]), the
//! entities of a field, plugins and bindings, recommendations and records,
//! the events of the outbox, notification rules and their matching,
//! per-call limits, tenant profiles and the one [`Clock`] the host reads
//! time from. No I/O and no heavy dependencies, so the runtime, storage,
//! services and API can all speak it without knowing each other.

mod actor;
mod alarm;
mod clock;
mod connector;
mod entities;
mod event;
mod identity;
mod ids;
pub mod lifecycle;
mod limits;
mod notification;
mod plugin;
mod profile;
mod query;
mod records;
mod release;
mod rollout;
mod series;
mod telemetry;
mod token;

pub use actor::{Actor, ParseActorError};
pub use alarm::{Alarm, AlarmAction, AlarmSignal, AlarmStatus, Severity};
pub use clock::Clock;
pub use connector::{
    Connector, ConnectorKind, ConnectorProblem, ConnectorSettings, ConnectorState, ConnectorStatus, KafkaSettings,
    ModbusDevice, ModbusSetpoint, ModbusSettings, MqttSettings, OpcUaDevice, OpcUaMode, OpcUaSetpoint, OpcUaSettings,
    PartitionLag, REDACTED, RegisterBlock, RegisterTable, SetpointWrite, SetpointWriteRecord, WordOrder, WordType,
    WriteOutcome, default_kafka_group, default_kafka_topic, default_topics,
};
pub use entities::{Device, RecordedWellTest, Tenant, Well, Wellpad};
pub use event::{DeadLetterSummary, EntityAction, EntityChange, EntityKind, Event, EventBody, NewEvent};
pub use identity::{ApiKey, AuditEntry, Credential, ParseRoleError, Principal, Role, Scope, Session, User, Vendor};
pub use ids::{
    AlarmId, ApiKeyId, BacktestId, BindingId, ConnectorId, DeviceId, EventSeq, NotificationDeliveryId,
    NotificationRuleId, PluginVersionId, RecommendationId, ReleaseId, RunId, SessionId, TenantId, UserId, VendorId,
    VendorKeyId, WellId, WellTestId, WellpadId,
};
pub use lifecycle::{AlarmComment, AlarmEvent, AlarmTransition, OperatorAction, TransitionKind};
pub use limits::Limits;
pub use notification::{
    Channel, ChannelKind, DeadNotification, DeliveryOutcome, DeliveryStatus, NotificationDelivery, NotificationFilter,
    NotificationRule,
};
pub use plugin::{
    AutoApprove, Binding, CronSchedule, FieldConstraints, FieldContext, FieldPlan, Forecast, ForecastPoint,
    InjectionBounds, OpenAlarm, OpenRecommendation, PluginError, PluginInfo, PluginKind, PluginRef, PluginVersion,
    Readback, Recommendation, Setpoint, SetpointSource, StoredForecast, WellContext, WellTest,
};
pub use profile::{
    EntityQuotas, IngestLimits, ParseRateError, QuotaKind, RateLimits, RateWindow, RateWindows, TenantProfile, Usage,
    month_of,
};
pub use query::{Aggregation, AlarmFilter, Bucket, Page, SortOrder};
pub use records::{DeadLetter, PluginRun, RecommendationStatus, RecommendationTransition, Stage, StoredRecommendation};
pub use release::{Release, ReleaseStatus, TrustedVendor, VendorKey, schema_changes};
pub use rollout::{
    MAX_ROLLOUT_WINDOW_MS, Rollout, RolloutEvent, RolloutMode, RolloutStep, RolloutTally, Verdict, canary_bucket,
};
pub use series::{Column, Series, ShapeError, merge_series, series_of, sort_by_time};
pub use telemetry::{Frame, Reading, SourceKind, Value};
pub use token::{check_chosen_token, estimated_bits, is_token_hash, new_access_token, token_hash};

/// Milliseconds since the Unix epoch, UTC.
pub type TimestampMs = i64;

/// A new random UUID v4 as text.
pub(crate) fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}
