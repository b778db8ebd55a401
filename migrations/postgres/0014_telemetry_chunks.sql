-- Chunks: a commit's run of at least 16 new samples of one series, all
-- newer than anything stored of it, is one row of `pf.telemetry_chunk`
-- (its stamps and values as arrays, in time order) instead of one row of
-- `pf.telemetry` each: about a hundredth of the index entries a commit of
-- 100-sample series writes. Every other sample is a row as before, and a
-- row that lands inside a chunk's span (a re-delivery, a late sample)
-- first unpacks that chunk into rows, so a (series, ts) is never both in a
-- chunk and in a row and reads add the two without any precedence (the
-- embedded backend's chunks work the same way). Only the partitioned
-- layout writes chunks; on a hypertable TimescaleDB compresses chunks of
-- its own, and every sample stays a row.
CREATE TABLE pf.telemetry_chunk (
    series_id     bigint NOT NULL,
    first_ts      bigint NOT NULL,
    last_ts       bigint NOT NULL,
    ts            bigint[] NOT NULL,
    -- One array per value type, as the row columns: NULL where the sample
    -- is of another type.
    value_numeric double precision[],
    value_long    bigint[],
    value_boolean boolean[],
    value_string  text[],
    quality       real[] NOT NULL,
    PRIMARY KEY (series_id, first_ts)
);
-- Chunks never overlap, so this orders them as the key does, from the end
-- a read from a start stamp needs.
CREATE INDEX telemetry_chunk_last ON pf.telemetry_chunk (series_id, last_ts);

-- The newest stamp stored of a series, in a row or a chunk (whatever its
-- distance ahead of the clock, unlike `ts`, the latest value's): a run
-- newer than it overlaps nothing stored.
ALTER TABLE pf.telemetry_latest ADD COLUMN stored_until bigint;
UPDATE pf.telemetry_latest k SET stored_until = (SELECT max(t.ts) FROM pf.telemetry t WHERE t.series_id = k.series_id);

-- Every sample, in a row or in a chunk.
CREATE VIEW pf.telemetry_samples AS
    SELECT series_id, ts, value_numeric, value_long, value_boolean, value_string, quality FROM pf.telemetry
    UNION ALL
    SELECT c.series_id, u.ts, u.value_numeric, u.value_long, u.value_boolean, u.value_string, u.quality
    FROM pf.telemetry_chunk c
    CROSS JOIN LATERAL unnest(c.ts, c.value_numeric, c.value_long, c.value_boolean, c.value_string, c.quality)
        AS u(ts, value_numeric, value_long, value_boolean, value_string, quality);

-- The view twin of the continuous aggregate reads the chunks too.
DO $migration$
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'pf.telemetry'::regclass) = 'p' THEN
        CREATE OR REPLACE VIEW pf.telemetry_1min_series AS
            SELECT series_id, ts - ((ts % 60000) + 60000) % 60000 AS bucket,
                   avg(coalesce(value_numeric, value_long::double precision)) AS avg_value,
                   min(coalesce(value_numeric, value_long::double precision)) AS min_value,
                   max(coalesce(value_numeric, value_long::double precision)) AS max_value,
                   sum(coalesce(value_numeric, value_long::double precision)) AS sum_value,
                   count(coalesce(value_numeric, value_long::double precision)) AS samples
            FROM pf.telemetry_samples
            GROUP BY series_id, ts - ((ts % 60000) + 60000) % 60000;
    END IF;
END
$migration$;
