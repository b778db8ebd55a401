-- Tenant plans became tenant profiles (monthly caps, limits, rate limits,
-- ingest limits and entity quotas in one JSON document).
ALTER TABLE tenant RENAME COLUMN plan TO profile;
