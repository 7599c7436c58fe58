-- +goose Up
-- A broadcast's deliveries per state, kept as rows change (issue 14), so
-- `scheduler status` reads a few rows instead of counting them all.
-- Triggers append changes to delivery_count_changes; the scheduler folds
-- them into delivery_counts each tick; a count is the sum of both (as on
-- Postgres, where writers must not wait for one another on a counter).
CREATE TABLE delivery_counts (
    broadcast_id BIGINT NOT NULL,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (broadcast_id, status)
);
CREATE TABLE delivery_count_changes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id BIGINT NOT NULL,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL
);
CREATE INDEX delivery_count_changes_broadcast ON delivery_count_changes (broadcast_id);

-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries WHEN new.broadcast_id IS NOT NULL
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n) VALUES (new.broadcast_id, new.status, 1);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF status ON deliveries
WHEN new.broadcast_id IS NOT NULL AND new.status <> old.status
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n) VALUES (old.broadcast_id, old.status, -1), (new.broadcast_id, new.status, 1);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries WHEN old.broadcast_id IS NOT NULL
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n) VALUES (old.broadcast_id, old.status, -1);
END;
-- +goose StatementEnd
INSERT INTO delivery_counts (broadcast_id, status, n)
    SELECT broadcast_id, status, COUNT(*) FROM deliveries WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;

-- As on Postgres: export no longer reads (broadcast_id, id); only sent
-- deliveries are looked up by sent_at; settle counts read the few rows
-- ever unknown.
DROP INDEX deliveries_keyset;
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at) WHERE sent_at IS NOT NULL;
CREATE INDEX deliveries_settle ON deliveries (broadcast_id, settle) WHERE settle <> '';
-- Postgres also drops the recipients' key to their broadcast; SQLite (the
-- demo and the tests) keeps it: dropping it would rebuild the table.

-- +goose Down
DROP INDEX deliveries_settle;
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at);
CREATE INDEX deliveries_keyset ON deliveries (broadcast_id, id);
DROP TRIGGER delivery_counts_delete;
DROP TRIGGER delivery_counts_update;
DROP TRIGGER delivery_counts_insert;
DROP TABLE delivery_count_changes;
DROP TABLE delivery_counts;
