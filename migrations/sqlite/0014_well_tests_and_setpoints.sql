-- Well tests as data: the measured rates and conditions of one test of one
-- well. At most one test per well and start time (a repeated record is a
-- conflict, not a second row). Optimizers see the newest in their well context.
CREATE TABLE well_test (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    well_id      TEXT NOT NULL REFERENCES well(id),
    ts           INTEGER NOT NULL,
    duration_h   REAL NOT NULL,
    oil_bbl_d    REAL NOT NULL,
    water_bbl_d  REAL NOT NULL,
    gas_mscf_d   REAL NOT NULL,
    -- Conditions during the test (frequency, pressures, ...), a JSON object.
    conditions   TEXT NOT NULL DEFAULT '{}',
    created_time INTEGER NOT NULL,
    UNIQUE (tenant_id, well_id, ts)
);

-- Setpoints as data: the current value of each (device, parameter) with its
-- unit, the limits every change must keep and where the value came from
-- (`device`: read back; `written`: a confirmed write by the host;
-- `manual`: set by hand through the API).
CREATE TABLE setpoint (
    tenant_id       TEXT NOT NULL REFERENCES tenant(id),
    device_id       TEXT NOT NULL REFERENCES device(id),
    parameter       TEXT NOT NULL,
    value           REAL NOT NULL,
    unit            TEXT NOT NULL DEFAULT '',
    min_value       REAL,
    max_value       REAL,
    max_step        REAL,
    min_interval_ms INTEGER,
    source          TEXT NOT NULL CHECK (source IN ('device', 'written', 'manual')),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, device_id, parameter)
);
