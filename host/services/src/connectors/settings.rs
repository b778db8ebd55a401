//! Checks of connector settings before they are stored: a connector that
//! is saved can start. Errors name the field (and the entry) at fault.

use std::collections::HashSet;

use nexus_model::{ConnectorSettings, KafkaSettings, ModbusDevice, ModbusSettings, MqttSettings, OpcUaSettings};

use crate::{Result, ServiceError};

/// Most Modbus slaves one connector polls.
pub const MAX_MODBUS_DEVICES: usize = 1_000;
/// Shortest poll period, ms.
pub const MIN_POLL_MS: u32 = 100;
/// Most devices of one OPC UA connector.
pub const MAX_OPCUA_DEVICES: usize = 1_000;
/// Most nodes of one OPC UA connector (monitored items of its subscription).
pub const MAX_OPCUA_NODES: usize = 10_000;
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
        ConnectorSettings::Kafka(kafka) => ConnectorSettings::Kafka(kafka_settings(kafka)?),
        ConnectorSettings::OpcUa(opcua) => ConnectorSettings::OpcUa(opcua_settings(opcua)?),
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

/// The `host:port` entries of a Kafka broker list, or `None` when one is
/// not `host:port`.
pub fn kafka_brokers(brokers: &str) -> Option<Vec<String>> {
    let list: Vec<String> = brokers.split(',').map(|b| b.trim().to_string()).collect();
    let ok = list.iter().all(|b| {
        b.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains(['/', '@', '?', '#', ' ']) && port.parse::<u16>().is_ok()
        })
    });
    (ok && !list.is_empty()).then_some(list)
}

/// A Kafka topic or group name: 1 to 249 of `A-Za-z0-9._-` (Kafka's rule).
fn kafka_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn kafka_settings(kafka: KafkaSettings) -> Result<KafkaSettings> {
    match kafka_brokers(&kafka.brokers) {
        Some(list) if list.len() <= MAX_TOPICS => {}
        _ => {
            return Err(invalid(format!(
                "settings.brokers `{}`: expected host:port[,host:port…] (1 to {MAX_TOPICS})",
                kafka.brokers
            )));
        }
    }
    if !kafka_name(&kafka.topic) {
        return Err(invalid(format!("settings.topic `{}`: 1 to 249 of A-Z a-z 0-9 . _ -", kafka.topic)));
    }
    if !kafka_name(&kafka.group_id) {
        return Err(invalid(format!("settings.group_id `{}`: 1 to 249 of A-Z a-z 0-9 . _ -", kafka.group_id)));
    }
    if kafka.max_payload_bytes == 0 || kafka.max_payload_bytes > MAX_PAYLOAD_CAP {
        return Err(invalid(format!("settings.max_payload_bytes: 1 to {MAX_PAYLOAD_CAP}")));
    }
    if kafka.content_type.trim().is_empty() || kafka.content_type.len() > 100 {
        return Err(invalid("settings.content_type: 1 to 100 characters".into()));
    }
    Ok(kafka)
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

/// Host and port of an `opc.tcp://host[:port][/path]` URL (4840 by default).
pub fn opcua_peer(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("opc.tcp://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(['@', '?', '#']) || rest.contains(['?', '#']) {
        return None;
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Some((host.to_string(), port.parse().ok()?)),
        Some(_) => None,
        None => Some((authority.to_string(), 4840)),
    }
}

/// Whether `text` is an OPC UA node id as its text form writes it:
/// `[ns=<u16>;]` then `i=<u32>`, `s=<string>`, `g=<guid>` or `b=<base64>`.
pub fn valid_node_id(text: &str) -> bool {
    let rest = match text.strip_prefix("ns=") {
        Some(tail) => match tail.split_once(';') {
            Some((ns, rest)) if ns.parse::<u16>().is_ok() => rest,
            _ => return false,
        },
        None => text,
    };
    match rest.split_at_checked(2) {
        Some(("i=", id)) => id.parse::<u32>().is_ok(),
        Some(("s=", id)) => !id.is_empty() && id.len() <= 4096,
        Some(("g=", id)) => id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'),
        Some(("b=", id)) => {
            !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        }
        _ => false,
    }
}

fn opcua_settings(opcua: OpcUaSettings) -> Result<OpcUaSettings> {
    if opcua_peer(&opcua.url).is_none() {
        return Err(invalid(format!("settings.url `{}`: expected opc.tcp://host[:port][/path]", opcua.url)));
    }
    for (field, value) in [
        ("sampling_interval_ms", opcua.sampling_interval_ms),
        ("publishing_interval_ms", opcua.publishing_interval_ms),
        ("poll_ms", opcua.poll_ms),
    ] {
        if !(MIN_POLL_MS..=86_400_000).contains(&value) {
            return Err(invalid(format!("settings.{field}: {MIN_POLL_MS} to 86400000")));
        }
    }
    if !(100..=60_000).contains(&opcua.timeout_ms) {
        return Err(invalid("settings.timeout_ms: 100 to 60000".into()));
    }
    if opcua.devices.is_empty() || opcua.devices.len() > MAX_OPCUA_DEVICES {
        return Err(invalid(format!("settings.devices: 1 to {MAX_OPCUA_DEVICES} devices")));
    }
    let (mut devices, mut nodes) = (HashSet::new(), HashSet::new());
    for (index, device) in opcua.devices.iter().enumerate() {
        let at = format!("settings.devices[{index}]");
        if !devices.insert(&device.device_id) {
            return Err(invalid(format!("{at}.device_id `{}`: listed twice", device.device_id)));
        }
        if device.nodes.is_empty() {
            return Err(invalid(format!("{at}.nodes: at least one node")));
        }
        for (n, node) in device.nodes.iter().enumerate() {
            if !valid_node_id(node) {
                return Err(invalid(format!(
                    "{at}.nodes[{n}] `{node}`: not a node id such as ns=2;s=Well.W1.Frequency"
                )));
            }
            if !nodes.insert(node) {
                return Err(invalid(format!("{at}.nodes[{n}] `{node}`: listed twice in this connector")));
            }
        }
        let mut names = HashSet::new();
        for (n, setpoint) in device.setpoints.iter().enumerate() {
            parameter(&setpoint.parameter).map_err(|e| invalid(format!("{at}.setpoints[{n}].{e}")))?;
            if !names.insert(&setpoint.parameter) {
                return Err(invalid(format!("{at}.setpoints[{n}].parameter `{}`: listed twice", setpoint.parameter)));
            }
            if !valid_node_id(&setpoint.node) {
                return Err(invalid(format!("{at}.setpoints[{n}].node `{}`: not a node id", setpoint.node)));
            }
        }
    }
    if nodes.len() > MAX_OPCUA_NODES {
        return Err(invalid(format!("settings.devices: at most {MAX_OPCUA_NODES} nodes in all")));
    }
    Ok(opcua)
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
    fn kafka_broker_lists_are_host_port_entries() {
        assert_eq!(kafka_brokers("k1:9092, k2:9093"), Some(vec!["k1:9092".into(), "k2:9093".into()]));
        assert_eq!(kafka_brokers("k1"), None);
        assert_eq!(kafka_brokers("k1:9092,"), None);
        assert_eq!(kafka_brokers("tcp://k1:9092"), None);
        assert!(kafka_name("pf.telemetry.raw") && !kafka_name("a b") && !kafka_name(""));
    }

    #[test]
    fn opcua_urls_and_node_ids() {
        assert_eq!(opcua_peer("opc.tcp://127.0.0.1:4841"), Some(("127.0.0.1".into(), 4841)));
        assert_eq!(opcua_peer("opc.tcp://plc/UA/Server"), Some(("plc".into(), 4840)));
        assert_eq!(opcua_peer("opc.tcp://:4840"), None);
        assert_eq!(opcua_peer("http://plc"), None);
        for good in ["ns=2;s=Well.W1.Frequency", "i=2258", "ns=3;i=1001", "ns=1;g=72962b91-fa75-4ae6-8d28-b404dc7daf63"]
        {
            assert!(valid_node_id(good), "{good}");
        }
        for bad in ["", "ns=2;", "ns=x;s=a", "s=", "i=-1", "Well.W1", "ns=70000;i=1"] {
            assert!(!valid_node_id(bad), "{bad}");
        }
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
