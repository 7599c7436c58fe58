-- +goose Up
-- The provider's own id of the conversation entry that proves a send
-- happened when the entry lists no wamid yet (a template whose answer was
-- lost, or carried no wamid): "<account id>/<phone>/<entry id>". The status
-- of such a delivery is tracked from that entry until its wamid shows, and
-- no other delivery may take the same entry.
ALTER TABLE deliveries ADD COLUMN conv_entry TEXT NULL;
CREATE UNIQUE INDEX deliveries_conv_entry ON deliveries (conv_entry) WHERE conv_entry IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_conv_entry;
ALTER TABLE deliveries DROP COLUMN conv_entry;
