-- Notifications: tenants' rules of which alarm transitions are sent where,
-- and one delivery per (rule, event) that the delivery worker sends (as on
-- SQLite, migration 0011).
--
-- filter: JSON (alarm_types, min_severity, severities, transitions).
-- channel: JSON without the secret (webhook: url; email: to).
-- secret: the webhook's HMAC key. It signs every request, so it is kept
-- as given (not hashed); the API never shows it.
CREATE TABLE host.notification_rule (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    name         text COLLATE "C" NOT NULL,
    enabled      boolean NOT NULL,
    filter       text NOT NULL,
    channel_kind text NOT NULL CHECK (channel_kind IN ('webhook', 'email')),
    channel      text NOT NULL,
    secret       text,
    created_time bigint NOT NULL,
    updated_time bigint NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX notification_rule_enabled ON host.notification_rule (tenant_id, enabled);

-- (rule_id, event_seq) is unique: the outbox delivering a batch again
-- enqueues nothing new. The event as the outbox row holds it.
CREATE TABLE host.notification_delivery (
    id                text COLLATE "C" PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    rule_id           text COLLATE "C" NOT NULL REFERENCES host.notification_rule (id) ON DELETE CASCADE,
    event_seq         bigint NOT NULL,
    event_ts          bigint NOT NULL,
    event_key         text NOT NULL,
    event_type        text NOT NULL,
    event_body        text NOT NULL,
    channel_kind      text NOT NULL CHECK (channel_kind IN ('webhook', 'email')),
    status            text NOT NULL CHECK (status IN ('pending', 'sent', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    next_attempt_time bigint NOT NULL,
    created_time      bigint NOT NULL,
    updated_time      bigint NOT NULL,
    sent_time         bigint,
    UNIQUE (rule_id, event_seq)
);
CREATE INDEX notification_delivery_due ON host.notification_delivery (next_attempt_time) WHERE status = 'pending';
CREATE INDEX notification_delivery_tenant ON host.notification_delivery (tenant_id, event_seq, id);
CREATE INDEX notification_delivery_status ON host.notification_delivery (tenant_id, status, event_seq, id);
