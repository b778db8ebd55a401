-- A device's input to a binding, stopped by the circuit breaker because it
-- kept failing the binding's plugin (rejected input, output over its cap);
-- the binding keeps running for every other device.
CREATE TABLE binding_device_quarantine (
    tenant_id        TEXT NOT NULL,
    binding_id       TEXT NOT NULL REFERENCES binding (id) ON DELETE CASCADE,
    device_id        TEXT NOT NULL,
    reason           TEXT NOT NULL,
    quarantined_time INTEGER NOT NULL,
    PRIMARY KEY (binding_id, device_id)
);
