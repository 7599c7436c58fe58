package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"
)

// KeptWebhook is an authenticated webhook kept in Postgres because it could
// not be queued on Redis: its events, as the apply task's body, waiting for
// a worker to apply them.
type KeptWebhook struct {
	ID        int64
	AccountID int64
	Payload   []byte
	// Claim identifies the claim that returned it; ForgetKeptWebhook needs it.
	Claim string
}

type webhookInboxRow struct {
	ID           int64
	AccountID    int64
	Payload      string
	ReceivedAt   time.Time
	Claim        string
	ClaimedUntil time.Time
}

func (webhookInboxRow) TableName() string { return "webhook_inbox" }

// KeepWebhook keeps an account's webhook payload until a worker applies it
// (see ClaimKeptWebhooks). The webhook receiver calls it when Redis cannot
// take the apply task, so a provider that never resends loses nothing.
func (db *DB) KeepWebhook(ctx context.Context, accountID int64, payload []byte, now time.Time) error {
	row := webhookInboxRow{AccountID: accountID, Payload: string(payload), ReceivedAt: utc(now), ClaimedUntil: time.Unix(0, 0).UTC()}
	if err := db.q(ctx).Create(&row).Error; err != nil {
		return fmt.Errorf("keep webhook of account %d: %w", accountID, err)
	}
	return nil
}

// ClaimKeptWebhooks claims up to limit kept webhooks, oldest first, that no
// other claim holds at now, for lease. Each is then the caller's to apply and
// forget; if the caller dies, another claim takes it once the lease ends.
// Concurrent claims (several workers) never return the same webhook: on
// Postgres the rows are locked with SKIP LOCKED; SQLite has one writer.
func (db *DB) ClaimKeptWebhooks(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]KeptWebhook, error) {
	claim := rand.Text()
	lock := ""
	if db.dialect == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []webhookInboxRow
	err := db.q(ctx).Raw(`UPDATE webhook_inbox SET claim = ?, claimed_until = ?
		WHERE id IN (SELECT id FROM webhook_inbox WHERE claimed_until <= ? ORDER BY id LIMIT ?`+lock+`)
		RETURNING id, account_id, payload, claim`, claim, utc(now.Add(lease)), utc(now), limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("claim kept webhooks: %w", err)
	}
	out := make([]KeptWebhook, len(rows))
	for i, r := range rows {
		out[i] = KeptWebhook{ID: r.ID, AccountID: r.AccountID, Payload: []byte(r.Payload), Claim: r.Claim}
	}
	slices.SortFunc(out, func(a, b KeptWebhook) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// ForgetKeptWebhook deletes a kept webhook once applied, if claim still
// holds it. It reports whether it did: false means the lease ran out and
// another claim took it.
func (db *DB) ForgetKeptWebhook(ctx context.Context, k KeptWebhook) (bool, error) {
	res := db.q(ctx).Where("id = ? AND claim = ?", k.ID, k.Claim).Delete(&webhookInboxRow{})
	if res.Error != nil {
		return false, fmt.Errorf("forget kept webhook %d: %w", k.ID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// KeptWebhookSince reports whether a webhook of the account that reached the
// receiver at or after since is kept, not applied yet: it may show a send
// of unknown outcome that began at since, so that send must not be sent
// again before it is applied.
func (db *DB) KeptWebhookSince(ctx context.Context, accountID int64, since time.Time) (bool, error) {
	var n int64
	err := db.q(ctx).Raw(`SELECT COUNT(*) FROM webhook_inbox WHERE account_id = ? AND received_at >= ?`, accountID, utc(since)).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("look for kept webhooks of account %d: %w", accountID, err)
	}
	return n > 0, nil
}
