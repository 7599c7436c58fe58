-- +goose Up
-- Sequence steps are deliveries too (issue 4): one per (enrollment, step),
-- with no broadcast or recipient. due_at is when the step falls due (its
-- delay, moved into its send window); send_by is its deadline.
ALTER TABLE accounts ADD COLUMN timezone TEXT NOT NULL DEFAULT ''; -- '' = UTC
ALTER TABLE deliveries ALTER COLUMN broadcast_id DROP NOT NULL;
ALTER TABLE deliveries ALTER COLUMN recipient_id DROP NOT NULL;
ALTER TABLE deliveries ADD COLUMN enrollment_id BIGINT NULL REFERENCES enrollments (id) ON DELETE CASCADE;
ALTER TABLE deliveries ADD COLUMN step INTEGER NULL;
ALTER TABLE deliveries ADD COLUMN due_at TIMESTAMPTZ NULL;
ALTER TABLE deliveries ADD COLUMN send_by TIMESTAMPTZ NULL;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_owner CHECK ((broadcast_id IS NULL) <> (enrollment_id IS NULL));
CREATE UNIQUE INDEX deliveries_step ON deliveries (enrollment_id, step) WHERE enrollment_id IS NOT NULL;
CREATE INDEX deliveries_steps_due ON deliveries (due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_steps_due;
DROP INDEX deliveries_step;
DELETE FROM deliveries WHERE enrollment_id IS NOT NULL;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_owner;
ALTER TABLE deliveries DROP COLUMN send_by;
ALTER TABLE deliveries DROP COLUMN due_at;
ALTER TABLE deliveries DROP COLUMN step;
ALTER TABLE deliveries DROP COLUMN enrollment_id;
ALTER TABLE deliveries ALTER COLUMN recipient_id SET NOT NULL;
ALTER TABLE deliveries ALTER COLUMN broadcast_id SET NOT NULL;
ALTER TABLE accounts DROP COLUMN timezone;
