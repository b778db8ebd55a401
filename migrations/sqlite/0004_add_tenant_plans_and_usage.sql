-- Tenant plans (monthly caps, limit overrides) and metered usage per month.
ALTER TABLE tenant ADD COLUMN plan TEXT NOT NULL DEFAULT '{}';

CREATE TABLE tenant_usage (
    tenant_id  TEXT NOT NULL,
    month      TEXT NOT NULL,          -- 'YYYY-MM' (UTC)
    executions INTEGER NOT NULL DEFAULT 0,
    fuel       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, month)
);
