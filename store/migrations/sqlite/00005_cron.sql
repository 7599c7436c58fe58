-- +goose Up
-- Recurring broadcasts (issue 4): a broadcast with a cron schedule is the
-- parent of one broadcast per occurrence (parent_id), named NAME@TIME; the
-- unique name makes planning an occurrence once a no-op for other replicas.
ALTER TABLE broadcasts ADD COLUMN cron TEXT NOT NULL DEFAULT '';
ALTER TABLE broadcasts ADD COLUMN timezone TEXT NOT NULL DEFAULT '';
ALTER TABLE broadcasts ADD COLUMN parent_id BIGINT NULL REFERENCES broadcasts (id) ON DELETE CASCADE;
ALTER TABLE broadcasts ADD COLUMN last_occurrence DATETIME NULL;

-- +goose Down
ALTER TABLE broadcasts DROP COLUMN last_occurrence;
ALTER TABLE broadcasts DROP COLUMN parent_id;
ALTER TABLE broadcasts DROP COLUMN timezone;
ALTER TABLE broadcasts DROP COLUMN cron;
