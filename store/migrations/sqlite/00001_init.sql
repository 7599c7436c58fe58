-- +goose Up
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT NOT NULL UNIQUE,
    provider        TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    token_ref       TEXT NOT NULL, -- "env:VAR" or "file:/path"; never the token itself
    phone_number_id TEXT NOT NULL,
    whatsapp_bot_id BIGINT NOT NULL DEFAULT 0,
    rate_per_second REAL NOT NULL,
    spec_hash       TEXT NOT NULL,
    created_at      DATETIME NOT NULL,
    updated_at      DATETIME NOT NULL
);

CREATE TABLE broadcasts (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT NOT NULL UNIQUE,
    account_id       BIGINT NOT NULL REFERENCES accounts (id),
    status           TEXT NOT NULL,
    status_reason    TEXT NOT NULL DEFAULT '',
    start_at         DATETIME NOT NULL,
    deadline_seconds BIGINT NOT NULL,
    message          TEXT NOT NULL, -- templates.Message as JSON, unrendered
    message_hash     TEXT NOT NULL,
    audience_hash    TEXT NOT NULL,
    recipient_count  INTEGER NOT NULL,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    started_at       DATETIME NULL,
    finished_at      DATETIME NULL,
    created_at       DATETIME NOT NULL,
    updated_at       DATETIME NOT NULL
);
CREATE INDEX broadcasts_status ON broadcasts (status, start_at);

CREATE TABLE recipients (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id BIGINT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    vars         TEXT NOT NULL DEFAULT '{}',
    UNIQUE (broadcast_id, phone)
);
CREATE INDEX recipients_keyset ON recipients (broadcast_id, id);

CREATE TABLE deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    broadcast_id   BIGINT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    recipient_id   BIGINT NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
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
    -- wamids already in the recipient's conversation before a template or
    -- bot-flow send (whose answer has no wamid), so the lookup after it
    -- only considers newer messages. Comma-separated.
    conv_mark      TEXT NOT NULL DEFAULT '',
    track_until    DATETIME NULL,
    updated_at     DATETIME NOT NULL,
    UNIQUE (broadcast_id, recipient_id)
);
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id);
CREATE INDEX deliveries_keyset ON deliveries (broadcast_id, id);
CREATE INDEX deliveries_poll ON deliveries (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX deliveries_phone ON deliveries (phone);
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at);
CREATE INDEX deliveries_inflight ON deliveries (status, queued_at) WHERE status IN ('queued', 'sending');

CREATE TABLE delivery_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    at          DATETIME NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

-- +goose Down
DROP TABLE delivery_events;
DROP TABLE deliveries;
DROP TABLE recipients;
DROP TABLE broadcasts;
DROP TABLE accounts;
