//! Checks of connector settings before they are stored: a connector that
//! is saved can start. Errors name the field (and the entry) at fault.

use std::collections::HashSet;

use nexus_model::{ConnectorSettings, ModbusDevice, ModbusSettings, MqttSettings};

use crate::{Result, ServiceError};

/// Most Modbus slaves one connector polls.
pub const MAX_MODBUS_DEVICES: usize = 1_000;
/// Shortest poll period, ms.
pub const MIN_POLL_MS: u32 = 100;
/// Most register blocks read from one slave each cycle.
const MAX_BLOCKS: usize = 32;
/// Most registers in one read (the protocol's limit for FC03/FC04).
const MAX_BLOCK_REGISTERS: u16 = 125;
/// Most topic filters of one MQTT connector.
const MAX_TOPICS: usize = 16;
/// Largest MQTT payload a connector may be set to accept.
const MAX_PAYLOAD_CAP: u32 = 16 * 1024 * 1024;

fn invalid(message: String) -> ServiceError {
    ServiceError::Invalid(message)
}

/// A connector's name: 1 to 100 characters, not blank.
pub(crate) fn name(name: &str) -> Result<String> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 100 {
        return Err(invalid("name: must be 1 to 100 characters, not blank".into()));
    }
    Ok(trimmed.to_string())
}

/// A setpoint's name: 1 to 64 of `A-Za-z0-9_.-`.
pub(crate) fn parameter(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok { Ok(()) } else { Err(invalid(format!("parameter `{name}`: must be 1 to 64 of A-Z a-z 0-9 _ . -"))) }
}

/// Checks settings; on a replace, a redacted password keeps `current`'s.
pub(crate) fn check(settings: ConnectorSettings, current: Option<&ConnectorSettings>) -> Result<ConnectorSettings> {
    Ok(match settings {
        ConnectorSettings::Mqtt(mut mqtt) => {
            if super::keeps_secret(mqtt.password.as_deref()) {
                mqtt.password = match current {
                    Some(ConnectorSettings::Mqtt(current)) => current.password.clone(),
                    _ => {
                        return Err(invalid(
                            "settings.password: `********` keeps a stored password, and there is none".into(),
                        ));
                    }
                };
            }
            ConnectorSettings::Mqtt(mqtt_settings(mqtt)?)
        }
        ConnectorSettings::Modbus(modbus) => ConnectorSettings::Modbus(modbus_settings(modbus)?),
    })
}

/// Host and port of an `mqtt://host[:port]` URL (1883 by default).
pub fn mqtt_peer(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("mqtt://").or_else(|| url.strip_prefix("tcp://"))?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
        return None;
    }
    match rest.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((rest.to_string(), 1883)),
    }
}

fn mqtt_settings(mqtt: MqttSettings) -> Result<MqttSettings> {
    if mqtt_peer(&mqtt.url).is_none() {
        return Err(invalid(format!("settings.url `{}`: expected mqtt://host[:port]", mqtt.url)));
    }
    if let Some(id) = &mqtt.client_id
        && (id.is_empty() || id.len() > 64)
    {
        return Err(invalid("settings.client_id: must be 1 to 64 bytes".into()));
    }
    if mqtt.topics.is_empty() || mqtt.topics.len() > MAX_TOPICS {
        return Err(invalid(format!("settings.topics: 1 to {MAX_TOPICS} topic filters")));
    }
    for (index, topic) in mqtt.topics.iter().enumerate() {
        if !valid_filter(topic) {
            return Err(invalid(format!("settings.topics[{index}] `{topic}`: not a valid MQTT topic filter")));
        }
    }
    if mqtt.max_payload_bytes == 0 || mqtt.max_payload_bytes > MAX_PAYLOAD_CAP {
        return Err(invalid(format!("settings.max_payload_bytes: 1 to {MAX_PAYLOAD_CAP}")));
    }
    if mqtt.content_type.trim().is_empty() || mqtt.content_type.len() > 100 {
        return Err(invalid("settings.content_type: 1 to 100 characters".into()));
    }
    if !(100..=300_000).contains(&mqtt.rpc_timeout_ms) {
        return Err(invalid("settings.rpc_timeout_ms: 100 to 300000".into()));
    }
    Ok(mqtt)
}

/// An MQTT topic filter: 1 to 256 bytes; `+` a whole level, `#` the last.
fn valid_filter(filter: &str) -> bool {
    if filter.is_empty() || filter.len() > 256 || filter.contains('\0') {
        return false;
    }
    let levels: Vec<&str> = filter.split('/').collect();
    levels.iter().enumerate().all(|(i, level)| match *level {
        "+" => true,
        "#" => i == levels.len() - 1,
        other => !other.contains(['+', '#']),
    })
}

fn modbus_settings(modbus: ModbusSettings) -> Result<ModbusSettings> {
    if modbus.devices.is_empty() || modbus.devices.len() > MAX_MODBUS_DEVICES {
        return Err(invalid(format!("settings.devices: 1 to {MAX_MODBUS_DEVICES} slaves")));
    }
    let mut seen = HashSet::new();
    for (index, device) in modbus.devices.iter().enumerate() {
        let at = format!("settings.devices[{index}]");
        if !seen.insert(device.device_id.clone()) {
            return Err(invalid(format!("{at}.device_id `{}`: listed twice", device.device_id)));
        }
        modbus_device(device, &at)?;
    }
    Ok(modbus)
}

fn modbus_device(device: &ModbusDevice, at: &str) -> Result<()> {
    let port_ok =
        device.address.rsplit_once(':').is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if !port_ok {
        return Err(invalid(format!("{at}.address `{}`: expected host:port", device.address)));
    }
    if device.poll_ms < MIN_POLL_MS || device.poll_ms > 86_400_000 {
        return Err(invalid(format!("{at}.poll_ms: {MIN_POLL_MS} to 86400000")));
    }
    if !(10..=60_000).contains(&device.timeout_ms) {
        return Err(invalid(format!("{at}.timeout_ms: 10 to 60000")));
    }
    if device.blocks.is_empty() || device.blocks.len() > MAX_BLOCKS {
        return Err(invalid(format!("{at}.blocks: 1 to {MAX_BLOCKS} register blocks")));
    }
    for (index, block) in device.blocks.iter().enumerate() {
        if block.count == 0
            || block.count > MAX_BLOCK_REGISTERS
            || u32::from(block.start) + u32::from(block.count) > 65_536
        {
            return Err(invalid(format!(
                "{at}.blocks[{index}]: count must be 1 to {MAX_BLOCK_REGISTERS} and the block must end by register 65535"
            )));
        }
    }
    let mut names = HashSet::new();
    for (index, setpoint) in device.setpoints.iter().enumerate() {
        parameter(&setpoint.parameter).map_err(|e| invalid(format!("{at}.setpoints[{index}].{e}")))?;
        if !names.insert(&setpoint.parameter) {
            return Err(invalid(format!("{at}.setpoints[{index}].parameter `{}`: listed twice", setpoint.parameter)));
        }
        if !setpoint.scale.is_finite() || setpoint.scale == 0.0 || !setpoint.offset.is_finite() {
            return Err(invalid(format!("{at}.setpoints[{index}]: scale must be finite and non-zero, offset finite")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls_give_host_and_port() {
        assert_eq!(mqtt_peer("mqtt://127.0.0.1:1884"), Some(("127.0.0.1".into(), 1884)));
        assert_eq!(mqtt_peer("mqtt://broker"), Some(("broker".into(), 1883)));
        assert_eq!(mqtt_peer("http://broker"), None);
        assert_eq!(mqtt_peer("mqtt://user@broker"), None);
        assert_eq!(mqtt_peer("mqtt://:1883"), None);
        assert_eq!(mqtt_peer("mqtt://broker:99999"), None);
    }

    #[test]
    fn topic_filters_follow_mqtt() {
        assert!(valid_filter("v1/devices/+/telemetry"));
        assert!(valid_filter("v1/#"));
        assert!(!valid_filter("v1/#/x"));
        assert!(!valid_filter("v1/dev+/x"));
        assert!(!valid_filter(""));
    }

    #[test]
    fn parameters_are_plain_names() {
        assert!(parameter("frequency_hz").is_ok());
        assert!(parameter("bad name").is_err());
        assert!(parameter("").is_err());
    }
}
