-- The chunks' arrays compressed with lz4 instead of PostgreSQL's default
-- pglz. A chunk of 100 samples is about 2 kB, past the size at which
-- PostgreSQL compresses a row's largest values before storing it, so every
-- chunk written went through pglz. Inserting 60 000 chunk rows of 100
-- samples in `psql` took 22 µs a row with pglz and 10 µs with lz4; both
-- store the same number of pages, and reading them back through `unnest`
-- took the same time (README, "Performance": "Chunks compressed with lz4"). Values already stored keep
-- their compression; only new ones use lz4. A server built without lz4
-- keeps pglz, and nothing else changes.
DO $migration$
BEGIN
    ALTER TABLE pf.telemetry_chunk
        ALTER COLUMN ts SET COMPRESSION lz4,
        ALTER COLUMN value_numeric SET COMPRESSION lz4,
        ALTER COLUMN value_long SET COMPRESSION lz4,
        ALTER COLUMN value_boolean SET COMPRESSION lz4,
        ALTER COLUMN value_string SET COMPRESSION lz4,
        ALTER COLUMN quality SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this server has no lz4: the chunks stay compressed with pglz';
END
$migration$;
