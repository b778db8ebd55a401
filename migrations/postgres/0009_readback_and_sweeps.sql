-- A setpoint's read-back, as on SQLite (migration 0017): the telemetry key
-- that shows its value and how far a reading may be from a written value.
ALTER TABLE po.setpoint ADD COLUMN readback_key text;
ALTER TABLE po.setpoint ADD COLUMN readback_tolerance double precision;

-- The approval sweep, as on SQLite: recommendations by status and age.
CREATE INDEX recommendation_status ON po.recommendation (status, created_ts);
