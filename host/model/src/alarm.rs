//! Alarms: what rules signal and what the host keeps.

use serde::{Deserialize, Serialize};

use crate::{AlarmId, BindingId, DeviceId, TenantId, TimestampMs, WellId, WellpadId};

/// Alarm severities, most severe first (ThingsBoard's five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// Service is lost or equipment at risk now.
    Critical,
    /// Serious degradation.
    Major,
    /// Degradation that can wait.
    Minor,
    /// A potential problem.
    Warning,
    /// Severity not known.
    Indeterminate,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::Major, Severity::Minor, Severity::Warning, Severity::Indeterminate];

    /// The stable upper-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::Major => "MAJOR",
            Severity::Minor => "MINOR",
            Severity::Warning => "WARNING",
            Severity::Indeterminate => "INDETERMINATE",
        }
    }

    /// Whether `self` is more severe than `other`.
    pub fn is_more_severe_than(self, other: Self) -> bool {
        self < other
    }

    /// Parses a name case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(name))
    }
}

/// Raise (or update) versus clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlarmAction {
    /// Raise the alarm, or update the severity of the open one.
    Raise,
    /// Clear the open alarm.
    Clear,
}

/// What an alarm rule asks of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmSignal {
    /// Raise or clear.
    pub action: AlarmAction,
    /// The originator.
    pub device_id: DeviceId,
    /// Alarm type, unique per open alarm of a device.
    pub alarm_type: String,
    /// Severity (ignored for clear).
    pub severity: Severity,
    /// Time of the reading that caused the signal.
    pub ts: TimestampMs,
    /// JSON object text explaining the signal.
    pub details: String,
}

/// ThingsBoard's four alarm states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmStatus {
    /// Open, nobody acknowledged it yet.
    ActiveUnack,
    /// Open and acknowledged.
    ActiveAck,
    /// Cleared before anybody acknowledged it.
    ClearedUnack,
    /// Cleared and acknowledged: closed.
    ClearedAck,
}

impl AlarmStatus {
    /// The stable upper-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmStatus::ActiveUnack => "ACTIVE_UNACK",
            AlarmStatus::ActiveAck => "ACTIVE_ACK",
            AlarmStatus::ClearedUnack => "CLEARED_UNACK",
            AlarmStatus::ClearedAck => "CLEARED_ACK",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::ActiveUnack, Self::ActiveAck, Self::ClearedUnack, Self::ClearedAck]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether the alarm is still open (not cleared).
    pub fn is_active(self) -> bool {
        matches!(self, AlarmStatus::ActiveUnack | AlarmStatus::ActiveAck)
    }

    /// The state after an acknowledgement.
    pub fn acknowledged(self) -> Self {
        match self {
            AlarmStatus::ActiveUnack | AlarmStatus::ActiveAck => AlarmStatus::ActiveAck,
            AlarmStatus::ClearedUnack | AlarmStatus::ClearedAck => AlarmStatus::ClearedAck,
        }
    }

    /// The state after a clear.
    pub fn cleared(self) -> Self {
        match self {
            AlarmStatus::ActiveUnack | AlarmStatus::ClearedUnack => AlarmStatus::ClearedUnack,
            AlarmStatus::ActiveAck | AlarmStatus::ClearedAck => AlarmStatus::ClearedAck,
        }
    }
}

/// An alarm as the host keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// Alarm id.
    pub id: AlarmId,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// Originator device.
    pub device_id: DeviceId,
    /// Alarm type.
    pub alarm_type: String,
    /// Current severity.
    pub severity: Severity,
    /// Current state.
    pub status: AlarmStatus,
    /// Time of the first raise.
    pub start_ts: TimestampMs,
    /// Time of the latest raise or update.
    pub end_ts: TimestampMs,
    /// Time of acknowledgement.
    pub ack_ts: Option<TimestampMs>,
    /// Time of clearing.
    pub clear_ts: Option<TimestampMs>,
    /// The binding whose rule raised it, if a rule did.
    pub binding_id: Option<BindingId>,
    /// Latest details JSON.
    pub details: serde_json::Value,
    /// Who it is assigned to.
    pub assignee: Option<String>,
    /// The originator's well, when the alarm propagates to it.
    pub well_id: Option<WellId>,
    /// The originator's wellpad, when the alarm propagates to it.
    pub wellpad_id: Option<WellpadId>,
}
