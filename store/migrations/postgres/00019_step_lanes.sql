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
CREATE INDEX deliveries_steps_inflight ON deliveries (sequence_id) WHERE status IN ('queued', 'sending') AND enrollment_id IS NOT NULL AND settle <> 'awaiting';
-- A worker of an earlier version, running beside this one during a rolling
-- upgrade, plans next steps without naming their sequence; the release
-- would never find them. This fills it in for such an insert only (the
-- WHEN is checked without calling the function).
-- +goose StatementBegin
CREATE FUNCTION deliveries_step_sequence() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sequence_id := (SELECT sequence_id FROM enrollments WHERE id = NEW.enrollment_id);
    RETURN NEW;
END $$;
-- +goose StatementEnd
CREATE TRIGGER deliveries_step_sequence BEFORE INSERT ON deliveries
    FOR EACH ROW WHEN (NEW.enrollment_id IS NOT NULL AND NEW.sequence_id IS NULL)
    EXECUTE FUNCTION deliveries_step_sequence();

-- +goose Down
DROP TRIGGER deliveries_step_sequence ON deliveries;
DROP FUNCTION deliveries_step_sequence();
DROP INDEX deliveries_steps_inflight;
DROP INDEX deliveries_steps_due;
CREATE INDEX deliveries_steps_due ON deliveries (due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN sequence_id;
