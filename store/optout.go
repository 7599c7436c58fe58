package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/sequence"
)

// suppressionRow is one entry of the suppression list (migration 00012).
type suppressionRow struct {
	List      string
	Phone     string
	Scope     string
	Reason    string
	Source    string
	CreatedAt time.Time
	// Recheck: a keyword read in a conversation history, which planning
	// does not skip on (see blockedAtPlan).
	Recheck bool
}

func (suppressionRow) TableName() string { return "suppressions" }

func (r suppressionRow) entry() consent.Entry {
	return consent.Entry{List: r.List, Phone: r.Phone, Scope: r.Scope, Reason: r.Reason, Source: r.Source, CreatedAt: r.CreatedAt.UTC()}
}

// blocked is the condition that the phone in column col is on either of
// two lists (the first two arguments) in a scope that blocks the send (the
// third argument: whether its message is marketing). Two probes of the
// suppressions' primary key.
func blocked(col string) string {
	return `EXISTS (SELECT 1 FROM suppressions s WHERE s.list IN (?, ?) AND s.phone = ` + col + ` AND (s.scope = 'all' OR ?))`
}

// blockedAtPlan is blocked for planning: an entry a keyword read in a
// conversation history made (recheck) does not skip a delivery there. The
// person's opt-in would be seen only by reading their history again,
// which the send path does before it claims: the claim then decides.
func blockedAtPlan(col string) string {
	return `EXISTS (SELECT 1 FROM suppressions s WHERE s.list IN (?, ?) AND s.phone = ` + col + ` AND (s.scope = 'all' OR ?) AND NOT s.recheck)`
}

// blockedArgs are blocked's arguments for c.
func blockedArgs(c consent.Check) []any {
	a, b := c.ListPair()
	return []any{a, b, c.Marketing}
}

// optedOutDetail is the error text of a delivery skipped because its
// recipient opted out (its error_code is consent.ReasonOptedOut).
const optedOutDetail = "the recipient opted out"

// Suppress puts entries on their lists (an entry already there keeps its
// first reason and time) and ends, as exited with reason opted_out, the
// active enrollments of each person opted out of everything, in the
// sequences of the accounts that check the entry's list. now stands for an
// entry's missing CreatedAt.
func (db *DB) Suppress(ctx context.Context, entries []consent.Entry, now time.Time) (consent.SuppressResult, error) {
	var res consent.SuppressResult
	for _, e := range entries {
		if !consent.ValidScope(e.Scope) || !consent.ValidSource(e.Source) || e.List == "" || e.Phone == "" {
			return res, fmt.Errorf("suppress %q on %q: scope %q or source %q is not one of consent's", e.Phone, e.List, e.Scope, e.Source)
		}
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res = consent.SuppressResult{}
		for chunk := range slices.Chunk(entries, db.batch) {
			rows := make([]suppressionRow, len(chunk))
			for i, e := range chunk {
				at := e.CreatedAt
				if at.IsZero() {
					at = now
				}
				rows[i] = suppressionRow{List: e.List, Phone: e.Phone, Scope: e.Scope, Reason: e.Reason, Source: e.Source, CreatedAt: utc(at)}
			}
			r := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows)
			if r.Error != nil {
				return r.Error
			}
			res.Added += int(r.RowsAffected)
		}
		byList := map[string][]string{}
		for _, e := range entries {
			if e.Scope == consent.ScopeAll {
				byList[e.List] = append(byList[e.List], e.Phone)
			}
		}
		for list, phones := range byList {
			names, err := endOptedOut(tx, db.batch, list, phones, now)
			if err != nil {
				return err
			}
			res.Ended = append(res.Ended, names...)
		}
		return nil
	})
	if err != nil {
		return consent.SuppressResult{}, fmt.Errorf("suppress %d: %w", len(entries), err)
	}
	return res, nil
}

// endOptedOut ends, as exited with reason opted_out, the active
// enrollments of phones in the sequences of the accounts that check list,
// and returns those sequences. A reply sequence's (an opt-out's
// confirmation) goes on: the opt-out is what it confirms.
func endOptedOut(tx *gorm.DB, batch int, list string, phones []string, now time.Time) ([]string, error) {
	var names []string
	for chunk := range slices.Chunk(phones, batch) {
		var rows []struct {
			ID   int64
			Name string
		}
		if err := tx.Raw(`SELECT e.id, s.name FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
			JOIN accounts a ON a.id = s.account_id
			WHERE e.status = 'active' AND e.phone IN ? AND s.name NOT LIKE '`+consent.ReplyPrefix+`%'
			AND (? = 'account:' || a.name OR (a.portfolio <> '' AND ? = 'portfolio:' || a.portfolio)) ORDER BY e.id`,
			chunk, list, list).Scan(&rows).Error; err != nil {
			return nil, err
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
			names = append(names, r.Name)
		}
		if _, err := endEnrollments(tx, ids, sequence.EnrollExited, consent.ReasonOptedOut, now); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// Unsuppress takes phone off lists: its entries of scope (every scope when
// scope is ""), whatever their source. It returns how many it removed.
func (db *DB) Unsuppress(ctx context.Context, lists []string, phone, scope string) (int, error) {
	q := db.q(ctx).Where("list IN ? AND phone = ?", lists, phone)
	if scope != "" {
		q = q.Where("scope = ?", scope)
	}
	res := q.Delete(&suppressionRow{})
	if res.Error != nil {
		return 0, fmt.Errorf("unsuppress %s: %w", phone, res.Error)
	}
	return int(res.RowsAffected), nil
}

// Suppressed reports which of phones a send checked by c may not go to:
// one probe of the primary key per phone and list, a batch at a time.
func (db *DB) Suppressed(ctx context.Context, c consent.Check, phones []string) (map[string]bool, error) {
	out := map[string]bool{}
	scopes := []string{consent.ScopeAll}
	if c.Marketing {
		scopes = append(scopes, consent.ScopeMarketing)
	}
	for chunk := range slices.Chunk(phones, db.batch) {
		var found []string
		if err := db.q(ctx).Raw(`SELECT DISTINCT phone FROM suppressions WHERE list IN ? AND phone IN ? AND scope IN ?`,
			c.Lists, chunk, scopes).Scan(&found).Error; err != nil {
			return nil, fmt.Errorf("look up %d phones on the suppression list: %w", len(chunk), err)
		}
		for _, p := range found {
			out[p] = true
		}
	}
	return out, nil
}

// Suppressions calls fn for each entry of lists (every list when lists is
// empty), by list, phone and scope, reading in keyset batches.
func (db *DB) Suppressions(ctx context.Context, lists []string, fn func(consent.Entry) error) error {
	var after *consent.Entry
	for {
		page, err := db.SuppressionPage(ctx, lists, after, db.batch)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < db.batch {
			return nil
		}
		after = &page[len(page)-1]
	}
}

// SuppressionPage returns at most limit entries of lists (every list when
// empty), by list, phone and scope, after the entry after (nil: from the
// first): one read of the primary key's order, however long the list.
func (db *DB) SuppressionPage(ctx context.Context, lists []string, after *consent.Entry, limit int) ([]consent.Entry, error) {
	q := db.q(ctx).Order("list, phone, scope").Limit(limit)
	if len(lists) > 0 {
		q = q.Where("list IN ?", lists)
	}
	if after != nil {
		// A row comparison: the primary key's index seeks to it.
		q = q.Where("(list, phone, scope) > (?, ?, ?)", after.List, after.Phone, after.Scope)
	}
	var rows []suppressionRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read the suppression list: %w", err)
	}
	out := make([]consent.Entry, len(rows))
	for i, r := range rows {
		out[i] = r.entry()
	}
	return out, nil
}

// OptOutAccounts returns every account, by name, with its keywords.
func (db *DB) OptOutAccounts(ctx context.Context) ([]consent.Account, error) {
	return db.optOutAccounts(db.q(ctx), "")
}

// OptOutAccountByName returns the account named name; campaign.ErrNotFound
// if there is none.
func (db *DB) OptOutAccountByName(ctx context.Context, name string) (consent.Account, error) {
	as, err := db.optOutAccounts(db.q(ctx).Where("name = ?", name), name)
	if err != nil {
		return consent.Account{}, err
	}
	if len(as) == 0 {
		return consent.Account{}, fmt.Errorf("account %q: %w", name, campaign.ErrNotFound)
	}
	return as[0], nil
}

func (db *DB) optOutAccounts(q *gorm.DB, what string) ([]consent.Account, error) {
	var rows []accountRow
	if err := q.Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load account %s: %w", what, err)
	}
	out := make([]consent.Account, len(rows))
	for i, r := range rows {
		set := decodeSettings(r.OptOut)
		out[i] = consent.Account{ID: r.ID, Name: r.Name, Portfolio: r.Portfolio, Keywords: set.Keywords, Confirmations: set.Confirmations}
	}
	return out, nil
}

// encodeSettings is accounts.opt_out for s: "" for the defaults alone.
func encodeSettings(s consent.Settings) string {
	if s.IsZero() {
		return ""
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "" // a struct of strings and string slices always encodes
	}
	return string(b)
}

// decodeSettings reads accounts.opt_out; written by us, so the defaults
// are the fallback of an unreadable value.
func decodeSettings(s string) consent.Settings {
	var k consent.Settings
	if s != "" {
		_ = json.Unmarshal([]byte(s), &k)
	}
	return k
}

// inboundRow is a person's record of what they wrote to a number
// (migration 00012).
type inboundRow struct {
	AccountID  int64
	Phone      string
	LastAt     time.Time
	KeywordAt  *time.Time
	KeywordRef string
}

func (inboundRow) TableName() string { return "contact_inbound" }

// RecordInbound records messages people wrote to an account's number, in
// the order given (oldest first), in one transaction: each sender's latest
// inbound time is kept (the 24-hour customer-service window opens with
// it), and a message whose whole text is a keyword (consent.Keywords, the
// defaults and the account's own) opts its sender out of everything (on
// the account's list, source keyword; their active enrollments end) or
// back in (their entries on the account's lists go, except those a
// provider's error made). Acting on a keyword enrolls its sender in the
// account's reply sequence for it (consent.ReplySequence) when the account
// has a confirmation for it, in the same transaction: the confirmation is
// planned exactly when the keyword is acted on. A keyword is acted on once: not that very
// message again (its Ref), nor one older than the last keyword acted on
// for that sender on this number (see actedOn) — a conversation history
// is read before many sends, and webhooks come twice and out of order.
func (db *DB) RecordInbound(ctx context.Context, accountID int64, msgs []consent.Inbound, now time.Time) (consent.Outcome, error) {
	var out consent.Outcome
	if len(msgs) == 0 {
		return out, nil
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		out = consent.Outcome{}
		as, err := db.optOutAccounts(tx.Where("id = ?", accountID), fmt.Sprint(accountID))
		if err != nil {
			return err
		}
		if len(as) == 0 {
			return fmt.Errorf("account %d: %w", accountID, campaign.ErrNotFound)
		}
		acct := as[0]
		// Where each message is in msgs, by sender and id: a message
		// before the keyword acted on last (the conversation read again)
		// is older than it, whatever their times say (a history's times
		// have whole seconds).
		pos := map[[2]string]int{}
		for i, m := range msgs {
			if m.Ref != "" {
				pos[[2]string{m.Phone, m.Ref}] = i
			}
		}
		for i, m := range msgs {
			if m.Phone == "" {
				continue
			}
			at := m.At
			if at.IsZero() {
				at = now
			}
			at = utc(at)
			if err := tx.Exec(`INSERT INTO contact_inbound (account_id, phone, last_at) VALUES (?, ?, ?)
				ON CONFLICT (account_id, phone) DO UPDATE SET last_at = CASE WHEN excluded.last_at > contact_inbound.last_at
				THEN excluded.last_at ELSE contact_inbound.last_at END`, accountID, m.Phone, at).Error; err != nil {
				return err
			}
			action := acct.Keywords.Classify(m.Text)
			if action == consent.None {
				continue
			}
			var cur inboundRow
			if err := tx.Raw(`SELECT * FROM contact_inbound WHERE account_id = ? AND phone = ?`+db.lockRow(), accountID, m.Phone).Scan(&cur).Error; err != nil {
				return err
			}
			if acted, older := actedOn(m, i, at, cur, pos); acted || older {
				continue
			}
			if err := tx.Exec(`UPDATE contact_inbound SET keyword_at = ?, keyword_ref = ? WHERE account_id = ? AND phone = ?`,
				at, m.Ref, accountID, m.Phone).Error; err != nil {
				return err
			}
			out.Action = action
			if text := acct.Confirmations.For(action); text != "" {
				planned, err := enrollReply(tx, consent.ReplySequence(acct.Name, action), m.Phone, now)
				if err != nil {
					return fmt.Errorf("plan the %s confirmation: %w", action, err)
				}
				if planned {
					out.Confirmations++
				}
			}
			if action == consent.OptIn {
				if err := tx.Where("list IN ? AND phone = ? AND source <> ?", acct.Lists(), m.Phone, consent.SourceProviderError).
					Delete(&suppressionRow{}).Error; err != nil {
					return err
				}
				continue
			}
			row := suppressionRow{List: acct.List(), Phone: m.Phone, Scope: consent.ScopeAll, Source: consent.SourceKeyword,
				Reason: "wrote " + strings.ToUpper(consent.Fold(m.Text)), CreatedAt: at, Recheck: m.FromHistory}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
				return err
			}
			names, err := endOptedOut(tx, db.batch, row.List, []string{m.Phone}, now)
			if err != nil {
				return err
			}
			out.Ended = append(out.Ended, names...)
		}
		return nil
	})
	if err != nil {
		return consent.Outcome{}, fmt.Errorf("account %d: record %d inbound messages: %w", accountID, len(msgs), err)
	}
	return out, nil
}

// actedOn says whether keyword message m (at position i of its batch,
// written at) is the keyword last acted on for its sender (cur), or older
// than it: before it in the batch, else earlier (an id-less message at the
// very same time is taken for a repeat).
func actedOn(m consent.Inbound, i int, at time.Time, cur inboundRow, pos map[[2]string]int) (acted, older bool) {
	if cur.KeywordRef != "" {
		if m.Ref == cur.KeywordRef {
			return true, false
		}
		if j, ok := pos[[2]string{m.Phone, cur.KeywordRef}]; ok {
			return false, i < j
		}
	}
	if cur.KeywordAt == nil {
		return false, false
	}
	last := cur.KeywordAt.UTC()
	return false, at.Before(last) || (m.Ref == "" && at.Equal(last))
}

// LastInbound returns when phone last wrote to the account's number; ok
// is false when they never did (as far as wacamp has seen).
func (db *DB) LastInbound(ctx context.Context, accountID int64, phone string) (time.Time, bool, error) {
	var r inboundRow
	err := db.q(ctx).Where("account_id = ? AND phone = ?", accountID, phone).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("account %d: last inbound: %w", accountID, err)
	}
	return r.LastAt.UTC(), true, nil
}

// suppressRefusal puts the recipient of delivery id on its account's
// suppression list when the provider's error code says they refuse the
// business's messages (consent.FromCode: scope marketing for 131050, all
// for 130403; source provider_error), in the transaction that records the
// failure; a refusal of everything ends their enrollments too.
func (db *DB) suppressRefusal(tx *gorm.DB, id int64, code string, now time.Time) error {
	r, ok := consent.FromCode(code)
	if !ok {
		return nil
	}
	var d struct{ Phone, Name, Portfolio string }
	if err := tx.Raw(`SELECT d.phone, a.name, a.portfolio FROM deliveries d `+deliveryAccount+`
		JOIN accounts a ON a.id = COALESCE(b.account_id, s.account_id) WHERE d.id = ?`, id).Scan(&d).Error; err != nil {
		return err
	}
	if d.Phone == "" {
		return nil
	}
	row := suppressionRow{List: consent.List(d.Name, d.Portfolio), Phone: d.Phone, Scope: r.Scope, Reason: r.Reason,
		Source: consent.SourceProviderError, CreatedAt: utc(now)}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return err
	}
	if r.Scope != consent.ScopeAll {
		return nil
	}
	_, err := endOptedOut(tx, db.batch, row.List, []string{d.Phone}, now)
	return err
}
