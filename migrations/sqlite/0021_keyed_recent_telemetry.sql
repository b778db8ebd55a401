-- Recent telemetry keyed by (series, ts).
--
-- `telemetry_recent` was an append-only rowid table with a `(series_id, ts)`
-- index: every row cost two B-tree inserts (the table's and the index's),
-- a fold read each row through the index and then the table, and
-- duplicates of a (series, ts) were resolved at every read by rowid. It is
-- now a WITHOUT ROWID table clustered by (series_id, ts): one B-tree
-- insert per row, a re-delivered sample replacing the recent one at insert
-- time (the last written wins), and folds and reads that are range scans of
-- the table itself.

CREATE TABLE telemetry_recent_keyed (
    series_id     INTEGER NOT NULL,
    ts            INTEGER NOT NULL,
    value_numeric REAL,
    value_long    INTEGER,
    value_boolean INTEGER,
    value_string  TEXT,
    quality       REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;

-- In arrival order, so that of duplicates the last written is kept.
INSERT OR REPLACE INTO telemetry_recent_keyed
    SELECT series_id, ts, value_numeric, value_long, value_boolean, value_string, quality
    FROM telemetry_recent ORDER BY rowid;

DROP TABLE telemetry_recent;
ALTER TABLE telemetry_recent_keyed RENAME TO telemetry_recent;
