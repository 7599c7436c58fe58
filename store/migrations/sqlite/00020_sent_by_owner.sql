-- +goose Up
-- The accepted deliveries' index is split by owner, so a probe of one
-- recipient's history goes by phone (see the Postgres migration of the same
-- number).
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at) WHERE broadcast_id IS NOT NULL AND sent_at IS NOT NULL;
CREATE INDEX deliveries_steps_sent ON deliveries (sent_at) WHERE broadcast_id IS NULL AND sent_at IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_steps_sent;
DROP INDEX deliveries_sent;
CREATE INDEX deliveries_sent ON deliveries (broadcast_id, sent_at) WHERE sent_at IS NOT NULL;
