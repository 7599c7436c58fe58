package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/templates"
)

// settleTrack is how long a message settled from a webhook is tracked (the
// send path's default TrackFor: WhatsApp's message TTL).
const settleTrack = 30 * 24 * time.Hour

// maxCandidates bounds how many open messages to one phone a status
// matched by phone and content is weighed against.
const maxCandidates = 20

// AwaitSettle marks a sending delivery of ref's generation that holds
// lease (the caller's attempt) as awaiting the provider's confirmation until
// until; its lease runs as long (until is the caller's lease from then on).
func (db *DB) AwaitSettle(ctx context.Context, ref delivery.Ref, lease, until time.Time, reason string, now time.Time) (bool, error) {
	res := db.q(ctx).Exec(`UPDATE deliveries SET settle = ?, settle_until = ?, lease_until = ?, error = ?, updated_at = ?
		WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`,
		delivery.SettleAwaiting, utc(until), utc(until), reason, utc(now), ref.ID, ref.Gen, utc(lease))
	if res.Error != nil {
		return false, fmt.Errorf("delivery %d: await settle: %w", ref.ID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// SettleCounts counts a broadcast's deliveries per settle state as shown
// (settleShown: awaiting, settled, resent); those never unknown are not
// counted.
func (db *DB) SettleCounts(ctx context.Context, broadcastID int64) (map[string]int, error) {
	var rows []struct {
		Settle string
		N      int
	}
	if err := db.q(ctx).Raw(`SELECT `+settleShown("")+` AS settle, COUNT(*) AS n FROM deliveries WHERE broadcast_id = ? AND settle <> '' GROUP BY 1`,
		broadcastID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("broadcast %d: settle counts: %w", broadcastID, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.Settle] = r.N
	}
	return out, nil
}

// settleShown is the SQL of a delivery's settle state as status and
// export show it (prefix: the table's alias and a dot, or ""): awaiting
// while it awaits; else resent once it was ever sent again (resends,
// migration 22), even if a later copy settled; else its settle state.
func settleShown(prefix string) string {
	return `CASE WHEN ` + prefix + `settle = '` + delivery.SettleAwaiting + `' THEN '` + delivery.SettleAwaiting +
		`' WHEN ` + prefix + `resends > 0 THEN '` + delivery.SettleResent + `' ELSE ` + prefix + `settle END`
}

// Resend puts a sending delivery of ref's generation that holds lease (the
// caller's attempt) back in the queue marked resent and counted in
// resends (skipped if its
// broadcast was cancelled or its enrollment ended meanwhile); false when it
// is no longer sending (settled) or another attempt holds it.
func (db *DB) Resend(ctx context.Context, ref delivery.Ref, lease time.Time, reason string, now time.Time) (bool, error) {
	ok, err := db.handBack(ctx, ref.ID, now, `UPDATE deliveries SET lease_until = NULL, settle = ?, settle_until = NULL, resends = resends + 1,
		gen = `+handBackGen+`, queued_at = `+handBackQueued+`, status = `+handBackStatus+`,
		error = `+handBackError("?")+`, error_code = `+handBackCode("error_code")+`, updated_at = ? WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`,
		delivery.SettleResent, reason, utc(now), ref.ID, ref.Gen, utc(lease))
	if err != nil {
		return false, fmt.Errorf("delivery %d: resend: %w", ref.ID, err)
	}
	return ok, nil
}

// SettleFromKept settles an awaiting delivery from a status webhook kept
// since its send began (one that came before the delivery awaited, whose
// message was then unknown): the first kept status to its phone that
// matches it as a live status would (webhookTarget) records it sent, and
// every kept status of the same message is applied.
func (db *DB) SettleFromKept(ctx context.Context, id int64, now time.Time) (bool, error) {
	var d []struct {
		Phone     string
		AccountID int64
		SendingAt *time.Time
	}
	err := db.q(ctx).Raw(`SELECT d.phone, COALESCE(b.account_id, s.account_id) AS account_id, d.sending_at FROM deliveries d `+deliveryAccount+`
		WHERE d.id = ? AND d.status = 'sending' AND d.settle = ?`, id, delivery.SettleAwaiting).Scan(&d).Error
	if err != nil || len(d) == 0 {
		return false, wrapErr(err, "delivery %d: settle from kept webhooks", id)
	}
	since := now.Add(-settleTrack)
	if d[0].SendingAt != nil {
		since = *d[0].SendingAt
	}
	var rows []webhookEventRow
	if err := db.q(ctx).Where("account_id = ? AND phone = ? AND received_at >= ?", d[0].AccountID, d[0].Phone, utc(since)).
		Order("id").Limit(100).Find(&rows).Error; err != nil {
		return false, fmt.Errorf("delivery %d: settle from kept webhooks: %w", id, err)
	}
	for _, r := range rows {
		t, err := db.webhookTarget(ctx, r.AccountID, r.match(), now)
		if err != nil {
			return false, err
		}
		if t.id == 0 {
			continue
		}
		// The kept status found its message (this one, or another that
		// became known meanwhile): apply it and the others of its id.
		if err := db.applyKept(ctx, t.id, r, now); err != nil {
			return false, err
		}
		if t.id != id {
			continue
		}
		if r.Wamid != "" {
			if _, err := db.MatchWebhookEvents(ctx, id, now); err != nil {
				return true, err
			}
		}
		return true, nil
	}
	return false, nil
}

func wrapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// hookMatch is what a status webhook tells about its message, for finding
// the delivery it belongs to.
type hookMatch struct {
	Wamid, Phone string
	// At is when the provider says the status happened (zero: unknown).
	At time.Time
	// Text and Media are the message's text (or caption) and media URL,
	// when the webhook shows them.
	Text, Media string
	// ByPhone: the provider's send answers carry no id, so an open
	// message to Phone without one may be this status's.
	ByPhone bool
}

func (m hookMatch) hasContent() bool { return m.Text != "" || m.Media != "" }

// target is the delivery a status belongs to; settled says the status just
// settled it (an awaiting delivery recorded sent from it).
type target struct {
	id int64
	// claimed: found by phone (and content), its id just recorded;
	// settled: an awaiting delivery just recorded sent from it.
	claimed, settled bool
}

// candidate is an open message to a phone that a status matched by phone
// may belong to.
type candidate struct {
	ID        int64
	Awaiting  bool
	SendingAt *time.Time
}

// webhookTarget finds the delivery of the account a status is about:
//
//  1. the delivery that has its wamid;
//  2. else, by phone and content: an open message to m.Phone with no id
//     recorded — accepted in the last ByPhoneWindow when the provider's
//     answers carry no id (m.ByPhone), or awaiting the provider's
//     confirmation (any provider) — whose content does not contradict
//     what the status shows. A message whose text, caption or URL is what
//     the status shows comes first, then the oldest. A status that shows
//     no content, or only a file at another URL than a media message's (a
//     provider's own copy), is only taken when one message is open: with
//     several, it waits (kept) until its id is recorded by a status that
//     shows content.
//
// The chosen row is claimed with one conditional UPDATE (its id recorded
// while it has none; an awaiting one recorded sent), so two statuses
// applied at once never both take one message: the loser moves on to the
// next candidate. 0 = none.
func (db *DB) webhookTarget(ctx context.Context, accountID int64, m hookMatch, now time.Time) (target, error) {
	if m.Wamid != "" {
		id, err := db.byWamid(ctx, accountID, m.Wamid)
		if err != nil || id != 0 {
			return target{id: id}, err
		}
	}
	if m.Phone == "" {
		return target{}, nil
	}
	var cands []candidate
	err := db.q(ctx).Raw(`SELECT d.id, d.status = 'sending' AS awaiting, d.sending_at FROM deliveries d `+deliveryAccount+`
		WHERE d.phone = ? AND d.wamid IS NULL AND COALESCE(b.account_id, s.account_id) = ?
		AND ((? AND d.status = 'sent' AND d.sent_at >= ?) OR (d.status = 'sending' AND d.settle = ?))
		ORDER BY COALESCE(d.sent_at, d.sending_at), d.id LIMIT ?`,
		m.Phone, accountID, m.ByPhone, utc(now.Add(-ByPhoneWindow)), delivery.SettleAwaiting, maxCandidates).Scan(&cands).Error
	if err != nil {
		return target{}, fmt.Errorf("find delivery of webhook event by phone: %w", err)
	}
	exact, open, err := db.rank(ctx, cands, m)
	if err != nil {
		return target{}, err
	}
	if open, err = db.notEarlier(ctx, accountID, open, m); err != nil {
		return target{}, err
	}
	if len(open) > 0 {
		// A status that does not show this message's content may belong to
		// another send to the same phone whose answer is still on its way
		// (the webhook beat the answer): while one is in flight, it settles
		// no awaiting message; it is kept, and applied by its id once that
		// send is recorded.
		busy, err := db.sendInFlight(ctx, accountID, m.Phone)
		if err != nil {
			return target{}, err
		}
		if busy {
			open = slices.DeleteFunc(open, func(c candidate) bool { return c.Awaiting })
		}
	}
	for _, c := range append(exact, open...) {
		ok, err := db.claimFor(ctx, c, m.Wamid, now)
		switch {
		case isUniqueViolation(err):
			// Another report of the same message took a row for this id
			// at the same moment: it is that row's.
			id, err := db.byWamid(ctx, accountID, m.Wamid)
			return target{id: id}, err
		case err != nil:
			return target{}, err
		case ok:
			return target{id: c.ID, claimed: true, settled: c.Awaiting}, nil
		}
	}
	return target{}, nil
}

// byWamid returns the account's delivery with wamid, or 0.
func (db *DB) byWamid(ctx context.Context, accountID int64, wamid string) (int64, error) {
	var ids []int64
	err := db.q(ctx).Raw(`SELECT d.id FROM deliveries d `+deliveryAccount+`
		WHERE d.wamid = ? AND COALESCE(b.account_id, s.account_id) = ?`, wamid, accountID).Scan(&ids).Error
	if err != nil {
		return 0, fmt.Errorf("find delivery of webhook event: %w", err)
	}
	return firstID(ids), nil
}

// rank sorts the candidates a status may belong to (see webhookTarget):
// exact, those whose content is what the status shows; open, those whose
// content the status cannot contradict (it shows none, or the message's
// content is not known before the provider renders it: a template, a bot
// flow). Those it contradicts are left out.
func (db *DB) rank(ctx context.Context, cands []candidate, m hookMatch) (exact, open []candidate, err error) {
	if !m.hasContent() {
		if len(cands) > 1 {
			return nil, nil, nil // cannot tell which: wait for a status that can
		}
		return nil, cands, nil
	}
	var rehosted []candidate
	for _, c := range cands {
		mc, err := db.contentOf(ctx, c.ID)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case mc.matches(m):
			exact = append(exact, c)
		case !mc.known():
			open = append(open, c)
		case mc.media != "" && mc.text == "" && m.Text == "" && m.Media != "":
			// The status shows a file at another URL and no text: the
			// provider may keep its own copy of the file (Salebot's and
			// waapi's statuses link theirs), so this shows nothing of
			// the message, as a status without content.
			rehosted = append(rehosted, c)
		}
	}
	if len(cands) == 1 {
		open = append(open, rehosted...)
	}
	return exact, open, nil
}

// statusSkew is how far a provider's status time may run behind our
// clock: a status timed earlier than that before a request began is
// about an earlier message.
const statusSkew = time.Minute

// notEarlier drops from open (messages a status that shows nothing of
// them may belong to) the awaiting ones the status cannot be about: it
// happened before their request began (its time, less statusSkew), or
// its id was reported before then (a kept status of the same message,
// which another sender — a bot flow, an agent — sent earlier).
func (db *DB) notEarlier(ctx context.Context, accountID int64, open []candidate, m hookMatch) ([]candidate, error) {
	if !slices.ContainsFunc(open, func(c candidate) bool { return c.Awaiting }) {
		return open, nil // nothing awaiting: nothing to settle wrongly
	}
	var first *time.Time // when m's id was first reported, if it was
	if m.Wamid != "" {
		var seen []time.Time
		err := db.q(ctx).Raw(`SELECT received_at FROM webhook_events WHERE account_id = ? AND wamid = ? ORDER BY received_at LIMIT 1`,
			accountID, m.Wamid).Scan(&seen).Error
		if err != nil {
			return nil, fmt.Errorf("look for earlier reports of webhook id: %w", err)
		}
		if len(seen) > 0 {
			first = &seen[0]
		}
	}
	return slices.DeleteFunc(open, func(c candidate) bool {
		if !c.Awaiting || c.SendingAt == nil {
			return false
		}
		began := *c.SendingAt
		return (!m.At.IsZero() && m.At.Before(began.Add(-statusSkew))) || (first != nil && first.Before(began))
	}), nil
}

// sendInFlight reports whether a send of the account to phone is at the
// provider right now: claimed, request made, answer not recorded yet, and
// not awaiting a confirmation.
func (db *DB) sendInFlight(ctx context.Context, accountID int64, phone string) (bool, error) {
	var n int64
	err := db.q(ctx).Raw(`SELECT COUNT(*) FROM deliveries d `+deliveryAccount+`
		WHERE d.phone = ? AND d.status = 'sending' AND d.settle <> ? AND COALESCE(b.account_id, s.account_id) = ?`,
		phone, delivery.SettleAwaiting, accountID).Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("look for sends in flight: %w", err)
	}
	return n > 0, nil
}

// claimFor records wamid on candidate c if it still has none (an awaiting
// one is recorded sent: settled). Without a wamid, a sent candidate is
// taken as it is.
func (db *DB) claimFor(ctx context.Context, c candidate, wamid string, now time.Time) (bool, error) {
	if c.Awaiting {
		return db.settleRow(ctx, c.ID, wamid, now)
	}
	if wamid == "" {
		return true, nil
	}
	res := db.q(ctx).Exec(`UPDATE deliveries SET wamid = ?, updated_at = ? WHERE id = ? AND wamid IS NULL`, wamid, utc(now), c.ID)
	if res.Error != nil {
		return false, fmt.Errorf("delivery %d: record webhook id: %w", c.ID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// settleRow records an awaiting delivery sent, from a status webhook that
// showed its message (with the id the webhook named, if any); a sequence
// step also plans the enrollment's next step, in the same transaction.
// Its sent_at is now, when the webhook showed it (the by-phone matching of
// later statuses and the next step's timing count from it).
func (db *DB) settleRow(ctx context.Context, id int64, wamid string, now time.Time) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got []struct {
			EnrollmentID *int64
			Step         *int
		}
		err := tx.Raw(`UPDATE deliveries SET status = 'sent', wamid = ?, sent_at = ?, lease_until = NULL, settle = ?, settle_until = NULL,
			error_code = '', error = '', next_poll_at = NULL, poll_count = 0, track_until = ?, updated_at = ?
			WHERE id = ? AND status = 'sending' AND settle = ? RETURNING enrollment_id, step`,
			nullable(wamid), utc(now), delivery.SettleSettled, utc(now.Add(settleTrack)), utc(now), id, delivery.SettleAwaiting).Scan(&got).Error
		if err != nil || len(got) == 0 {
			return err
		}
		ok = true
		if err := tx.Create(&eventRow{DeliveryID: id, Status: string(delivery.Sent), At: utc(now),
			Detail: strings.TrimSpace("settled from the provider's webhook " + wamid)}).Error; err != nil {
			return err
		}
		if got[0].EnrollmentID != nil && got[0].Step != nil {
			return planNext(tx, *got[0].EnrollmentID, *got[0].Step, now, now)
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: settle from webhook: %w", id, err)
	}
	return ok, nil
}

// isUniqueViolation reports whether err is a unique-constraint violation
// (Postgres 23505, SQLite's UNIQUE constraint failed).
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "23505") || strings.Contains(s, "UNIQUE constraint failed")
}

// msgContent is what a webhook may show of a delivery's message: its text
// (or caption) and media URL. Both empty: not known before the provider
// renders it (a template, a bot flow, a location ...).
type msgContent struct {
	text, media string
}

func (c msgContent) known() bool { return c.text != "" || c.media != "" }

// matches reports whether a status shows this content: the same text (or
// caption), or the media URL.
func (c msgContent) matches(m hookMatch) bool {
	norm := strings.TrimSpace
	if c.text != "" && norm(c.text) == norm(m.Text) {
		return true
	}
	return c.media != "" && (c.media == m.Media || strings.Contains(m.Text, c.media))
}

// contentOf renders delivery id's message for its recipient.
func (db *DB) contentOf(ctx context.Context, id int64) (msgContent, error) {
	job, err := db.Job(ctx, id)
	if err != nil {
		return msgContent{}, err
	}
	msg, err := job.Message.Render(job.Variables())
	if err != nil {
		return msgContent{}, nil // never sent as such: nothing to compare
	}
	switch msg.Kind {
	case templates.KindText:
		return msgContent{text: msg.Text}, nil
	case templates.KindMedia:
		if msg.Media != nil {
			return msgContent{text: msg.Media.Caption, media: msg.Media.URL}, nil
		}
	}
	return msgContent{}, nil
}
