//! The MQTT connector (placeholder until it is written).

use async_trait::async_trait;
use nexus_model::{ConnectorId, MqttSettings};

use crate::{Connector, ConnectorError, Link};

/// An MQTT connector.
pub struct MqttConnector {
    #[allow(dead_code)]
    id: ConnectorId,
    #[allow(dead_code)]
    settings: MqttSettings,
}

impl MqttConnector {
    /// A connector with these settings.
    pub fn new(id: ConnectorId, settings: MqttSettings) -> Self {
        Self { id, settings }
    }
}

#[async_trait]
impl Connector for MqttConnector {
    async fn run(&mut self, _link: &mut Link) -> Result<(), ConnectorError> {
        Err(ConnectorError::Settings("the MQTT connector is not built yet".into()))
    }
}
