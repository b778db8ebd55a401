-- A wellpad is a well group, as on SQLite (migration 0016): what its wells
-- share (lift gas available, compressor capacity, water handling, separator
-- liquid, per-well injection bounds). Field optimizers run per wellpad.
ALTER TABLE pf.wellpad ADD COLUMN constraints jsonb NOT NULL DEFAULT '{}';
