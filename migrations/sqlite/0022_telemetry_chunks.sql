-- A commit's samples of a series as one row, when they are new.
--
-- Writing 1 000 samples as 1 000 rows of `telemetry_recent` cost a commit
-- of one 100-sample frame about as much as the rest of it, and the fold
-- then read and deleted those rows again. When every sample a commit
-- brings for a series is newer than all that is stored of it (the normal
-- case: devices report forward in time), the commit now writes them as one
-- row here, a chunk: the samples encoded in one blob, sorted by time.
-- Otherwise (a re-delivery, a late sample) the series' chunks are unpacked
-- into `telemetry_recent` and its samples go there as before. So for a
-- series the chunks hold only samples newer than any row, and never
-- overlap: reads add them to the rows without precedence. The fold unpacks
-- chunks into `telemetry` in the background.
--
-- A rowid table: a chunk of 100 samples is about 2 KiB, which a
-- WITHOUT ROWID table's b-tree would spill into overflow pages. The index
-- orders a series' chunks by their last sample, the fold's order, and
-- holds each chunk's span, so a commit's check for chunks overlapping its
-- samples reads no chunk.

CREATE TABLE telemetry_chunk (
    series_id INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    samples   INTEGER NOT NULL,
    data      BLOB NOT NULL
);
CREATE UNIQUE INDEX telemetry_chunk_series ON telemetry_chunk (series_id, last_ts, first_ts);
