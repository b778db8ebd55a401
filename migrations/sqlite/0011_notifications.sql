-- Notifications: tenants' rules of which alarm transitions are sent where,
-- and one delivery per (rule, event) that the delivery worker sends.

-- filter: JSON (alarm_types, min_severity, severities, transitions).
-- channel: JSON without the secret (webhook: url; email: to).
-- secret: the webhook's HMAC key. It signs every request, so it is kept
-- as given (not hashed); the API never shows it.
CREATE TABLE notification_rule (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenant (id),
    name         TEXT NOT NULL,
    enabled      INTEGER NOT NULL,
    filter       TEXT NOT NULL,
    channel_kind TEXT NOT NULL CHECK (channel_kind IN ('webhook', 'email')),
    channel      TEXT NOT NULL,
    secret       TEXT,
    created_time INTEGER NOT NULL,
    updated_time INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX notification_rule_enabled ON notification_rule (tenant_id, enabled);

-- (rule_id, event_seq) is unique: the outbox delivering a batch again
-- enqueues nothing new. The event as the outbox row holds it: seq, ts,
-- key, type and body (JSON).
CREATE TABLE notification_delivery (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenant (id),
    rule_id           TEXT NOT NULL REFERENCES notification_rule (id) ON DELETE CASCADE,
    event_seq         INTEGER NOT NULL,
    event_ts          INTEGER NOT NULL,
    event_key         TEXT NOT NULL,
    event_type        TEXT NOT NULL,
    event_body        TEXT NOT NULL,
    channel_kind      TEXT NOT NULL CHECK (channel_kind IN ('webhook', 'email')),
    status            TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    next_attempt_time INTEGER NOT NULL,
    created_time      INTEGER NOT NULL,
    updated_time      INTEGER NOT NULL,
    sent_time         INTEGER,
    UNIQUE (rule_id, event_seq)
);
CREATE INDEX notification_delivery_due ON notification_delivery (next_attempt_time) WHERE status = 'pending';
CREATE INDEX notification_delivery_tenant ON notification_delivery (tenant_id, event_seq, id);
CREATE INDEX notification_delivery_status ON notification_delivery (tenant_id, status, event_seq, id);
