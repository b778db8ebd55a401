//! The JSON Schema (draft 2020-12) of the binding configuration, returned by
//! `describe()`. It is kept as a static file (`schema.json`) so that the
//! component does not carry code to build it. The validation in
//! [`crate::config`] is stricter (operator/value combinations, duplicate
//! severities, limits); the schema is for editors and forms.

/// The JSON Schema of the configuration, as text.
pub const CONFIG_SCHEMA: &str = include_str!("schema.json");

#[cfg(test)]
mod tests {
    #[test]
    fn schema_is_draft_2020_12_and_names_the_required_fields() {
        let schema: serde_json::Value = serde_json::from_str(super::CONFIG_SCHEMA).expect("valid JSON");
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert_eq!(schema["required"], serde_json::json!(["alarm_type", "severities"]));
        assert!(schema["$defs"]["rule"]["properties"]["duration_ms"].is_object());
        assert_eq!(schema["properties"]["severities"]["maxItems"], 5);
    }
}
