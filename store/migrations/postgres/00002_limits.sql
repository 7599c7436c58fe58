-- +goose Up
-- Per-account recipient limits (issue 3) and per-broadcast error-storm settings.
ALTER TABLE accounts ADD COLUMN pair_interval_ms BIGINT NOT NULL DEFAULT 6000;
ALTER TABLE accounts ADD COLUMN daily_unique_limit INTEGER NOT NULL DEFAULT 0; -- 0 = unlimited
ALTER TABLE accounts ADD COLUMN portfolio TEXT NOT NULL DEFAULT '';           -- '' = the account's own budget
ALTER TABLE broadcasts ADD COLUMN storm_share DOUBLE PRECISION NOT NULL DEFAULT 0.2;
ALTER TABLE broadcasts ADD COLUMN storm_window INTEGER NOT NULL DEFAULT 200;

-- +goose Down
ALTER TABLE broadcasts DROP COLUMN storm_window;
ALTER TABLE broadcasts DROP COLUMN storm_share;
ALTER TABLE accounts DROP COLUMN portfolio;
ALTER TABLE accounts DROP COLUMN daily_unique_limit;
ALTER TABLE accounts DROP COLUMN pair_interval_ms;
