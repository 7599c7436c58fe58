-- +goose Up
-- Drip sequences (issue 4): a sequence, its versions (an enrollment runs on
-- the version it started with) and enrollments.
CREATE TABLE sequences (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    account_id  BIGINT NOT NULL REFERENCES accounts (id),
    version     INTEGER NOT NULL, -- the version new enrollments start on
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL
);

CREATE TABLE sequence_versions (
    sequence_id BIGINT NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    spec        TEXT NOT NULL, -- sequence.Spec as JSON
    spec_hash   TEXT NOT NULL,
    created_at  DATETIME NOT NULL,
    PRIMARY KEY (sequence_id, version)
);

CREATE TABLE enrollments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    sequence_id BIGINT NOT NULL REFERENCES sequences (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    run         INTEGER NOT NULL, -- 1, then 2… when the sequence lets people re-enter
    phone       TEXT NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    vars        TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL, -- active, completed, exited, unenrolled
    reason      TEXT NOT NULL DEFAULT '',
    created_at  DATETIME NOT NULL,
    updated_at  DATETIME NOT NULL,
    ended_at    DATETIME NULL,
    UNIQUE (sequence_id, phone, run)
);
-- At most one active enrollment per person and sequence.
CREATE UNIQUE INDEX enrollments_active ON enrollments (sequence_id, phone) WHERE status = 'active';
CREATE INDEX enrollments_status ON enrollments (sequence_id, status);

-- +goose Down
DROP TABLE enrollments;
DROP TABLE sequence_versions;
DROP TABLE sequences;
