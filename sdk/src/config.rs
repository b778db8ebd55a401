//! Binding configurations: JSON text → your config type, with every problem
//! reported as a `PluginError` with code `invalid-config`. Put the checks in
//! the type's `Deserialize` (e.g. `#[serde(try_from = "Raw")]`) and they run
//! here too.

use serde::de::DeserializeOwned;

use crate::PluginError;

/// The stable code of a bad configuration.
pub const INVALID: &str = "invalid-config";

/// A `PluginError` with code `invalid-config`.
pub fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::new(INVALID, message)
}

/// Parses configuration text (empty text means `{}`: all defaults).
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, PluginError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    from_value(serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?)
}

/// Converts configuration already parsed as JSON; it must be an object.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, PluginError> {
    if !value.is_object() {
        return Err(invalid("the configuration must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| invalid(e.to_string()))
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
}
