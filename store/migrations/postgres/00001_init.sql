-- +goose Up
CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    provider        TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    token_ref       TEXT NOT NULL, -- "env:VAR" or "file:/path"; never the token itself
    phone_number_id TEXT NOT NULL,
    whatsapp_bot_id BIGINT NOT NULL DEFAULT 0,
    rate_per_second DOUBLE PRECISION NOT NULL,
    spec_hash       TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE broadcasts (
    id               BIGSERIAL PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    account_id       BIGINT NOT NULL REFERENCES accounts (id),
    status           TEXT NOT NULL,
    status_reason    TEXT NOT NULL DEFAULT '',
    start_at         TIMESTAMPTZ NOT NULL,
    deadline_seconds BIGINT NOT NULL,
    message          TEXT NOT NULL, -- templates.Message as JSON, unrendered
    message_hash     TEXT NOT NULL,
    audience_hash    TEXT NOT NULL,
    recipient_count  INTEGER NOT NULL,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    started_at       TIMESTAMPTZ NULL,
    finished_at      TIMESTAMPTZ NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX broadcasts_status ON broadcasts (status, start_at);

CREATE TABLE recipients (
    id           BIGSERIAL PRIMARY KEY,
    broadcast_id BIGINT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    phone        TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    vars         TEXT NOT NULL DEFAULT '{}',
    UNIQUE (broadcast_id, phone)
);
CREATE INDEX recipients_keyset ON recipients (broadcast_id, id);

CREATE TABLE deliveries (
    id             BIGSERIAL PRIMARY KEY,
    broadcast_id   BIGINT NOT NULL REFERENCES broadcasts (id) ON DELETE CASCADE,
    recipient_id   BIGINT NOT NULL REFERENCES recipients (id) ON DELETE CASCADE,
    phone          TEXT NOT NULL,
    status         TEXT NOT NULL,
    gen            INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0,
    wamid          TEXT NULL UNIQUE,
    error_code     TEXT NOT NULL DEFAULT '',
    error          TEXT NOT NULL DEFAULT '',
    queued_at      TIMESTAMPTZ NULL,
    sending_at     TIMESTAMPTZ NULL,
    lease_until    TIMESTAMPTZ NULL,
    sent_at        TIMESTAMPTZ NULL,
    delivered_at   TIMESTAMPTZ NULL,
    read_at        TIMESTAMPTZ NULL,
    failed_at      TIMESTAMPTZ NULL,
    next_poll_at   TIMESTAMPTZ NULL,
    poll_count     INTEGER NOT NULL DEFAULT 0,
    -- wamids already in the recipient's conversation before a template or
    -- bot-flow send (whose answer has no wamid), so the lookup after it
    -- only considers newer messages. Comma-separated.
    conv_mark      TEXT NOT NULL DEFAULT '',
    track_until    TIMESTAMPTZ NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    UNIQUE (broadcast_id, recipient_id)
);
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id);
CREATE INDEX deliveries_keyset ON deliveries (broadcast_id, id);
CREATE INDEX deliveries_poll ON deliveries (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX deliveries_phone ON deliveries (phone);
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at);
CREATE INDEX deliveries_inflight ON deliveries (status, queued_at) WHERE status IN ('queued', 'sending');

CREATE TABLE delivery_events (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    status      TEXT NOT NULL,
    at          TIMESTAMPTZ NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

-- +goose Down
DROP TABLE delivery_events;
DROP TABLE deliveries;
DROP TABLE recipients;
DROP TABLE broadcasts;
DROP TABLE accounts;
