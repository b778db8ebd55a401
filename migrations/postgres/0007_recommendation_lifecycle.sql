-- The recommendation's life, as on SQLite (migration 0015): PROPOSED
-- (formerly PENDING) → APPROVED | REJECTED | EXPIRED | SUPERSEDED → SENT →
-- CONFIRMED | FAILED | TIMED_OUT.
UPDATE po.recommendation SET status = 'PROPOSED' WHERE status = 'PENDING';
ALTER TABLE po.recommendation ALTER COLUMN status SET DEFAULT 'PROPOSED';
CREATE INDEX recommendation_open ON po.recommendation (tenant_id, binding_id, device_id, parameter, status);

-- Each step, with who took it and why (also an outbox event).
CREATE TABLE po.recommendation_transition (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL,
    recommendation_id text COLLATE "C" NOT NULL REFERENCES po.recommendation (id),
    device_id         text COLLATE "C" NOT NULL,
    from_status       text NOT NULL,
    to_status         text NOT NULL,
    actor             text NOT NULL,
    reason            text,
    ts                bigint NOT NULL
);
CREATE INDEX recommendation_transition_of ON po.recommendation_transition (tenant_id, recommendation_id, id);
