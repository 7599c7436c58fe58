package store

import (
	"context"
	"fmt"
	"time"
)

// TestSend is one test message (test_sends): a broadcast's or a sequence
// step's message sent to a test phone, never counted in the campaign.
type TestSend struct {
	ID          int64     `json:"id"`
	AccountID   int64     `json:"-"`
	Campaign    string    `json:"campaign"`
	Kind        string    `json:"kind"`           // "broadcast" or "sequence"
	Step        int       `json:"step,omitempty"` // 1-based, for a sequence
	Phone       string    `json:"phone"`
	RequestedBy string    `json:"requested_by,omitempty"`
	Status      string    `json:"status"` // sending, sent, failed, held, unknown
	WAMID       string    `json:"wamid,omitempty" gorm:"column:wamid"`
	ErrorCode   string    `json:"error_code,omitempty"`
	Error       string    `json:"error,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (TestSend) TableName() string { return "test_sends" }

// CreateTestSend records a test send about to be made (its ID is set).
func (db *DB) CreateTestSend(ctx context.Context, t *TestSend) error {
	t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
	if err := db.q(ctx).Create(t).Error; err != nil {
		return fmt.Errorf("record a test send: %w", err)
	}
	return nil
}

// FinishTestSend records a test send's outcome.
func (db *DB) FinishTestSend(ctx context.Context, t TestSend) error {
	err := db.q(ctx).Model(&TestSend{}).Where("id = ?", t.ID).Updates(map[string]any{"status": t.Status, "wamid": t.WAMID,
		"error_code": t.ErrorCode, "error": t.Error, "updated_at": utc(t.UpdatedAt)}).Error
	if err != nil {
		return fmt.Errorf("test send %d: record the outcome: %w", t.ID, err)
	}
	return nil
}
