-- The recommendation's life: PROPOSED (formerly PENDING) → APPROVED |
-- REJECTED | EXPIRED | SUPERSEDED → SENT → CONFIRMED | FAILED | TIMED_OUT.
UPDATE recommendation SET status = 'PROPOSED' WHERE status = 'PENDING';
CREATE INDEX idx_recommendation_open ON recommendation(tenant_id, binding_id, device_id, parameter, status);

-- Each step, with who took it and why (also an outbox event).
CREATE TABLE recommendation_transition (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id         TEXT NOT NULL,
    recommendation_id TEXT NOT NULL REFERENCES recommendation(id),
    device_id         TEXT NOT NULL,
    from_status       TEXT NOT NULL,
    to_status         TEXT NOT NULL,
    actor             TEXT NOT NULL,
    reason            TEXT,
    ts                INTEGER NOT NULL
);
CREATE INDEX idx_recommendation_transition ON recommendation_transition(tenant_id, recommendation_id, id);
