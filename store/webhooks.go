package store

import (
	"context"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/webhook"
)

// ByPhoneKeep is how long a status matched by phone (an id-less provider's)
// is kept for its send to be recorded. It is short: such a provider also
// reports messages we did not send (a bot flow's own messages, an agent's),
// and those must not attach to a later send to the same phone.
const ByPhoneKeep = 2 * time.Minute

// ByPhoneWindow is how recent a send must be for a status matched by phone
// to be its: an older id-less message that never got its report must not
// take a newer one's.
const ByPhoneWindow = 10 * time.Minute

// deliveryAccount joins a delivery (d) to its account id.
const deliveryAccount = `LEFT JOIN broadcasts b ON b.id = d.broadcast_id
		LEFT JOIN enrollments e ON e.id = d.enrollment_id
		LEFT JOIN sequences s ON s.id = e.sequence_id`

// WebhookResult counts what ApplyWebhookEvents did with a batch: the
// webhook package's Result, which the receiver's store returns.
type WebhookResult = webhook.Result

// webhookEventRow is a webhook status whose message was not known yet.
type webhookEventRow struct {
	ID         int64
	AccountID  int64
	Wamid      string
	Phone      string
	ByPhone    bool
	Status     string
	At         time.Time
	Code       string
	Reason     string
	Text       string
	Media      string
	ReceivedAt time.Time
}

func (webhookEventRow) TableName() string { return "webhook_events" }

func (w webhookEventRow) match() hookMatch {
	return hookMatch{Wamid: w.Wamid, Phone: w.Phone, At: w.At, Text: w.Text, Media: w.Media, ByPhone: w.ByPhone}
}

func (w webhookEventRow) report() provider.StatusReport {
	return provider.StatusReport{Status: provider.Status(w.Status), At: w.At, Code: w.Code, Reason: w.Reason}
}

// ApplyWebhookEvents records what an account's provider pushed: each
// status moves its message forward only (sent < delivered < read; failed
// only from sent), so duplicates and reversed orders change nothing; a
// status whose message is not known yet (the webhook beat the send's
// answer) is kept and matched when the send is recorded. A reply ends the
// replier's enrollments, on this account, that exit on reply. The events
// are taken as received now (see ApplyReceivedWebhookEvents).
func (db *DB) ApplyWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, now time.Time) (WebhookResult, error) {
	return db.ApplyReceivedWebhookEvents(ctx, accountID, events, now, now)
}

// ApplyReceivedWebhookEvents is ApplyWebhookEvents for a webhook that
// reached the receiver at received: a kept status carries that time, so a
// send of unknown outcome that began before the webhook arrived is
// settled from it (SettleFromKept) however long the webhook took to be
// applied, and one that began after is not.
func (db *DB) ApplyReceivedWebhookEvents(ctx context.Context, accountID int64, events []provider.Event, received, now time.Time) (WebhookResult, error) {
	var res WebhookResult
	for _, ev := range events {
		if ev.Inbound {
			if ev.Phone == "" {
				continue
			}
			// What they wrote first: an opt-out keyword ends their
			// enrollments as opted out, before the reply exit would.
			at := ev.At
			if at.IsZero() {
				at = received
			}
			out, err := db.RecordInbound(ctx, accountID, []consent.Inbound{{Phone: ev.Phone, Text: ev.Text, At: at, Ref: ev.WAMID}}, now)
			if err != nil {
				return res, err
			}
			if out.Action != consent.None {
				res.Keyword = out.Action
			}
			res.Confirmations += out.Confirmations
			res.OptedOut = append(res.OptedOut, out.Ended...)
			names, err := db.exit(ctx, &accountID, ev.Phone, "reply", now)
			if err != nil {
				return res, err
			}
			res.Exited = append(res.Exited, names...)
			continue
		}
		// A sent status records nothing on a known message, but it shows
		// that a message whose id was never learned went out: it may
		// settle a send awaiting confirmation, or tie an id to its text.
		if _, ok := delivery.StatusMoves[ev.Status]; !ok && ev.Status != provider.StatusSent {
			res.Ignored++
			continue
		}
		at := ev.At
		if at.IsZero() {
			at = now
		}
		report := provider.StatusReport{Status: ev.Status, At: at, Code: ev.Code, Reason: ev.Reason}
		t, err := db.webhookTarget(ctx, accountID, hookMatch{Wamid: ev.WAMID, Phone: ev.Phone, At: ev.At, Text: ev.Text, Media: ev.Media, ByPhone: ev.MatchByPhone}, now)
		if err != nil {
			return res, err
		}
		id := t.id
		if id != 0 && ev.Status == provider.StatusSent && !t.claimed {
			res.Ignored++
			continue
		}
		if id == 0 {
			row := webhookEventRow{AccountID: accountID, Wamid: ev.WAMID, Phone: ev.Phone, ByPhone: ev.MatchByPhone,
				Status: string(ev.Status), At: utc(at), Code: ev.Code, Reason: ev.Reason, Text: ev.Text, Media: ev.Media, ReceivedAt: utc(received)}
			if err := db.q(ctx).Create(&row).Error; err != nil {
				return res, fmt.Errorf("keep webhook event: %w", err)
			}
			res.Kept++
			continue
		}
		if ev.Status != provider.StatusSent {
			if _, err := db.ApplyStatus(ctx, id, ev.WAMID, report, now, nil); err != nil {
				return res, err
			}
		}
		res.Applied++
		if t.settled {
			res.Settled++
			// Statuses of the settled message kept before it was known.
			if _, err := db.MatchWebhookEvents(ctx, id, now); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func firstID(ids []int64) int64 {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}

// MatchWebhookEvents applies the kept webhook events of delivery id now
// that its send is recorded (see delivery.WorkerStore).
func (db *DB) MatchWebhookEvents(ctx context.Context, id int64, now time.Time) (int, error) {
	var d struct {
		Wamid     *string
		Phone     string
		AccountID int64
	}
	err := db.q(ctx).Raw(`SELECT d.wamid, d.phone, COALESCE(b.account_id, s.account_id) AS account_id FROM deliveries d
		LEFT JOIN broadcasts b ON b.id = d.broadcast_id
		LEFT JOIN enrollments e ON e.id = d.enrollment_id
		LEFT JOIN sequences s ON s.id = e.sequence_id
		WHERE d.id = ?`, id).Scan(&d).Error
	if err != nil {
		return 0, fmt.Errorf("delivery %d: match webhook events: %w", id, err)
	}
	n := 0
	wamid := ""
	if d.Wamid != nil {
		wamid = *d.Wamid
	} else {
		// An id-less send: the oldest status kept for its phone is its own
		// (and names its id) if this is the oldest id-less message there.
		var rows []webhookEventRow
		if err := db.q(ctx).Where("account_id = ? AND by_phone AND phone = ? AND received_at >= ?", d.AccountID, d.Phone, utc(now.Add(-ByPhoneKeep))).
			Order("id").Limit(1).Find(&rows).Error; err != nil {
			return 0, fmt.Errorf("delivery %d: match webhook events: %w", id, err)
		}
		if len(rows) == 0 {
			return 0, nil
		}
		t, err := db.webhookTarget(ctx, d.AccountID, rows[0].match(), now)
		if err != nil || t.id == 0 {
			return 0, err
		}
		if err := db.applyKept(ctx, t.id, rows[0], now); err != nil {
			return 0, err
		}
		if t.id != id {
			return 0, nil // another open message's, by its content
		}
		n, wamid = 1, rows[0].Wamid
	}
	if wamid == "" {
		return n, nil
	}
	var rows []webhookEventRow
	if err := db.q(ctx).Where("account_id = ? AND wamid = ?", d.AccountID, wamid).Order("id").Find(&rows).Error; err != nil {
		return n, fmt.Errorf("delivery %d: match webhook events: %w", id, err)
	}
	for _, r := range rows {
		if err := db.applyKept(ctx, id, r, now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// applyKept applies one kept event to delivery id and forgets it (a kept
// sent status has nothing more to apply once it found its message).
func (db *DB) applyKept(ctx context.Context, id int64, r webhookEventRow, now time.Time) error {
	if provider.Status(r.Status) != provider.StatusSent {
		if _, err := db.ApplyStatus(ctx, id, r.Wamid, r.report(), now, nil); err != nil {
			return err
		}
	}
	if err := db.q(ctx).Delete(&webhookEventRow{}, r.ID).Error; err != nil {
		return fmt.Errorf("forget webhook event %d: %w", r.ID, err)
	}
	return nil
}

// SweepWebhookEvents matches kept webhook events whose message has become
// known since (closing the race where an event is kept just as its send is
// recorded) and forgets those older than keep. It returns how many were
// applied and dropped.
func (db *DB) SweepWebhookEvents(ctx context.Context, now time.Time, keep time.Duration) (applied, dropped int, err error) {
	// Only kept events that can match now: those whose wamid a delivery
	// has, and recent by-phone ones; never-matching ones cannot crowd
	// them out.
	var rows, byPhone []webhookEventRow
	if err := db.q(ctx).Raw(`SELECT w.* FROM webhook_events w JOIN deliveries d ON d.wamid = w.wamid
		WHERE w.wamid <> '' ORDER BY w.id LIMIT ?`, db.batch).Scan(&rows).Error; err != nil {
		return 0, 0, fmt.Errorf("sweep webhook events: %w", err)
	}
	if err := db.q(ctx).Where("by_phone AND received_at >= ?", utc(now.Add(-ByPhoneKeep))).Order("id").Limit(db.batch).Find(&byPhone).Error; err != nil {
		return 0, 0, fmt.Errorf("sweep webhook events: %w", err)
	}
	// And those that may settle a send awaiting confirmation (kept before
	// it awaited).
	var settling []webhookEventRow
	if err := db.q(ctx).Raw(`SELECT DISTINCT w.* FROM webhook_events w JOIN deliveries d ON d.phone = w.phone
		AND d.status = 'sending' AND d.settle = ? AND w.received_at >= d.sending_at
		WHERE w.phone <> '' ORDER BY w.id LIMIT ?`, delivery.SettleAwaiting, db.batch).Scan(&settling).Error; err != nil {
		return 0, 0, fmt.Errorf("sweep webhook events: %w", err)
	}
	seen := map[int64]bool{}
	for _, r := range append(append(rows, byPhone...), settling...) {
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if r.ByPhone && r.ReceivedAt.Before(now.Add(-ByPhoneKeep)) {
			continue // too old to be any send's (dropped below)
		}
		t, err := db.webhookTarget(ctx, r.AccountID, r.match(), now)
		if err != nil {
			return applied, dropped, err
		}
		if t.id == 0 {
			continue
		}
		if err := db.applyKept(ctx, t.id, r, now); err != nil {
			return applied, dropped, err
		}
		applied++
	}
	res := db.q(ctx).Where("received_at < ? OR (by_phone AND received_at < ?)", utc(now.Add(-keep)), utc(now.Add(-ByPhoneKeep))).Delete(&webhookEventRow{})
	if res.Error != nil {
		return applied, 0, fmt.Errorf("drop old webhook events: %w", res.Error)
	}
	return applied, int(res.RowsAffected), nil
}

// WebhookAccount is what the webhook receiver needs about an account.
type WebhookAccount struct {
	ID               int64
	Name             string
	Provider         string
	WebhookSecretRef string
	// Keywords are the account's own opt-out and opt-in keywords: the
	// receiver keeps the text of an inbound message only when it is one.
	Keywords consent.Keywords
}

// WebhookAccounts lists the accounts that take webhooks.
func (db *DB) WebhookAccounts(ctx context.Context) ([]WebhookAccount, error) {
	var rows []struct {
		ID                                       int64
		Name, Provider, WebhookSecretRef, OptOut string
	}
	err := db.q(ctx).Raw(`SELECT id, name, provider, webhook_secret_ref, opt_out FROM accounts WHERE webhook_secret_ref <> '' ORDER BY name`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("list webhook accounts: %w", err)
	}
	out := make([]WebhookAccount, len(rows))
	for i, r := range rows {
		out[i] = WebhookAccount{ID: r.ID, Name: r.Name, Provider: r.Provider, WebhookSecretRef: r.WebhookSecretRef, Keywords: decodeSettings(r.OptOut).Keywords}
	}
	return out, nil
}
