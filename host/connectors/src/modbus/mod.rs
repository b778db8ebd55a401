//! The Modbus TCP connector (placeholder until it is written).

use async_trait::async_trait;
use nexus_model::ModbusSettings;

use crate::{Connector, ConnectorError, Link};

/// A Modbus TCP connector.
pub struct ModbusConnector {
    #[allow(dead_code)]
    settings: ModbusSettings,
}

impl ModbusConnector {
    /// A connector with these settings.
    pub fn new(settings: ModbusSettings) -> Self {
        Self { settings }
    }
}

#[async_trait]
impl Connector for ModbusConnector {
    async fn run(&mut self, _link: &mut Link) -> Result<(), ConnectorError> {
        Err(ConnectorError::Settings("the Modbus connector is not built yet".into()))
    }
}
