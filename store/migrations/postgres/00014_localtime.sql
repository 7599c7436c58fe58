-- +goose Up
-- Local-time broadcasts and quiet hours (issue 15 §4). A broadcast may
-- reach each recipient at a wall-clock time in their own zone and only
-- inside a weekly window there; its audience is then fanned out over the
-- zones, each zone planned when its time comes.
ALTER TABLE broadcasts ADD COLUMN local_time TEXT NOT NULL DEFAULT '';  -- "HH:MM"; '' = from the start
ALTER TABLE broadcasts ADD COLUMN local_date TEXT NOT NULL DEFAULT '';  -- "YYYY-MM-DD"; '' = the first local_time from the start
ALTER TABLE broadcasts ADD COLUMN send_window TEXT NOT NULL DEFAULT ''; -- localtime.Window as JSON; '' = any time

-- The zones of such a broadcast's audience, numbered from 1 per broadcast
-- (recipients.zone and deliveries.zone carry the number; 0 or NULL = no
-- zone), with how many recipients each has and how far planning has come
-- in it: every recipient of the zone with an id up to planned_through has
-- a delivery (planned of them). Planning takes the broadcast's row lock.
CREATE TABLE broadcast_zones (
    broadcast_id    BIGINT NOT NULL,
    zone            SMALLINT NOT NULL,
    name            TEXT NOT NULL, -- IANA
    recipients      INTEGER NOT NULL,
    planned         INTEGER NOT NULL DEFAULT 0,
    planned_through BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (broadcast_id, zone)
);
-- Resolved once, when the audience is copied; only a zoned broadcast's
-- recipients have one, so only they pay for the index that plans a zone
-- in id order.
ALTER TABLE recipients ADD COLUMN zone SMALLINT NULL;
CREATE INDEX recipients_zone ON recipients (broadcast_id, zone, id) WHERE zone IS NOT NULL;
ALTER TABLE deliveries ADD COLUMN zone SMALLINT NULL;

-- Counts per zone too (0 = no zone), for status by zone.
ALTER TABLE delivery_counts ADD COLUMN zone SMALLINT NOT NULL DEFAULT 0;
ALTER TABLE delivery_counts DROP CONSTRAINT delivery_counts_pkey;
ALTER TABLE delivery_counts ADD PRIMARY KEY (broadcast_id, zone, status);
ALTER TABLE delivery_count_changes ADD COLUMN zone SMALLINT NOT NULL DEFAULT 0;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n)
    SELECT broadcast_id, COALESCE(zone, 0), status, COUNT(*) FROM new_rows WHERE broadcast_id IS NOT NULL
    GROUP BY broadcast_id, COALESCE(zone, 0), status;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n)
    SELECT broadcast_id, zone, status, SUM(n) FROM (
        SELECT broadcast_id, COALESCE(zone, 0) AS zone, status, 1 AS n FROM new_rows WHERE broadcast_id IS NOT NULL
        UNION ALL
        SELECT broadcast_id, COALESCE(zone, 0), status, -1 AS n FROM old_rows WHERE broadcast_id IS NOT NULL) c
    GROUP BY broadcast_id, zone, status HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, zone, status, n)
    SELECT broadcast_id, COALESCE(zone, 0), status, -COUNT(*) FROM old_rows WHERE broadcast_id IS NOT NULL
    GROUP BY broadcast_id, COALESCE(zone, 0), status;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n)
    SELECT broadcast_id, status, COUNT(*) FROM new_rows WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n)
    SELECT broadcast_id, status, SUM(n) FROM (
        SELECT broadcast_id, status, 1 AS n FROM new_rows WHERE broadcast_id IS NOT NULL
        UNION ALL
        SELECT broadcast_id, status, -1 AS n FROM old_rows WHERE broadcast_id IS NOT NULL) c
    GROUP BY broadcast_id, status HAVING SUM(n) <> 0;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n)
    SELECT broadcast_id, status, -COUNT(*) FROM old_rows WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;
    RETURN NULL;
END $$;
-- +goose StatementEnd
ALTER TABLE delivery_count_changes DROP COLUMN zone;
CREATE TABLE delivery_counts_old AS
    SELECT broadcast_id, status, SUM(n)::BIGINT AS n FROM delivery_counts GROUP BY broadcast_id, status;
DROP TABLE delivery_counts;
ALTER TABLE delivery_counts_old RENAME TO delivery_counts;
ALTER TABLE delivery_counts ALTER COLUMN broadcast_id SET NOT NULL, ALTER COLUMN status SET NOT NULL, ALTER COLUMN n SET NOT NULL;
ALTER TABLE delivery_counts ADD PRIMARY KEY (broadcast_id, status);
ALTER TABLE deliveries DROP COLUMN zone;
DROP INDEX recipients_zone;
ALTER TABLE recipients DROP COLUMN zone;
DROP TABLE broadcast_zones;
ALTER TABLE broadcasts DROP COLUMN send_window;
ALTER TABLE broadcasts DROP COLUMN local_date;
ALTER TABLE broadcasts DROP COLUMN local_time;
