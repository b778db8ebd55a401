//! # decoder-modbus-registers
//!
//! Decodes the register blocks the host's Modbus connector reads (content
//! type `application/vnd.nexus.modbus-registers`: the registers as read, 2
//! big-endian bytes each, described by the metadata `unit`, `table`, `start`
//! and `count`) into readings, through the binding's register map: which
//! key lives at which address of which table, as which type (`u16`, `i16`,
//! `u32`, `i32`, `f32`), in which word and byte order, with which scale and
//! offset.
//!
//! A block is often one of several reads of a device: register entries
//! outside it are skipped. Readings take the frame's `received_at` and
//! quality 1.
//!
//! The logic is the pure function [`decode`] over a [`ModbusConfig`] (from
//! [`parse_config`]) and a [`Block`]; the component reads the configuration
//! from the host and passes the frame to [`decode_frame`].

pub mod block;
pub mod config;
pub mod value;

pub use block::{Block, CONTENT_TYPE, MALFORMED_FRAME, UNSUPPORTED_CONTENT_TYPE};
pub use config::{MAX_REGISTERS, ModbusConfig, Order, Register, RegisterType, Table, config_schema, parse_config};

use nexus_plugin_sdk::{Frame, PluginError, PluginInfo, Series, SeriesBuilder};

/// The readings of the registers of `config` that `block` holds, in the
/// order of the register map, all at `received_at` with quality 1.
pub fn decode(config: &ModbusConfig, block: &Block<'_>, received_at: i64) -> Vec<Series> {
    let mut series = Vec::new();
    for register in &config.registers {
        let Some(bytes) = block.slice(register.table, register.address, register.kind.words()) else {
            continue;
        };
        if let Some(value) = value::value(bytes, register) {
            // Keys are distinct: one series of one sample per register.
            let mut builder = SeriesBuilder::new();
            builder.push(&register.key, received_at, value, 1.0);
            series.extend(builder.build());
        }
    }
    series
}

/// Checks a frame as a register block and decodes it with `config`.
pub fn decode_frame(config: &ModbusConfig, frame: &Frame) -> Result<Vec<Series>, PluginError> {
    let block = Block::parse(&frame.content_type, &frame.metadata, &frame.payload)?;
    Ok(decode(config, &block, frame.received_at))
}

/// The component: the binding's register map applied to each frame.
pub struct ModbusRegisters;

impl nexus_plugin_sdk::Decoder for ModbusRegisters {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "decoder-modbus-registers".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Decodes Modbus holding/input register blocks (u16, i16, u32, i32, f32 in any \
                          word and byte order, scaled) through a register map."
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
nexus_plugin_sdk::export_decoder!(ModbusRegisters);

#[cfg(test)]
mod tests;
