-- no-transaction
-- Contract 0.2.0: new plugin kinds (`transform`, `field-optimizer`,
-- `forecaster`), the contract each
-- stored plugin targets, and machine-readable details on recommendations.
-- SQLite cannot change a CHECK constraint, so `plugin` is rebuilt with
-- foreign keys off (SQLite's documented procedure), in one transaction.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE plugin_new (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    kind         TEXT NOT NULL
                 CHECK (kind IN ('decoder', 'alarm-rule', 'optimizer', 'transform', 'field-optimizer', 'forecaster')),
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    hash         TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    info         TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    contract     TEXT NOT NULL DEFAULT '0.1.0',
    UNIQUE (tenant_id, kind, name, version)
);
INSERT INTO plugin_new (id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time)
    SELECT id, tenant_id, kind, name, version, hash, size_bytes, bytes, info, created_time FROM plugin;
DROP TABLE plugin;
ALTER TABLE plugin_new RENAME TO plugin;
ALTER TABLE recommendation ADD COLUMN details TEXT NOT NULL DEFAULT '{}';
COMMIT;
PRAGMA foreign_keys = ON;
