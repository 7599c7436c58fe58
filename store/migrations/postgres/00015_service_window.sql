-- +goose Up
-- The 24-hour customer-service window (issue 15): an account may say
-- whether its channel enforces it ('enforced', 'not_enforced'; '' = its
-- provider's rule). When a person last wrote is contact_inbound's
-- (migration 00012); what a free-form message does outside the window is
-- part of the message (outside_window, in its JSON).
ALTER TABLE accounts ADD COLUMN service_window TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN service_window;
