-- The circuit breaker: a binding that keeps failing is quarantined (disabled
-- with a reason) until an admin re-enables it.
ALTER TABLE binding ADD COLUMN quarantine_reason TEXT;
ALTER TABLE binding ADD COLUMN quarantined_time INTEGER;
