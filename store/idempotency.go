package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wacamp/wacamp/delivery"
)

// IdempotencyRecord is a request recorded under its Idempotency-Key
// (api_idempotency): the hash of the request, and the answer once given
// (Status 0: still being answered).
type IdempotencyRecord struct {
	RequestHash string
	Status      int
	ContentType string
	Body        []byte
	CreatedAt   time.Time
}

type idempotencyRow struct {
	Owner       string `gorm:"primaryKey"`
	Key         string `gorm:"primaryKey"`
	RequestHash string
	Status      int
	ContentType string
	Body        []byte
	CreatedAt   time.Time
}

func (idempotencyRow) TableName() string { return "api_idempotency" }

// ClaimIdempotencyKey records (owner, key) for the request hashed hash,
// unless it is recorded already: claimed says this call recorded it (the
// caller answers the request, then FinishIdempotencyKey or
// ReleaseIdempotencyKey); otherwise rec is what is recorded. Keys older
// than ttl are forgotten first.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, owner, key, hash string, ttl time.Duration, now time.Time) (claimed bool, rec IdempotencyRecord, err error) {
	if err := db.q(ctx).Where("created_at < ?", utc(now.Add(-ttl))).Delete(&idempotencyRow{}).Error; err != nil {
		return false, rec, fmt.Errorf("idempotency key: forget old keys: %w", err)
	}
	res := db.q(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&idempotencyRow{Owner: owner, Key: key, RequestHash: hash, CreatedAt: utc(now)})
	if res.Error != nil {
		return false, rec, fmt.Errorf("idempotency key: record: %w", res.Error)
	}
	if res.RowsAffected > 0 {
		return true, rec, nil
	}
	rec, err = db.IdempotencyKey(ctx, owner, key)
	return false, rec, err
}

// IdempotencyKey returns what is recorded under (owner, key); ErrNotFound
// (wrapped) when nothing is.
func (db *DB) IdempotencyKey(ctx context.Context, owner, key string) (IdempotencyRecord, error) {
	var r idempotencyRow
	err := db.q(ctx).Where("owner = ? AND key = ?", owner, key).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return IdempotencyRecord{}, fmt.Errorf("idempotency key: %w", delivery.ErrNotFound)
	}
	if err != nil {
		return IdempotencyRecord{}, fmt.Errorf("idempotency key: read: %w", err)
	}
	return IdempotencyRecord{RequestHash: r.RequestHash, Status: r.Status, ContentType: r.ContentType, Body: r.Body, CreatedAt: r.CreatedAt}, nil
}

// FinishIdempotencyKey records the answer given to the request claimed
// under (owner, key).
func (db *DB) FinishIdempotencyKey(ctx context.Context, owner, key string, status int, contentType string, body []byte) error {
	err := db.q(ctx).Model(&idempotencyRow{}).Where("owner = ? AND key = ?", owner, key).
		Updates(map[string]any{"status": status, "content_type": contentType, "body": body}).Error
	if err != nil {
		return fmt.Errorf("idempotency key: record the answer: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed without
// an answer worth repeating (a server error): a retry runs it again.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, owner, key string) error {
	if err := db.q(ctx).Where("owner = ? AND key = ? AND status = 0", owner, key).Delete(&idempotencyRow{}).Error; err != nil {
		return fmt.Errorf("idempotency key: release: %w", err)
	}
	return nil
}
