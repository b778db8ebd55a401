-- Alarm assignment, comments, and propagation to the well and wellpad of
-- the originator (ThingsBoard's "propagate" to related entities).
ALTER TABLE alarm ADD COLUMN assignee TEXT;
ALTER TABLE alarm ADD COLUMN well_id TEXT;
ALTER TABLE alarm ADD COLUMN wellpad_id TEXT;
CREATE INDEX idx_alarm_well ON alarm(tenant_id, well_id);
CREATE INDEX idx_alarm_wellpad ON alarm(tenant_id, wellpad_id);

-- Whether a binding's alarms propagate to the well and wellpad.
ALTER TABLE binding ADD COLUMN propagate INTEGER NOT NULL DEFAULT 1;

CREATE TABLE alarm_comment (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    alarm_id  TEXT NOT NULL REFERENCES alarm(id),
    tenant_id TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    text      TEXT NOT NULL
);
CREATE INDEX idx_alarm_comment_alarm ON alarm_comment(alarm_id);
