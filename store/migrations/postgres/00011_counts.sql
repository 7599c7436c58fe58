-- +goose Up
-- A broadcast's deliveries per state, kept as rows change (issue 14), so
-- `scheduler status` reads a few rows instead of counting millions.
-- Triggers only append changes to delivery_count_changes: no row there is
-- written by two transactions, so sends never wait for one another on a
-- counter. The scheduler folds the changes into delivery_counts each tick;
-- a count is the sum of both.
CREATE TABLE delivery_counts (
    broadcast_id BIGINT NOT NULL,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL,
    PRIMARY KEY (broadcast_id, status)
);
CREATE TABLE delivery_count_changes (
    id           BIGSERIAL PRIMARY KEY,
    broadcast_id BIGINT NOT NULL,
    status       TEXT NOT NULL,
    n            BIGINT NOT NULL
);
CREATE INDEX delivery_count_changes_broadcast ON delivery_count_changes (broadcast_id);

-- +goose StatementBegin
CREATE FUNCTION delivery_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n)
    SELECT broadcast_id, status, COUNT(*) FROM new_rows WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION delivery_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE FUNCTION delivery_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO delivery_count_changes (broadcast_id, status, n)
    SELECT broadcast_id, status, -COUNT(*) FROM old_rows WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;
    RETURN NULL;
END $$;
-- +goose StatementEnd
-- Created before the counts are taken: the trigger's lock holds writers
-- off until this migration commits, so no change falls between the two.
CREATE TRIGGER delivery_counts_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_insert();
CREATE TRIGGER delivery_counts_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_update();
CREATE TRIGGER delivery_counts_delete AFTER DELETE ON deliveries
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION delivery_counts_delete();
INSERT INTO delivery_counts (broadcast_id, status, n)
    SELECT broadcast_id, status, COUNT(*) FROM deliveries WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id, status;

-- Indexes every delivery paid for at insert and at each state change
-- (status is indexed, so no update of a delivery is HOT) for rows that no
-- query looks for: the NULL wamid and sent_at of every unsent delivery, and
-- (broadcast_id, id), which export no longer reads (it follows the
-- recipients). Settle counts read only the few rows ever unknown.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_wamid_key;
CREATE UNIQUE INDEX deliveries_wamid ON deliveries (wamid) WHERE wamid IS NOT NULL;
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at) WHERE sent_at IS NOT NULL;
DROP INDEX deliveries_keyset;
CREATE INDEX deliveries_settle ON deliveries (broadcast_id, settle) WHERE settle <> '';

-- A recipient's broadcast is the one apply (or a recurring broadcast's
-- occurrence) creates in the transaction that writes it, and broadcasts
-- are never deleted: the key only made Postgres queue a check for every
-- copied row until the end of COPY (measured: 3 million rows grew the
-- backend by 100 MB, a third of a gigabyte for ten million; and the COPY
-- of a million took 8.5 s with it, 3.4 s without).
ALTER TABLE recipients DROP CONSTRAINT recipients_broadcast_id_fkey;

-- +goose Down
ALTER TABLE recipients ADD CONSTRAINT recipients_broadcast_id_fkey FOREIGN KEY (broadcast_id) REFERENCES broadcasts (id) ON DELETE CASCADE;
DROP INDEX deliveries_settle;
CREATE INDEX deliveries_keyset ON deliveries (broadcast_id, id);
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at);
DROP INDEX deliveries_wamid;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_wamid_key UNIQUE (wamid);
DROP TRIGGER delivery_counts_delete ON deliveries;
DROP TRIGGER delivery_counts_update ON deliveries;
DROP TRIGGER delivery_counts_insert ON deliveries;
DROP FUNCTION delivery_counts_delete();
DROP FUNCTION delivery_counts_update();
DROP FUNCTION delivery_counts_insert();
DROP TABLE delivery_count_changes;
DROP TABLE delivery_counts;
