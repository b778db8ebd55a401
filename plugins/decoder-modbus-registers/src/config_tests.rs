//! Tests of the register map's checks: defaults, and a message naming the
//! entry and field for each mistake.

use super::*;

fn error(json: &str) -> String {
    let e = parse_config(json).expect_err("invalid");
    assert_eq!(e.code, "invalid-config");
    e.message
}

#[test]
fn defaults_are_holding_big_endian_unscaled() {
    let config = parse_config(r#"{"registers": [{"key": "f", "address": 7, "type": "u16"}]}"#).expect("valid");
    assert_eq!(
        config.registers,
        [Register {
            key: "f".into(),
            table: Table::Holding,
            address: 7,
            kind: RegisterType::U16,
            word_order: Order::Big,
            byte_order: Order::Big,
            scale: 1.0,
            offset: 0.0,
        }]
    );
    assert!(config.registers[0].is_identity());
}

#[test]
fn every_field_is_read() {
    let config = parse_config(
        r#"{"registers": [{"key": "p", "table": "input", "address": 65534, "type": "f32",
            "word_order": "little", "byte_order": "little", "scale": 6.894757, "offset": -101.325}]}"#,
    )
    .expect("valid");
    let r = &config.registers[0];
    assert_eq!((r.table, r.address, r.kind), (Table::Input, 65534, RegisterType::F32));
    assert_eq!((r.word_order, r.byte_order, r.scale, r.offset), (Order::Little, Order::Little, 6.894757, -101.325));
    assert!(!r.is_identity());
}

#[test]
fn mistakes_name_the_entry_and_field() {
    let ok = r#"{"key": "a", "address": 0, "type": "u16"}"#;
    let cases = [
        (
            r#"{"key": "b", "address": 1, "type": "u64"}"#,
            "`registers[1].type`: unknown value \"u64\" (expected u16, i16, u32, i32 or f32)",
        ),
        (r#"{"key": "b", "address": 1}"#, "`registers[1].type` is missing"),
        (r#"{"address": 1, "type": "u16"}"#, "`registers[1].key` is missing"),
        (r#"{"key": "", "address": 1, "type": "u16"}"#, "`registers[1].key` must be 1 to 255 bytes"),
        (r#"{"key": 5, "address": 1, "type": "u16"}"#, "`registers[1].key` must be a string, got a number"),
        (r#"{"key": "b", "type": "u16"}"#, "`registers[1].address` is missing"),
        (
            r#"{"key": "b", "address": 65536, "type": "u16"}"#,
            "`registers[1].address` must be an integer in [0, 65535], got 65536",
        ),
        (
            r#"{"key": "b", "address": -1, "type": "u16"}"#,
            "`registers[1].address` must be an integer in [0, 65535], got -1",
        ),
        (
            r#"{"key": "b", "address": "1", "type": "u16"}"#,
            "`registers[1].address` must be an integer in [0, 65535], got \"1\"",
        ),
        (
            r#"{"key": "b", "address": 65535, "type": "i32"}"#,
            "`registers[1].address`: type i32 at 65535 runs past register 65535",
        ),
        (
            r#"{"key": "b", "address": 1, "type": "u16", "table": "coils"}"#,
            "`registers[1].table`: unknown value \"coils\" (expected holding or input)",
        ),
        (
            r#"{"key": "b", "address": 1, "type": "u32", "word_order": "middle"}"#,
            "`registers[1].word_order`: unknown value \"middle\" (expected big or little)",
        ),
        (
            r#"{"key": "b", "address": 1, "type": "u16", "byte_order": 1}"#,
            "`registers[1].byte_order` must be a string, got a number",
        ),
        (r#"{"key": "b", "address": 1, "type": "u16", "scale": 0}"#, "`registers[1].scale` must not be 0"),
        (
            r#"{"key": "b", "address": 1, "type": "u16", "scale": "x"}"#,
            "`registers[1].scale` must be a number, got a string",
        ),
        (
            r#"{"key": "b", "address": 1, "type": "u16", "offset": [1]}"#,
            "`registers[1].offset` must be a number, got an array",
        ),
        (
            r#"{"key": "b", "address": 1, "type": "u16", "unit": 2}"#,
            "`registers[1]`: unknown field `unit` (expected one of key, table, address, type, word_order, byte_order, scale, offset)",
        ),
        (
            r#"{"key": "a", "address": 1, "type": "u16"}"#,
            "`registers[0].key` and `registers[1].key` must be distinct, both are \"a\"",
        ),
        ("7", "`registers[1]` must be an object, got a number"),
    ];
    for (entry, message) in cases {
        assert_eq!(error(&format!(r#"{{"registers": [{ok}, {entry}]}}"#)), message);
    }
}

#[test]
fn the_list_itself_is_checked() {
    assert_eq!(error(""), "`registers` is missing: list the registers to decode");
    assert_eq!(error(r#"{"registers": []}"#), "`registers` must list at least one register");
    assert_eq!(error(r#"{"registers": {}}"#), "`registers` must be an array, got an object");
    assert_eq!(error(r#"{"registers": [], "units": 1}"#), "unknown field `units` (expected `registers`)");
    assert_eq!(error("[]"), "the configuration must be a JSON object");
    assert!(error("{").contains("EOF"));
}

#[test]
fn the_map_is_limited_to_ten_thousand_entries() {
    let entries = |n: usize| {
        (0..n).map(|i| format!(r#"{{"key": "k{i}", "address": {}, "type": "u16"}}"#, i % 65_536)).collect::<Vec<_>>()
    };
    let at_limit = format!(r#"{{"registers": [{}]}}"#, entries(MAX_REGISTERS).join(","));
    assert_eq!(parse_config(&at_limit).expect("at the limit").registers.len(), MAX_REGISTERS);
    let over = format!(r#"{{"registers": [{}]}}"#, entries(MAX_REGISTERS + 1).join(","));
    assert_eq!(error(&over), "`registers` lists 10001 entries, at most 10000 are allowed");
}

#[test]
fn the_schema_lists_every_field() {
    let schema = config_schema();
    let properties = &schema["properties"]["registers"]["items"]["properties"];
    for field in FIELDS {
        assert!(properties.get(field).is_some(), "{field}");
    }
    assert_eq!(schema["properties"]["registers"]["maxItems"], MAX_REGISTERS);
}
