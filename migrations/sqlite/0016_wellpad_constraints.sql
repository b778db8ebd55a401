-- A wellpad is a well group: what its wells share (lift gas available,
-- compressor capacity, water handling, separator liquid, per-well
-- injection bounds), as the JSON of nexus_model::FieldConstraints. Field
-- optimizers run per wellpad with these constraints.
ALTER TABLE wellpad ADD COLUMN constraints TEXT NOT NULL DEFAULT '{}';
