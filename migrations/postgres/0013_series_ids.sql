-- Telemetry keyed by series, as on SQLite (migration 0007): a series is a
-- (tenant, device, key), numbered once in `pf.telemetry_latest` (which
-- already holds one row per key a device ever sent), and `pf.telemetry`'s
-- rows carry that number instead of the three strings. A row and its
-- primary-key entry shrink from three strings (about 100 bytes with uuid
-- ids) plus the stamp to 16 bytes, which cut the CPU a written sample
-- costs by about a third (`cargo bench -p nexus --bench ingest --
-- --storage …`, README "Performance").
--
-- Upgrading keeps every row: the old table's rows are copied into the new
-- one under their series' numbers. The layout (hypertable or partitions)
-- stays what migration 0002 chose; `pf.telemetry_1min` keeps its columns
-- (tenant_id, device_id, key, bucket, avg/min/max/sum, samples), now a view
-- that names the series of a per-series aggregate.

ALTER TABLE pf.telemetry_latest ADD COLUMN series_id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE pf.telemetry_latest ADD CONSTRAINT telemetry_latest_series UNIQUE (series_id);

-- Every stored series is numbered, even one whose latest row went missing.
INSERT INTO pf.telemetry_latest (tenant_id, device_id, key)
    SELECT DISTINCT tenant_id, device_id, key FROM pf.telemetry
    ON CONFLICT DO NOTHING;

CREATE TABLE pf.telemetry_upgrade AS
    SELECT l.series_id, t.ts, t.value_numeric, t.value_long, t.value_boolean, t.value_string, t.quality
    FROM pf.telemetry t
    JOIN pf.telemetry_latest l ON l.tenant_id = t.tenant_id AND l.device_id = t.device_id AND l.key = t.key;

DO $migration$
DECLARE
    hypertable boolean := (SELECT relkind FROM pg_class WHERE oid = 'pf.telemetry'::regclass) <> 'p';
BEGIN
    IF hypertable THEN
        -- Untested on the development machine (TimescaleDB is not packaged
        -- for Debian); see README, "Storage backends".
        EXECUTE 'DROP MATERIALIZED VIEW pf.telemetry_1min';
        DROP TABLE pf.telemetry;
        CREATE TABLE pf.telemetry (
            series_id     bigint NOT NULL,
            ts            bigint NOT NULL,
            value_numeric double precision,
            value_long    bigint,
            value_boolean boolean,
            value_string  text,
            quality       real NOT NULL,
            PRIMARY KEY (series_id, ts)
        );
        EXECUTE $$SELECT create_hypertable('pf.telemetry', 'ts', chunk_time_interval => 86400000::bigint)$$;
        EXECUTE $$SELECT set_integer_now_func('pf.telemetry', 'pf.unix_now_ms')$$;
        EXECUTE $$ALTER TABLE pf.telemetry SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'series_id',
                    timescaledb.compress_orderby = 'ts DESC')$$;
        EXECUTE $$SELECT add_compression_policy('pf.telemetry', compress_after => 604800000::bigint)$$;
        EXECUTE $$CREATE MATERIALIZED VIEW pf.telemetry_1min_series
                    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                  SELECT series_id, time_bucket(60000::bigint, ts) AS bucket,
                         avg(coalesce(value_numeric, value_long::double precision)) AS avg_value,
                         min(coalesce(value_numeric, value_long::double precision)) AS min_value,
                         max(coalesce(value_numeric, value_long::double precision)) AS max_value,
                         sum(coalesce(value_numeric, value_long::double precision)) AS sum_value,
                         count(coalesce(value_numeric, value_long::double precision)) AS samples
                  FROM pf.telemetry
                  GROUP BY series_id, time_bucket(60000::bigint, ts)
                  WITH NO DATA$$;
        EXECUTE $$SELECT add_continuous_aggregate_policy('pf.telemetry_1min_series',
                    start_offset => 259200000::bigint, end_offset => 60000::bigint,
                    schedule_interval => INTERVAL '1 minute')$$;
    ELSE
        DROP VIEW pf.telemetry_1min;
        -- Drops the day partitions and the default with it.
        DROP TABLE pf.telemetry;
        CREATE TABLE pf.telemetry (
            series_id     bigint NOT NULL,
            ts            bigint NOT NULL,
            value_numeric double precision,
            value_long    bigint,
            value_boolean boolean,
            value_string  text,
            quality       real NOT NULL,
            PRIMARY KEY (series_id, ts)
        ) PARTITION BY RANGE (ts);
        CREATE TABLE pf.telemetry_default PARTITION OF pf.telemetry DEFAULT;
        CREATE INDEX telemetry_ts_brin ON pf.telemetry USING brin (ts);
        -- The upgraded rows land in the default partition; the store moves
        -- the days around now into their own partitions when it connects.
        CREATE VIEW pf.telemetry_1min_series AS
            SELECT series_id, ts - ((ts % 60000) + 60000) % 60000 AS bucket,
                   avg(coalesce(value_numeric, value_long::double precision)) AS avg_value,
                   min(coalesce(value_numeric, value_long::double precision)) AS min_value,
                   max(coalesce(value_numeric, value_long::double precision)) AS max_value,
                   sum(coalesce(value_numeric, value_long::double precision)) AS sum_value,
                   count(coalesce(value_numeric, value_long::double precision)) AS samples
            FROM pf.telemetry
            GROUP BY series_id, ts - ((ts % 60000) + 60000) % 60000;
    END IF;
END
$migration$;

INSERT INTO pf.telemetry SELECT * FROM pf.telemetry_upgrade;
DROP TABLE pf.telemetry_upgrade;

CREATE VIEW pf.telemetry_1min AS
    SELECT l.tenant_id, l.device_id, l.key, a.bucket, a.avg_value, a.min_value, a.max_value, a.sum_value, a.samples
    FROM pf.telemetry_1min_series a JOIN pf.telemetry_latest l ON l.series_id = a.series_id;
