//! The binding configuration: JSON as written ([`parse_config`]) and its
//! validated form ([`RuleConfig`]).
//!
//! ```json
//! {"alarm_type": "HighCasingPressure",
//!  "severities": [
//!    {"severity": "critical", "create": {"key": "casing_pressure", "op": ">", "value": 1500, "duration_ms": 60000},
//!     "clear": {"key": "casing_pressure", "op": "<", "value": 1400}},
//!    {"severity": "major", "create": {"any": [{"key": "casing_pressure", "op": ">", "value": 1200},
//!                                            {"key": "alarm_flag", "op": "==", "value": true}], "repeat": 3}}],
//!  "clear": {"all": [{"key": "casing_pressure", "op": "<", "value": 1100}]},
//!  "clear_if_not_recurring_ms": 600000}
//! ```
//!
//! A *rule* (`create`, a severity's `clear`, the global `clear`) is a
//! condition (see [`crate::condition`]) plus optional `duration_ms` (true
//! continuously for that long) or `repeat` (true at that many consecutive
//! evaluations), and an optional `schedule` (see [`crate::schedule`]).

use nexus_plugin_sdk::config::{in_range, severity};
use nexus_plugin_sdk::{PluginError, Severity};
use serde::{Deserialize, Serialize};

use crate::compile::{Compiler, RawCondition};
use crate::condition::{Condition, Latest, MAX_TEXT_BYTES};
use crate::schedule::{RawSchedule, Schedule};

/// The five severities, ordered from least to most severe (so `max` is the
/// most severe). Serialized in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sev {
    /// Indeterminate.
    Indeterminate,
    /// Warning.
    Warning,
    /// Minor.
    Minor,
    /// Major.
    Major,
    /// Critical.
    Critical,
}

impl Sev {
    /// Parses a severity name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        Severity::parse(name).map(Self::from_sdk)
    }

    /// The severity of an SDK severity.
    pub fn from_sdk(severity: Severity) -> Self {
        match severity {
            Severity::Critical => Self::Critical,
            Severity::Major => Self::Major,
            Severity::Minor => Self::Minor,
            Severity::Warning => Self::Warning,
            Severity::Indeterminate => Self::Indeterminate,
        }
    }

    /// The SDK severity.
    pub fn to_sdk(self) -> Severity {
        match self {
            Self::Critical => Severity::Critical,
            Self::Major => Severity::Major,
            Self::Minor => Severity::Minor,
            Self::Warning => Severity::Warning,
            Self::Indeterminate => Severity::Indeterminate,
        }
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Major => "major",
            Self::Minor => "minor",
            Self::Warning => "warning",
            Self::Indeterminate => "indeterminate",
        }
    }
}

/// What makes a rule fire once its condition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// As soon as the condition holds (ThingsBoard SIMPLE).
    Simple,
    /// When it has held continuously for this many ms (DURATION).
    Duration(i64),
    /// When it has held at this many consecutive evaluations with data (REPEATING).
    Repeating(u32),
}

/// A validated rule: condition, trigger and schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The condition.
    pub condition: Condition,
    /// When it fires.
    pub trigger: Trigger,
    /// When it may hold at all (outside the schedule it is false).
    pub schedule: Option<Schedule>,
    /// Indices of the keys the condition reads.
    pub keys: Vec<usize>,
}

impl Rule {
    /// Whether the condition holds at `t` and the schedule is active.
    pub fn holds(&self, values: &[Option<Latest>], t: i64, first_seen: i64) -> bool {
        self.schedule.as_ref().is_none_or(|s| s.is_active(t)) && self.condition.holds(values, t, first_seen)
    }
}

/// How the alarm leaves a severity (see the README, "Severity levels").
#[derive(Debug, Clone, PartialEq)]
pub enum LevelClear {
    /// No own `clear`: the level is released when its create rule stops
    /// firing if no closing rule is configured or `de_escalate` is set;
    /// otherwise it holds until the alarm is closed.
    Default,
    /// `"clear": "never"`: the level holds until the alarm is closed.
    Never,
    /// Its own clear rule releases it (per-severity clear / hysteresis).
    Rule(Box<Rule>),
}

/// One severity level.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// Its severity.
    pub severity: Sev,
    /// The rule that latches it.
    pub create: Rule,
    /// What releases it.
    pub clear: LevelClear,
}

/// A validated configuration; deserializing it validates it (see [`parse_config`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawConfig")]
pub struct RuleConfig {
    /// Alarm type of the signals.
    pub alarm_type: String,
    /// Severity levels, most severe first.
    pub levels: Vec<Level>,
    /// Global clear rule: closes the alarm (when no create rule fires).
    pub clear: Option<Rule>,
    /// Close the alarm when no create rule has fired for this long.
    pub clear_if_not_recurring_ms: Option<i64>,
    /// Release levels without an own `clear` as soon as their create rule
    /// stops firing, even when a closing rule is configured.
    pub de_escalate: bool,
    /// Samples of lower quality are ignored.
    pub min_quality: f32,
    /// Distinct key names the conditions read; conditions refer to them by index.
    pub keys: Vec<String>,
}

impl RuleConfig {
    /// Whether a closing rule (global `clear` or `clear_if_not_recurring_ms`) is configured.
    pub fn has_closing_rule(&self) -> bool {
        self.clear.is_some() || self.clear_if_not_recurring_ms.is_some()
    }

    /// The index of a key name, if a condition reads it.
    pub fn key_index(&self, name: &str) -> Option<usize> {
        self.keys.iter().position(|k| k == name)
    }
}

/// The configuration as written in JSON; nested parts are parsed separately
/// so that errors can name where they are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    alarm_type: String,
    severities: Vec<serde_json::Value>,
    #[serde(default)]
    clear: Option<serde_json::Value>,
    #[serde(default)]
    clear_if_not_recurring_ms: Option<u64>,
    #[serde(default)]
    de_escalate: bool,
    #[serde(default)]
    min_quality: f32,
}

/// A severity level as written in JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    severity: String,
    create: serde_json::Value,
    #[serde(default)]
    clear: Option<serde_json::Value>,
}

/// A rule as written in JSON: the fields of a condition plus the trigger and schedule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    op: Option<String>,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default)]
    ignore_case: Option<bool>,
    #[serde(default)]
    missing_for_ms: Option<u64>,
    #[serde(default)]
    all: Option<Vec<RawCondition>>,
    #[serde(default)]
    any: Option<Vec<RawCondition>>,
    #[serde(default)]
    not: Option<Box<RawCondition>>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    repeat: Option<u32>,
    #[serde(default)]
    schedule: Option<RawSchedule>,
}

/// Parses and validates a binding configuration; any problem is a
/// `PluginError` with code `invalid-config` whose message names the field.
pub fn parse_config(json: &str) -> Result<RuleConfig, PluginError> {
    nexus_plugin_sdk::config::parse(json)
}

impl TryFrom<RawConfig> for RuleConfig {
    type Error = String;

    fn try_from(raw: RawConfig) -> Result<Self, String> {
        validate(raw)
    }
}

/// Validates the whole configuration.
fn validate(raw: RawConfig) -> Result<RuleConfig, String> {
    if raw.alarm_type.trim().is_empty() || raw.alarm_type.len() > MAX_TEXT_BYTES {
        return Err(format!("`alarm_type` must be 1 to {MAX_TEXT_BYTES} bytes and not blank"));
    }
    if raw.severities.is_empty() || raw.severities.len() > 5 {
        return Err("`severities` must list 1 to 5 severity levels".into());
    }
    in_range("min_quality", raw.min_quality, 0.0..=1.0)?;
    let clear_if_not_recurring_ms = match raw.clear_if_not_recurring_ms {
        None => None,
        Some(0) => return Err("`clear_if_not_recurring_ms` must be > 0".into()),
        Some(ms) => Some(i64::try_from(ms).map_err(|_| "`clear_if_not_recurring_ms` is too large")?),
    };
    let mut compiler = Compiler::default();
    let mut levels: Vec<Level> = Vec::with_capacity(raw.severities.len());
    for (i, value) in raw.severities.into_iter().enumerate() {
        let path = format!("severities[{i}]");
        let raw_level: RawLevel = serde_json::from_value(value).map_err(|e| format!("`{path}`: {e}"))?;
        let severity = Sev::from_sdk(severity(&format!("{path}.severity"), &raw_level.severity)?);
        if levels.iter().any(|l| l.severity == severity) {
            return Err(format!("`{path}.severity`: {} is listed twice", severity.name()));
        }
        let create = rule(&mut compiler, raw_level.create, &format!("{path}.create"))?;
        let clear = match raw_level.clear {
            None => LevelClear::Default,
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("never") => LevelClear::Never,
            Some(serde_json::Value::String(s)) => {
                return Err(format!("`{path}.clear`: expected a rule object or \"never\", got {s:?}"));
            }
            Some(value) => LevelClear::Rule(Box::new(rule(&mut compiler, value, &format!("{path}.clear"))?)),
        };
        levels.push(Level { severity, create, clear });
    }
    levels.sort_by_key(|level| std::cmp::Reverse(level.severity));
    let clear = raw.clear.map(|value| rule(&mut compiler, value, "clear")).transpose()?;
    Ok(RuleConfig {
        alarm_type: raw.alarm_type,
        levels,
        clear,
        clear_if_not_recurring_ms,
        de_escalate: raw.de_escalate,
        min_quality: raw.min_quality,
        keys: compiler.keys,
    })
}

/// Validates one rule at `path`.
fn rule(compiler: &mut Compiler, value: serde_json::Value, path: &str) -> Result<Rule, String> {
    if !value.is_object() {
        return Err(format!("`{path}` must be a rule object"));
    }
    let raw: RawRule = serde_json::from_value(value).map_err(|e| format!("`{path}`: {e}"))?;
    let trigger = match (raw.duration_ms, raw.repeat) {
        (Some(_), Some(_)) => return Err(format!("`{path}`: use either `duration_ms` or `repeat`, not both")),
        (Some(0), None) | (None, None) => Trigger::Simple,
        (Some(ms), None) => {
            Trigger::Duration(i64::try_from(ms).map_err(|_| format!("`{path}.duration_ms` is too large"))?)
        }
        (None, Some(0)) => return Err(format!("`{path}.repeat` must be ≥ 1")),
        (None, Some(1)) => Trigger::Simple,
        (None, Some(n)) => Trigger::Repeating(n),
    };
    let schedule = raw.schedule.map(Schedule::from_raw).transpose().map_err(|e| format!("`{path}.schedule`: {e}"))?;
    let condition = compiler.compile(
        RawCondition {
            key: raw.key,
            op: raw.op,
            value: raw.value,
            ignore_case: raw.ignore_case,
            missing_for_ms: raw.missing_for_ms,
            all: raw.all,
            any: raw.any,
            not: raw.not,
        },
        path,
    )?;
    let mut keys = Vec::new();
    condition.keys(&mut keys);
    Ok(Rule { condition, trigger, schedule, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_parses() {
        let config = parse_config(
            r#"{"alarm_type": "HighCasingPressure",
                "severities": [
                  {"severity": "major", "create": {"any": [{"key": "casing_pressure", "op": ">", "value": 1200},
                                                           {"key": "alarm_flag", "op": "==", "value": true}], "repeat": 3}},
                  {"severity": "CRITICAL", "create": {"all": [{"key": "casing_pressure", "op": ">", "value": 1500}], "duration_ms": 60000},
                   "clear": {"key": "casing_pressure", "op": "<", "value": 1400}}
                ],
                "clear": {"all": [{"key": "casing_pressure", "op": "<", "value": 1100}]},
                "clear_if_not_recurring_ms": 600000,
                "min_quality": 0.5}"#,
        )
        .expect("valid");
        assert_eq!(config.levels.iter().map(|l| l.severity).collect::<Vec<_>>(), [Sev::Critical, Sev::Major]);
        assert_eq!(config.levels[0].create.trigger, Trigger::Duration(60_000));
        assert_eq!(config.levels[1].create.trigger, Trigger::Repeating(3));
        assert!(matches!(config.levels[0].clear, LevelClear::Rule(_)));
        assert_eq!(config.keys, ["casing_pressure", "alarm_flag"]);
        assert_eq!(config.levels[1].create.keys, [0, 1]);
        assert!(config.has_closing_rule());
        assert_eq!(config.key_index("alarm_flag"), Some(1));
    }

    #[test]
    fn invalid_configurations_name_the_field() {
        let level = r#"{"severity": "major", "create": {"key": "p", "op": ">", "value": 1}}"#;
        for (json, fragment) in [
            ("[]".to_string(), "JSON object"),
            ("{}".to_string(), "alarm_type"),
            (r#"{"alarm_type": "A", "severities": []}"#.to_string(), "1 to 5"),
            (format!(r#"{{"alarm_type": " ", "severities": [{level}]}}"#), "`alarm_type`"),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}, {level}]}}"#), "listed twice"),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}], "bogus": 1}}"#), "unknown field `bogus`"),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}], "min_quality": 2}}"#), "`min_quality`"),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}], "clear_if_not_recurring_ms": 0}}"#), "must be > 0"),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "huge", "create": {"key": "p", "op": ">", "value": 1}}]}"#.into(),
                "severities[0].severity",
            ),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "minor", "create": {"key": "p", "op": ">", "value": 1, "duration_ms": 5, "repeat": 2}}]}"#.into(),
                "not both",
            ),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "minor", "create": {"key": "p", "op": ">", "value": 1, "repeat": 0}}]}"#.into(),
                "`severities[0].create.repeat`",
            ),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "minor", "create": {"key": "p", "op": ">", "value": 1}, "clear": "sometimes"}]}"#.into(),
                "\"never\"",
            ),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "minor", "create": {"all": [{"key": "p", "op": ">", "value": 1}, {"key": "q", "op": "=~", "value": 1}]}}]}"#.into(),
                "`severities[0].create.all[1]`: unknown `op`",
            ),
            (
                r#"{"alarm_type": "A", "severities": [{"severity": "minor", "create": {"key": "p", "op": ">", "value": 1, "schedule": {"days": ["xyz"]}}}]}"#.into(),
                "`severities[0].create.schedule`",
            ),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}], "clear": 5}}"#), "`clear` must be a rule object"),
            (format!(r#"{{"alarm_type": "A", "severities": [{level}], "clear": {{"key": "p", "op": "<"}}}}"#), "`clear`"),
            ("not json".into(), "expected"),
        ] {
            let err = parse_config(&json).expect_err(&json);
            assert_eq!(err.code, "invalid-config");
            assert!(err.message.contains(fragment), "{json}: {}", err.message);
        }
    }

    #[test]
    fn severities_order_and_names() {
        assert!(Sev::Critical > Sev::Major && Sev::Warning > Sev::Indeterminate);
        for sev in [Sev::Critical, Sev::Major, Sev::Minor, Sev::Warning, Sev::Indeterminate] {
            assert_eq!(Sev::parse(sev.name()), Some(sev));
            assert_eq!(serde_json::to_string(&sev).expect("encode"), format!("\"{}\"", sev.name()));
        }
        assert_eq!(Sev::Major.to_sdk(), Severity::Major);
    }
}
