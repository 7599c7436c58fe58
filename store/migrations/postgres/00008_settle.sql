-- +goose Up
-- Sends whose outcome is unknown on providers without a conversation
-- history (issue 11): the account chooses what happens (settle from the
-- provider's webhooks, fail, or resend) and how long settling waits.
ALTER TABLE accounts ADD COLUMN on_unknown_outcome TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN settle_window_ms BIGINT NOT NULL DEFAULT 0;

-- A delivery's settling: '' (never unknown), 'awaiting' (sending, waiting
-- for a trace in the provider's webhooks until settle_until), 'settled'
-- (a webhook showed the message: recorded sent), 'resent' (no trace within
-- the window: sent again).
ALTER TABLE deliveries ADD COLUMN settle TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN settle_until TIMESTAMPTZ NULL;
CREATE INDEX deliveries_awaiting ON deliveries (phone) WHERE settle = 'awaiting';

-- What a kept webhook status showed of its message (text, media URL), to
-- match it by content to a send whose id was never learned.
ALTER TABLE webhook_events ADD COLUMN text TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_events ADD COLUMN media TEXT NOT NULL DEFAULT '';
CREATE INDEX webhook_events_phone ON webhook_events (account_id, phone) WHERE phone <> '';

-- +goose Down
DROP INDEX webhook_events_phone;
ALTER TABLE webhook_events DROP COLUMN media;
ALTER TABLE webhook_events DROP COLUMN text;
DROP INDEX deliveries_awaiting;
ALTER TABLE deliveries DROP COLUMN settle_until;
ALTER TABLE deliveries DROP COLUMN settle;
ALTER TABLE accounts DROP COLUMN settle_window_ms;
ALTER TABLE accounts DROP COLUMN on_unknown_outcome;
