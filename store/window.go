package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// AccountID returns the id of the stored account named name; ok is false
// when it is not stored (yet).
func (db *DB) AccountID(ctx context.Context, name string) (id int64, ok bool, err error) {
	var r accountRow
	err = db.q(ctx).Select("id").Where("name = ?", name).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("account %q: %w", name, err)
	}
	return r.ID, true, nil
}

// WindowCounts counts, of phones, how many last wrote to the account's
// number after since (inside a 24-hour window that opened then: since is
// now − 24 h), and how many wrote before it (known, and outside); the rest
// never wrote, as far as contact_inbound knows. One statement, a primary
// key probe of contact_inbound per phone. Callers pass an audience in
// chunks (validate: 50,000 phones a statement).
func (db *DB) WindowCounts(ctx context.Context, accountID int64, phones []string, since time.Time) (inside, known int, err error) {
	if len(phones) == 0 {
		return 0, 0, nil
	}
	if db.sql != nil {
		err = db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE c.last_at > $3), COUNT(c.phone)
			FROM unnest($1::text[]) AS p(phone) JOIN contact_inbound c ON c.account_id = $2 AND c.phone = p.phone`,
			phones, accountID, utc(since)).Scan(&inside, &known)
	} else {
		var list []byte
		if list, err = json.Marshal(phones); err == nil {
			var r struct{ Inside, Known int }
			err = db.q(ctx).Raw(`SELECT COALESCE(SUM(CASE WHEN c.last_at > ? THEN 1 ELSE 0 END), 0) AS inside, COUNT(c.phone) AS known
				FROM (SELECT value AS phone FROM json_each(?)) p JOIN contact_inbound c ON c.account_id = ? AND c.phone = p.phone`,
				utc(since), string(list), accountID).Scan(&r).Error
			inside, known = r.Inside, r.Known
		}
	}
	if err != nil {
		return 0, 0, fmt.Errorf("account %d: count recipients inside the 24-hour window: %w", accountID, err)
	}
	return inside, known, nil
}

// ActivePhones calls fn with the phone of each active enrollment of the
// sequence named name, in id order, reading in keyset batches; none when
// there is no such sequence.
func (db *DB) ActivePhones(ctx context.Context, name string, fn func(phone string) error) error {
	var after int64
	for {
		var rows []struct {
			ID    int64
			Phone string
		}
		if err := db.q(ctx).Raw(`SELECT e.id, e.phone FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
			WHERE s.name = ? AND e.status = 'active' AND e.id > ? ORDER BY e.id LIMIT ?`, name, after, db.batch).Scan(&rows).Error; err != nil {
			return fmt.Errorf("sequence %q: read its enrollments: %w", name, err)
		}
		for _, r := range rows {
			if err := fn(r.Phone); err != nil {
				return err
			}
		}
		if len(rows) < db.batch {
			return nil
		}
		after = rows[len(rows)-1].ID
	}
}

// AccountEndpoint is where a stored account's requests go and which
// secrets they carry: its provider, base URL and secret references.
type AccountEndpoint struct {
	Provider, BaseURL, TokenRef, SecretRef, WebhookSecretRef string
}

// AccountEndpointOf returns the stored account named name's endpoint; ok
// is false when it is not stored.
func (db *DB) AccountEndpointOf(ctx context.Context, name string) (e AccountEndpoint, ok bool, err error) {
	var r accountRow
	err = db.q(ctx).Select("provider", "base_url", "token_ref", "secret_ref", "webhook_secret_ref").Where("name = ?", name).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("account %q: %w", name, err)
	}
	return AccountEndpoint{Provider: r.Provider, BaseURL: r.BaseURL, TokenRef: r.TokenRef, SecretRef: r.SecretRef, WebhookSecretRef: r.WebhookSecretRef}, true, nil
}
