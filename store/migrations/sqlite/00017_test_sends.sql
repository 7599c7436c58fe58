-- +goose Up
-- Test sends (issue 16): one rendered message of a broadcast or a
-- sequence step sent to a test phone through the account's real limits,
-- recorded here and never in the campaign's deliveries or counts. status:
-- sending, sent, failed, held (by a limit: nothing sent), unknown (the
-- answer was lost: it may have gone).
CREATE TABLE test_sends (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  BIGINT NOT NULL,
    campaign    TEXT NOT NULL,
    kind        TEXT NOT NULL,
    step        INTEGER NOT NULL DEFAULT 0,
    phone       TEXT NOT NULL,
    requested_by TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    wamid       TEXT NOT NULL DEFAULT '',
    error_code  TEXT NOT NULL DEFAULT '',
    error       TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);
CREATE INDEX test_sends_campaign ON test_sends (campaign, id);

-- +goose Down
DROP TABLE test_sends;
