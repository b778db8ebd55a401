-- Nexus core schema for the embedded SQLite store.
-- Names follow the replaced design (pf = production facility, po = production
-- optimization); SQLite has no schemas, so `pf.well` is `well` here and the
-- PostgreSQL migrations put the same tables in `pf` and `po`.
-- Every row belongs to a tenant.

CREATE TABLE tenant (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    created_time INTEGER NOT NULL
);

CREATE TABLE wellpad (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    name         TEXT NOT NULL,
    created_time INTEGER NOT NULL
);
CREATE INDEX idx_wellpad_tenant ON wellpad(tenant_id);

CREATE TABLE well (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    name         TEXT NOT NULL,
    wellpad_id   TEXT REFERENCES wellpad(id),
    status       TEXT NOT NULL DEFAULT 'PRODUCING',
    -- Static data for optimizers (nameplate, depths, pump curve), JSON.
    static_data  TEXT NOT NULL DEFAULT '{}',
    created_time INTEGER NOT NULL
);
CREATE INDEX idx_well_tenant ON well(tenant_id);
CREATE INDEX idx_well_wellpad ON well(wellpad_id);

CREATE TABLE device (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    name         TEXT NOT NULL,
    well_id      TEXT REFERENCES well(id),
    -- ThingsBoard-style device credential for POST /api/v1/{token}/telemetry.
    access_token TEXT NOT NULL UNIQUE,
    created_time INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX idx_device_well ON device(well_id);

-- A component as uploaded: bytes, content hash and what it said about itself.
CREATE TABLE plugin (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    kind         TEXT NOT NULL CHECK (kind IN ('decoder', 'alarm-rule', 'optimizer')),
    name         TEXT NOT NULL,
    version      TEXT NOT NULL,
    hash         TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    bytes        BLOB NOT NULL,
    info         TEXT NOT NULL,
    created_time INTEGER NOT NULL,
    UNIQUE (tenant_id, kind, name, version)
);

-- A plugin version bound to devices with a configuration and limits.
CREATE TABLE binding (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    plugin_id    TEXT NOT NULL REFERENCES plugin(id),
    kind         TEXT NOT NULL,
    config       TEXT NOT NULL,
    limits       TEXT NOT NULL,
    -- Optimizers: run every schedule_ms.
    schedule_ms  INTEGER,
    enabled      INTEGER NOT NULL DEFAULT 1,
    created_time INTEGER NOT NULL
);
CREATE INDEX idx_binding_tenant ON binding(tenant_id, kind);

CREATE TABLE binding_device (
    binding_id TEXT NOT NULL REFERENCES binding(id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL REFERENCES device(id),
    PRIMARY KEY (binding_id, device_id)
);
CREATE INDEX idx_binding_device_device ON binding_device(device_id);

-- Plugin key-value state, scoped to (binding, device).
CREATE TABLE plugin_state (
    binding_id TEXT NOT NULL REFERENCES binding(id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      BLOB NOT NULL,
    PRIMARY KEY (binding_id, device_id, key)
);

-- pf.telemetry: one row per (device, key, ts); a re-delivered reading replaces itself.
CREATE TABLE telemetry (
    tenant_id     TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    key           TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    value_numeric REAL,
    value_long    INTEGER,
    value_boolean INTEGER,
    value_string  TEXT,
    quality       REAL NOT NULL,
    PRIMARY KEY (device_id, key, ts)
) WITHOUT ROWID;

CREATE TABLE telemetry_latest (
    tenant_id     TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    key           TEXT NOT NULL,
    ts            INTEGER NOT NULL,
    value_numeric REAL,
    value_long    INTEGER,
    value_boolean INTEGER,
    value_string  TEXT,
    quality       REAL NOT NULL,
    PRIMARY KEY (device_id, key)
) WITHOUT ROWID;

-- pf.alarms: one open alarm per (tenant, originator, type).
CREATE TABLE alarm (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    alarm_type   TEXT NOT NULL,
    severity     TEXT NOT NULL,
    status       TEXT NOT NULL,
    start_ts     INTEGER NOT NULL,
    end_ts       INTEGER NOT NULL,
    ack_ts       INTEGER,
    clear_ts     INTEGER,
    binding_id   TEXT,
    details      TEXT NOT NULL DEFAULT '{}',
    created_time INTEGER NOT NULL
);
CREATE UNIQUE INDEX idx_alarm_open ON alarm(tenant_id, device_id, alarm_type)
    WHERE status IN ('ACTIVE_UNACK', 'ACTIVE_ACK');
CREATE INDEX idx_alarm_tenant_time ON alarm(tenant_id, start_ts);

-- Every alarm transition with who or what caused it.
CREATE TABLE alarm_event (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id  TEXT NOT NULL REFERENCES alarm(id),
    tenant_id TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    action    TEXT NOT NULL,
    status    TEXT NOT NULL,
    severity  TEXT NOT NULL,
    actor     TEXT NOT NULL,
    details   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_alarm_event_alarm ON alarm_event(alarm_id);

-- po.recommendations
CREATE TABLE recommendation (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    binding_id     TEXT NOT NULL,
    well_id        TEXT,
    device_id      TEXT NOT NULL,
    parameter      TEXT NOT NULL,
    current_value  REAL NOT NULL,
    proposed_value REAL NOT NULL,
    unit           TEXT NOT NULL,
    expected_gain  REAL NOT NULL,
    gain_unit      TEXT NOT NULL,
    confidence     REAL NOT NULL,
    rationale      TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'PENDING',
    created_ts     INTEGER NOT NULL
);
CREATE INDEX idx_recommendation_tenant ON recommendation(tenant_id, created_ts);

-- Plugin calls that failed: what, why, how long.
CREATE TABLE plugin_run (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL,
    binding_id  TEXT,
    plugin      TEXT NOT NULL,
    version     TEXT NOT NULL,
    error_code  TEXT NOT NULL,
    error       TEXT NOT NULL,
    duration_us INTEGER NOT NULL,
    fuel_used   INTEGER NOT NULL,
    ts          INTEGER NOT NULL
);
CREATE INDEX idx_plugin_run_tenant ON plugin_run(tenant_id, ts);

-- Frames and batches that could not be processed, with the reason; never dropped silently.
CREATE TABLE dead_letter (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    binding_id TEXT,
    device_id  TEXT,
    stage      TEXT NOT NULL,
    error_code TEXT NOT NULL,
    error      TEXT NOT NULL,
    payload    BLOB NOT NULL,
    ts         INTEGER NOT NULL
);
CREATE INDEX idx_dead_letter_tenant ON dead_letter(tenant_id, ts);
