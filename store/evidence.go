package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
)

// KnownEntries returns which conversation entry keys are recorded on some
// delivery (see campaign.EvidenceStore).
func (db *DB) KnownEntries(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	var found []string
	if err := db.q(ctx).Raw(`SELECT conv_entry FROM deliveries WHERE conv_entry IN ?`, keys).Scan(&found).Error; err != nil {
		return nil, fmt.Errorf("look up conversation entries: %w", err)
	}
	for _, k := range found {
		out[k] = true
	}
	return out, nil
}

// RecordEntry records key as the conversation entry of delivery id, unless
// the delivery already has another one or another delivery has this one
// (then false). Recording the same key again is true.
func (db *DB) RecordEntry(ctx context.Context, id int64, key string) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var owner []int64
		if err := tx.Raw(`SELECT id FROM deliveries WHERE conv_entry = ?`, key).Scan(&owner).Error; err != nil {
			return err
		}
		if len(owner) > 0 {
			ok = owner[0] == id
			return nil
		}
		// The unique index settles a race with another delivery.
		res := tx.Exec(`UPDATE deliveries SET conv_entry = ? WHERE id = ? AND conv_entry IS NULL`, key, id)
		ok = res.RowsAffected > 0
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: record conversation entry: %w", id, err)
	}
	return ok, nil
}

// ConvEntry returns the conversation entry key recorded on delivery id, or
// "" if there is none.
func (db *DB) ConvEntry(ctx context.Context, id int64) (string, error) {
	var keys []string
	if err := db.q(ctx).Raw(`SELECT COALESCE(conv_entry, '') FROM deliveries WHERE id = ?`, id).Scan(&keys).Error; err != nil {
		return "", fmt.Errorf("delivery %d: load conversation entry: %w", id, err)
	}
	if len(keys) == 0 {
		return "", fmt.Errorf("delivery %d: %w", id, campaign.ErrNotFound)
	}
	return keys[0], nil
}
