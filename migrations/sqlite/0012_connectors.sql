-- Connectors: a tenant's configured links to its field (an MQTT broker,
-- Modbus TCP slaves). settings: the kind's settings as JSON, including an
-- MQTT password (the API never shows it back).
CREATE TABLE connector (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant (id),
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('mqtt', 'modbus')),
    enabled      INTEGER NOT NULL,
    settings     TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX connector_enabled ON connector (enabled);
