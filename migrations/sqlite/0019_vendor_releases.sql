-- Vendors' signing keys (ed25519, base64). A revoked key verifies nothing.
CREATE TABLE vendor_key (
    id             TEXT PRIMARY KEY,
    vendor_id      TEXT NOT NULL REFERENCES vendor(id),
    public_key     TEXT NOT NULL,
    created_time   INTEGER NOT NULL,
    revoked_time   INTEGER,
    revoked_reason TEXT
);
CREATE INDEX vendor_key_vendor ON vendor_key (vendor_id, created_time, id);

-- Vendors' releases: signed metadata of a component whose bytes are in the
-- content-addressed component store under `digest`.
CREATE TABLE vendor_release (
    id             TEXT PRIMARY KEY,
    vendor_id      TEXT NOT NULL REFERENCES vendor(id),
    package        TEXT NOT NULL,
    version        TEXT NOT NULL,
    kind           TEXT NOT NULL,
    digest         TEXT NOT NULL,
    size_bytes     INTEGER NOT NULL,
    contract       TEXT NOT NULL,
    info           TEXT NOT NULL,
    imports        TEXT NOT NULL,
    description    TEXT NOT NULL,
    licence        TEXT NOT NULL,
    source_url     TEXT NOT NULL,
    changelog      TEXT NOT NULL,
    key_id         TEXT NOT NULL REFERENCES vendor_key(id),
    signature      TEXT NOT NULL,
    published_by   TEXT NOT NULL,
    published_time INTEGER NOT NULL,
    -- published, yanked (no new use) or revoked (no use at all; final)
    status         TEXT NOT NULL DEFAULT 'published',
    status_reason  TEXT,
    status_time    INTEGER,
    UNIQUE (package, version)
);
CREATE INDEX vendor_release_order ON vendor_release (vendor_id, published_time, id);

-- The vendors each tenant trusts: only their releases are visible to it.
CREATE TABLE trusted_vendor (
    tenant_id    TEXT NOT NULL REFERENCES tenant(id),
    vendor_id    TEXT NOT NULL REFERENCES vendor(id),
    -- on a revocation, move the tenant's bindings to the previous approved version
    fallback     INTEGER NOT NULL DEFAULT 0,
    created_time INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, vendor_id)
);

-- A plugin version approved from a vendor's release (its bytes stay in the
-- component store; the row's bytes are empty).
ALTER TABLE plugin ADD COLUMN release_id TEXT REFERENCES vendor_release(id);

-- The version a binding ran before its last switch: what a rollback returns to.
ALTER TABLE binding ADD COLUMN previous_plugin_id TEXT REFERENCES plugin(id);
