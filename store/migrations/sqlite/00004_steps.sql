-- +goose NO TRANSACTION
-- +goose Up
-- Sequence steps are deliveries too (issue 4): one per (enrollment, step),
-- with no broadcast or recipient. SQLite cannot drop NOT NULL in place, so
-- the table is rebuilt (foreign keys off, so delivery_events survive).
PRAGMA foreign_keys = OFF;
-- +goose StatementBegin
BEGIN;
ALTER TABLE accounts ADD COLUMN timezone TEXT NOT NULL DEFAULT ''; -- '' = UTC
CREATE TABLE deliveries_new (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id   BIGINT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    recipient_id   BIGINT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    enrollment_id  BIGINT NULL REFERENCES enrollments (id) ON DELETE CASCADE,
    step           INTEGER NULL,
    due_at         DATETIME NULL,
    send_by        DATETIME NULL,
    phone          TEXT NOT NULL,
    status         TEXT NOT NULL,
    gen            INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    wamid          TEXT NULL UNIQUE,
    error_code     TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT '',
    queued_at      DATETIME NULL,
    sending_at     DATETIME NULL,
    lease_until    DATETIME NULL,
    sent_at        DATETIME NULL,
    delivered_at   DATETIME NULL,
    read_at        DATETIME NULL,
    failed_at      DATETIME NULL,
    next_poll_at   DATETIME NULL,
    poll_count     INTEGER NOT NULL DEFAULT 0,
    conv_mark      TEXT NOT NULL DEFAULT '',
    track_until    DATETIME NULL,
    updated_at     DATETIME NOT NULL,
    UNIQUE (broadcast_id, recipient_id),
    CHECK ((broadcast_id IS NULL) <> (enrollment_id IS NULL))
);
INSERT INTO deliveries_new (id, broadcast_id, recipient_id, phone, status, gen, attempts, wamid, error_code, error,
    queued_at, sending_at, lease_until, sent_at, delivered_at, read_at, failed_at, next_poll_at, poll_count,
    conv_mark, track_until, updated_at)
SELECT id, broadcast_id, recipient_id, phone, status, gen, attempts, wamid, error_code, error,
    queued_at, sending_at, lease_until, sent_at, delivered_at, read_at, failed_at, next_poll_at, poll_count,
    conv_mark, track_until, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id);
CREATE INDEX deliveries_keyset ON deliveries (broadcast_id, id);
CREATE INDEX deliveries_poll ON deliveries (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX deliveries_phone ON deliveries (phone);
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at);
CREATE INDEX deliveries_inflight ON deliveries (status, queued_at) WHERE status IN ('queued', 'sending');
CREATE UNIQUE INDEX deliveries_step ON deliveries (enrollment_id, step) WHERE enrollment_id IS NOT NULL;
CREATE INDEX deliveries_steps_due ON deliveries (due_at) WHERE status = 'planned' AND enrollment_id IS NOT NULL;
COMMIT;
-- +goose StatementEnd
PRAGMA foreign_keys = ON;

-- +goose Down
-- The rebuild is not undone: the wider table serves the older code too.
DELETE FROM deliveries WHERE enrollment_id IS NOT NULL;
ALTER TABLE accounts DROP COLUMN timezone;
