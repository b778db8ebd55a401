-- A binding's rollout of a new plugin version in progress (nexus_model::Rollout),
-- if any; its steps are events in the outbox.
ALTER TABLE host.binding ADD COLUMN rollout jsonb;
