-- +goose Up
-- Opt-outs (issue 15). The suppression list: a person (phone) who may not
-- be sent what scope covers ('all': every business-initiated message;
-- 'marketing': marketing templates) by the accounts that check list
-- ('account:NAME', or 'portfolio:NAME', shared by a portfolio's accounts).
-- A send probes it by (list, phone) for its account's lists, in the claim
-- right before the request: two probes of the primary key.
CREATE TABLE suppressions (
    list       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    scope      TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    source     TEXT NOT NULL, -- keyword, provider_error, cli, api, import
    -- A keyword read in a conversation history (the BotSailor family): the
    -- person's opt-in would be seen only by reading it again, which the
    -- send path does before a send. Planning does not skip on such an
    -- entry; the claim, after that read, does.
    recheck    BOOLEAN NOT NULL DEFAULT FALSE,
    created_at DATETIME NOT NULL,
    PRIMARY KEY (list, phone, scope)
);
CREATE INDEX suppressions_phone ON suppressions (phone);

-- What people wrote, per number (account): the latest inbound message's
-- time (the 24-hour customer-service window opens with it) and the latest
-- opt-out or opt-in keyword acted on (its time and the provider's id of the
-- message), so a keyword read again from a conversation history, or a
-- duplicated or late webhook, is acted on once.
CREATE TABLE contact_inbound (
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    phone       TEXT NOT NULL,
    last_at     DATETIME NOT NULL,
    keyword_at  DATETIME NULL,
    keyword_ref TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, phone)
);

-- An account's own opt-out and opt-in keywords (consent.Keywords as JSON;
-- '' = the defaults only).
ALTER TABLE accounts ADD COLUMN opt_out TEXT NOT NULL DEFAULT '';

-- Deliveries skipped for a reason with a code (error_code 'opted_out'),
-- counted per broadcast by `scheduler status`: only those rows are in it.
CREATE INDEX deliveries_skips ON deliveries (broadcast_id, error_code) WHERE status = 'skipped' AND error_code <> '';

-- +goose Down
DROP INDEX deliveries_skips;
ALTER TABLE accounts DROP COLUMN opt_out;
DROP TABLE contact_inbound;
DROP TABLE suppressions;
