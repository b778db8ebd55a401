-- Forecasts of forecaster bindings: the newest of each (device, key). The
-- points and the fitted model are JSON (an array of {ts, value, low, high}
-- and an object); a newer forecast of the same device and key replaces it.
CREATE TABLE forecast (
    tenant_id  TEXT NOT NULL REFERENCES tenant(id),
    device_id  TEXT NOT NULL REFERENCES device(id),
    key        TEXT NOT NULL,
    binding_id TEXT NOT NULL,
    unit       TEXT NOT NULL,
    points     TEXT NOT NULL,
    model      TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, device_id, key)
);

-- A cron schedule of an optimizer or forecaster binding, instead of its
-- interval: five fields read in an IANA time zone.
ALTER TABLE binding ADD COLUMN schedule_cron TEXT;
ALTER TABLE binding ADD COLUMN schedule_tz TEXT;

-- A binding's auto-approve policy (JSON; none: an operator decides).
ALTER TABLE binding ADD COLUMN auto_approve TEXT;
