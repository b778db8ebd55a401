//! Binding configurations: JSON text → your config type, with every problem
//! reported as a `PluginError` with code `invalid-config`. Put the checks in
//! the type's `Deserialize` (e.g. `#[serde(try_from = "Raw")]`) and they run
//! here too.
//!
//! The checks most configurations need are here as functions that return
//! the checked value or a message naming the field, for `TryFrom` impls:
//!
//! ```
//! use nexus_plugin_sdk::config::{self, in_range, non_empty, positive, seconds_ms};
//!
//! #[derive(serde::Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Raw { key: String, rise_pct: f64, window_s: u64, level: f64 }
//!
//! #[derive(serde::Deserialize)]
//! #[serde(try_from = "Raw")]
//! struct Config { key: String, rise_pct: f64, window_ms: i64, level: f64 }
//!
//! impl TryFrom<Raw> for Config {
//!     type Error = String;
//!     fn try_from(raw: Raw) -> Result<Self, String> {
//!         Ok(Self {
//!             key: non_empty("key", raw.key)?,
//!             rise_pct: in_range("rise_pct", raw.rise_pct, 0.0..=100.0)?,
//!             window_ms: seconds_ms("window_s", raw.window_s)?,
//!             level: positive("level", raw.level)?,
//!         })
//!     }
//! }
//!
//! let error = config::parse::<Config>(r#"{"key": "p", "rise_pct": 150, "window_s": 10, "level": 1}"#)
//!     .err()
//!     .expect("out of range");
//! assert_eq!(error.code, "invalid-config");
//! assert_eq!(error.message, "`rise_pct` must be in [0, 100], got 150");
//! ```

use std::fmt::Display;
use std::ops::{Bound, RangeBounds};

use serde::de::DeserializeOwned;

use crate::{PluginError, Severity};

/// The stable code of a bad configuration.
pub const INVALID: &str = "invalid-config";

/// A `PluginError` with code `invalid-config`.
pub fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::new(INVALID, message)
}

/// Parses configuration text (empty text means `{}`: all defaults).
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    // Straight into `T` when that works (no JSON tree built); otherwise
    // through the tree, whose errors name no line and column.
    if json.trim_start().starts_with('{')
        && let Ok(config) = serde_json::from_str(json)
    {
        return Ok(config);
    }
    from_value(serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?)
}

/// Converts configuration already parsed as JSON; it must be an object.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, PluginError> {
    if !value.is_object() {
        return Err(invalid("the configuration must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
}

/// `value` if it is a finite number.
pub fn finite(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() { Ok(value) } else { Err(format!("`{name}` must be a finite number, got {value}")) }
}

/// `value` if it is a finite number > 0.
pub fn positive(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!("`{name}` must be a finite number > 0, got {value}"))
    }
}

/// `value` if it is a finite number ≥ 0.
pub fn non_negative(name: &str, value: f64) -> Result<f64, String> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(format!("`{name}` must be a finite number ≥ 0, got {value}"))
    }
}

/// `value` if `range` contains it (NaN is in no range); the message writes
/// the range as an interval, e.g. `(0, 100)` or `[2, 3600]`.
pub fn in_range<T, R>(name: &str, value: T, range: R) -> Result<T, String>
where
    T: PartialOrd + Display,
    R: RangeBounds<T>,
{
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!("`{name}` must be in {}, got {value}", interval(&range)))
    }
}

fn interval<T: Display>(range: &impl RangeBounds<T>) -> String {
    let start = match range.start_bound() {
        Bound::Included(v) => format!("[{v}"),
        Bound::Excluded(v) => format!("({v}"),
        Bound::Unbounded => "(-∞".to_string(),
    };
    let end = match range.end_bound() {
        Bound::Included(v) => format!("{v}]"),
        Bound::Excluded(v) => format!("{v})"),
        Bound::Unbounded => "∞)".to_string(),
    };
    format!("{start}, {end}")
}

/// `text` if it is not empty (a key, an alarm type).
pub fn non_empty(name: &str, text: String) -> Result<String, String> {
    if text.is_empty() { Err(format!("`{name}` must not be empty")) } else { Ok(text) }
}

/// Checks that no key is empty and no two are the same; each key comes with
/// the name of its field (e.g. `("t_tpt_key", "T-TPT")` or `("keys[2]", "QGL")`).
pub fn distinct_keys<'a, N: Display>(keys: impl IntoIterator<Item = (N, &'a str)>) -> Result<(), String> {
    let mut seen: Vec<(N, &str)> = Vec::new();
    for (name, key) in keys {
        if key.is_empty() {
            return Err(format!("`{name}` must not be empty"));
        }
        if let Some((first, _)) = seen.iter().find(|(_, k)| *k == key) {
            return Err(format!("`{first}` and `{name}` must be distinct keys, both are {key:?}"));
        }
        seen.push((name, key));
    }
    Ok(())
}

/// A number of seconds as milliseconds, if that fits an `i64`.
pub fn seconds_ms(name: &str, seconds: u64) -> Result<i64, String> {
    seconds
        .checked_mul(1000)
        .and_then(|ms| i64::try_from(ms).ok())
        .ok_or_else(|| format!("`{name}` ({seconds}) is too large"))
}

/// A severity by ThingsBoard's name, case-insensitively.
pub fn severity(name: &str, value: &str) -> Result<Severity, String> {
    Severity::parse(value).ok_or_else(|| {
        format!("`{name}`: unknown severity {value:?} (expected critical, major, minor, warning or indeterminate)")
    })
}

/// [`severity`] of an optional field, `default` when it is not set.
pub fn severity_or(name: &str, value: Option<&str>, default: Severity) -> Result<Severity, String> {
    value.map_or(Ok(default), |value| severity(name, value))
}

/// The JSON Schema of a severity field (any case of the five names).
pub fn severity_schema(default: &str, description: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "string",
        "enum": ["critical", "major", "minor", "warning", "indeterminate",
                 "CRITICAL", "MAJOR", "MINOR", "WARNING", "INDETERMINATE"],
        "default": default,
        "description": description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        limit: f64,
    }

    #[test]
    fn configurations_parse_or_say_why_not() {
        assert_eq!(parse::<Config>("").unwrap(), Config { limit: 0.0 });
        assert_eq!(parse::<Config>(r#"{"limit": 2.5}"#).unwrap(), Config { limit: 2.5 });
        for (text, reason) in
            [("[1]", "JSON object"), ("{oops", "key must be a string"), (r#"{"x": 1}"#, "unknown field")]
        {
            let error = parse::<Config>(text).unwrap_err();
            assert_eq!(error.code, INVALID);
            assert!(error.message.contains(reason), "{text}: {}", error.message);
        }
    }

    #[test]
    fn numbers_are_checked() {
        assert_eq!(finite("x", -2.0), Ok(-2.0));
        assert_eq!(finite("x", f64::INFINITY), Err("`x` must be a finite number, got inf".into()));
        assert_eq!(positive("x", 0.5), Ok(0.5));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(positive("x", bad).is_err(), "{bad}");
        }
        assert_eq!(non_negative("x", 0.0), Ok(0.0));
        assert_eq!(non_negative("x", -0.1), Err("`x` must be a finite number ≥ 0, got -0.1".into()));
        assert!(non_negative("x", f64::NAN).is_err());
    }

    #[test]
    fn ranges_name_their_interval() {
        assert_eq!(in_range("w", 2usize, 2..=10), Ok(2));
        assert_eq!(in_range("w", 11usize, 2..=10), Err("`w` must be in [2, 10], got 11".into()));
        let open = (Bound::Excluded(0.0), Bound::Excluded(100.0));
        assert_eq!(in_range("pct", 50.0, open), Ok(50.0));
        assert_eq!(in_range("pct", 100.0, open), Err("`pct` must be in (0, 100), got 100".into()));
        assert!(in_range("pct", f64::NAN, 0.0..1.0).is_err());
        assert_eq!(in_range("q", 1.0, 0.0..1.0), Err("`q` must be in [0, 1), got 1".into()));
        assert_eq!(in_range("n", -1, 0..), Err("`n` must be in [0, ∞), got -1".into()));
    }

    #[test]
    fn keys_and_texts_are_checked() {
        assert_eq!(non_empty("key", "p".into()), Ok("p".to_string()));
        assert_eq!(non_empty("key", String::new()), Err("`key` must not be empty".into()));
        assert_eq!(distinct_keys([("t", "a"), ("p", "b")]), Ok(()));
        assert_eq!(distinct_keys([("t", "a"), ("p", "")]), Err("`p` must not be empty".into()));
        let list = ["a", "b", "a"];
        assert_eq!(
            distinct_keys(list.iter().enumerate().map(|(i, k)| (format!("keys[{i}]"), *k))),
            Err("`keys[0]` and `keys[2]` must be distinct keys, both are \"a\"".into())
        );
    }

    #[test]
    fn seconds_become_milliseconds_or_too_large() {
        assert_eq!(seconds_ms("t", 90), Ok(90_000));
        assert_eq!(seconds_ms("t", u64::MAX), Err(format!("`t` ({}) is too large", u64::MAX)));
        assert!(seconds_ms("t", i64::MAX as u64 / 1000 + 1).is_err());
    }

    #[test]
    fn severities_parse_with_a_default() {
        assert_eq!(severity("severity", "CRITICAL"), Ok(Severity::Critical));
        let error = severity("severity", "fatal").expect_err("unknown");
        assert!(error.starts_with("`severity`: unknown severity \"fatal\""), "{error}");
        assert_eq!(severity_or("severity", None, Severity::Minor), Ok(Severity::Minor));
        assert_eq!(severity_or("severity", Some("warning"), Severity::Minor), Ok(Severity::Warning));
        let schema = severity_schema("major", "Severity.");
        assert_eq!(schema["default"], "major");
        assert_eq!(schema["enum"].as_array().map(Vec::len), Some(10));
    }
}
