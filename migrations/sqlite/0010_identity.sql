-- Identity: vendors, users, login sessions and their refresh tokens, API
-- keys, and the append-only audit log. Secrets are stored only as hashes
-- (argon2id for passwords, sha256 for random refresh tokens and API keys).
CREATE TABLE vendor (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    created_time INTEGER NOT NULL
);

-- scope_kind: 'system' | 'tenant' | 'vendor'; scope_id the tenant or vendor.
CREATE TABLE app_user (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    scope_kind    TEXT NOT NULL,
    scope_id      TEXT,
    password_hash TEXT NOT NULL,
    created_time  INTEGER NOT NULL
);
CREATE INDEX app_user_scope ON app_user (scope_kind, scope_id);

CREATE TABLE session (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    created_time INTEGER NOT NULL,
    expires_time INTEGER NOT NULL,
    revoked_time INTEGER
);
CREATE INDEX session_user ON session (user_id);

-- Every refresh token a session issued; a used one presented again revokes
-- the session (its family).
CREATE TABLE refresh_token (
    hash         TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES session (id) ON DELETE CASCADE,
    issued_time  INTEGER NOT NULL,
    used_time    INTEGER
);
CREATE INDEX refresh_token_session ON refresh_token (session_id);

CREATE TABLE api_key (
    id           TEXT PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    scope_kind   TEXT NOT NULL,
    scope_id     TEXT,
    expires_time INTEGER,
    revoked_time INTEGER,
    created_time INTEGER NOT NULL
);
CREATE INDEX api_key_scope ON api_key (scope_kind, scope_id);

CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    time       INTEGER NOT NULL,
    tenant_id  TEXT,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    object     TEXT NOT NULL,
    status     INTEGER NOT NULL,
    summary    TEXT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

-- Append-only: nothing rewrites or removes an entry.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
