-- +goose Up
-- Providers beyond the BotSailor family (issue 5): a second credential, the
-- session API's session id and the webhook secret, each a reference
-- (env:VAR / file:/path), never the secret itself.
ALTER TABLE accounts ADD COLUMN secret_ref TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN webhook_secret_ref TEXT NOT NULL DEFAULT '';

-- Status webhook events whose message is not known yet (the webhook beat
-- the send's answer, or the message has no id recorded yet). They are
-- matched when the send is recorded, or by the sweep, and dropped after a
-- while.
CREATE TABLE webhook_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    wamid       TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    by_phone    BOOLEAN NOT NULL DEFAULT 0,
    status      TEXT NOT NULL,
    at          DATETIME NOT NULL,
    code        TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL DEFAULT '',
    received_at DATETIME NOT NULL
);
CREATE INDEX webhook_events_wamid ON webhook_events (wamid) WHERE wamid <> '';
CREATE INDEX webhook_events_received ON webhook_events (received_at);
CREATE INDEX enrollments_phone ON enrollments (phone) WHERE status = 'active';

-- +goose Down
DROP INDEX enrollments_phone;
DROP TABLE webhook_events;
ALTER TABLE accounts DROP COLUMN webhook_secret_ref;
ALTER TABLE accounts DROP COLUMN session_id;
ALTER TABLE accounts DROP COLUMN secret_ref;
