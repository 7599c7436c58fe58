-- +goose Up
-- Authenticated status webhooks the receiver could not queue on Redis.
-- Providers such as Salebot never resend a webhook that was answered, so
-- the receiver keeps the parsed events here (the body of the apply task it
-- would have queued) and answers 200; every worker claims rows for a short
-- lease, applies them and deletes them.
CREATE TABLE webhook_inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    payload       TEXT NOT NULL,
    received_at   DATETIME NOT NULL,
    claim         TEXT NOT NULL DEFAULT '',
    claimed_until DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00'
);

-- +goose Down
DROP TABLE webhook_inbox;
