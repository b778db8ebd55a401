-- Well tests as data, as on SQLite (migration 0014): the measured rates and
-- conditions of one test of one well; at most one test per well and start time.
CREATE TABLE pf.well_test (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    well_id      text COLLATE "C" NOT NULL REFERENCES pf.well (id),
    ts           bigint NOT NULL,
    duration_h   double precision NOT NULL,
    oil_bbl_d    double precision NOT NULL,
    water_bbl_d  double precision NOT NULL,
    gas_mscf_d   double precision NOT NULL,
    -- Conditions during the test (frequency, pressures, ...).
    conditions   jsonb NOT NULL DEFAULT '{}',
    created_time bigint NOT NULL,
    UNIQUE (tenant_id, well_id, ts)
);

-- Setpoints as data, as on SQLite (migration 0014): the current value of
-- each (device, parameter), its unit, limits and source.
CREATE TABLE po.setpoint (
    tenant_id       text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    device_id       text COLLATE "C" NOT NULL REFERENCES pf.device (id),
    parameter       text COLLATE "C" NOT NULL,
    value           double precision NOT NULL,
    unit            text NOT NULL DEFAULT '',
    min_value       double precision,
    max_value       double precision,
    max_step        double precision,
    min_interval_ms bigint,
    source          text NOT NULL CHECK (source IN ('device', 'written', 'manual')),
    updated_at      bigint NOT NULL,
    PRIMARY KEY (tenant_id, device_id, parameter)
);
