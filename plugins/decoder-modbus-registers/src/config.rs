//! The binding configuration: the register map, checked entry by entry so
//! every problem names the entry's index and field
//! (`registers[3].type: unknown type "u64" ...`).

use nexus_plugin_sdk::PluginError;
use nexus_plugin_sdk::config::invalid;
use serde_json::{Map, Value as Json, json};

/// Most register entries a configuration may list.
pub const MAX_REGISTERS: usize = 10_000;
/// Longest telemetry key (the host refuses longer ones).
pub const MAX_KEY_LEN: usize = 255;

/// The fields a register entry may have.
const FIELDS: [&str; 8] = ["key", "table", "address", "type", "word_order", "byte_order", "scale", "offset"];

/// Which Modbus table a block was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Holding registers (function code 03).
    Holding,
    /// Input registers (function code 04).
    Input,
}

impl Table {
    /// `holding` or `input`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "holding" => Some(Self::Holding),
            "input" => Some(Self::Input),
            _ => None,
        }
    }
}

/// How the registers of an entry are read as a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterType {
    /// One register, unsigned.
    U16,
    /// One register, two's complement.
    I16,
    /// Two registers, unsigned.
    U32,
    /// Two registers, two's complement.
    I32,
    /// Two registers, IEEE 754 single precision.
    F32,
}

impl RegisterType {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "u16" => Some(Self::U16),
            "i16" => Some(Self::I16),
            "u32" => Some(Self::U32),
            "i32" => Some(Self::I32),
            "f32" => Some(Self::F32),
            _ => None,
        }
    }

    /// Registers the value spans.
    pub fn words(self) -> u32 {
        match self {
            Self::U16 | Self::I16 => 1,
            Self::U32 | Self::I32 | Self::F32 => 2,
        }
    }
}

/// Word or byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Most significant first (Modbus's own order).
    Big,
    /// Least significant first.
    Little,
}

impl Order {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "big" => Some(Self::Big),
            "little" => Some(Self::Little),
            _ => None,
        }
    }
}

/// One checked register entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Register {
    /// Telemetry key of the value.
    pub key: String,
    /// Table the register is in.
    pub table: Table,
    /// Address of the value's first register.
    pub address: u16,
    /// How the registers are read.
    pub kind: RegisterType,
    /// `Big`: the first register holds the high word (32-bit types only).
    pub word_order: Order,
    /// `Big`: each register's first byte is its high byte.
    pub byte_order: Order,
    /// Multiplier of the raw value.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
}

impl Register {
    /// Whether the value is passed on unchanged (integers then stay integers).
    pub fn is_identity(&self) -> bool {
        self.scale == 1.0 && self.offset == 0.0
    }
}

/// A checked binding configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusConfig {
    /// The register map, in the order readings are produced.
    pub registers: Vec<Register>,
}

/// Parses and checks configuration text; every problem is a `PluginError`
/// with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<ModbusConfig, PluginError> {
    from_value(nexus_plugin_sdk::config::parse(json)?)
}

/// Checks configuration already parsed as JSON (what `host::config` gives).
pub fn from_value(value: Json) -> Result<ModbusConfig, PluginError> {
    check(value).map_err(invalid)
}

fn check(value: Json) -> Result<ModbusConfig, String> {
    let Json::Object(mut top) = value else {
        return Err("the configuration must be a JSON object".into());
    };
    if let Some(unknown) = top.keys().find(|k| *k != "registers") {
        return Err(format!("unknown field `{unknown}` (expected `registers`)"));
    }
    let entries = match top.remove("registers") {
        Some(Json::Array(entries)) => entries,
        Some(other) => return Err(format!("`registers` must be an array, got {}", kind(&other))),
        None => return Err("`registers` is missing: list the registers to decode".into()),
    };
    if entries.is_empty() {
        return Err("`registers` must list at least one register".into());
    }
    if entries.len() > MAX_REGISTERS {
        return Err(format!("`registers` lists {} entries, at most {MAX_REGISTERS} are allowed", entries.len()));
    }
    let registers = entries.into_iter().enumerate().map(|(i, e)| register(i, e)).collect::<Result<Vec<_>, _>>()?;
    distinct(registers.iter().map(|r| r.key.as_str()), "registers", "key")?;
    Ok(ModbusConfig { registers })
}

/// Checks entry `i`.
fn register(i: usize, entry: Json) -> Result<Register, String> {
    let Json::Object(map) = entry else {
        return Err(format!("`registers[{i}]` must be an object, got {}", kind(&entry)));
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("`registers[{i}]`: unknown field `{unknown}` (expected one of {})", FIELDS.join(", ")));
    }
    let name = |field: &str| format!("registers[{i}].{field}");
    let key = match text(&map, "key", &name("key"))? {
        Some(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => key.to_string(),
        Some(_) => return Err(format!("`{}` must be 1 to {MAX_KEY_LEN} bytes", name("key"))),
        None => return Err(format!("`{}` is missing", name("key"))),
    };
    let table = choice(&map, "table", &name("table"), Table::parse, "holding or input")?.unwrap_or(Table::Holding);
    let address = match map.get("address") {
        None | Some(Json::Null) => return Err(format!("`{}` is missing", name("address"))),
        Some(value) => value
            .as_u64()
            .and_then(|a| u16::try_from(a).ok())
            .ok_or_else(|| format!("`{}` must be an integer in [0, 65535], got {value}", name("address")))?,
    };
    let kind = choice(&map, "type", &name("type"), RegisterType::parse, "u16, i16, u32, i32 or f32")?
        .ok_or_else(|| format!("`{}` is missing", name("type")))?;
    if u32::from(address) + kind.words() > 65_536 {
        return Err(format!("`{}`: type {} at {address} runs past register 65535", name("address"), type_name(kind)));
    }
    let word_order = choice(&map, "word_order", &name("word_order"), Order::parse, "big or little")?;
    let byte_order = choice(&map, "byte_order", &name("byte_order"), Order::parse, "big or little")?;
    let scale = number(&map, "scale", &name("scale"))?.unwrap_or(1.0);
    if scale == 0.0 {
        return Err(format!("`{}` must not be 0", name("scale")));
    }
    let offset = number(&map, "offset", &name("offset"))?.unwrap_or(0.0);
    Ok(Register {
        key,
        table,
        address,
        kind,
        word_order: word_order.unwrap_or(Order::Big),
        byte_order: byte_order.unwrap_or(Order::Big),
        scale,
        offset,
    })
}

/// Checks that no two entries of `list` have the same `field`, in linear
/// time (a map of 10 000 entries is checked on every frame).
fn distinct<'a>(values: impl Iterator<Item = &'a str>, list: &str, field: &str) -> Result<(), String> {
    let mut seen = std::collections::HashMap::new();
    for (i, value) in values.enumerate() {
        if let Some(first) = seen.insert(value, i) {
            return Err(format!(
                "`{list}[{first}].{field}` and `{list}[{i}].{field}` must be distinct, both are {value:?}"
            ));
        }
    }
    Ok(())
}

/// An optional string field (`null` counts as absent).
fn text<'a>(map: &'a Map<String, Json>, field: &str, name: &str) -> Result<Option<&'a str>, String> {
    match map.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{name}` must be a string, got {}", kind(other))),
    }
}

/// An optional field that is one of a few names.
fn choice<T>(
    map: &Map<String, Json>,
    field: &str,
    name: &str,
    parse: fn(&str) -> Option<T>,
    expected: &str,
) -> Result<Option<T>, String> {
    text(map, field, name)?
        .map(|value| parse(value).ok_or_else(|| format!("`{name}`: unknown value {value:?} (expected {expected})")))
        .transpose()
}

/// An optional finite number field.
fn number(map: &Map<String, Json>, field: &str, name: &str) -> Result<Option<f64>, String> {
    match map.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::Number(n)) => n
            .as_f64()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| format!("`{name}` must be a finite number, got {n}")),
        Some(other) => Err(format!("`{name}` must be a number, got {}", kind(other))),
    }
}

fn type_name(kind: RegisterType) -> &'static str {
    match kind {
        RegisterType::U16 => "u16",
        RegisterType::I16 => "i16",
        RegisterType::U32 => "u32",
        RegisterType::I32 => "i32",
        RegisterType::F32 => "f32",
    }
}

/// A JSON value's kind, for messages.
pub(crate) fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The JSON Schema (draft 2020-12) of the binding configuration.
pub fn config_schema() -> Json {
    let order = |description: &str| json!({ "enum": ["big", "little"], "default": "big", "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "decoder-modbus-registers configuration",
        "type": "object",
        "additionalProperties": false,
        "required": ["registers"],
        "properties": {
            "registers": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_REGISTERS,
                "description": "The register map: one entry per telemetry key (keys distinct).",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["key", "address", "type"],
                    "properties": {
                        "key": { "type": "string", "minLength": 1, "maxLength": MAX_KEY_LEN,
                                 "description": "Telemetry key, e.g. frequency_hz." },
                        "table": { "enum": ["holding", "input"], "default": "holding",
                                   "description": "holding (FC03) or input (FC04) registers." },
                        "address": { "type": "integer", "minimum": 0, "maximum": 65535,
                                     "description": "Address of the value's first register (0-based, as on the wire)." },
                        "type": { "enum": ["u16", "i16", "u32", "i32", "f32"],
                                  "description": "16-bit types take one register, 32-bit types two." },
                        "word_order": order("32-bit types: big = the first register holds the high word."),
                        "byte_order": order("big = each register's first byte is its high byte."),
                        "scale": { "type": "number", "not": { "const": 0 }, "default": 1,
                                   "description": "value = raw * scale + offset." },
                        "offset": { "type": "number", "default": 0, "description": "Added after scaling." }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
