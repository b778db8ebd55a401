//! Typed ids: one newtype per kind of thing, so a device id cannot be passed
//! where a binding id is expected. Each is a string on the wire and in
//! storage (serde-transparent); [`EventSeq`] is the outbox's position.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// A fresh random id (a UUID v4, as text).
            pub fn random() -> Self {
                Self(crate::random_uuid())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the id is empty (a decoder may leave a device id empty).
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The id as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_id!(
    /// A tenant: the unit of isolation.
    TenantId
);
string_id!(
    /// A device: a source of telemetry with a credential.
    DeviceId
);
string_id!(
    /// A well.
    WellId
);
string_id!(
    /// A wellpad (a group of wells).
    WellpadId
);
string_id!(
    /// A well test recorded for a well.
    WellTestId
);
string_id!(
    /// A binding: a plugin version bound to devices with a configuration.
    BindingId
);
string_id!(
    /// One uploaded version of a plugin (what a binding runs).
    PluginVersionId
);
string_id!(
    /// An alarm.
    AlarmId
);
string_id!(
    /// A recommendation of an optimizer.
    RecommendationId
);
string_id!(
    /// A person who logs in (a system administrator, a tenant's or a
    /// vendor's user).
    UserId
);
string_id!(
    /// A vendor: an organisation that publishes components for tenants.
    VendorId
);
string_id!(
    /// A vendor's signing key.
    VendorKeyId
);
string_id!(
    /// One published version of a vendor's package in the catalogue.
    ReleaseId
);
string_id!(
    /// A machine credential of a tenant or a vendor.
    ApiKeyId
);
string_id!(
    /// A login session: the family of refresh tokens one login starts.
    SessionId
);
string_id!(
    /// A notification rule: which alarm transitions a tenant sends where.
    NotificationRuleId
);
string_id!(
    /// A tenant's connector to its field (an MQTT broker, Modbus slaves).
    ConnectorId
);
string_id!(
    /// One notification to send: a rule's delivery of one event.
    NotificationDeliveryId
);
string_id!(
    /// A backtest: a rule version run over stored data in virtual time.
    BacktestId
);
string_id!(
    /// One run of a scheduled binding (optimizer, field optimizer,
    /// forecaster) over its devices.
    RunId
);

/// The position of an event in the outbox: strictly increasing in commit
/// order, so a subscriber's cursor is one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventSeq(pub i64);

impl fmt::Display for EventSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_strings_on_the_wire_and_distinct_types() {
        let device = DeviceId::new("d-1");
        assert_eq!(serde_json::to_string(&device).unwrap(), "\"d-1\"");
        let back: DeviceId = serde_json::from_str("\"d-1\"").unwrap();
        assert_eq!(back, device);
        assert_eq!(device, "d-1");
        assert_ne!(DeviceId::random(), DeviceId::random());
        assert_eq!(DeviceId::random().as_str().len(), 36);
    }
}
