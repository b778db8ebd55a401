//! # decoder-opcua-nodes
//!
//! Decodes the values the host's OPC UA connector read or was notified of
//! (content type `application/vnd.nexus.opcua-values+json`: a JSON array of
//! `{"node", "value", "source_ts", "status"}`) into readings, through the
//! binding's node map: which node is which key, with scale, offset and a
//! unit conversion ([`units`]).
//!
//! Each value takes its `source_ts`, or the frame's `received_at` when the
//! server gave none. Its status's severity sets the quality: Good 1.0,
//! Uncertain 0.5; a Bad value is not emitted, and a frame whose every mapped
//! value is Bad is the error `bad-status`. Unmapped nodes are ignored.
//!
//! The logic is the pure function [`decode`] over an [`OpcuaConfig`] (from
//! [`parse_config`]) and the frame's [`Item`]s; the component reads the
//! configuration from the host and passes the frame to [`decode_frame`].

pub mod config;
pub mod items;
pub mod units;

pub use config::{MAX_NODES, NodeMap, OpcuaConfig, config_schema, parse_config};
pub use items::{CONTENT_TYPE, Item, ItemValue, MALFORMED_FRAME, MALFORMED_JSON, Severity, UNSUPPORTED_CONTENT_TYPE};

use nexus_plugin_sdk::{Frame, PluginError, PluginInfo, Series, SeriesBuilder, Value};

/// Error code of a frame whose every mapped value has a Bad status.
pub const BAD_STATUS: &str = "bad-status";
/// Error code of a value its entry cannot take (text or a boolean where
/// the entry converts numbers; `null` with a Good or Uncertain status).
pub const UNSUPPORTED_VALUE: &str = "unsupported-value";
/// Quality of a value whose status is Uncertain.
pub const UNCERTAIN_QUALITY: f32 = 0.5;

/// The readings of the mapped, not-Bad items, in frame order.
pub fn decode(config: &OpcuaConfig, items: &[Item], received_at: i64) -> Result<Vec<Series>, PluginError> {
    // One builder per entry, so a frame of many keys costs linear time;
    // series come out in the order their entries first appear in the frame.
    let mut builders: Vec<Option<SeriesBuilder>> = (0..config.nodes.len()).map(|_| None).collect();
    let mut order = Vec::new();
    let mut first_bad: Option<&Item> = None;
    let (mut mapped, mut bad) = (0_usize, 0_usize);
    for item in items {
        let Some(index) = config.position(&item.node) else { continue };
        let (Some(entry), Some(slot)) = (config.nodes.get(index), builders.get_mut(index)) else { continue };
        mapped += 1;
        let quality = match Severity::of(item.status) {
            Severity::Good => 1.0,
            Severity::Uncertain => UNCERTAIN_QUALITY,
            Severity::Bad => {
                bad += 1;
                first_bad.get_or_insert(item);
                continue;
            }
        };
        let value = value(entry, item)?;
        let builder = slot.get_or_insert_with(|| {
            order.push(index);
            SeriesBuilder::new()
        });
        builder.push(&entry.key, item.source_ts.unwrap_or(received_at), value, quality);
    }
    if let Some(item) = first_bad.filter(|_| bad == mapped) {
        return Err(PluginError::new(
            BAD_STATUS,
            format!(
                "every mapped value of the frame ({bad}) has a Bad status; the first, node {}, has status 0x{:08X}",
                item.node, item.status
            ),
        ));
    }
    Ok(order.into_iter().filter_map(|i| builders.get_mut(i)?.take()).flat_map(SeriesBuilder::build).collect())
}

/// The reading value of a not-Bad item: numbers through the entry's scale,
/// offset and conversion (always `Value::Number`); booleans and text as
/// they are, if the entry converts nothing.
fn value(entry: &NodeMap, item: &Item) -> Result<Value, PluginError> {
    let unsupported = |what: &str| {
        PluginError::new(
            UNSUPPORTED_VALUE,
            format!("node {} (key {}): {what} with status 0x{:08X}", item.node, entry.key, item.status),
        )
    };
    match &item.value {
        ItemValue::Number(n) => Ok(Value::Number(entry.apply(*n))),
        ItemValue::Boolean(_) | ItemValue::Text(_) if !entry.is_identity() => {
            Err(unsupported("a boolean or text value, but its entry scales or converts numbers"))
        }
        ItemValue::Boolean(b) => Ok(Value::Boolean(*b)),
        ItemValue::Text(t) => Ok(Value::Text(t.clone())),
        ItemValue::Null => Err(unsupported("a null value")),
    }
}

/// Checks a frame's content type and payload and decodes it with `config`.
pub fn decode_frame(config: &OpcuaConfig, frame: &Frame) -> Result<Vec<Series>, PluginError> {
    let items = items::parse(&frame.content_type, &frame.payload)?;
    decode(config, &items, frame.received_at)
}

/// The component: the binding's node map applied to each frame.
pub struct OpcuaNodes;

impl nexus_plugin_sdk::Decoder for OpcuaNodes {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "decoder-opcua-nodes".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Decodes OPC UA node values (JSON from the OPC UA connector) through a node map, \
                          with scale, offset, unit conversion and status-based quality."
                .into(),
            config_schema: config_schema().to_string(),
        }
    }

    fn decode(frame: Frame) -> Result<Vec<Series>, PluginError> {
        let config = config::from_value(nexus_plugin_sdk::host::config()?)?;
        decode_frame(&config, &frame)
    }
}

#[cfg(target_arch = "wasm32")]
nexus_plugin_sdk::export_decoder!(OpcuaNodes);

#[cfg(test)]
mod tests;
