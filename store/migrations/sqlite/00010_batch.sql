-- +goose Up
-- The batch send task that carries a queued delivery (its TaskID is
-- "batch:<batch>"); NULL = its own send task ("send:<id>:<gen>"). The sweep
-- looks for the task a stale delivery belongs to by it. Not indexed: no
-- query selects by it, so it costs nothing when it changes.
ALTER TABLE deliveries ADD COLUMN batch BIGINT NULL;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN batch;
