//! Alarm rules as pure logic over a configuration and state, with the host
//! glue generated once by [`export_stateful_alarm_rule!`](crate::export_stateful_alarm_rule).
//!
//! - [`StatefulAlarmRule`]: the usual shape. The state is one value under
//!   one key; the generated component parses the binding's configuration
//!   (once per configuration text on a warm instance: `host::with_config`),
//!   loads the state, calls [`StatefulAlarmRule::evaluate`] and saves the state
//!   only if it changed (and only because the call succeeds: a failed call's
//!   writes are dropped by the host).
//! - [`StoreAlarmRule`]: for rules whose state spans several keys that they
//!   load and save themselves (one value per detector, a buffer in chunks).
//!   Every `StatefulAlarmRule` is a `StoreAlarmRule` too.
//!
//! The same logic runs natively under `testing::Harness`, with the state
//! carried between calls as JSON bytes exactly as the host carries it.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::state::StateStore;
use crate::{AlarmSignal, PluginError, PluginInfo, Series, host};

/// An alarm rule whose state is one JSON value under [`Self::STATE_KEY`].
///
/// ```
/// use nexus_plugin_sdk::{AlarmSignal, PluginError, PluginInfo, Series, Severity, StatefulAlarmRule};
///
/// /// Raises `High` once `key` has been above `limit` in three batches in a row.
/// pub struct ThreeStrikes;
///
/// #[derive(serde::Deserialize)]
/// pub struct Config { key: String, limit: f64 }
///
/// impl StatefulAlarmRule for ThreeStrikes {
///     type Config = Config;
///     type State = u32; // batches in a row with a value above the limit
///     const STATE_KEY: &'static str = "strikes";
///
///     fn describe() -> PluginInfo {
///         PluginInfo {
///             name: "three-strikes".into(),
///             version: "0.1.0".into(),
///             description: "Raises High after three batches in a row above the limit.".into(),
///             config_schema: r#"{"type":"object","required":["key","limit"]}"#.into(),
///         }
///     }
///
///     fn evaluate(
///         config: &Config,
///         strikes: &mut u32,
///         device_id: &str,
///         now: i64,
///         batch: &[Series],
///     ) -> Result<Vec<AlarmSignal>, PluginError> {
///         let above = nexus_plugin_sdk::series(batch, &config.key)
///             .is_some_and(|s| s.numbers().any(|(_, v)| v > config.limit));
///         *strikes = if above { *strikes + 1 } else { 0 };
///         Ok(if *strikes == 3 {
///             vec![AlarmSignal::raise_at(device_id, now, "High", Severity::Major, serde_json::json!({}))]
///         } else {
///             Vec::new()
///         })
///     }
/// }
///
/// nexus_plugin_sdk::export_stateful_alarm_rule!(ThreeStrikes);
/// ```
pub trait StatefulAlarmRule {
    /// The binding configuration. Put its checks in its `Deserialize` (see
    /// [`crate::config`]): a configuration that does not deserialize fails the
    /// call with code `invalid-config`.
    type Config: DeserializeOwned;
    /// What the rule remembers per (binding, device) between calls. A missing
    /// or unreadable value starts from `Default`.
    type State: Serialize + DeserializeOwned + Default + PartialEq + Clone;
    /// The state key the value is kept under.
    const STATE_KEY: &'static str;

    /// Name, version, description and the JSON Schema of [`Self::Config`].
    fn describe() -> PluginInfo;

    /// The rule: folds one batch of `device_id` (one [`Series`] per key, each
    /// sorted by `ts`) into `state` at the call's time `now` and returns the
    /// raise and clear signals. Pure: no host calls needed.
    fn evaluate(
        config: &Self::Config,
        state: &mut Self::State,
        device_id: &str,
        now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError>;

    /// Whether a batch holds anything the rule reads; when it does not, the
    /// call returns no signals without loading or saving the state. The
    /// default says yes.
    fn is_relevant(_config: &Self::Config, _batch: &[Series]) -> bool {
        true
    }
}

/// An alarm rule that keeps its state in several keys of a [`StateStore`],
/// loading and saving them itself.
pub trait StoreAlarmRule {
    /// The binding configuration (see [`StatefulAlarmRule::Config`]).
    type Config: DeserializeOwned;

    /// Name, version, description and the JSON Schema of [`Self::Config`].
    fn describe() -> PluginInfo;

    /// The rule on one batch of `device_id` at the call's time `now`, with its
    /// state in `store`.
    fn evaluate<S: StateStore>(
        config: &Self::Config,
        store: &mut S,
        device_id: &str,
        now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError>;
}

impl<R: StatefulAlarmRule> StoreAlarmRule for R {
    type Config = R::Config;

    fn describe() -> PluginInfo {
        <R as StatefulAlarmRule>::describe()
    }

    /// Loads the state, runs the rule and saves the state if it changed.
    fn evaluate<S: StateStore>(
        config: &R::Config,
        store: &mut S,
        device_id: &str,
        now: i64,
        batch: &[Series],
    ) -> Result<Vec<AlarmSignal>, PluginError> {
        if !R::is_relevant(config, batch) {
            return Ok(Vec::new());
        }
        store.update(R::STATE_KEY, |state: &mut R::State| {
            <R as StatefulAlarmRule>::evaluate(config, state, device_id, now, batch)
        })
    }
}

/// One call of a rule in the component: the binding's configuration, the
/// host's state and time. Called by the code
/// [`export_stateful_alarm_rule!`](crate::export_stateful_alarm_rule) generates.
#[doc(hidden)]
pub fn evaluate_on_host<R: StoreAlarmRule>(device_id: &str, batch: &[Series]) -> Result<Vec<AlarmSignal>, PluginError>
where
    R::Config: 'static,
{
    host::with_config(|config: &R::Config| R::evaluate(config, &mut host::HostStore, device_id, host::now(), batch))
}

/// Makes a [`StatefulAlarmRule`] (or a [`StoreAlarmRule`]) the component's
/// `alarm-rule` export: implements [`AlarmRule`](crate::AlarmRule) for it
/// over the host's configuration, state and time and, when building for
/// wasm, exports it. Takes a type name (an identifier), not a path.
#[macro_export]
macro_rules! export_stateful_alarm_rule {
    ($rule:ident) => {
        impl $crate::AlarmRule for $rule {
            fn describe() -> $crate::PluginInfo {
                <$rule as $crate::StoreAlarmRule>::describe()
            }

            fn evaluate(
                device_id: ::std::string::String,
                batch: ::std::vec::Vec<$crate::Series>,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::AlarmSignal>, $crate::PluginError> {
                $crate::rule::evaluate_on_host::<$rule>(&device_id, &batch)
            }
        }

        #[cfg(target_arch = "wasm32")]
        $crate::export_alarm_rule!($rule);
    };
}
