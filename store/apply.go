package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/templates"
)

// Change is what Apply did to one definition.
type Change struct {
	Kind   string `json:"kind"` // "account" or "broadcast"
	Name   string `json:"name"`
	Action string `json:"action"` // "created", "updated" or "unchanged"
	Detail string `json:"detail,omitempty"`
}

// ErrConflict is returned (wrapped) when applying would change something that
// may no longer change, such as a running broadcast's audience or message.
var ErrConflict = errors.New("conflict")

// Apply upserts a validated bundle in one transaction: all of it or nothing.
// Applying the same bundle twice changes nothing. Draft and scheduled
// broadcasts take every edit; a broadcast that has started refuses edits to
// its audience, message, account or start, and takes a new deadline.
// Definitions absent from the bundle are left alone.
//
// A broadcast's recipients are streamed into the database
// ([spec.Broadcast.EachRecipient]: its CSV file is read again, and
// copied with COPY on Postgres), so memory does not grow with the
// audience; if the file no longer holds what Load read, nothing is
// written and the error wraps [spec.ErrAudienceChanged].
func (db *DB) Apply(ctx context.Context, b *spec.Bundle, now time.Time) ([]Change, error) {
	now = utc(now)
	var changes []Change
	err := db.applyTx(ctx, func(tx *gorm.DB, write writeRecipients) error {
		changes = changes[:0]
		accountIDs := map[string]int64{}
		for _, a := range b.Accounts {
			c, id, err := applyAccount(tx, a, now)
			if err != nil {
				return err
			}
			accountIDs[a.Name] = id
			changes = append(changes, c)
			replies, err := applyReplySequences(tx, a, id, now)
			if err != nil {
				return err
			}
			changes = append(changes, replies...)
		}
		conflicts := portfolioConflicts(tx, b.Accounts)
		// each applies one broadcast or sequence on its account: a conflict
		// is collected (all are reported at once), any other error aborts.
		each := func(kind, name, account string, pos spec.Pos, apply func(accountID int64) (Change, error)) error {
			id, ok := accountIDs[account]
			if !ok {
				var r accountRow
				if err := tx.Where("name = ?", account).Take(&r).Error; err != nil {
					conflicts = append(conflicts, fmt.Errorf("%s: %s %q: account %q is not defined: %w", pos, kind, name, account, ErrConflict))
					return nil
				}
				id = r.ID
			}
			c, err := apply(id)
			if errors.Is(err, ErrConflict) {
				conflicts = append(conflicts, err)
				return nil
			}
			if err != nil {
				return err
			}
			changes = append(changes, c)
			return nil
		}
		for _, bc := range b.Broadcasts {
			if err := each("broadcast", bc.Name, bc.Account, bc.Pos, func(id int64) (Change, error) { return applyBroadcast(ctx, tx, write, bc, id, now) }); err != nil {
				return err
			}
		}
		for _, sq := range b.Sequences {
			if err := each("sequence", sq.Name, sq.Account, sq.Pos, func(id int64) (Change, error) { return applySequence(tx, sq, id, now) }); err != nil {
				return err
			}
		}
		return errors.Join(conflicts...)
	})
	if err != nil {
		return nil, fmt.Errorf("apply: %w", err)
	}
	return changes, nil
}

// portfolioConflicts refuses accounts that share a portfolio (one
// unique-recipient budget, one frequency cap) with a stored account, not in
// this bundle, that gives the budget or the cap another size. (Load checks
// the accounts of one bundle.)
func portfolioConflicts(tx *gorm.DB, accounts []spec.Account) []error {
	names := make([]string, 0, len(accounts))
	for _, a := range accounts {
		names = append(names, a.Name)
	}
	var errs []error
	for _, a := range accounts {
		if a.Portfolio == "" {
			continue
		}
		fc := a.FrequencyCap
		var other accountRow
		err := tx.Where("portfolio = ? AND (daily_unique_limit <> ? OR cap_messages <> ? OR cap_per_ms <> ?) AND name NOT IN ?",
			a.Portfolio, a.DailyUniqueLimit, fc.Messages, fc.Per.Milliseconds(), names).
			Order("name").Take(&other).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("account %q: check portfolio %q: %w", a.Name, a.Portfolio, err))
			continue
		}
		if other.DailyUniqueLimit != a.DailyUniqueLimit {
			errs = append(errs, fmt.Errorf("%s: account %q: portfolio %q already has account %q with daily_unique_limit %d, not %d; accounts of one portfolio share one budget and must agree: %w",
				a.Pos, a.Name, a.Portfolio, other.Name, other.DailyUniqueLimit, a.DailyUniqueLimit, ErrConflict))
			continue
		}
		theirs := spec.FrequencyCap{Messages: other.CapMessages, Per: time.Duration(other.CapPerMs) * time.Millisecond}
		errs = append(errs, fmt.Errorf("%s: account %q: portfolio %q already has account %q with frequency_cap %s, not %s; accounts of one portfolio share one frequency cap and must agree: %w",
			a.Pos, a.Name, a.Portfolio, other.Name, theirs, fc, ErrConflict))
	}
	return errs
}

func applyAccount(tx *gorm.DB, a spec.Account, now time.Time) (Change, int64, error) {
	c := Change{Kind: "account", Name: a.Name}
	row := accountRow{Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL, TokenRef: a.TokenRef,
		SecretRef: a.SecretRef, SessionID: a.SessionID, WebhookSecretRef: a.WebhookSecretRef,
		PhoneNumberID: a.PhoneNumberID, WhatsappBotID: a.WhatsAppBotID, RatePerSecond: a.RatePerSecond,
		PairIntervalMs: a.PairInterval.Milliseconds(), DailyUniqueLimit: a.DailyUniqueLimit, Portfolio: a.Portfolio,
		Timezone: a.Timezone, OnUnknownOutcome: a.OnUnknownOutcome, SettleWindowMs: a.SettleWindow.Milliseconds(),
		CapMessages: a.FrequencyCap.Messages, CapPerMs: a.FrequencyCap.Per.Milliseconds(), CapSequences: a.FrequencyCap.Sequences,
		OptOut: encodeSettings(a.OptOut), ServiceWindow: a.ServiceWindow, SpecHash: a.SpecHash(), UpdatedAt: now}
	var cur accountRow
	err := tx.Where("name = ?", a.Name).Take(&cur).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		row.CreatedAt = now
		if err := tx.Create(&row).Error; err != nil {
			return c, 0, fmt.Errorf("create account %q: %w", a.Name, err)
		}
		c.Action = "created"
		return c, row.ID, nil
	case err != nil:
		return c, 0, fmt.Errorf("load account %q: %w", a.Name, err)
	case cur.SpecHash == row.SpecHash:
		c.Action = "unchanged"
		return c, cur.ID, nil
	}
	row.ID, row.CreatedAt = cur.ID, cur.CreatedAt
	// SkipHooks: otherwise gorm overwrites UpdatedAt with its wall clock.
	if err := tx.Session(&gorm.Session{SkipHooks: true}).Save(&row).Error; err != nil {
		return c, 0, fmt.Errorf("update account %q: %w", a.Name, err)
	}
	c.Action = "updated"
	return c, cur.ID, nil
}

// writeRecipients writes a broadcast's recipients in the apply
// transaction and returns how many it wrote; with zones (not nil) each
// with the number of its time zone.
type writeRecipients func(ctx context.Context, broadcastID int64, rs iter.Seq2[spec.Recipient, error], zones *zoneNumbers) (int, error)

// applyTx runs fn in one transaction, with the way to write recipients in
// it: on Postgres the transaction has a connection of its own, so that
// recipients can be copied into it with COPY; on SQLite they are inserted
// in batches.
func (db *DB) applyTx(ctx context.Context, fn func(tx *gorm.DB, write writeRecipients) error) error {
	if db.dialect != "postgres" {
		return db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(tx, func(_ context.Context, id int64, rs iter.Seq2[spec.Recipient, error], zones *zoneNumbers) (int, error) {
				return insertRecipients(tx, db.batch, id, rs, zones)
			})
		})
	}
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	g := db.gorm.Session(&gorm.Session{NewDB: true, Context: ctx})
	g.Statement.ConnPool = conn // the transaction begins on conn
	copied := 0
	err = g.Transaction(func(tx *gorm.DB) error {
		copied = 0
		return fn(tx, func(ctx context.Context, id int64, rs iter.Seq2[spec.Recipient, error], zones *zoneNumbers) (int, error) {
			n, err := copyRecipients(ctx, conn, id, rs, zones)
			copied += n
			return n, err
		})
	})
	if err == nil && copied >= analyzeAfter {
		// A large audience just copied is unknown to the planner until
		// autovacuum samples it (a minute or more): without statistics it
		// sorts the whole audience to export its first rows (measured: 0.5 s
		// at a million recipients, growing with the audience). ANALYZE
		// samples a fixed number of rows: well under a second. Its failure
		// leaves only the planner less informed; the apply stands.
		_, _ = conn.ExecContext(ctx, `ANALYZE recipients`)
	}
	return err
}

// messageDiff names how a broadcast's message changed from stored (its
// JSON): "outside_window" when nothing else did — what happens outside
// the 24-hour window may change while it sends (each send decides anew),
// so that a campaign file that upgrades to saying it still applies to a
// broadcast already started — else "message".
func messageDiff(stored string, m templates.Message) string {
	var old templates.Message
	if json.Unmarshal([]byte(stored), &old) != nil {
		return "message"
	}
	old.OutsideWindow, m.OutsideWindow = nil, nil
	a, aerr := json.Marshal(old)
	b, berr := json.Marshal(m)
	if aerr != nil || berr != nil || !bytes.Equal(a, b) {
		return "message"
	}
	return "outside_window"
}

// analyzeAfter is how many recipients an apply copies before it has
// Postgres sample the recipients table again.
const analyzeAfter = 100_000

func applyBroadcast(ctx context.Context, tx *gorm.DB, write writeRecipients, b spec.Broadcast, accountID int64, now time.Time) (Change, error) {
	c := Change{Kind: "broadcast", Name: b.Name}
	msg, err := json.Marshal(b.Message)
	if err != nil {
		return c, fmt.Errorf("broadcast %q: encode message: %w", b.Name, err)
	}
	mh, ah := b.SpecHash()
	window, err := encodeWindow(b.Timing.Window)
	if err != nil {
		return c, fmt.Errorf("broadcast %q: %w", b.Name, err)
	}
	// A zoned broadcast's recipients are written with their zones; those
	// whose zone is not known are in the account's.
	var zones *zoneNumbers
	if b.Timing.Zoned() {
		var tz []string
		if err := tx.Raw(`SELECT timezone FROM accounts WHERE id = ?`, accountID).Scan(&tz).Error; err != nil {
			return c, fmt.Errorf("broadcast %q: load its account's zone: %w", b.Name, err)
		}
		zones = newZoneNumbers(tz)
	}
	writeAudience := func(id int64) error {
		if _, err := write(ctx, id, b.EachRecipient(ctx), zones); err != nil {
			return err
		}
		return zones.save(tx, id)
	}
	var cur broadcastRow
	err = tx.Where("name = ?", b.Name).Take(&cur).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		start := now
		if b.StartAt != nil {
			start = utc(*b.StartAt)
		}
		status := campaign.StatusScheduled
		if b.Cron != "" {
			status = campaign.StatusRecurring
		}
		row := broadcastRow{Name: b.Name, AccountID: accountID, Status: string(status), Cron: b.Cron, Timezone: b.Timezone,
			StartAt: start, DeadlineSeconds: int64(b.Deadline / time.Second), Message: string(msg),
			MessageHash: mh, AudienceHash: ah, RecipientCount: b.RecipientCount(), Duplicates: b.Duplicates,
			StormShare: b.StormShare, StormWindow: b.StormWindow,
			LocalTime: b.Timing.LocalTime, LocalDate: b.Timing.Date, SendWindow: window, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return c, fmt.Errorf("create broadcast %q: %w", b.Name, err)
		}
		if err := writeAudience(row.ID); err != nil {
			return c, fmt.Errorf("broadcast %q: %w", b.Name, err)
		}
		c.Action, c.Detail = "created", fmt.Sprintf("%d recipients, starts %s", b.RecipientCount(), start.Format(time.RFC3339))
		if b.Cron != "" {
			c.Detail = fmt.Sprintf("%d recipients, recurring %q", b.RecipientCount(), b.Cron)
		}
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("load broadcast %q: %w", b.Name, err)
	}

	start := cur.StartAt.UTC()
	if b.StartAt != nil {
		start = utc(*b.StartAt)
	}
	deadline := int64(b.Deadline / time.Second)
	var diffs []string
	if cur.MessageHash != mh {
		diffs = append(diffs, messageDiff(cur.Message, b.Message))
	}
	if cur.AudienceHash != ah {
		diffs = append(diffs, "audience")
	}
	if cur.AccountID != accountID {
		diffs = append(diffs, "account")
	}
	if !cur.StartAt.Equal(start) {
		diffs = append(diffs, "start_at")
	}
	if cur.DeadlineSeconds != deadline {
		diffs = append(diffs, "deadline")
	}
	if cur.StormShare != b.StormShare || cur.StormWindow != b.StormWindow {
		diffs = append(diffs, "error_storm")
	}
	if (cur.Cron == "") != (b.Cron == "") {
		return c, fmt.Errorf("%s: broadcast %q: a one-off broadcast cannot become recurring or the other way round (apply it under a new name): %w",
			b.Pos, b.Name, ErrConflict)
	}
	if cur.Cron != b.Cron || cur.Timezone != b.Timezone {
		diffs = append(diffs, "cron")
	}
	if cur.LocalTime != b.Timing.LocalTime || cur.LocalDate != b.Timing.Date {
		diffs = append(diffs, "local_time")
	}
	if cur.SendWindow != window {
		diffs = append(diffs, "window")
	}
	if len(diffs) == 0 {
		c.Action = "unchanged"
		return c, nil
	}
	st := campaign.Status(cur.Status)
	if !st.Editable() {
		var locked []string
		for _, d := range diffs {
			if d != "deadline" && d != "error_storm" && d != "outside_window" { // these may change while sending
				locked = append(locked, d)
			}
		}
		if len(locked) > 0 {
			return c, fmt.Errorf("%s: broadcast %q is %s: its %s can no longer change (cancel it and apply under a new name): %w",
				b.Pos, b.Name, st, strings.Join(locked, ", "), ErrConflict)
		}
	}
	upd := map[string]any{"account_id": accountID, "start_at": start, "deadline_seconds": deadline,
		"message": string(msg), "message_hash": mh, "audience_hash": ah, "updated_at": now,
		"storm_share": b.StormShare, "storm_window": b.StormWindow, "cron": b.Cron, "timezone": b.Timezone,
		"local_time": b.Timing.LocalTime, "local_date": b.Timing.Date, "send_window": window}
	// The recipients are written again when the audience changed, or their
	// zones: the broadcast became zoned or stopped being, or a zoned one
	// moved to an account (whose zone is the fallback).
	wasZoned := cur.LocalTime != "" || cur.SendWindow != ""
	if cur.AudienceHash != ah || wasZoned != b.Timing.Zoned() || (zones != nil && cur.AccountID != accountID) {
		// Only editable broadcasts get here: nothing of theirs was sent.
		if err := tx.Where("broadcast_id = ?", cur.ID).Delete(&deliveryRow{}).Error; err != nil {
			return c, fmt.Errorf("broadcast %q: drop old plan: %w", b.Name, err)
		}
		if err := tx.Where("broadcast_id = ?", cur.ID).Delete(&recipientRow{}).Error; err != nil {
			return c, fmt.Errorf("broadcast %q: drop old audience: %w", b.Name, err)
		}
		if err := tx.Exec(`DELETE FROM broadcast_zones WHERE broadcast_id = ?`, cur.ID).Error; err != nil {
			return c, fmt.Errorf("broadcast %q: drop old zones: %w", b.Name, err)
		}
		if err := writeAudience(cur.ID); err != nil {
			return c, fmt.Errorf("broadcast %q: %w", b.Name, err)
		}
		upd["recipient_count"], upd["duplicates"] = b.RecipientCount(), b.Duplicates
	}
	// Conditional on the state we read: if the scheduler started the
	// broadcast meanwhile, the edit is refused rather than applied to a
	// running broadcast.
	res := tx.Model(&broadcastRow{}).Where("id = ? AND status = ?", cur.ID, cur.Status).Updates(upd)
	if res.Error != nil {
		return c, fmt.Errorf("update broadcast %q: %w", b.Name, res.Error)
	}
	if res.RowsAffected == 0 {
		return c, fmt.Errorf("%s: broadcast %q changed state while applying; apply again: %w", b.Pos, b.Name, ErrConflict)
	}
	c.Action, c.Detail = "updated", fmt.Sprintf("changed %v", diffs)
	return c, nil
}

// insertRecipients writes an audience in batches (SQLite).
func insertRecipients(tx *gorm.DB, batch int, broadcastID int64, rs iter.Seq2[spec.Recipient, error], zones *zoneNumbers) (int, error) {
	n := 0
	rows := make([]recipientRow, 0, batch)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		if err := tx.Create(&rows).Error; err != nil {
			return fmt.Errorf("insert recipients: %w", repeatedRecipient(err))
		}
		n += len(rows)
		rows = rows[:0]
		return nil
	}
	for r, err := range rs {
		if err != nil {
			return n, err
		}
		vars, err := encodeVars(r.Vars)
		if err != nil {
			return n, err
		}
		row := recipientRow{BroadcastID: broadcastID, Phone: r.Phone, Name: r.Name, Vars: vars}
		if zones != nil {
			row.Zone = ptr(zones.of(r))
		}
		rows = append(rows, row)
		if len(rows) == batch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	return n, flush()
}

// copyRecipients copies an audience into the recipients table with COPY,
// on conn, in the transaction open on it (Postgres): row by row, as rs
// yields them, in their order, so the recipients' ids follow it.
func copyRecipients(ctx context.Context, conn *sql.Conn, broadcastID int64, rs iter.Seq2[spec.Recipient, error], zones *zoneNumbers) (int, error) {
	var n int64
	err := conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy recipients: the driver connection is a %T, not pgx's", dc)
		}
		next, stop := iter.Pull2(rs)
		defer stop()
		var srcErr error // the server answers a failed source with an error of its own
		src := pgx.CopyFromFunc(func() ([]any, error) {
			r, err, ok := next()
			if !ok {
				return nil, nil
			}
			if err == nil {
				var vars string
				if vars, err = encodeVars(r.Vars); err == nil {
					if zones != nil {
						return []any{broadcastID, r.Phone, r.Name, vars, zones.of(r)}, nil
					}
					return []any{broadcastID, r.Phone, r.Name, vars}, nil
				}
			}
			srcErr = err
			return nil, err
		})
		var err error
		columns := []string{"broadcast_id", "phone", "name", "vars"}
		if zones != nil {
			columns = append(columns, "zone")
		}
		n, err = sc.Conn().CopyFrom(ctx, pgx.Identifier{"recipients"}, columns, src)
		if srcErr != nil {
			return srcErr
		}
		return err
	})
	if err != nil {
		return int(n), fmt.Errorf("copy recipients: %w", repeatedRecipient(err))
	}
	return int(n), nil
}

// repeatedRecipient marks a unique violation while writing recipients as
// an audience that changed: Load removed every repeated number, so the
// file must have changed since.
func repeatedRecipient(err error) error {
	if isUniqueViolation(err) && !errors.Is(err, spec.ErrAudienceChanged) {
		return fmt.Errorf("%w: a number repeats: %w", spec.ErrAudienceChanged, err)
	}
	return err
}

// encodeVars is a recipient's vars as stored: a JSON object.
func encodeVars(vars map[string]string) (string, error) {
	if len(vars) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(vars)
	if err != nil {
		return "", fmt.Errorf("encode recipient vars: %w", err)
	}
	return string(b), nil
}

// zoneNumbers numbers the time zones of a zoned broadcast's audience as
// apply writes it, from 1 in the order they first appear, and counts each
// zone's recipients. A recipient whose zone neither their "timezone"
// variable nor their number tells (localtime.RecipientZone) is in the
// account's zone, or UTC. A nil *zoneNumbers is an audience without zones.
type zoneNumbers struct {
	fallback string
	ids      map[string]int16
	names    []string
	counts   []int
}

// newZoneNumbers numbers zones with the account's zone (tz: none, or its
// timezone column) as the fallback.
func newZoneNumbers(tz []string) *zoneNumbers {
	z := &zoneNumbers{fallback: "UTC", ids: map[string]int16{}}
	if len(tz) == 1 && tz[0] != "" {
		z.fallback = tz[0]
	}
	return z
}

// of returns the number of r's zone, counting r in it.
func (z *zoneNumbers) of(r spec.Recipient) int16 {
	name, ok := localtime.RecipientZone(r.Phone, r.Vars)
	if !ok {
		name = z.fallback
	}
	id, ok := z.ids[name]
	if !ok {
		// The tz database has about 600 zones: far below int16's range.
		z.names, z.counts = append(z.names, name), append(z.counts, 0)
		id = int16(len(z.names))
		z.ids[name] = id
	}
	z.counts[id-1]++
	return id
}

// save records the zones counted, nothing planned yet, for broadcastID.
func (z *zoneNumbers) save(tx *gorm.DB, broadcastID int64) error {
	if z == nil {
		return nil
	}
	for i, name := range z.names {
		if err := tx.Exec(`INSERT INTO broadcast_zones (broadcast_id, zone, name, recipients) VALUES (?, ?, ?, ?)`,
			broadcastID, i+1, name, z.counts[i]).Error; err != nil {
			return fmt.Errorf("save audience zone %s: %w", name, err)
		}
	}
	return nil
}
