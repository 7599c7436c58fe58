-- +goose Up
-- A sequence step is a delivery without a broadcast, yet every one had an
-- entry in two indexes only broadcasts use: deliveries_feed (broadcast_id,
-- status, id) and the unique (broadcast_id, recipient_id) that makes
-- planning a broadcast idempotent, both holding NULL keys for steps. A
-- step changes state three times (queued, sending, sent), each a new row
-- version with a new entry in every index whose predicate it meets, so
-- those two cost each step eight index insertions for nothing (bench
-- -steps: 16% of the WAL records, issue 14). Both now leave steps out.
-- Every query of them names one broadcast (broadcast_id = …, which implies
-- broadcast_id IS NOT NULL), and planning names the new index's predicate
-- in its ON CONFLICT, so a planner of an earlier version, which does not,
-- fails: stop every scheduler and API server of an earlier version first
-- (README, Upgrading). New indexes are built before the old ones are
-- dropped (DROP holds reads too).
CREATE INDEX deliveries_feed_new ON deliveries (broadcast_id, status, id) WHERE broadcast_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_recipient ON deliveries (broadcast_id, recipient_id) WHERE broadcast_id IS NOT NULL;
DROP INDEX deliveries_feed;
ALTER INDEX deliveries_feed_new RENAME TO deliveries_feed;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_broadcast_id_recipient_id_key;

-- +goose Down
ALTER TABLE deliveries ADD CONSTRAINT deliveries_broadcast_id_recipient_id_key UNIQUE (broadcast_id, recipient_id);
DROP INDEX deliveries_recipient;
DROP INDEX deliveries_feed;
CREATE INDEX deliveries_feed ON deliveries (broadcast_id, status, id);
