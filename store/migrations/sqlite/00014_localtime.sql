-- +goose Up
-- Local-time broadcasts and quiet hours (issue 15 §4), as on Postgres: the
-- timing columns, the zones of an audience, the zone of each recipient and
-- delivery, and counts per zone.
ALTER TABLE broadcasts ADD COLUMN local_time TEXT NOT NULL DEFAULT '';
ALTER TABLE broadcasts ADD COLUMN local_date TEXT NOT NULL DEFAULT '';
ALTER TABLE broadcasts ADD COLUMN send_window TEXT NOT NULL DEFAULT '';
CREATE TABLE broadcast_zones (
    broadcast_id    BIGINT NOT NULL,
    zone            SMALLINT NOT NULL,
    name            TEXT NOT NULL,
    recipients      INTEGER NOT NULL,
    planned         INTEGER NOT NULL DEFAULT 0,
    planned_through BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (broadcast_id, zone)
);
ALTER TABLE recipients ADD COLUMN zone SMALLINT NULL;
CREATE INDEX recipients_zone ON recipients (broadcast_id, zone, id) WHERE zone IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN zone SMALLINT NULL;

-- SQLite cannot change a primary key in place: the counts are copied.
CREATE TABLE delivery_counts_new (
    broadcast_id BIGINT NOT NULL,
    zone         SMALLINT NOT NULL DEFAULT 0,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (broadcast_id, zone, status)
);
INSERT INTO delivery_counts_new (broadcast_id, zone, status, n) SELECT broadcast_id, 0, status, n FROM delivery_counts;
DROP TABLE delivery_counts;
ALTER TABLE delivery_counts_new RENAME TO delivery_counts;
ALTER TABLE delivery_count_changes ADD COLUMN zone SMALLINT NOT NULL DEFAULT 0;
DROP TRIGGER delivery_counts_insert;
DROP TRIGGER delivery_counts_update;
DROP TRIGGER delivery_counts_delete;
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries WHEN new.broadcast_id IS NOT NULL
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n) VALUES (new.broadcast_id, COALESCE(new.zone, 0), new.status, 1);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_update AFTER UPDATE OF status ON deliveries
WHEN new.broadcast_id IS NOT NULL AND new.status <> old.status
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n)
    VALUES (old.broadcast_id, COALESCE(old.zone, 0), old.status, -1), (new.broadcast_id, COALESCE(new.zone, 0), new.status, 1);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries WHEN old.broadcast_id IS NOT NULL
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n) VALUES (old.broadcast_id, COALESCE(old.zone, 0), old.status, -1);
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER delivery_counts_insert;
DROP TRIGGER delivery_counts_update;
DROP TRIGGER delivery_counts_delete;
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
ALTER TABLE delivery_count_changes DROP COLUMN zone;
CREATE TABLE delivery_counts_old (
    broadcast_id BIGINT NOT NULL,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (broadcast_id, status)
);
INSERT INTO delivery_counts_old (broadcast_id, status, n) SELECT broadcast_id, status, SUM(n) FROM delivery_counts GROUP BY broadcast_id, status;
DROP TABLE delivery_counts;
ALTER TABLE delivery_counts_old RENAME TO delivery_counts;
ALTER TABLE deliveries DROP COLUMN zone;
DROP INDEX recipients_zone;
ALTER TABLE recipients DROP COLUMN zone;
DROP TABLE broadcast_zones;
ALTER TABLE broadcasts DROP COLUMN send_window;
ALTER TABLE broadcasts DROP COLUMN local_date;
ALTER TABLE broadcasts DROP COLUMN local_time;
