package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
)

var _ campaign.RetryStore = (*DB)(nil)

// RetryFailed plans a broadcast's failed deliveries again (see
// campaign.RetryStore): under the broadcast's row lock, so that the
// feeder's completion (SetStatus, which takes the same lock and then
// requires no planned delivery) cannot complete the broadcast over the
// deliveries it plans. It reads the failed deliveries a batch at a time in
// id order (the deliveries_feed index), plans the ones verdict accepts
// (planned, a new generation so that no old task acts on them, no
// attempts, no error, no conversation mark) with an event each, and
// counts the others by reason.
func (db *DB) RetryFailed(ctx context.Context, broadcastID int64, from []campaign.Status, verdict func(delivery.FailedDelivery) (bool, string), now time.Time) (campaign.RetryResult, error) {
	res := campaign.RetryResult{NotRetried: map[string]int{}}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var status []string
		if err := tx.Raw(`SELECT status FROM broadcasts WHERE id = ?`+db.lockRow(), broadcastID).Scan(&status).Error; err != nil {
			return err
		}
		if len(status) == 0 {
			return campaign.ErrNotFound
		}
		res.Status = campaign.Status(status[0])
		if !slices.Contains(from, res.Status) {
			names := make([]string, len(from))
			for i, f := range from {
				names[i] = string(f)
			}
			return fmt.Errorf("the broadcast is %s; retry-failed takes one that is %s: %w", res.Status, strings.Join(names, ", "), campaign.ErrInvalidTransition)
		}
		var after int64
		for {
			var rows []struct {
				ID        int64
				Wamid     *string
				SentAt    *time.Time
				ErrorCode string
				Error     string
				Settle    string
			}
			if err := tx.Raw(`SELECT id, wamid, sent_at, error_code, error, settle FROM deliveries
				WHERE broadcast_id = ? AND status = 'failed' AND id > ? ORDER BY id LIMIT ?`, broadcastID, after, db.batch).Scan(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			after = rows[len(rows)-1].ID
			var ids []int64
			for _, r := range rows {
				ok, why := verdict(delivery.FailedDelivery{Accepted: r.Wamid != nil || r.SentAt != nil,
					Code: r.ErrorCode, Error: r.Error, Settle: r.Settle})
				if ok {
					ids = append(ids, r.ID)
				} else {
					res.NotRetried[why]++
				}
			}
			if len(ids) == 0 {
				continue
			}
			up := tx.Exec(`UPDATE deliveries SET status = 'planned', gen = gen + 1, attempts = 0, error_code = '', error = '',
				failed_at = NULL, lease_until = NULL, queued_at = NULL, sending_at = NULL, batch = NULL, conv_mark = '', updated_at = ?
				WHERE id IN ? AND status = 'failed'`, utc(now), ids)
			if up.Error != nil {
				return up.Error
			}
			res.Replanned += int(up.RowsAffected)
			if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
				SELECT id, 'planned', ?, 'planned again by retry-failed' FROM deliveries WHERE id IN ? AND status = 'planned'`,
				utc(now), ids).Error; err != nil {
				return err
			}
		}
		if res.Replanned > 0 && slices.Contains(campaign.Lifecycle[campaign.MoveRetryFailed].From, res.Status) {
			to := campaign.Lifecycle[campaign.MoveRetryFailed].To
			if err := tx.Exec(`UPDATE broadcasts SET status = ?, status_reason = '', finished_at = NULL, updated_at = ? WHERE id = ?`,
				string(to), utc(now), broadcastID).Error; err != nil {
				return err
			}
			res.Status = to
		}
		return nil
	})
	if err != nil {
		return campaign.RetryResult{}, fmt.Errorf("broadcast %d: plan failed deliveries again: %w", broadcastID, err)
	}
	return res, nil
}
