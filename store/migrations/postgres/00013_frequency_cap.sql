-- +goose Up
-- Frequency caps (issue 15): an account caps the business-initiated
-- messages to one person in a moving window, across every broadcast and
-- sequence of its portfolio (or number). Counted in Redis; the account
-- only says how many, over what, and what a sequence step over the cap
-- does ('' = defer, or 'skip').
ALTER TABLE accounts ADD COLUMN cap_messages INTEGER NOT NULL DEFAULT 0; -- 0 = no cap
ALTER TABLE accounts ADD COLUMN cap_per_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN cap_sequences TEXT NOT NULL DEFAULT '';

-- The deliveries Meta refused under its own per-user marketing limit
-- (131049), counted by `status` beside the cap's skips: only they are in it.
CREATE INDEX deliveries_marketing_cap ON deliveries (broadcast_id) WHERE status = 'failed' AND error_code = '131049';

-- +goose Down
DROP INDEX deliveries_marketing_cap;
ALTER TABLE accounts DROP COLUMN cap_sequences;
ALTER TABLE accounts DROP COLUMN cap_per_ms;
ALTER TABLE accounts DROP COLUMN cap_messages;
