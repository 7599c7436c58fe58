-- +goose Up
-- How many times a delivery of unknown outcome was sent again after its
-- settle window (Resend). settle says where its settling stands now; a
-- message sent again may be settled later from the second copy's webhook,
-- and settle then reads 'settled': this count keeps that the recipient may
-- have it twice, so status and export show it as 'resent'.
ALTER TABLE deliveries ADD COLUMN resends INTEGER NOT NULL DEFAULT 0;
-- Deliveries sent again before this migration count once.
UPDATE deliveries SET resends = 1 WHERE settle = 'resent';

-- +goose Down
ALTER TABLE deliveries DROP COLUMN resends;
