//! Tests of the node map's checks: defaults, lookups, and a message naming
//! the entry and field for each mistake.

use super::*;
use crate::units::Unit;

fn error(json: &str) -> String {
    let e = parse_config(json).expect_err("invalid");
    assert_eq!(e.code, "invalid-config");
    e.message
}

#[test]
fn defaults_pass_values_unchanged() {
    let config = parse_config(r#"{"nodes": [{"node": "ns=2;s=F", "key": "f"}]}"#).expect("valid");
    let entry = config.get("ns=2;s=F").expect("mapped");
    assert_eq!((entry.key.as_str(), entry.scale, entry.offset, entry.conversion), ("f", 1.0, 0.0, None));
    assert!(entry.is_identity());
    assert_eq!(entry.apply(42.5), 42.5);
    assert!(config.get("ns=2;s=f").is_none(), "node ids are case-sensitive");
}

#[test]
fn scale_and_offset_come_before_the_conversion() {
    let config = parse_config(
        r#"{"nodes": [{"node": "n", "key": "p_kpa", "scale": 0.1, "offset": 14.7, "unit_from": "psi", "unit_to": "kPa"}]}"#,
    )
    .expect("valid");
    let entry = &config.nodes[0];
    assert_eq!(entry.conversion.map(|c| (c.from, c.to)), Some((Unit::Psi, Unit::KPa)));
    assert!(!entry.is_identity());
    // 1000 tenths of psi + 14.7 = 114.7 psi = 790.8386... kPa.
    assert!((entry.apply(1000.0) - 114.7 * 6.894_757_293_168_361).abs() < 1e-9);
}

#[test]
fn mistakes_name_the_entry_and_field() {
    let ok = r#"{"node": "a", "key": "a"}"#;
    let cases = [
        (r#"{"key": "b"}"#, "`nodes[1].node` is missing"),
        (r#"{"node": "", "key": "b"}"#, "`nodes[1].node` must not be empty"),
        (r#"{"node": 3, "key": "b"}"#, "`nodes[1].node` must be a string, got a number"),
        (r#"{"node": "b"}"#, "`nodes[1].key` is missing"),
        (r#"{"node": "b", "key": ""}"#, "`nodes[1].key` must be 1 to 255 bytes"),
        (r#"{"node": "b", "key": "b", "scale": 0}"#, "`nodes[1].scale` must not be 0"),
        (r#"{"node": "b", "key": "b", "offset": "1"}"#, "`nodes[1].offset` must be a number, got a string"),
        (
            r#"{"node": "b", "key": "b", "unit_from": "psi"}"#,
            "`nodes[1].unit_from` is set but `nodes[1].unit_to` is not",
        ),
        (r#"{"node": "b", "key": "b", "unit_to": "kPa"}"#, "`nodes[1].unit_to` is set but `nodes[1].unit_from` is not"),
        (
            r#"{"node": "b", "key": "b", "unit_from": "psi", "unit_to": "degC"}"#,
            "`nodes[1].unit_from` (\"psi\") and `nodes[1].unit_to` (\"degC\") measure different things",
        ),
        (
            r#"{"node": "b", "key": "b", "units": "psi"}"#,
            "`nodes[1]`: unknown field `units` (expected one of node, key, scale, offset, unit_from, unit_to)",
        ),
        (r#"{"node": "b", "key": "a"}"#, "`nodes[0].key` and `nodes[1].key` must be distinct, both are \"a\""),
        (r#"{"node": "a", "key": "b"}"#, "`nodes[0].node` and `nodes[1].node` must be distinct, both are \"a\""),
        ("null", "`nodes[1]` must be an object, got null"),
    ];
    for (entry, message) in cases {
        assert_eq!(error(&format!(r#"{{"nodes": [{ok}, {entry}]}}"#)), message);
    }
    let unknown = error(r#"{"nodes": [{"node": "b", "key": "b", "unit_from": "atm", "unit_to": "kPa"}]}"#);
    assert!(unknown.starts_with("`nodes[0].unit_from`: unknown unit \"atm\" (expected one of psi, kPa"), "{unknown}");
}

#[test]
fn the_list_itself_is_checked() {
    assert_eq!(error("{}"), "`nodes` is missing: list the nodes to decode");
    assert_eq!(error(r#"{"nodes": []}"#), "`nodes` must list at least one node");
    assert_eq!(error(r#"{"nodes": "a"}"#), "`nodes` must be an array, got a string");
    assert_eq!(error(r#"{"registers": []}"#), "unknown field `registers` (expected `nodes`)");
    assert_eq!(error("true"), "the configuration must be a JSON object");
}

#[test]
fn the_map_is_limited_to_ten_thousand_entries() {
    let entries =
        |n: usize| (0..n).map(|i| format!(r#"{{"node": "ns=2;i={i}", "key": "k{i}"}}"#)).collect::<Vec<_>>().join(",");
    let at_limit = parse_config(&format!(r#"{{"nodes": [{}]}}"#, entries(MAX_NODES))).expect("at the limit");
    assert_eq!(at_limit.get("ns=2;i=9999").map(|n| n.key.as_str()), Some("k9999"));
    let over = error(&format!(r#"{{"nodes": [{}]}}"#, entries(MAX_NODES + 1)));
    assert_eq!(over, "`nodes` lists 10001 entries, at most 10000 are allowed");
}

#[test]
fn the_schema_lists_every_field_and_unit() {
    let schema = config_schema();
    let properties = &schema["properties"]["nodes"]["items"]["properties"];
    for field in FIELDS {
        assert!(properties.get(field).is_some(), "{field}");
    }
    assert_eq!(properties["unit_to"]["enum"].as_array().map(Vec::len), Some(names().count()));
}
