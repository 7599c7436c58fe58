-- +goose Up
-- A sequence's deliveries page (GET /v1/sequences/{name}/deliveries) walks
-- its enrollments in id order: this index seeks to a page's first one
-- instead of reading and sorting every enrollment of the sequence.
CREATE INDEX enrollments_keyset ON enrollments (sequence_id, id);

-- +goose Down
DROP INDEX enrollments_keyset;
