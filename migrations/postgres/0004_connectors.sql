-- Connectors: a tenant's configured links to its field (an MQTT broker,
-- Modbus TCP slaves), as on SQLite (migration 0012). settings: the kind's
-- settings as JSON, including an MQTT password (the API never shows it
-- back).
CREATE TABLE pf.connector (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    name         text COLLATE "C" NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('mqtt', 'modbus')),
    enabled      boolean NOT NULL,
    settings     text NOT NULL,
    created_time bigint NOT NULL,
    updated_time bigint NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX connector_enabled ON pf.connector (enabled);
