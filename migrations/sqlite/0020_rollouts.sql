-- A binding's rollout of a new plugin version in progress (JSON of
-- nexus_model::Rollout), if any; its steps are events in the outbox.
ALTER TABLE binding ADD COLUMN rollout TEXT;
