-- +goose Up
-- Sequence steps are released per sequence, up to a window of their
-- account's rate (see the Postgres migration of the same number).
ALTER TABLE deliveries ADD COLUMN sequence_id BIGINT NULL;
UPDATE deliveries SET sequence_id = (SELECT e.sequence_id FROM enrollments e WHERE e.id = deliveries.enrollment_id)
    WHERE enrollment_id IS NOT NULL AND status IN ('planned', 'queued', 'sending');
DROP INDEX deliveries_steps_due;
CREATE INDEX deliveries_steps_due ON deliveries (sequence_id, due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
CREATE INDEX deliveries_steps_inflight ON deliveries (sequence_id) WHERE status IN ('queued', 'sending') AND enrollment_id IS NOT NULL AND settle <> 'awaiting';
-- A step inserted without its sequence still names it (see Postgres).
-- +goose StatementBegin
CREATE TRIGGER deliveries_step_sequence AFTER INSERT ON deliveries
    WHEN NEW.enrollment_id IS NOT NULL AND NEW.sequence_id IS NULL
BEGIN
    UPDATE deliveries SET sequence_id = (SELECT sequence_id FROM enrollments WHERE id = NEW.enrollment_id) WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER deliveries_step_sequence;
DROP INDEX deliveries_steps_inflight;
DROP INDEX deliveries_steps_due;
CREATE INDEX deliveries_steps_due ON deliveries (due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN sequence_id;
