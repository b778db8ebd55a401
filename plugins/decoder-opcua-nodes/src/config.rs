//! The binding configuration: which node is which key, with scale, offset
//! and a unit conversion, checked entry by entry so every problem names the
//! entry's index and field (`nodes[2].unit_to: ...`).

use std::collections::HashMap;

use nexus_plugin_sdk::PluginError;
use nexus_plugin_sdk::config::invalid;
use serde_json::{Map, Value as Json, json};

use crate::units::{Conversion, Unit, names};

/// Most node entries a configuration may list.
pub const MAX_NODES: usize = 10_000;
/// Longest telemetry key (the host refuses longer ones).
pub const MAX_KEY_LEN: usize = 255;

/// The fields a node entry may have.
const FIELDS: [&str; 6] = ["node", "key", "scale", "offset", "unit_from", "unit_to"];

/// One checked node entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeMap {
    /// OPC UA node id as the connector writes it, e.g. `ns=2;s=Well.W1.Frequency`.
    pub node: String,
    /// Telemetry key of its values.
    pub key: String,
    /// Multiplier of the value read.
    pub scale: f64,
    /// Added after scaling.
    pub offset: f64,
    /// Unit conversion applied after scale and offset.
    pub conversion: Option<Conversion>,
}

impl NodeMap {
    /// Whether values pass unchanged (then booleans and text are accepted).
    pub fn is_identity(&self) -> bool {
        self.scale == 1.0 && self.offset == 0.0 && self.conversion.is_none()
    }

    /// `value * scale + offset`, then converted.
    pub fn apply(&self, value: f64) -> f64 {
        let scaled = value * self.scale + self.offset;
        self.conversion.map_or(scaled, |c| c.apply(scaled))
    }
}

/// A checked binding configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct OpcuaConfig {
    /// The node map, in configuration order.
    pub nodes: Vec<NodeMap>,
    /// Index in `nodes` of each node id.
    by_node: HashMap<String, usize>,
}

impl OpcuaConfig {
    /// The entry of `node`, if it is mapped (node ids compare exactly).
    pub fn get(&self, node: &str) -> Option<&NodeMap> {
        self.position(node).and_then(|i| self.nodes.get(i))
    }

    /// The index in `nodes` of the entry of `node`, if it is mapped.
    pub fn position(&self, node: &str) -> Option<usize> {
        self.by_node.get(node).copied()
    }
}

/// Parses and checks configuration text; every problem is a `PluginError`
/// with code `invalid-config`.
pub fn parse_config(json: &str) -> Result<OpcuaConfig, PluginError> {
    from_value(nexus_plugin_sdk::config::parse(json)?)
}

/// Checks configuration already parsed as JSON (what `host::config` gives).
pub fn from_value(value: Json) -> Result<OpcuaConfig, PluginError> {
    check(value).map_err(invalid)
}

fn check(value: Json) -> Result<OpcuaConfig, String> {
    let Json::Object(mut top) = value else {
        return Err("the configuration must be a JSON object".into());
    };
    if let Some(unknown) = top.keys().find(|k| *k != "nodes") {
        return Err(format!("unknown field `{unknown}` (expected `nodes`)"));
    }
    let entries = match top.remove("nodes") {
        Some(Json::Array(entries)) => entries,
        Some(other) => return Err(format!("`nodes` must be an array, got {}", kind(&other))),
        None => return Err("`nodes` is missing: list the nodes to decode".into()),
    };
    if entries.is_empty() {
        return Err("`nodes` must list at least one node".into());
    }
    if entries.len() > MAX_NODES {
        return Err(format!("`nodes` lists {} entries, at most {MAX_NODES} are allowed", entries.len()));
    }
    let nodes = entries.into_iter().enumerate().map(|(i, e)| node_map(i, e)).collect::<Result<Vec<_>, _>>()?;
    // In linear time: a map of 10 000 entries is checked on every frame.
    let mut keys = HashMap::with_capacity(nodes.len());
    let mut by_node = HashMap::with_capacity(nodes.len());
    for (i, entry) in nodes.iter().enumerate() {
        if let Some(first) = by_node.insert(entry.node.clone(), i) {
            return Err(format!(
                "`nodes[{first}].node` and `nodes[{i}].node` must be distinct, both are {:?}",
                entry.node
            ));
        }
        if let Some(first) = keys.insert(entry.key.as_str(), i) {
            return Err(format!(
                "`nodes[{first}].key` and `nodes[{i}].key` must be distinct, both are {:?}",
                entry.key
            ));
        }
    }
    Ok(OpcuaConfig { nodes, by_node })
}

/// Checks entry `i`.
fn node_map(i: usize, entry: Json) -> Result<NodeMap, String> {
    let Json::Object(map) = entry else {
        return Err(format!("`nodes[{i}]` must be an object, got {}", kind(&entry)));
    };
    if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("`nodes[{i}]`: unknown field `{unknown}` (expected one of {})", FIELDS.join(", ")));
    }
    let name = |field: &str| format!("nodes[{i}].{field}");
    let node = match text(&map, "node", &name("node"))? {
        Some(node) if !node.is_empty() => node.to_string(),
        Some(_) => return Err(format!("`{}` must not be empty", name("node"))),
        None => return Err(format!("`{}` is missing", name("node"))),
    };
    let key = match text(&map, "key", &name("key"))? {
        Some(key) if !key.is_empty() && key.len() <= MAX_KEY_LEN => key.to_string(),
        Some(_) => return Err(format!("`{}` must be 1 to {MAX_KEY_LEN} bytes", name("key"))),
        None => return Err(format!("`{}` is missing", name("key"))),
    };
    let scale = number(&map, "scale", &name("scale"))?.unwrap_or(1.0);
    if scale == 0.0 {
        return Err(format!("`{}` must not be 0", name("scale")));
    }
    let offset = number(&map, "offset", &name("offset"))?.unwrap_or(0.0);
    let from = unit(&map, "unit_from", &name("unit_from"))?;
    let to = unit(&map, "unit_to", &name("unit_to"))?;
    let conversion = match (from, to) {
        (None, None) => None,
        (Some(_), None) => return Err(format!("`{}` is set but `{}` is not", name("unit_from"), name("unit_to"))),
        (None, Some(_)) => return Err(format!("`{}` is set but `{}` is not", name("unit_to"), name("unit_from"))),
        (Some(from), Some(to)) => Some(Conversion::new(from, to).ok_or_else(|| {
            let written = |field: &str| map.get(field).map(Json::to_string).unwrap_or_default();
            let (from, to) = (written("unit_from"), written("unit_to"));
            format!("`{}` ({from}) and `{}` ({to}) measure different things", name("unit_from"), name("unit_to"))
        })?),
    };
    Ok(NodeMap { node, key, scale, offset, conversion })
}

/// An optional string field (`null` counts as absent).
fn text<'a>(map: &'a Map<String, Json>, field: &str, name: &str) -> Result<Option<&'a str>, String> {
    match map.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!("`{name}` must be a string, got {}", kind(other))),
    }
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

/// An optional unit field.
fn unit(map: &Map<String, Json>, field: &str, name: &str) -> Result<Option<Unit>, String> {
    text(map, field, name)?
        .map(|value| {
            Unit::parse(value).ok_or_else(|| {
                format!("`{name}`: unknown unit {value:?} (expected one of {})", names().collect::<Vec<_>>().join(", "))
            })
        })
        .transpose()
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
    let units: Vec<&str> = names().collect();
    let unit = |description: &str| json!({ "enum": units, "description": description });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "decoder-opcua-nodes configuration",
        "type": "object",
        "additionalProperties": false,
        "required": ["nodes"],
        "properties": {
            "nodes": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_NODES,
                "description": "The node map: one entry per node (nodes distinct, keys distinct). Unmapped nodes are ignored.",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["node", "key"],
                    "dependentRequired": { "unit_from": ["unit_to"], "unit_to": ["unit_from"] },
                    "properties": {
                        "node": { "type": "string", "minLength": 1,
                                  "description": "OPC UA node id as the connector writes it, e.g. ns=2;s=Well.W1.Frequency." },
                        "key": { "type": "string", "minLength": 1, "maxLength": MAX_KEY_LEN,
                                 "description": "Telemetry key, e.g. frequency_hz." },
                        "scale": { "type": "number", "not": { "const": 0 }, "default": 1,
                                   "description": "value = (raw * scale + offset), then converted." },
                        "offset": { "type": "number", "default": 0, "description": "Added after scaling." },
                        "unit_from": unit("Unit of the scaled value (ASCII case ignored)."),
                        "unit_to": unit("Unit stored; same dimension as unit_from.")
                    }
                }
            }
        }
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
