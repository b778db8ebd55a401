-- Connectors may be OPC UA (`opcua`) or Kafka (`kafka`). SQLite cannot change a CHECK
-- constraint: the table is made again with the new one, rows kept.
CREATE TABLE connector_new (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('mqtt', 'modbus', 'opcua', 'kafka')),
    enabled      INTEGER NOT NULL,
    settings     TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);
INSERT INTO connector_new (id, tenant_id, name, kind, enabled, settings, created_time, updated_time)
    SELECT id, tenant_id, name, kind, enabled, settings, created_time, updated_time FROM connector;
DROP TABLE connector;
ALTER TABLE connector_new RENAME TO connector;
CREATE INDEX connector_enabled ON connector (enabled);
