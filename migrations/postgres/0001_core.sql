-- Nexus core schema for PostgreSQL: the same tables as migrations/sqlite
-- (at their latest version), in three schemas:
--   pf    production facilities: tenants, wellpads, wells, devices,
--         telemetry (0002), alarms;
--   po    production optimization: recommendations;
--   host  the plugin host's own: plugins, bindings, plugin state, failed
--         runs, dead letters, metered use, the outbox, identity, audit.
-- Every row of tenant data carries `tenant_id`. Times are ms since the Unix
-- epoch (bigint), as the ports speak them. Text that lists are ordered or
-- paged by is COLLATE "C": byte-wise, as on SQLite, whatever the database's
-- locale. JSON documents are jsonb.

CREATE SCHEMA pf;
CREATE SCHEMA po;
CREATE SCHEMA host;

CREATE TABLE pf.tenant (
    id           text COLLATE "C" PRIMARY KEY,
    name         text NOT NULL,
    -- The tenant profile (monthly caps, limits, rate and ingest limits,
    -- quotas), whole.
    profile      jsonb NOT NULL DEFAULT '{}',
    created_time bigint NOT NULL
);

CREATE TABLE pf.wellpad (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    name         text NOT NULL,
    created_time bigint NOT NULL
);
CREATE INDEX wellpad_tenant ON pf.wellpad (tenant_id);

CREATE TABLE pf.well (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    name         text COLLATE "C" NOT NULL,
    wellpad_id   text COLLATE "C" REFERENCES pf.wellpad (id),
    status       text NOT NULL DEFAULT 'PRODUCING',
    -- Static data for optimizers (nameplate, depths, pump curve).
    static_data  jsonb NOT NULL DEFAULT '{}',
    created_time bigint NOT NULL
);
-- Lists page by (name, id).
CREATE INDEX well_tenant_name ON pf.well (tenant_id, name, id);
CREATE INDEX well_wellpad ON pf.well (wellpad_id);

CREATE TABLE pf.device (
    id                text COLLATE "C" PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    name              text COLLATE "C" NOT NULL,
    well_id           text COLLATE "C" REFERENCES pf.well (id),
    -- `sha256:<hex>` of the access token; the token is never stored.
    token_hash        text NOT NULL UNIQUE,
    created_time      bigint NOT NULL,
    token_issued_time bigint NOT NULL,
    UNIQUE (tenant_id, name)
);
CREATE INDEX device_well ON pf.device (well_id);

-- pf.alarm: one open alarm per (tenant, originator, type).
CREATE TABLE pf.alarm (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL,
    device_id    text COLLATE "C" NOT NULL,
    alarm_type   text NOT NULL,
    severity     text NOT NULL,
    status       text NOT NULL,
    start_ts     bigint NOT NULL,
    end_ts       bigint NOT NULL,
    ack_ts       bigint,
    clear_ts     bigint,
    binding_id   text COLLATE "C",
    details      jsonb NOT NULL DEFAULT '{}',
    created_time bigint NOT NULL,
    assignee     text,
    well_id      text COLLATE "C",
    wellpad_id   text COLLATE "C"
);
CREATE UNIQUE INDEX alarm_open ON pf.alarm (tenant_id, device_id, alarm_type)
    WHERE status IN ('ACTIVE_UNACK', 'ACTIVE_ACK');
CREATE INDEX alarm_tenant_time ON pf.alarm (tenant_id, start_ts DESC);
CREATE INDEX alarm_device ON pf.alarm (tenant_id, device_id, start_ts DESC);
CREATE INDEX alarm_well ON pf.alarm (tenant_id, well_id);
CREATE INDEX alarm_wellpad ON pf.alarm (tenant_id, wellpad_id);

-- Every alarm transition with who or what caused it.
CREATE TABLE pf.alarm_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id  text COLLATE "C" NOT NULL REFERENCES pf.alarm (id),
    tenant_id text COLLATE "C" NOT NULL,
    ts        bigint NOT NULL,
    action    text NOT NULL,
    status    text NOT NULL,
    severity  text NOT NULL,
    actor     text NOT NULL,
    details   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alarm_event_alarm ON pf.alarm_event (tenant_id, alarm_id, id);

CREATE TABLE pf.alarm_comment (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alarm_id  text COLLATE "C" NOT NULL REFERENCES pf.alarm (id),
    tenant_id text COLLATE "C" NOT NULL,
    ts        bigint NOT NULL,
    actor     text NOT NULL,
    text      text NOT NULL
);
CREATE INDEX alarm_comment_alarm ON pf.alarm_comment (tenant_id, alarm_id, id);

-- po.recommendation: what optimizers propose. `seq` orders rows created in
-- the same millisecond.
CREATE TABLE po.recommendation (
    id             text COLLATE "C" PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id      text COLLATE "C" NOT NULL,
    binding_id     text COLLATE "C" NOT NULL,
    well_id        text COLLATE "C",
    device_id      text COLLATE "C" NOT NULL,
    parameter      text NOT NULL,
    current_value  double precision NOT NULL,
    proposed_value double precision NOT NULL,
    unit           text NOT NULL,
    expected_gain  double precision NOT NULL,
    gain_unit      text NOT NULL,
    confidence     real NOT NULL,
    rationale      text NOT NULL,
    status         text NOT NULL DEFAULT 'PENDING',
    created_ts     bigint NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX recommendation_tenant ON po.recommendation (tenant_id, created_ts DESC, seq DESC);

-- A component as uploaded: bytes, content hash and what it said about itself.
CREATE TABLE host.plugin (
    id           text COLLATE "C" PRIMARY KEY,
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    kind         text COLLATE "C" NOT NULL
                 CHECK (kind IN ('decoder', 'alarm-rule', 'optimizer', 'transform', 'field-optimizer', 'forecaster')),
    name         text COLLATE "C" NOT NULL,
    version      text NOT NULL,
    hash         text NOT NULL,
    size_bytes   bigint NOT NULL,
    bytes        bytea NOT NULL,
    info         jsonb NOT NULL,
    created_time bigint NOT NULL,
    contract     text NOT NULL DEFAULT '0.1.0',
    UNIQUE (tenant_id, kind, name, version)
);
CREATE INDEX plugin_tenant_order ON host.plugin (tenant_id, kind, name, created_time, id);

-- A plugin version bound to devices with a configuration and limits.
CREATE TABLE host.binding (
    id                text COLLATE "C" PRIMARY KEY,
    tenant_id         text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    plugin_id         text COLLATE "C" NOT NULL REFERENCES host.plugin (id),
    kind              text NOT NULL,
    config            jsonb NOT NULL,
    limits            jsonb NOT NULL,
    -- Optimizers: run every schedule_ms.
    schedule_ms       bigint,
    enabled           boolean NOT NULL DEFAULT true,
    -- Whether the binding's alarms propagate to the well and wellpad.
    propagate         boolean NOT NULL DEFAULT true,
    -- The circuit breaker's stop, until an admin re-enables it.
    quarantine_reason text,
    quarantined_time  bigint,
    created_time      bigint NOT NULL
);
CREATE INDEX binding_tenant_order ON host.binding (tenant_id, created_time, id);
CREATE INDEX binding_enabled ON host.binding (created_time, id) WHERE enabled;

CREATE TABLE host.binding_device (
    tenant_id  text COLLATE "C" NOT NULL,
    binding_id text COLLATE "C" NOT NULL REFERENCES host.binding (id) ON DELETE CASCADE,
    device_id  text COLLATE "C" NOT NULL REFERENCES pf.device (id),
    PRIMARY KEY (binding_id, device_id)
);
CREATE INDEX binding_device_device ON host.binding_device (tenant_id, device_id);

-- A device's input to a binding, stopped by the circuit breaker.
CREATE TABLE host.binding_device_quarantine (
    tenant_id        text COLLATE "C" NOT NULL,
    binding_id       text COLLATE "C" NOT NULL REFERENCES host.binding (id) ON DELETE CASCADE,
    device_id        text COLLATE "C" NOT NULL,
    reason           text NOT NULL,
    quarantined_time bigint NOT NULL,
    PRIMARY KEY (binding_id, device_id)
);

-- Plugin key-value state, scoped to (binding, device).
CREATE TABLE host.plugin_state (
    tenant_id  text COLLATE "C" NOT NULL,
    binding_id text COLLATE "C" NOT NULL REFERENCES host.binding (id) ON DELETE CASCADE,
    device_id  text COLLATE "C" NOT NULL,
    key        text COLLATE "C" NOT NULL,
    value      bytea NOT NULL,
    PRIMARY KEY (tenant_id, binding_id, device_id, key)
);

-- Plugin calls that failed: what, why, how long.
CREATE TABLE host.plugin_run (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text COLLATE "C" NOT NULL,
    binding_id  text COLLATE "C",
    device_id   text COLLATE "C",
    plugin      text NOT NULL,
    version     text NOT NULL,
    error_code  text NOT NULL,
    error       text NOT NULL,
    duration_us bigint NOT NULL,
    fuel_used   bigint NOT NULL,
    ts          bigint NOT NULL
);
CREATE INDEX plugin_run_tenant ON host.plugin_run (tenant_id, id DESC);

-- Input that could not be processed, with the reason; never dropped
-- silently (retained by age and bytes per tenant).
CREATE TABLE host.dead_letter (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL,
    binding_id text COLLATE "C",
    device_id  text COLLATE "C",
    stage      text NOT NULL,
    error_code text NOT NULL,
    error      text NOT NULL,
    payload    bytea NOT NULL,
    ts         bigint NOT NULL
);
CREATE INDEX dead_letter_tenant ON host.dead_letter (tenant_id, id DESC);
CREATE INDEX dead_letter_ts ON host.dead_letter (ts);

-- Metered use per tenant and month ('YYYY-MM', UTC).
CREATE TABLE host.tenant_usage (
    tenant_id  text COLLATE "C" NOT NULL,
    month      text COLLATE "C" NOT NULL,
    executions bigint NOT NULL DEFAULT 0,
    fuel       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);

-- The outbox: events written in the same transaction as the change they
-- describe. `seq` is commit order: a transaction takes a transaction-scoped
-- advisory lock before it appends, so sequence numbers are handed out in
-- the order the appending transactions commit (see outbox.rs).
CREATE TABLE host.outbox (
    seq       bigserial PRIMARY KEY,
    tenant_id text COLLATE "C" NOT NULL,
    ts        bigint NOT NULL,
    key       text NOT NULL,
    type      text NOT NULL,
    body      jsonb NOT NULL
);
CREATE INDEX outbox_tenant ON host.outbox (tenant_id, seq);

-- Where each subscriber of the outbox is (a host table, not a tenant's).
CREATE TABLE host.outbox_cursor (
    subscriber text PRIMARY KEY,
    seq        bigint NOT NULL
);

-- Identity: vendors, users, login sessions and their refresh tokens, API
-- keys, and the append-only audit log. Secrets are stored only as hashes.
CREATE TABLE host.vendor (
    id           text COLLATE "C" PRIMARY KEY,
    name         text COLLATE "C" NOT NULL UNIQUE,
    created_time bigint NOT NULL
);

-- scope_kind: 'system' | 'tenant' | 'vendor'; scope_id the tenant or vendor.
CREATE TABLE host.app_user (
    id            text COLLATE "C" PRIMARY KEY,
    email         text COLLATE "C" NOT NULL UNIQUE,
    role          text NOT NULL,
    scope_kind    text NOT NULL,
    scope_id      text COLLATE "C",
    password_hash text NOT NULL,
    created_time  bigint NOT NULL
);
CREATE INDEX app_user_scope ON host.app_user (scope_kind, scope_id, email, id);

CREATE TABLE host.session (
    id           text COLLATE "C" PRIMARY KEY,
    user_id      text COLLATE "C" NOT NULL REFERENCES host.app_user (id) ON DELETE CASCADE,
    created_time bigint NOT NULL,
    expires_time bigint NOT NULL,
    revoked_time bigint
);
CREATE INDEX session_by_user ON host.session (user_id);

-- Every refresh token a session issued; a used one presented again revokes
-- the session (its family).
CREATE TABLE host.refresh_token (
    hash        text PRIMARY KEY,
    session_id  text COLLATE "C" NOT NULL REFERENCES host.session (id) ON DELETE CASCADE,
    issued_time bigint NOT NULL,
    used_time   bigint
);
CREATE INDEX refresh_token_session ON host.refresh_token (session_id);

CREATE TABLE host.api_key (
    id           text COLLATE "C" PRIMARY KEY,
    hash         text NOT NULL UNIQUE,
    name         text NOT NULL,
    role         text NOT NULL,
    scope_kind   text NOT NULL,
    scope_id     text COLLATE "C",
    expires_time bigint,
    revoked_time bigint,
    created_time bigint NOT NULL
);
CREATE INDEX api_key_scope ON host.api_key (scope_kind, scope_id, created_time, id);

CREATE TABLE host.audit_log (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time       bigint NOT NULL,
    tenant_id  text COLLATE "C",
    actor      text NOT NULL,
    role       text NOT NULL,
    action     text NOT NULL,
    object     text NOT NULL,
    status     integer NOT NULL,
    summary    jsonb NOT NULL,
    request_id text NOT NULL
);
CREATE INDEX audit_log_tenant ON host.audit_log (tenant_id, seq);

-- Append-only: nothing rewrites or removes an entry.
CREATE FUNCTION host.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON host.audit_log
    FOR EACH ROW EXECUTE FUNCTION host.audit_log_is_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON host.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION host.audit_log_is_append_only();
