-- Connectors may be OPC UA (`opcua`) or Kafka (`kafka`), as on SQLite (migration 0013).
ALTER TABLE pf.connector DROP CONSTRAINT connector_kind_check;
ALTER TABLE pf.connector ADD CONSTRAINT connector_kind_check CHECK (kind IN ('mqtt', 'modbus', 'opcua', 'kafka'));
