//! The MQTT session options a connector's settings make: the broker, the
//! client id (`nexus-{connector id}` by default), credentials, a persistent
//! session (`clean_session = false`, so the broker keeps unacknowledged
//! QoS 1 messages while the connector is away), manual acknowledgements,
//! and an incoming packet limit well above `max_payload_bytes` so that an
//! oversized message arrives and is refused with a reason instead of
//! breaking the connection.

use std::time::Duration;

use nexus_model::{ConnectorId, MqttSettings};
use rumqttc::MqttOptions;

use crate::ConnectorError;

/// Keep-alive of the session.
pub(super) const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Headroom over `max_payload_bytes` for the topic and the packet header.
const HEADROOM: usize = 1 << 20;
/// MQTT's largest packet (the remaining length's limit).
const MQTT_MAX_PACKET: usize = 268_435_455;
/// Our own QoS 1 publishes (RPC requests) in flight at once.
const OUTGOING_INFLIGHT: u16 = 100;

/// The options, and the peer (`host:port`) for messages.
/// `host:port` of the broker the settings name.
pub(super) fn peer(settings: &MqttSettings) -> Result<String, ConnectorError> {
    let Some((host, port)) = nexus_services::mqtt_peer(&settings.url) else {
        return Err(ConnectorError::Settings(format!("url `{}`: expected mqtt://host[:port]", settings.url)));
    };
    Ok(format!("{host}:{port}"))
}

/// The options for a session with the broker at `target` (its resolved
/// address), and the peer (`host:port`) for messages.
pub(super) fn options(
    id: &ConnectorId,
    settings: &MqttSettings,
    target: std::net::SocketAddr,
) -> Result<(MqttOptions, String), ConnectorError> {
    let peer = peer(settings)?;
    let client_id = match &settings.client_id {
        Some(client_id) if !client_id.is_empty() => client_id.clone(),
        _ => format!("nexus-{id}"),
    };
    let mut options = MqttOptions::new(client_id, target.ip().to_string(), target.port());
    let max = settings.max_payload_bytes as usize;
    let incoming = (max.saturating_mul(2)).max(max.saturating_add(HEADROOM)).min(MQTT_MAX_PACKET);
    options
        .set_keep_alive(KEEP_ALIVE)
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_inflight(OUTGOING_INFLIGHT)
        .set_max_packet_size(incoming, incoming);
    if let Some(username) = &settings.username {
        options.set_credentials(username.clone(), settings.password.clone().unwrap_or_default());
    }
    Ok((options, peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> MqttSettings {
        serde_json::from_value(serde_json::json!({"url": url})).expect("settings")
    }

    #[test]
    fn a_persistent_session_with_manual_acks_and_room_for_oversized_messages() {
        let id = ConnectorId::from("c-1".to_string());
        let target: std::net::SocketAddr = "10.0.0.7:1884".parse().expect("address");
        let (made, peer) = options(&id, &settings("mqtt://broker.plant:1884"), target).expect("options");
        assert_eq!(peer, "broker.plant:1884");
        assert_eq!(made.broker_address(), ("10.0.0.7".to_string(), 1884), "connects to the checked address");
        assert_eq!(made.client_id(), "nexus-c-1");
        assert!(!made.clean_session());
        assert!(made.max_packet_size() > 256 * 1024);
        assert!(options(&id, &settings("http://x"), target).is_err());
    }
}
