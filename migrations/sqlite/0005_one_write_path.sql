-- One write path: tenant on every tenant table, hashed device tokens, and
-- the outbox of events with a delivery cursor per subscriber.

-- Plugin state and binding membership carry their tenant.
ALTER TABLE plugin_state ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
UPDATE plugin_state SET tenant_id = (SELECT b.tenant_id FROM binding b WHERE b.id = plugin_state.binding_id);
ALTER TABLE binding_device ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
UPDATE binding_device SET tenant_id = (SELECT b.tenant_id FROM binding b WHERE b.id = binding_device.binding_id);
CREATE INDEX idx_binding_device_tenant_device ON binding_device(tenant_id, device_id);

-- Device tokens are stored as `sha256:<hex>`; the host hashes any raw token
-- left from before this migration when it opens the database.
ALTER TABLE device RENAME COLUMN access_token TO token_hash;
ALTER TABLE device ADD COLUMN token_issued_time INTEGER NOT NULL DEFAULT 0;
UPDATE device SET token_issued_time = created_time;

-- Failed runs name the device they were about.
ALTER TABLE plugin_run ADD COLUMN device_id TEXT;

-- The outbox: events written in the same transaction as the change they
-- describe, in commit order (SQLite has one writer, so `seq` order is
-- commit order).
CREATE TABLE outbox (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    key       TEXT NOT NULL,
    type      TEXT NOT NULL,
    body      TEXT NOT NULL
);
CREATE INDEX idx_outbox_tenant ON outbox(tenant_id, seq);

-- Where each subscriber of the outbox is (a host table, not a tenant's).
CREATE TABLE outbox_cursor (
    subscriber TEXT PRIMARY KEY,
    seq        INTEGER NOT NULL
);
