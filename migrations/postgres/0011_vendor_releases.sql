-- Vendors' signing keys (ed25519, base64). A revoked key verifies nothing.
CREATE TABLE host.vendor_key (
    id             text COLLATE "C" PRIMARY KEY,
    vendor_id      text COLLATE "C" NOT NULL REFERENCES host.vendor (id),
    public_key     text NOT NULL,
    created_time   bigint NOT NULL,
    revoked_time   bigint,
    revoked_reason text
);
CREATE INDEX vendor_key_vendor ON host.vendor_key (vendor_id, created_time, id);

-- Vendors' releases: signed metadata of a component whose bytes are in the
-- content-addressed component store under `digest`.
CREATE TABLE host.vendor_release (
    id             text COLLATE "C" PRIMARY KEY,
    vendor_id      text COLLATE "C" NOT NULL REFERENCES host.vendor (id),
    package        text COLLATE "C" NOT NULL,
    version        text COLLATE "C" NOT NULL,
    kind           text COLLATE "C" NOT NULL
                   CHECK (kind IN ('decoder', 'alarm-rule', 'optimizer', 'transform', 'field-optimizer', 'forecaster')),
    digest         text NOT NULL,
    size_bytes     bigint NOT NULL,
    contract       text NOT NULL,
    info           jsonb NOT NULL,
    imports        jsonb NOT NULL,
    description    text NOT NULL,
    licence        text NOT NULL,
    source_url     text NOT NULL,
    changelog      text NOT NULL,
    key_id         text COLLATE "C" NOT NULL REFERENCES host.vendor_key (id),
    signature      text NOT NULL,
    published_by   text NOT NULL,
    published_time bigint NOT NULL,
    -- published, yanked (no new use) or revoked (no use at all; final)
    status         text NOT NULL DEFAULT 'published' CHECK (status IN ('published', 'yanked', 'revoked')),
    status_reason  text,
    status_time    bigint,
    UNIQUE (package, version)
);
CREATE INDEX vendor_release_order ON host.vendor_release (vendor_id, published_time, id);

-- The vendors each tenant trusts: only their releases are visible to it.
CREATE TABLE host.trusted_vendor (
    tenant_id    text COLLATE "C" NOT NULL REFERENCES pf.tenant (id),
    vendor_id    text COLLATE "C" NOT NULL REFERENCES host.vendor (id),
    -- on a revocation, move the tenant's bindings to the previous approved version
    fallback     boolean NOT NULL DEFAULT false,
    created_time bigint NOT NULL,
    PRIMARY KEY (tenant_id, vendor_id)
);

-- A plugin version approved from a vendor's release (its bytes stay in the
-- component store; the row's bytes are empty).
ALTER TABLE host.plugin ADD COLUMN release_id text COLLATE "C" REFERENCES host.vendor_release (id);

-- The version a binding ran before its last switch: what a rollback returns to.
ALTER TABLE host.binding ADD COLUMN previous_plugin_id text COLLATE "C" REFERENCES host.plugin (id);
