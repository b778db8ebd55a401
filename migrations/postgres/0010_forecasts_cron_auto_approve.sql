-- Forecasts of forecaster bindings, as on SQLite (migration 0018): the
-- newest of each (device, key); a newer forecast of the same device and key
-- replaces it.
CREATE TABLE po.forecast (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    device_id  text COLLATE "C" NOT NULL REFERENCES pf.device (id),
    key        text COLLATE "C" NOT NULL,
    binding_id text COLLATE "C" NOT NULL,
    unit       text NOT NULL,
    -- [{ts, value, low, high}, ...]
    points     jsonb NOT NULL,
    model      jsonb NOT NULL,
    issued_at  bigint NOT NULL,
    PRIMARY KEY (tenant_id, device_id, key)
);

-- A cron schedule of an optimizer or forecaster binding, instead of its
-- interval, as on SQLite: five fields read in an IANA time zone.
ALTER TABLE host.binding ADD COLUMN schedule_cron text;
ALTER TABLE host.binding ADD COLUMN schedule_tz text;

-- A binding's auto-approve policy (none: an operator decides).
ALTER TABLE host.binding ADD COLUMN auto_approve jsonb;
