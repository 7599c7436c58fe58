-- +goose Up
-- The HTTP API's Idempotency-Key (issue 16): a request that changes
-- something (enroll, unenroll, exit) and carries a key is recorded with
-- the answer it got, so a client that retries it (a CRM after a timeout)
-- gets the same answer and nothing is done twice. Keys belong to the
-- token's name; request_hash is the method, path and body's SHA-256, so the
-- same key with another request is refused. status 0: being answered.
CREATE TABLE api_idempotency (
    owner        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         BLOB,
    created_at   DATETIME NOT NULL,
    PRIMARY KEY (owner, key)
);
CREATE INDEX api_idempotency_created ON api_idempotency (created_at);

-- +goose Down
DROP TABLE api_idempotency;
