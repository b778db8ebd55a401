-- A setpoint's read-back: the telemetry key that shows its value and how
-- far a reading may be from a written value. A write of a setpoint with a
-- read-back is confirmed only once that telemetry reads the value.
ALTER TABLE setpoint ADD COLUMN readback_key TEXT;
ALTER TABLE setpoint ADD COLUMN readback_tolerance REAL;

-- The approval sweep finds proposed recommendations past their time to
-- live, and on start the approved and sent ones a stopped server left.
CREATE INDEX idx_recommendation_status ON recommendation(status, created_ts);
