-- +goose Up
-- Sequence steps are released per sequence, up to a window of their
-- account's rate (issue 14): a number with a backlog of due steps no longer
-- puts all of them into Redis at once, where they took every worker slot
-- and held back every other number's sends. A step delivery names its
-- sequence, so the due steps and the steps in flight of one sequence are
-- one index range each. Set on every step planned from this version on; the
-- open steps (planned, queued, sending) of older versions are filled in
-- here, which is all the release reads.
ALTER TABLE deliveries ADD COLUMN sequence_id BIGINT;
UPDATE deliveries d SET sequence_id = e.sequence_id FROM enrollments e
    WHERE e.id = d.enrollment_id AND d.status IN ('planned', 'queued', 'sending');
DROP INDEX deliveries_steps_due;
CREATE INDEX deliveries_steps_due ON deliveries (sequence_id, due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
CREATE INDEX deliveries_steps_inflight ON deliveries (sequence_id) WHERE status IN ('queued', 'sending') AND enrollment_id IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_steps_inflight;
DROP INDEX deliveries_steps_due;
CREATE INDEX deliveries_steps_due ON deliveries (due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN sequence_id;
