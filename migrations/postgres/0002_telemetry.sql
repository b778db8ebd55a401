-- pf.telemetry: one row per (tenant, device, key, ts); a re-delivered
-- reading replaces itself (the store upserts on the primary key). The
-- primary key (tenant_id, device_id, key, ts) is the read index: a key's
-- history and newest samples are one range scan of it, forwards or
-- backwards.
--
-- Two layouts of the same table, chosen here once; the application's
-- queries are the same on both:
--   * TimescaleDB, when the extension is installed or can be (available
--     and preloaded): a hypertable with 1-day chunks, compression segmented
--     by (tenant, device, key) after 7 days, and `pf.telemetry_1min`, a
--     continuous aggregate of 1-minute buckets (avg, min, max, sum, count).
--     Retention is per tenant (tenant profile), not one global policy, so
--     none is added here.
--   * Otherwise native range partitioning by `ts`: one partition per UTC
--     day (`pf.telemetry_pYYYYMMDD`, created ahead by the store through
--     `pf.ensure_telemetry_partition`), a default partition for samples of
--     days without one (moved into the day's partition when it is
--     created), a BRIN index on `ts`, and `pf.telemetry_1min` as a plain
--     view with the continuous aggregate's columns.
-- `ts` is ms since the Unix epoch (bigint), so Timescale uses integer time
-- with `pf.unix_now_ms` as its clock.

CREATE FUNCTION pf.unix_now_ms() RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT (extract(epoch FROM now()) * 1000)::bigint
$$;

-- The latest value of every key of a device: one row per key the device
-- ever sent (so it also lists a device's keys), with the newest sample not
-- stamped ahead of the host's clock; `ts` is NULL while there is none.
CREATE TABLE pf.telemetry_latest (
    tenant_id     text COLLATE "C" NOT NULL,
    device_id     text COLLATE "C" NOT NULL,
    key           text COLLATE "C" NOT NULL,
    ts            bigint,
    value_numeric double precision,
    value_long    bigint,
    value_boolean boolean,
    value_string  text,
    quality       real,
    PRIMARY KEY (tenant_id, device_id, key)
);

DO $migration$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
           AND current_setting('shared_preload_libraries') LIKE '%timescaledb%') THEN
        -- Untested on the development machine (TimescaleDB is not packaged
        -- for Debian); see README, "Storage backends".
        EXECUTE 'CREATE EXTENSION IF NOT EXISTS timescaledb';
        CREATE TABLE pf.telemetry (
            tenant_id     text COLLATE "C" NOT NULL,
            device_id     text COLLATE "C" NOT NULL,
            key           text COLLATE "C" NOT NULL,
            ts            bigint NOT NULL,
            value_numeric double precision,
            value_long    bigint,
            value_boolean boolean,
            value_string  text,
            quality       real NOT NULL,
            PRIMARY KEY (tenant_id, device_id, key, ts)
        );
        EXECUTE $$SELECT create_hypertable('pf.telemetry', 'ts', chunk_time_interval => 86400000::bigint)$$;
        EXECUTE $$SELECT set_integer_now_func('pf.telemetry', 'pf.unix_now_ms')$$;
        EXECUTE $$ALTER TABLE pf.telemetry SET (timescaledb.compress,
                    timescaledb.compress_segmentby = 'tenant_id, device_id, key',
                    timescaledb.compress_orderby = 'ts DESC')$$;
        EXECUTE $$SELECT add_compression_policy('pf.telemetry', compress_after => 604800000::bigint)$$;
        -- WITH NO DATA: a continuous aggregate may be created inside a
        -- transaction only without materializing; the policy fills it, and
        -- real-time aggregation answers for what it has not yet.
        EXECUTE $$CREATE MATERIALIZED VIEW pf.telemetry_1min
                    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                  SELECT tenant_id, device_id, key, time_bucket(60000::bigint, ts) AS bucket,
                         avg(coalesce(value_numeric, value_long::double precision)) AS avg_value,
                         min(coalesce(value_numeric, value_long::double precision)) AS min_value,
                         max(coalesce(value_numeric, value_long::double precision)) AS max_value,
                         sum(coalesce(value_numeric, value_long::double precision)) AS sum_value,
                         count(coalesce(value_numeric, value_long::double precision)) AS samples
                  FROM pf.telemetry
                  GROUP BY tenant_id, device_id, key, time_bucket(60000::bigint, ts)
                  WITH NO DATA$$;
        EXECUTE $$SELECT add_continuous_aggregate_policy('pf.telemetry_1min',
                    start_offset => 259200000::bigint, end_offset => 60000::bigint,
                    schedule_interval => INTERVAL '1 minute')$$;
    ELSE
        CREATE TABLE pf.telemetry (
            tenant_id     text COLLATE "C" NOT NULL,
            device_id     text COLLATE "C" NOT NULL,
            key           text COLLATE "C" NOT NULL,
            ts            bigint NOT NULL,
            value_numeric double precision,
            value_long    bigint,
            value_boolean boolean,
            value_string  text,
            quality       real NOT NULL,
            PRIMARY KEY (tenant_id, device_id, key, ts)
        ) PARTITION BY RANGE (ts);
        CREATE TABLE pf.telemetry_default PARTITION OF pf.telemetry DEFAULT;
        CREATE INDEX telemetry_ts_brin ON pf.telemetry USING brin (ts);
        CREATE VIEW pf.telemetry_1min AS
            SELECT tenant_id, device_id, key, ts - ((ts % 60000) + 60000) % 60000 AS bucket,
                   avg(coalesce(value_numeric, value_long::double precision)) AS avg_value,
                   min(coalesce(value_numeric, value_long::double precision)) AS min_value,
                   max(coalesce(value_numeric, value_long::double precision)) AS max_value,
                   sum(coalesce(value_numeric, value_long::double precision)) AS sum_value,
                   count(coalesce(value_numeric, value_long::double precision)) AS samples
            FROM pf.telemetry
            GROUP BY tenant_id, device_id, key, ts - ((ts % 60000) + 60000) % 60000;
    END IF;
END
$migration$;

-- Creates the partition of the UTC day `day` (days since the Unix epoch)
-- unless it exists, moving that day's rows out of the default partition.
-- Returns whether it created one; does nothing on a hypertable.
CREATE FUNCTION pf.ensure_telemetry_partition(day bigint) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    lo   bigint := day * 86400000;
    hi   bigint := (day + 1) * 86400000;
    part text := 'telemetry_p' || to_char(to_timestamp(day * 86400) AT TIME ZONE 'UTC', 'YYYYMMDD');
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'pf.telemetry'::regclass) <> 'p'
       OR to_regclass('pf.' || part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- One creator at a time; a concurrent one may have made it meanwhile.
    PERFORM pg_advisory_xact_lock(hashtext('pf.telemetry partitions'));
    IF to_regclass('pf.' || part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- No insert into the default partition slips in between the move and
    -- the attach (which checks that the default holds none of the day).
    LOCK TABLE pf.telemetry_default IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE pf.%I (LIKE pf.telemetry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('WITH moved AS (DELETE FROM pf.telemetry_default WHERE ts >= %s AND ts < %s RETURNING *)
                    INSERT INTO pf.%I SELECT * FROM moved', lo, hi, part);
    EXECUTE format('ALTER TABLE pf.telemetry ATTACH PARTITION pf.%I FOR VALUES FROM (%s) TO (%s)', part, lo, hi);
    RETURN true;
END
$$;

-- Drops the day partitions that end at or before `before` (ms) and deletes
-- the default partition's rows stamped before it; returns how many
-- partitions it dropped. Does nothing on a hypertable (Timescale's
-- `drop_chunks` does the same there).
CREATE FUNCTION pf.drop_telemetry_partitions(before bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    part    record;
    dropped integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = 'pf.telemetry'::regclass) <> 'p' THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('pf.telemetry partitions'));
    FOR part IN
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'pf.telemetry'::regclass AND c.relname ~ '^telemetry_p[0-9]{8}$'
    LOOP
        IF (extract(epoch FROM to_date(substr(part.relname, 12), 'YYYYMMDD')) * 1000)::bigint + 86400000 <= before THEN
            EXECUTE format('DROP TABLE pf.%I', part.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM pf.telemetry_default WHERE ts < before;
    RETURN dropped;
END
$$;
