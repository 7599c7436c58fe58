-- +goose Up
-- deliveries_feed leaves sequence steps out (see the Postgres migration of
-- the same number). The table's unique (broadcast_id, recipient_id) stays:
-- SQLite drops a table constraint only by rebuilding the table, and it
-- matches the planner's ON CONFLICT … WHERE broadcast_id IS NOT NULL as
-- the partial index does on Postgres.
DROP INDEX deliveries_feed;
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id) WHERE broadcast_id IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_feed;
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id);
