package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/templates"
)

var (
	_ campaign.FeederStore  = (*DB)(nil)
	_ campaign.ServiceStore = (*DB)(nil)
	_ campaign.WorkerStore  = (*DB)(nil)
	_ sequence.Store        = (*DB)(nil)
)

// ownerLive holds for a delivery whose broadcast is running or whose
// enrollment is active: only then may it be queued or claimed. Each owner
// is read by key in a scalar subquery: an EXISTS under OR became a hashed
// subplan over every active enrollment once a statement carried a few
// hundred deliveries (bench -steps: marking a release of steps queued
// took 16 ms), and a scalar subquery is never hashed nor joined.
const ownerLive = `(COALESCE((SELECT b.status FROM broadcasts b WHERE b.id = deliveries.broadcast_id) = 'running', false)
	OR COALESCE((SELECT e.status FROM enrollments e WHERE e.id = deliveries.enrollment_id) = 'active', false))`

// ownerGone holds for a delivery whose broadcast was cancelled or whose
// enrollment ended: a delivery handed back is skipped instead. Read by key,
// as ownerLive.
const ownerGone = `(COALESCE((SELECT b.status FROM broadcasts b WHERE b.id = deliveries.broadcast_id) = 'cancelled', false)
	OR COALESCE((SELECT e.status FROM enrollments e WHERE e.id = deliveries.enrollment_id) <> 'active', false))`

// handBackStatus is where a delivery handed back (never reached the
// provider) goes: skipped when its owner is gone, queued (its task retries)
// while the owner is live, and planned with a new generation while its
// broadcast is paused, so the feeder sends it again on resume. handBackGen
// is its generation to match.
const (
	handBackStatus = `CASE WHEN ` + ownerGone + ` THEN 'skipped' WHEN ` + ownerLive + ` THEN 'queued' ELSE 'planned' END`
	handBackGen    = `CASE WHEN ` + ownerGone + ` OR ` + ownerLive + ` THEN gen ELSE gen + 1 END`
	handBackQueued = `CASE WHEN ` + ownerLive + ` THEN queued_at ELSE NULL END`
)

// handBackError and handBackCode are the error and error code of a
// delivery handed back: otherwise (a placeholder or a column) while its
// owner is live, and when its owner is gone (handBackStatus skips it) why,
// as the owner's other deliveries say — "broadcast cancelled", as
// cancelling writes, or "enrollment <status>[: <reason>]" with an opt-out's
// code, as ending an enrollment writes (endEnrollments) — not the
// hand-back's own reason (a rate wait, say).
func handBackError(otherwise string) string {
	return `COALESCE((SELECT 'broadcast cancelled' FROM broadcasts b WHERE b.id = deliveries.broadcast_id AND b.status = 'cancelled'),
		(SELECT 'enrollment ' || e.status || CASE WHEN e.reason <> '' THEN ': ' || e.reason ELSE '' END
			FROM enrollments e WHERE e.id = deliveries.enrollment_id AND e.status <> 'active'),
		` + otherwise + `)`
}

func handBackCode(otherwise string) string {
	return `COALESCE((SELECT '' FROM broadcasts b WHERE b.id = deliveries.broadcast_id AND b.status = 'cancelled'),
		(SELECT CASE WHEN e.reason = '` + consent.ReasonOptedOut + `' THEN e.reason ELSE '' END
			FROM enrollments e WHERE e.id = deliveries.enrollment_id AND e.status <> 'active'),
		` + otherwise + `)`
}

// BroadcastByName returns campaign.ErrNotFound if there is none.
func (db *DB) BroadcastByName(ctx context.Context, name string) (campaign.Broadcast, error) {
	var r broadcastRow
	err := db.q(ctx).Where("name = ?", name).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return campaign.Broadcast{}, fmt.Errorf("broadcast %q: %w", name, campaign.ErrNotFound)
	}
	if err != nil {
		return campaign.Broadcast{}, fmt.Errorf("load broadcast %q: %w", name, err)
	}
	return r.domain()
}

// BroadcastsIn lists broadcasts in any of the states, oldest first.
func (db *DB) BroadcastsIn(ctx context.Context, states ...campaign.Status) ([]campaign.Broadcast, error) {
	var rows []broadcastRow
	if err := db.q(ctx).Where("status IN ?", states).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list broadcasts: %w", err)
	}
	out := make([]campaign.Broadcast, 0, len(rows))
	for _, r := range rows {
		b, err := r.domain()
		if err != nil {
			return nil, fmt.Errorf("broadcast %q: decode message: %w", r.Name, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Account returns campaign.ErrNotFound if there is none.
func (db *DB) Account(ctx context.Context, id int64) (delivery.Account, error) {
	var r accountRow
	err := db.q(ctx).Where("id = ?", id).Take(&r).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return delivery.Account{}, fmt.Errorf("account %d: %w", id, campaign.ErrNotFound)
	}
	if err != nil {
		return delivery.Account{}, fmt.Errorf("load account %d: %w", id, err)
	}
	return r.domain(), nil
}

// Accounts returns every applied account, by name.
func (db *DB) Accounts(ctx context.Context) ([]delivery.Account, error) {
	var rows []accountRow
	if err := db.q(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load accounts: %w", err)
	}
	out := make([]delivery.Account, len(rows))
	for i, r := range rows {
		out[i] = r.domain()
	}
	return out, nil
}

// SetStatus moves a broadcast from one of from to to. Entering running sets
// started_at once; entering a final state sets finished_at.
func (db *DB) SetStatus(ctx context.Context, id int64, from []campaign.Status, to campaign.Status, reason string, now time.Time) (bool, error) {
	now = utc(now)
	upd := map[string]any{"status": string(to), "status_reason": reason, "updated_at": now}
	if to == campaign.StatusRunning {
		upd["started_at"] = gorm.Expr("COALESCE(started_at, ?)", now)
	}
	if to.Final() {
		upd["finished_at"] = now
	}
	if to != campaign.StatusCompleted || !slices.Contains(from, campaign.StatusRunning) {
		res := db.q(ctx).Model(&broadcastRow{}).Where("id = ? AND status IN ?", id, from).Updates(upd)
		if res.Error != nil {
			return false, fmt.Errorf("broadcast %d: set status %s: %w", id, to, res.Error)
		}
		return res.RowsAffected > 0, nil
	}
	// Completing a running broadcast (the feeder found nothing more to
	// send) takes the broadcast's row lock first, as retry-failed
	// does (RetryFailed), and then requires that no delivery is planned:
	// a broadcast whose failed deliveries were planned again after the
	// feeder found nothing more to send is not completed over them.
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var locked []int64
		if err := tx.Raw(`SELECT id FROM broadcasts WHERE id = ?`+db.lockRow(), id).Scan(&locked).Error; err != nil {
			return err
		}
		res := tx.Model(&broadcastRow{}).Where("id = ? AND status IN ?", id, from).
			Where("NOT EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status = 'planned')", id).Updates(upd)
		ok = res.RowsAffected > 0
		return res.Error
	})
	if err != nil {
		return false, fmt.Errorf("broadcast %d: set status %s: %w", id, to, err)
	}
	return ok, nil
}

// StartBroadcast moves a scheduled broadcast to running, only if it is still
// the version the caller planned (updated_at) and its start has come: an
// apply that edited or postponed it meanwhile wins.
func (db *DB) StartBroadcast(ctx context.Context, id int64, updatedAt, now time.Time) (bool, error) {
	move := campaign.Lifecycle[campaign.MoveStart]
	res := db.q(ctx).Exec(`UPDATE broadcasts SET status = ?, status_reason = '', started_at = COALESCE(started_at, ?), updated_at = ?
		WHERE id = ? AND status IN ? AND updated_at = ? AND start_at <= ?`,
		move.To, utc(now), utc(now), id, move.From, utc(updatedAt), utc(now))
	if res.Error != nil {
		return false, fmt.Errorf("broadcast %d: start: %w", id, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// onRecipientConflict makes an insert of a broadcast's deliveries
// idempotent: a recipient that has its delivery already is left alone. It
// names the predicate of the unique index deliveries_recipient, which
// leaves sequence steps (no broadcast) out (migration 21); SQLite's table
// constraint, not partial, matches it too.
const onRecipientConflict = `ON CONFLICT (broadcast_id, recipient_id) WHERE broadcast_id IS NOT NULL DO NOTHING`

// PlanBatch is a keyset planning step: it reads the next limit recipients
// with id > after and inserts a planned delivery for each that has none.
// Side effect: inserts deliveries. Idempotent. The feeder plans with
// PlanNext as it sends; this plans a whole audience ahead (tests,
// benchmarks).
func (db *DB) PlanBatch(ctx context.Context, broadcastID, after int64, limit int, now time.Time) (int64, int, error) {
	var r struct {
		Last int64
		N    int
	}
	err := db.q(ctx).Raw(`SELECT COALESCE(MAX(id), 0) AS last, COUNT(*) AS n FROM (
		SELECT id FROM recipients WHERE broadcast_id = ? AND id > ? ORDER BY id LIMIT ?) t`,
		broadcastID, after, limit).Scan(&r).Error
	if err != nil {
		return 0, 0, fmt.Errorf("broadcast %d: plan batch after %d: %w", broadcastID, after, err)
	}
	if r.N == 0 {
		return after, 0, nil
	}
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		_, err := planRecipients(tx, broadcastID, "", "", nil, `r.id > ? AND r.id <= ?`, []any{after, r.Last}, now)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("broadcast %d: plan batch after %d: %w", broadcastID, after, err)
	}
	return r.Last, r.N, nil
}

// planRecipients gives the recipients of a broadcast that where selects
// (a condition on recipients' columns r, with whereArgs) a delivery each:
// planned, or skipped with reason opted_out for a recipient on the
// suppression list of the broadcast's account for its message
// (consent.Check), with its event. extraCols names more of the
// deliveries' columns (", zone, due_at") and extraVals their values
// (", zone, ?", of the recipient's zone and extraArgs). It returns the
// planned ones. A recipient that has a delivery already keeps it.
func planRecipients(tx *gorm.DB, broadcastID int64, extraCols, extraVals string, extraArgs []any, where string, whereArgs []any, now time.Time) ([]delivery.Ref, error) {
	var b struct {
		Message, Name, Portfolio string
	}
	if err := tx.Raw(`SELECT b.message, a.name, a.portfolio FROM broadcasts b JOIN accounts a ON a.id = b.account_id WHERE b.id = ?`,
		broadcastID).Scan(&b).Error; err != nil {
		return nil, err
	}
	var m templates.Message
	if err := json.Unmarshal([]byte(b.Message), &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	check := consent.CheckOf(b.Name, b.Portfolio, m)
	var rows []struct {
		ID     int64
		Gen    int
		Status string
	}
	args := append([]any{consent.ReasonOptedOut, optedOutDetail, utc(now)}, extraArgs...)
	args = append(append(append(args, blockedArgs(check)...), broadcastID), whereArgs...)
	if err := tx.Raw(`INSERT INTO deliveries (broadcast_id, recipient_id, phone, status, error_code, error, updated_at`+extraCols+`)
		SELECT broadcast_id, id, phone, CASE WHEN o THEN 'skipped' ELSE 'planned' END,
			CASE WHEN o THEN ? ELSE '' END, CASE WHEN o THEN ? ELSE '' END, ?`+extraVals+`
		FROM (SELECT r.broadcast_id, r.id, r.phone, r.zone, `+blockedAtPlan("r.phone")+` AS o FROM recipients r
			WHERE r.broadcast_id = ? AND `+where+`) t WHERE true
		`+onRecipientConflict+` RETURNING id, gen, status`,
		args...).Scan(&rows).Error; err != nil {
		return nil, err
	}
	refs := make([]delivery.Ref, 0, len(rows))
	var skipped []int64
	for _, r := range rows {
		if r.Status == string(delivery.Skipped) {
			skipped = append(skipped, r.ID)
			continue
		}
		refs = append(refs, delivery.Ref{ID: r.ID, Gen: r.Gen})
	}
	for chunk := range slices.Chunk(skipped, 1000) {
		if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail) SELECT id, status, ?, ? FROM deliveries WHERE id IN ?`,
			utc(now), joinDetail(consent.ReasonOptedOut, optedOutDetail), chunk).Error; err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// lastPlanned is the highest recipient id of a broadcast (the first
// argument) that has a delivery, 0 if none: a backward probe of the
// (broadcast_id, recipient_id) unique index. Deliveries are planned in
// recipient order, so every recipient up to it has one.
const lastPlanned = `COALESCE((SELECT MAX(recipient_id) FROM deliveries WHERE broadcast_id = ?), 0)`

// PlanNext plans the next recipients of a running broadcast: it creates a
// planned delivery for each of the (at most limit) recipients after the
// last one planned (skipped, reason opted_out, for one who opted out), and
// returns the planned ones in id order. The feeder calls it as it
// fills the broadcast's window, so a broadcast's deliveries are created as
// it sends, not all before it starts. Nothing is planned unless the
// broadcast is running: the broadcast's row is locked for the insert, so a
// pause or cancel either comes first or finds the new rows (FinishPending
// takes the same lock).
//
// A zoned broadcast (a local time, a window) is planned zone by zone
// (planZones): only zones whose time has come and whose window is open.
func (db *DB) PlanNext(ctx context.Context, broadcastID int64, limit int, now time.Time) ([]delivery.Ref, error) {
	var refs []delivery.Ref
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var running []broadcastRow
		if err := tx.Raw(`SELECT id, start_at, deadline_seconds, local_time, local_date, send_window FROM broadcasts
			WHERE id = ? AND status = ?`+db.lockRow(), broadcastID, campaign.StatusRunning).Scan(&running).Error; err != nil {
			return err
		}
		if len(running) == 0 {
			return nil
		}
		if b := running[0]; b.LocalTime != "" || b.SendWindow != "" {
			var err error
			refs, err = db.planZones(tx, b, limit, now)
			return err
		}
		var err error
		refs, err = planRecipients(tx, broadcastID, "", "", nil, `r.id > `+lastPlanned+` ORDER BY r.id LIMIT ?`, []any{broadcastID, limit}, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: plan the next %d recipients: %w", broadcastID, limit, err)
	}
	slices.SortFunc(refs, func(a, b delivery.Ref) int { return cmp.Compare(a.ID, b.ID) })
	return refs, nil
}

// zoneRow is one zone of a zoned broadcast's audience (broadcast_zones).
type zoneRow struct {
	Zone           int16
	Name           string
	Recipients     int
	Planned        int
	PlannedThrough int64
}

// zones reads a broadcast's audience zones, in zone number order.
func zones(tx *gorm.DB, broadcastID int64) ([]zoneRow, error) {
	var zs []zoneRow
	err := tx.Raw(`SELECT zone, name, recipients, planned, planned_through FROM broadcast_zones
		WHERE broadcast_id = ? ORDER BY zone`, broadcastID).Scan(&zs).Error
	return zs, err
}

// planZones plans up to limit recipients of a running zoned broadcast
// (its row locked by the caller): of each zone whose time has come
// (localtime.Timing.Due from the broadcast's start), whose window is open
// at now and whose deadline has not passed, in the order of the zones'
// times (earliest due first: the latest recipient is then as little late
// as the rate allows), each zone in recipient id order from where its
// planning stopped (one range of the recipients_zone index). Each delivery
// carries its zone and, as due_at, its zone's time. A zone whose window
// opens again only after the deadline is left to expire with the rest at
// the deadline (campaign.Feeder), so a lengthened deadline still reaches
// it.
func (db *DB) planZones(tx *gorm.DB, row broadcastRow, limit int, now time.Time) ([]delivery.Ref, error) {
	t, err := row.timing()
	if err != nil {
		return nil, err
	}
	b := campaign.Broadcast{ID: row.ID, StartAt: row.StartAt.UTC(), Deadline: time.Duration(row.DeadlineSeconds) * time.Second, Timing: t}
	zs, err := zones(tx, b.ID)
	if err != nil {
		return nil, err
	}
	type dueZone struct {
		zoneRow
		due time.Time
	}
	var due []dueZone
	for _, z := range zs {
		if z.Planned >= z.Recipients {
			continue
		}
		loc := localtime.AccountZone(z.Name)
		at := b.Timing.Due(b.StartAt, loc)
		if !at.After(now) {
			// Its time has come: is its window open now?
			at = b.Timing.Window.Next(now, loc)
		}
		if at.After(now) || (!b.SendBy().IsZero() && at.After(b.SendBy())) {
			continue
		}
		due = append(due, dueZone{zoneRow: z, due: b.Timing.Due(b.StartAt, loc)})
	}
	slices.SortFunc(due, func(a, b dueZone) int { return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.Zone, b.Zone)) })
	var refs []delivery.Ref
	for _, z := range due {
		if limit <= 0 {
			break
		}
		var r struct {
			Last int64
			N    int
		}
		if err := tx.Raw(`SELECT COALESCE(MAX(id), 0) AS last, COUNT(*) AS n FROM (
			SELECT id FROM recipients WHERE broadcast_id = ? AND zone = ? AND id > ? ORDER BY id LIMIT ?) t`,
			b.ID, z.Zone, z.PlannedThrough, limit).Scan(&r).Error; err != nil {
			return nil, err
		}
		if r.N == 0 {
			continue
		}
		got, err := planRecipients(tx, b.ID, ", zone, due_at", ", zone, ?", []any{utc(z.due)},
			`r.zone = ? AND r.id > ? AND r.id <= ?`, []any{z.Zone, z.PlannedThrough, r.Last}, now)
		if err != nil {
			return nil, err
		}
		if err := tx.Exec(`UPDATE broadcast_zones SET planned = planned + ?, planned_through = ? WHERE broadcast_id = ? AND zone = ?`,
			r.N, r.Last, b.ID, z.Zone).Error; err != nil {
			return nil, err
		}
		refs = append(refs, got...)
		limit -= r.N
	}
	return refs, nil
}

// lockRow is the clause that locks the rows a SELECT reads until the
// transaction ends (Postgres; SQLite's transactions exclude each other
// already). It does not conflict with the key-share locks of foreign key
// checks.
func (db *DB) lockRow() string {
	if db.dialect == "postgres" {
		return " FOR NO KEY UPDATE"
	}
	return ""
}

// CountByStatus counts a broadcast's deliveries per state. It reads the
// counts the deliveries table's triggers keep (delivery_counts and the
// changes not folded into it yet, see FoldCounts), never the deliveries:
// a few rows whatever the audience.
func (db *DB) CountByStatus(ctx context.Context, broadcastID int64) (map[delivery.Status]int, error) {
	var rows []struct {
		Status string
		N      int
	}
	err := db.q(ctx).Raw(`SELECT status, SUM(n) AS n FROM (
		SELECT status, n FROM delivery_counts WHERE broadcast_id = ?
		UNION ALL SELECT status, n FROM delivery_count_changes WHERE broadcast_id = ?) c
		GROUP BY status HAVING SUM(n) <> 0`, broadcastID, broadcastID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: count deliveries: %w", broadcastID, err)
	}
	out := make(map[delivery.Status]int, len(delivery.Statuses))
	for _, r := range rows {
		out[delivery.Status(r.Status)] = r.N
	}
	return out, nil
}

// Zones returns a zoned broadcast's audience zones, in zone number order,
// with their deliveries per state (from the kept counts, as
// CountByStatus); none for a broadcast that is not zoned.
func (db *DB) Zones(ctx context.Context, broadcastID int64) ([]campaign.Zone, error) {
	zs, err := zones(db.q(ctx), broadcastID)
	if err != nil || len(zs) == 0 {
		return nil, err
	}
	var rows []struct {
		Zone   int16
		Status string
		N      int
	}
	err = db.q(ctx).Raw(`SELECT zone, status, SUM(n) AS n FROM (
		SELECT zone, status, n FROM delivery_counts WHERE broadcast_id = ?
		UNION ALL SELECT zone, status, n FROM delivery_count_changes WHERE broadcast_id = ?) c
		GROUP BY zone, status HAVING SUM(n) <> 0`, broadcastID, broadcastID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: count deliveries by zone: %w", broadcastID, err)
	}
	out := make([]campaign.Zone, len(zs))
	at := make(map[int16]int, len(zs))
	for i, z := range zs {
		out[i] = campaign.Zone{Name: z.Name, Recipients: z.Recipients, Planned: z.Planned, Counts: map[delivery.Status]int{}}
		at[z.Zone] = i
	}
	for _, r := range rows {
		if i, ok := at[r.Zone]; ok {
			out[i].Counts[delivery.Status(r.Status)] = r.N
		}
	}
	return out, nil
}

// FoldCounts moves the changes the deliveries table's triggers appended
// to delivery_count_changes into delivery_counts (the scheduler calls it
// each tick), so a count reads few rows. Several schedulers may fold at
// once: each change is moved once.
func (db *DB) FoldCounts(ctx context.Context) error {
	var err error
	if db.dialect == "postgres" {
		err = db.q(ctx).Exec(`WITH moved AS (DELETE FROM delivery_count_changes RETURNING broadcast_id, zone, status, n)
			INSERT INTO delivery_counts (broadcast_id, zone, status, n)
			SELECT broadcast_id, zone, status, SUM(n) FROM moved GROUP BY broadcast_id, zone, status ORDER BY broadcast_id, zone, status
			ON CONFLICT (broadcast_id, zone, status) DO UPDATE SET n = delivery_counts.n + excluded.n`).Error
	} else {
		err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			var last int64
			if err := tx.Raw(`SELECT COALESCE(MAX(id), 0) FROM delivery_count_changes`).Scan(&last).Error; err != nil || last == 0 {
				return err
			}
			if err := tx.Exec(`INSERT INTO delivery_counts (broadcast_id, zone, status, n)
				SELECT broadcast_id, zone, status, SUM(n) FROM delivery_count_changes WHERE id <= ? GROUP BY broadcast_id, zone, status
				ON CONFLICT (broadcast_id, zone, status) DO UPDATE SET n = delivery_counts.n + excluded.n`, last).Error; err != nil {
				return err
			}
			return tx.Exec(`DELETE FROM delivery_count_changes WHERE id <= ?`, last).Error
		})
	}
	if err != nil {
		return fmt.Errorf("fold delivery counts: %w", err)
	}
	return nil
}

// Window returns how many deliveries are queued or sending (those awaiting
// the provider's confirmation of a lost answer aside: they may wait minutes
// and must not hold up the feed) and whether any are still planned or
// awaiting, or any recipient has no delivery yet (after the last one
// planned, or, in a zoned broadcast, in a zone not fully planned; all index range scans
// or probes, cheap at any audience size: each condition apart, and the last
// two MAX()es, so that the planner cannot read the tables in order looking
// for a match at their end — measured at 1M rows: 0.5 ms instead of 120).
func (db *DB) Window(ctx context.Context, broadcastID int64) (int, bool, error) {
	var r struct {
		Inflight int
		More     bool
	}
	err := db.q(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ? AND status IN ('queued', 'sending') AND settle <> 'awaiting') AS inflight,
		EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status = 'planned')
		OR EXISTS (SELECT 1 FROM deliveries WHERE broadcast_id = ? AND status = 'sending' AND settle = 'awaiting')
		OR COALESCE((SELECT MAX(id) FROM recipients WHERE broadcast_id = ?), 0) > `+lastPlanned+`
		OR EXISTS (SELECT 1 FROM broadcast_zones WHERE broadcast_id = ? AND planned < recipients) AS more`,
		broadcastID, broadcastID, broadcastID, broadcastID, broadcastID, broadcastID).Scan(&r).Error
	if err != nil {
		return 0, false, fmt.Errorf("broadcast %d: window: %w", broadcastID, err)
	}
	return r.Inflight, r.More, nil
}

// SentSince counts deliveries of a broadcast accepted at or after t.
func (db *DB) SentSince(ctx context.Context, broadcastID int64, t time.Time) (int, error) {
	var n int
	err := db.q(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE broadcast_id = ? AND sent_at >= ?`, broadcastID, utc(t)).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("broadcast %d: count recent sends: %w", broadcastID, err)
	}
	return n, nil
}

// NextPlanned returns up to limit planned deliveries in id order, due or
// not (a keyset scan on the (broadcast_id, status, id) index: fed rows
// leave 'planned').
func (db *DB) NextPlanned(ctx context.Context, broadcastID int64, limit int) ([]delivery.Ref, error) {
	return db.nextPlanned(ctx, broadcastID, limit, "")
}

// NextDue returns up to limit planned deliveries in id order whose due
// time (a zoned broadcast's zone time, or the next opening of a window a
// send was held past) is not after now. Rows waiting for a later time are
// skipped in the index scan; there are at most a few windows' worth.
func (db *DB) NextDue(ctx context.Context, broadcastID int64, limit int, now time.Time) ([]delivery.Ref, error) {
	return db.nextPlanned(ctx, broadcastID, limit, " AND (due_at IS NULL OR due_at <= ?)", utc(now))
}

func (db *DB) nextPlanned(ctx context.Context, broadcastID int64, limit int, cond string, args ...any) ([]delivery.Ref, error) {
	var refs []delivery.Ref
	args = append(append([]any{broadcastID}, args...), limit)
	err := db.q(ctx).Raw(`SELECT id, gen FROM deliveries WHERE broadcast_id = ? AND status = 'planned'`+cond+` ORDER BY id LIMIT ?`,
		args...).Scan(&refs).Error
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: next planned: %w", broadcastID, err)
	}
	return refs, nil
}

// Defer puts a queued delivery of ref's generation back to planned, under
// a new generation (its task does nothing then), due at until: the feeder
// sends it again from then on. reason (why it waits) is its error until it
// is sent, and an event.
func (db *DB) Defer(ctx context.Context, ref delivery.Ref, until time.Time, reason string, now time.Time) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE deliveries SET status = 'planned', gen = gen + 1, due_at = ?, queued_at = NULL, batch = NULL,
			error = ?, updated_at = ? WHERE id = ? AND gen = ? AND status IN ('planned', 'queued')`,
			utc(until), reason, utc(now), ref.ID, ref.Gen)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		ok = true
		return tx.Create(&eventRow{DeliveryID: ref.ID, Status: string(delivery.Planned), At: utc(now), Detail: reason}).Error
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: defer to %s: %w", ref.ID, until.UTC().Format(time.RFC3339), err)
	}
	return ok, nil
}

// MarkQueued moves planned deliveries of the given generations to queued
// while their broadcast is running (or their enrollment is active), and
// returns the refs it moved. Each has a send task of its own.
func (db *DB) MarkQueued(ctx context.Context, refs []delivery.Ref, now time.Time) ([]delivery.Ref, error) {
	return db.MarkBatched(ctx, 0, refs, now)
}

// idsByGen groups the ids of refs by generation, so that one statement
// per generation (usually one) covers them.
func idsByGen(refs []delivery.Ref) map[int][]int64 {
	byGen := map[int][]int64{}
	for _, r := range refs {
		byGen[r.Gen] = append(byGen[r.Gen], r.ID)
	}
	return byGen
}

// MarkBatched is MarkQueued for deliveries carried by the batch send task
// batch (0 = each by its own task): it records the batch on each, so the
// sweep knows which task to look for.
func (db *DB) MarkBatched(ctx context.Context, batch int64, refs []delivery.Ref, now time.Time) ([]delivery.Ref, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	var b any
	if batch != 0 {
		b = batch
	}
	var out []delivery.Ref
	for gen, ids := range idsByGen(refs) {
		// Only while the broadcast runs: a pause or cancel between the
		// feeder's read and this write must not leave queued deliveries.
		var got []delivery.Ref
		err := db.q(ctx).Raw(`UPDATE deliveries SET status = 'queued', queued_at = ?, updated_at = ?, batch = ?
			WHERE id IN ? AND gen = ? AND status = 'planned'
			AND `+ownerLive+`
			RETURNING id, gen`, utc(now), utc(now), b, ids, gen).Scan(&got).Error
		if err != nil {
			return nil, fmt.Errorf("mark %d deliveries queued: %w", len(ids), err)
		}
		out = append(out, got...)
	}
	return out, nil
}

// markBatchesSQL is MarkBatches' statement on Postgres, built once (opaque).
var markBatchesSQL = `UPDATE deliveries SET status = 'queued', queued_at = $4, updated_at = $4, batch = v.batch
		FROM unnest(` + opaqueParams("bigint[]", "int[]", "bigint[]") + `) AS v(id, gen, batch)
		WHERE deliveries.id = v.id AND deliveries.gen = v.gen AND deliveries.status = 'planned'
		AND ` + ownerLive + `
		RETURNING deliveries.id, deliveries.gen`

// MarkBatches is MarkBatched for many batches at once: refs[i] is carried
// by batch send task batches[i]. On Postgres it is one statement.
func (db *DB) MarkBatches(ctx context.Context, refs []delivery.Ref, batches []int64, now time.Time) ([]delivery.Ref, error) {
	if len(refs) != len(batches) {
		return nil, fmt.Errorf("mark batches: %d refs but %d batches", len(refs), len(batches))
	}
	if db.sql == nil {
		var out []delivery.Ref
		for i := 0; i < len(refs); {
			j := i + 1
			for j < len(refs) && batches[j] == batches[i] {
				j++
			}
			got, err := db.MarkBatched(ctx, batches[i], refs[i:j], now)
			if err != nil {
				return out, err
			}
			out, i = append(out, got...), j
		}
		return out, nil
	}
	ids, gens := make([]int64, len(refs)), make([]int64, len(refs))
	for i, r := range refs {
		ids[i], gens[i] = r.ID, int64(r.Gen)
	}
	rows, err := db.sql.QueryContext(ctx, markBatchesSQL, ids, gens, batches, utc(now))
	if err != nil {
		return nil, fmt.Errorf("mark %d deliveries queued: %w", len(refs), err)
	}
	defer rows.Close()
	var out []delivery.Ref
	for rows.Next() {
		var r delivery.Ref
		if err := rows.Scan(&r.ID, &r.Gen); err != nil {
			return nil, fmt.Errorf("mark %d deliveries queued: %w", len(refs), err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mark %d deliveries queued: %w", len(refs), err)
	}
	return out, nil
}

// Unqueue moves a broadcast's queued deliveries back to planned with a new
// generation and returns their old refs.
func (db *DB) Unqueue(ctx context.Context, broadcastID int64, now time.Time) ([]delivery.QueuedRef, error) {
	var rows []queuedRow
	err := db.q(ctx).Raw(`UPDATE deliveries SET status = 'planned', gen = gen + 1, queued_at = NULL, updated_at = ?
		WHERE broadcast_id = ? AND status = 'queued' RETURNING id, gen - 1 AS gen, batch`, utc(now), broadcastID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: unqueue: %w", broadcastID, err)
	}
	out := make([]delivery.QueuedRef, len(rows))
	for i, r := range rows {
		out[i] = r.queued()
	}
	return out, nil
}

// queuedRow is a delivery.Queued as a statement returns it.
type queuedRow struct {
	ID    int64
	Gen   int
	Batch *int64
}

func (r queuedRow) queued() delivery.QueuedRef {
	return delivery.QueuedRef{Ref: delivery.Ref{ID: r.ID, Gen: r.Gen}, Batch: deref(r.Batch)}
}

// FinishPending moves the broadcast's planned and queued deliveries to a
// terminal state, gives every recipient not planned yet a delivery in that
// state, and returns the refs of those that were queued.
func (db *DB) FinishPending(ctx context.Context, broadcastID int64, to delivery.Status, reason string, now time.Time) ([]delivery.QueuedRef, error) {
	var rows []struct {
		ID     int64
		Gen    int
		Batch  *int64
		Queued bool
	}
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The lock PlanNext takes: no recipient is planned meanwhile.
		var last []int64
		if err := tx.Raw(`SELECT `+lastPlanned+` FROM broadcasts WHERE id = ?`+db.lockRow(), broadcastID, broadcastID).Scan(&last).Error; err != nil {
			return err
		}
		zs, err := zones(tx, broadcastID)
		if err != nil {
			return err
		}
		switch {
		case len(zs) > 0:
			if err := db.endUnplannedZones(tx, broadcastID, zs, to, reason, now); err != nil {
				return err
			}
		case len(last) == 1:
			if err := db.endUnplanned(tx, broadcastID, last[0], to, reason, now); err != nil {
				return err
			}
		}
		if err := tx.Raw(`UPDATE deliveries SET status = ?, error = ?, error_code = '', updated_at = ?
			WHERE broadcast_id = ? AND status IN ('planned', 'queued')
			RETURNING id, gen, batch, queued_at IS NOT NULL AS queued`, string(to), reason, utc(now), broadcastID).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return nil
		}
		ids := make([]int64, len(rows))
		for i, r := range rows {
			ids[i] = r.ID
		}
		for chunk := range slices.Chunk(ids, 1000) {
			if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
				SELECT id, status, ?, error FROM deliveries WHERE id IN ?`, utc(now), chunk).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("broadcast %d: finish pending as %s: %w", broadcastID, to, err)
	}
	var out []delivery.QueuedRef
	for _, r := range rows {
		if r.Queued {
			out = append(out, queuedRow{ID: r.ID, Gen: r.Gen, Batch: r.Batch}.queued())
		}
	}
	return out, nil
}

// endUnplanned gives the recipients of a broadcast after recipient id last
// (those the feeder never reached) a delivery in state to with reason, and
// an event each, as if they had been planned and then ended. It does so 50
// batches (50,000 recipients) a statement: Postgres queues a foreign-key
// check per row until the statement ends (some 30 bytes each: a gigabyte
// for ten million deliveries and their events in one statement).
func (db *DB) endUnplanned(tx *gorm.DB, broadcastID, last int64, to delivery.Status, reason string, now time.Time) error {
	unplannedBatch := 50 * db.batch
	for {
		var upTo []int64
		if err := tx.Raw(`INSERT INTO deliveries (broadcast_id, recipient_id, phone, status, error, updated_at)
			SELECT broadcast_id, id, phone, ?, ?, ? FROM recipients WHERE broadcast_id = ? AND id > ? ORDER BY id LIMIT ?
			`+onRecipientConflict+` RETURNING recipient_id`,
			string(to), reason, utc(now), broadcastID, last, unplannedBatch).Scan(&upTo).Error; err != nil {
			return err
		}
		if len(upTo) == 0 {
			return nil
		}
		next := slices.Max(upTo)
		if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
			SELECT id, status, ?, error FROM deliveries WHERE broadcast_id = ? AND recipient_id > ? AND recipient_id <= ? ORDER BY id`,
			utc(now), broadcastID, last, next).Error; err != nil {
			return err
		}
		if len(upTo) < unplannedBatch {
			return nil
		}
		last = next
	}
}

// endUnplannedZones is endUnplanned for a zoned broadcast: the recipients
// of each zone after where its planning stopped, 50 batches a statement,
// each delivery with its zone; the zones are then fully planned.
func (db *DB) endUnplannedZones(tx *gorm.DB, broadcastID int64, zs []zoneRow, to delivery.Status, reason string, now time.Time) error {
	unplannedBatch := 50 * db.batch
	for _, z := range zs {
		last := z.PlannedThrough
		for z.Planned < z.Recipients {
			var rows []struct {
				ID          int64
				RecipientID int64
			}
			if err := tx.Raw(`INSERT INTO deliveries (broadcast_id, recipient_id, phone, status, zone, error, updated_at)
				SELECT broadcast_id, id, phone, ?, zone, ?, ? FROM recipients WHERE broadcast_id = ? AND zone = ? AND id > ? ORDER BY id LIMIT ?
				`+onRecipientConflict+` RETURNING id, recipient_id`,
				string(to), reason, utc(now), broadcastID, z.Zone, last, unplannedBatch).Scan(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				break
			}
			ids := make([]int64, len(rows))
			for i, r := range rows {
				ids[i], last = r.ID, max(last, r.RecipientID)
			}
			for chunk := range slices.Chunk(ids, 1000) {
				if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
					SELECT id, status, ?, error FROM deliveries WHERE id IN ?`, utc(now), chunk).Error; err != nil {
					return err
				}
			}
			z.Planned += len(rows)
		}
		if err := tx.Exec(`UPDATE broadcast_zones SET planned = recipients, planned_through = ? WHERE broadcast_id = ? AND zone = ?`,
			last, broadcastID, z.Zone).Error; err != nil {
			return err
		}
	}
	return nil
}

// Stale returns, in id order after afterID, queued deliveries queued before
// `before` and sending ones whose lease ended before `before`.
func (db *DB) Stale(ctx context.Context, before time.Time, afterID int64, limit int) ([]delivery.Job, error) {
	var rows []deliveryRow
	err := db.q(ctx).Raw(`SELECT * FROM deliveries
		WHERE status IN ('queued', 'sending') AND id > ? AND
		((status = 'queued' AND queued_at < ?
		  AND `+ownerLive+`)
		 OR (status = 'sending' AND (lease_until IS NULL OR lease_until < ?)))
		ORDER BY id LIMIT ?`, afterID, utc(before), utc(before), limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find stale deliveries: %w", err)
	}
	out := make([]delivery.Job, len(rows))
	for i, r := range rows {
		out[i] = delivery.Job{Ref: delivery.Ref{ID: r.ID, Gen: r.Gen}, Status: delivery.Status(r.Status), Phone: r.Phone, Batch: deref(r.Batch)}
	}
	return out, nil
}

// Regen gives a delivery a new generation if it still has ref's and is
// queued, or sending with its lease over; a queued one restarts its clock.
func (db *DB) Regen(ctx context.Context, ref delivery.Ref, now time.Time) (delivery.Ref, bool, error) {
	res := db.q(ctx).Exec(`UPDATE deliveries SET gen = gen + 1, updated_at = ?, batch = NULL,
		queued_at = CASE WHEN status = 'queued' THEN ? ELSE queued_at END
		WHERE id = ? AND gen = ? AND (status IN ('planned', 'queued') OR (status = 'sending' AND (lease_until IS NULL OR lease_until < ?)))`,
		utc(now), utc(now), ref.ID, ref.Gen, utc(now))
	if res.Error != nil {
		return ref, false, fmt.Errorf("delivery %d: regen: %w", ref.ID, res.Error)
	}
	return delivery.Ref{ID: ref.ID, Gen: ref.Gen + 1}, res.RowsAffected > 0, nil
}

// RequeuePolls makes the status polls due between now and until due now:
// after Redis lost its data, the polls LeaseDuePolls parked there (due again
// only at their lease's end) are polled at once; a poll that was merely
// scheduled in that span runs a little early, which is harmless.
func (db *DB) RequeuePolls(ctx context.Context, now, until time.Time) (int, error) {
	res := db.q(ctx).Exec(`UPDATE deliveries SET next_poll_at = ? WHERE next_poll_at > ? AND next_poll_at <= ?`,
		utc(now), utc(now), utc(until))
	if res.Error != nil {
		return 0, fmt.Errorf("requeue status polls: %w", res.Error)
	}
	return int(res.RowsAffected), nil
}

// LeaseDuePolls returns due status polls and pushes their next_poll_at to
// leaseUntil. On Postgres rows locked by another scheduler are skipped.
func (db *DB) LeaseDuePolls(ctx context.Context, now, leaseUntil time.Time, limit int) ([]delivery.PollRef, error) {
	lock := ""
	if db.dialect == "postgres" {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var rows []struct {
		ID        int64
		PollCount int
	}
	err := db.q(ctx).Raw(`UPDATE deliveries SET next_poll_at = ? WHERE id IN (
		SELECT id FROM deliveries WHERE next_poll_at <= ? ORDER BY next_poll_at LIMIT ?`+lock+`)
		RETURNING id, poll_count`, utc(leaseUntil), utc(now), limit).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("lease due polls: %w", err)
	}
	out := make([]delivery.PollRef, len(rows))
	for i, r := range rows {
		out[i] = delivery.PollRef{DeliveryID: r.ID, PollCount: r.PollCount}
	}
	return out, nil
}

// PollSummary counts the status polls of the accepted messages.
type PollSummary struct {
	// Messages is how many deliveries the provider accepted (sent_at set).
	Messages int
	// Polls is how many status polls they had in all; Most the most one of
	// them had; Pending how many of them are still to be polled again.
	Polls, Most, Pending int
}

// PollSummary sums the status polls of every accepted message in the
// database. It reads the whole deliveries table: for the demo and
// benchmarks, never a hot path.
func (db *DB) PollSummary(ctx context.Context) (PollSummary, error) {
	var s PollSummary
	err := db.q(ctx).Raw(`SELECT COUNT(*) AS messages, COALESCE(SUM(poll_count), 0) AS polls, COALESCE(MAX(poll_count), 0) AS most,
		COUNT(next_poll_at) AS pending FROM deliveries WHERE sent_at IS NOT NULL`).Scan(&s).Error
	if err != nil {
		return PollSummary{}, fmt.Errorf("sum status polls: %w", err)
	}
	return s, nil
}

type exportRow struct {
	RecipientID int64
	ID          *int64
	Phone       string
	Name        string
	Status      *string
	Wamid       *string
	ErrorCode   *string
	Error       *string
	Attempts    *int
	Settle      *string
	SentAt      *time.Time
	UpdatedAt   *time.Time
	Planned     time.Time // the broadcast's updated_at
	ZoneName    *string   // a zoned broadcast's recipient's zone
}

// Export calls fn for every recipient of a broadcast in the audience's
// order (which is delivery id order), reading in keyset batches of the
// recipients (of 1000) and each one's delivery through the (broadcast_id,
// recipient_id) index. A recipient the feeder has not reached yet has no
// delivery: it is exported planned, with id 0 and the broadcast's
// updated_at.
func (db *DB) Export(ctx context.Context, broadcastID int64, fn func(delivery.Row) error) error {
	var after int64
	for {
		rows, err := db.recipientRows(ctx, broadcastID, after, db.batch, "", "")
		if err != nil {
			return fmt.Errorf("broadcast %d: export: %w", broadcastID, err)
		}
		if len(rows) == 0 {
			return nil
		}
		if rows[len(rows)-1].RecipientID <= after {
			return fmt.Errorf("broadcast %d: export: keyset did not advance past %d", broadcastID, after)
		}
		for _, r := range rows {
			if err := fn(r.row()); err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].RecipientID
	}
}

// recipientRows reads up to limit recipients of a broadcast after the
// recipient id after, in id order, each with its delivery if it has one;
// phoneLike, when not empty, keeps those whose phone is LIKE it; status,
// when not empty, those whose delivery is in that state (planned: also
// those without a delivery yet).
func (db *DB) recipientRows(ctx context.Context, broadcastID, after int64, limit int, phoneLike string, status delivery.Status) ([]exportRow, error) {
	// Each recipient's delivery is one probe of the unique index. On
	// Postgres a lateral join (kept apart by its LIMIT: there is one row at
	// most) says so: a plain join lets the planner, when its statistics
	// miss a broadcast's deliveries (they grow from none as it sends), sort
	// them all to merge them in.
	join := `LEFT JOIN deliveries d ON d.broadcast_id = r.broadcast_id AND d.recipient_id = r.id`
	if db.dialect == "postgres" {
		join = `LEFT JOIN LATERAL (SELECT * FROM deliveries WHERE broadcast_id = r.broadcast_id AND recipient_id = r.id LIMIT 1) d ON true`
	}
	cond, args := "", []any{broadcastID, after}
	if phoneLike != "" {
		cond, args = " AND r.phone LIKE ?", append(args, phoneLike)
	}
	switch status {
	case "":
	case delivery.Planned:
		cond += " AND (d.id IS NULL OR d.status = 'planned')"
	default:
		cond, args = cond+" AND d.status = ?", append(args, string(status))
	}
	var rows []exportRow
	err := db.q(ctx).Raw(`SELECT r.id AS recipient_id, d.id, r.phone, r.name, d.status, d.wamid, d.error_code, d.error, d.attempts, `+settleShown("d.")+` AS settle,
		d.sent_at, d.updated_at, b.updated_at AS planned, z.name AS zone_name
		FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id `+join+`
		LEFT JOIN broadcast_zones z ON z.broadcast_id = r.broadcast_id AND z.zone = r.zone
		WHERE r.broadcast_id = ? AND r.id > ?`+cond+` ORDER BY r.id LIMIT ?`, append(args, limit)...).Scan(&rows).Error
	return rows, err
}

// row is r as export writes it. A recipient the feeder has not reached yet
// has no delivery: it is planned, with id 0 and the broadcast's
// updated_at.
func (r exportRow) row() delivery.Row {
	row := delivery.Row{Phone: r.Phone, Name: r.Name, Status: delivery.Planned, UpdatedAt: r.Planned.UTC()}
	if r.ID != nil {
		row = delivery.Row{ID: *r.ID, Phone: r.Phone, Name: r.Name, Status: delivery.Status(deref(r.Status)),
			WAMID: deref(r.Wamid), ErrorCode: deref(r.ErrorCode), Error: deref(r.Error), Attempts: deref(r.Attempts),
			Settle: deref(r.Settle), SentAt: r.SentAt, UpdatedAt: deref(r.UpdatedAt).UTC()}
	}
	row.Zone = deref(r.ZoneName)
	if row.SentAt != nil {
		row.SentAt = ptr(row.SentAt.UTC())
	}
	return row
}

// jobRow is the one-query join behind Job and Jobs (the send path's hot
// read); its fields are in jobColumns' order.
type jobRow struct {
	ID                                        int64
	BroadcastID                               *int64
	Gen, Attempts                             int
	Status, Phone, RName, RVars, ConvMark     string
	SendingAt, LeaseUntil                     *time.Time
	BName, BStatus, BReason, BMessage         *string
	BStartAt                                  *time.Time
	BDeadline                                 *int64
	BCount, BDuplicates                       *int
	BStartedAt, BFinishedAt, BUpdatedAt       *time.Time
	BStormShare                               *float64
	BStormWindow                              *int
	BLocalTime, BLocalDate, BSendWindow       *string
	EnrollmentID                              *int64
	Step                                      *int
	DueAt, SendBy, ECreatedAt                 *time.Time
	EStatus                                   *string
	EVersion                                  *int
	SID                                       *int64
	SName, VSpec, PrevWamid                   *string
	AID                                       int64
	AName, AProvider, ABaseURL, ATokenRef     string
	ASecretRef, ASessionID, AWebhookSecretRef string
	APhoneNumberID                            string
	AWhatsappBotID                            int64
	ARatePerSecond                            float64
	APairIntervalMs                           int64
	ADailyUniqueLimit                         int
	APortfolio, ATimezone                     string
	AOnUnknownOutcome                         string
	ASettleWindowMs                           int64
	ACapMessages                              int
	ACapPerMs                                 int64
	ACapSequences, AServiceWindow             string
	Contacted                                 bool
	LastInbound                               *time.Time
}

// fields returns pointers to r's fields in jobColumns' order, for
// database/sql's Scan.
func (r *jobRow) fields() []any {
	return []any{&r.ID, &r.BroadcastID, &r.Gen, &r.Attempts, &r.Status, &r.Phone, &r.RName, &r.RVars, &r.ConvMark,
		&r.SendingAt, &r.LeaseUntil, &r.BName, &r.BStatus, &r.BReason, &r.BMessage, &r.BStartAt, &r.BDeadline,
		&r.BCount, &r.BDuplicates, &r.BStartedAt, &r.BFinishedAt, &r.BUpdatedAt, &r.BStormShare, &r.BStormWindow,
		&r.BLocalTime, &r.BLocalDate, &r.BSendWindow,
		&r.EnrollmentID, &r.Step, &r.DueAt, &r.SendBy, &r.ECreatedAt, &r.EStatus, &r.EVersion,
		&r.SID, &r.SName, &r.VSpec, &r.PrevWamid,
		&r.AID, &r.AName, &r.AProvider, &r.ABaseURL, &r.ATokenRef, &r.ASecretRef, &r.ASessionID, &r.AWebhookSecretRef,
		&r.APhoneNumberID, &r.AWhatsappBotID, &r.ARatePerSecond, &r.APairIntervalMs, &r.ADailyUniqueLimit,
		&r.APortfolio, &r.ATimezone, &r.AOnUnknownOutcome, &r.ASettleWindowMs, &r.ACapMessages, &r.ACapPerMs, &r.ACapSequences,
		&r.AServiceWindow, &r.Contacted, &r.LastInbound}
}

// jobColumns and jobFrom load deliveries with their recipient and
// broadcast, or their enrollment, sequence version and previous step, and
// the account. The previous step is a subquery, asked only of a step: as a
// join it made the planner hash all of deliveries for every load.
// contacted (delivery.Job.Contacted) probes deliveries_phone: it reads the
// recipient's deliveries until one that was sent. It is a scalar subquery,
// not EXISTS: the planner may turn an EXISTS into one hash of every sent
// delivery, built for each load, and did whenever its statistics said few
// were sent (a new table; a sample taken before the sends). Nor may an
// index of sends serve it: filtered by phone, such an index is read whole
// for each load, and the planner took deliveries_sent so whenever its
// statistics said few were sent; deliveries_sent and deliveries_steps_sent
// name their owner in their predicates (migration 20), which a probe by
// phone does not imply (TestRecipientProbesGoByPhoneWhateverTheStatistics).
const (
	jobColumns = `SELECT d.id, d.broadcast_id, d.gen, d.attempts, d.status, d.phone,
	COALESCE(r.name, e.name, '') AS r_name, COALESCE(r.vars, e.vars, '{}') AS r_vars, d.conv_mark, d.sending_at, d.lease_until,
	b.name AS b_name, b.status AS b_status, b.status_reason AS b_reason, b.message AS b_message,
	b.start_at AS b_start_at, b.deadline_seconds AS b_deadline, b.recipient_count AS b_count,
	b.duplicates AS b_duplicates, b.started_at AS b_started_at, b.finished_at AS b_finished_at,
	b.updated_at AS b_updated_at, b.storm_share AS b_storm_share, b.storm_window AS b_storm_window,
	b.local_time AS b_local_time, b.local_date AS b_local_date, b.send_window AS b_send_window,
	d.enrollment_id, d.step, d.due_at, d.send_by, e.created_at AS e_created_at, e.status AS e_status, e.version AS e_version,
	s.id AS s_id, s.name AS s_name, v.spec AS v_spec,
	CASE WHEN d.enrollment_id IS NOT NULL THEN
		(SELECT p.wamid FROM deliveries p WHERE p.enrollment_id = d.enrollment_id AND p.step = d.step - 1) END AS prev_wamid,
	a.id AS a_id, a.name AS a_name, a.provider AS a_provider, a.base_url AS a_base_url,
	a.token_ref AS a_token_ref, a.secret_ref AS a_secret_ref, a.session_id AS a_session_id,
	a.webhook_secret_ref AS a_webhook_secret_ref, a.phone_number_id AS a_phone_number_id,
	a.whatsapp_bot_id AS a_whatsapp_bot_id, a.rate_per_second AS a_rate_per_second,
	a.pair_interval_ms AS a_pair_interval_ms, a.daily_unique_limit AS a_daily_unique_limit, a.portfolio AS a_portfolio,
	a.timezone AS a_timezone, a.on_unknown_outcome AS a_on_unknown_outcome, a.settle_window_ms AS a_settle_window_ms,
	a.cap_messages AS a_cap_messages, a.cap_per_ms AS a_cap_per_ms, a.cap_sequences AS a_cap_sequences,
	a.service_window AS a_service_window,
	(SELECT true FROM deliveries p WHERE p.phone = d.phone AND p.sent_at IS NOT NULL LIMIT 1) IS NOT NULL AS contacted,
	(SELECT ci.last_at FROM contact_inbound ci WHERE ci.account_id = a.id AND ci.phone = d.phone) AS last_inbound`
	jobFrom = `
	FROM deliveries d
	LEFT JOIN recipients r ON r.id = d.recipient_id
	LEFT JOIN broadcasts b ON b.id = d.broadcast_id
	LEFT JOIN enrollments e ON e.id = d.enrollment_id
	LEFT JOIN sequences s ON s.id = e.sequence_id
	LEFT JOIN sequence_versions v ON v.sequence_id = e.sequence_id AND v.version = e.version
	JOIN accounts a ON a.id = COALESCE(b.account_id, s.account_id)`
)

// jobByIDs is the job load on Postgres: $1 the deliveries' ids.
var jobByIDs = jobColumns + jobFrom + ` WHERE d.id = ANY(` + opaque("$1", "bigint[]") + `)`

// Job loads a delivery with what sending it needs in one query.
func (db *DB) Job(ctx context.Context, id int64) (delivery.Job, error) {
	jobs, err := db.Jobs(ctx, []int64{id})
	if err != nil {
		return delivery.Job{}, err
	}
	j, ok := jobs[id]
	if !ok {
		return delivery.Job{}, fmt.Errorf("delivery %d: %w", id, campaign.ErrNotFound)
	}
	return j, nil
}

// Jobs loads the deliveries ids (a batch send task's) with what sending
// them needs, in one query; ids that do not exist (deleted) are left out.
// A delivery whose job cannot be decoded fails the whole load.
func (db *DB) Jobs(ctx context.Context, ids []int64) (map[int64]delivery.Job, error) {
	rows, err := db.jobRows(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("load %d deliveries: %w", len(ids), err)
	}
	out := make(map[int64]delivery.Job, len(rows))
	// The deliveries of one batch share their broadcast: decode it once.
	broadcasts := map[int64]campaign.Broadcast{}
	for _, j := range rows {
		job, err := decodeJob(j, broadcasts)
		if err != nil {
			return nil, fmt.Errorf("delivery %d: %w", j.ID, err)
		}
		out[j.ID] = job
	}
	return out, nil
}

// jobRows reads the jobRows of ids. On Postgres it is one statement
// whatever the number of ids (an array), scanned without reflection: it
// runs once per batch send task.
func (db *DB) jobRows(ctx context.Context, ids []int64) ([]jobRow, error) {
	if db.sql == nil {
		var rows []jobRow
		err := db.q(ctx).Raw(jobColumns+jobFrom+` WHERE d.id IN ?`, ids).Scan(&rows).Error
		return rows, err
	}
	rs, err := db.sql.QueryContext(ctx, jobByIDs, ids)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	rows := make([]jobRow, 0, len(ids))
	for rs.Next() {
		var r jobRow
		if err := rs.Scan(r.fields()...); err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, rs.Err()
}

// decodeJob turns a jobRow into a Job; broadcasts caches decoded
// broadcasts by id.
func decodeJob(j jobRow, broadcasts map[int64]campaign.Broadcast) (delivery.Job, error) {
	a := accountRow{ID: j.AID, Name: j.AName, Provider: j.AProvider, BaseURL: j.ABaseURL, TokenRef: j.ATokenRef,
		SecretRef: j.ASecretRef, SessionID: j.ASessionID, WebhookSecretRef: j.AWebhookSecretRef,
		PhoneNumberID: j.APhoneNumberID, WhatsappBotID: j.AWhatsappBotID, RatePerSecond: j.ARatePerSecond,
		PairIntervalMs: j.APairIntervalMs, DailyUniqueLimit: j.ADailyUniqueLimit, Portfolio: j.APortfolio, Timezone: j.ATimezone,
		OnUnknownOutcome: j.AOnUnknownOutcome, SettleWindowMs: j.ASettleWindowMs,
		CapMessages: j.ACapMessages, CapPerMs: j.ACapPerMs, CapSequences: j.ACapSequences, ServiceWindow: j.AServiceWindow}.domain()
	job := delivery.Job{
		Ref: delivery.Ref{ID: j.ID, Gen: j.Gen}, Status: delivery.Status(j.Status),
		Phone: j.Phone, Name: j.RName, Vars: decodeVars(j.RVars), Attempts: j.Attempts,
		SendingAt: j.SendingAt, LeaseUntil: j.LeaseUntil, ConvMark: splitMark(j.ConvMark), Account: a,
		Contacted: j.Contacted,
	}
	if j.LastInbound != nil {
		job.LastInbound = ptr(j.LastInbound.UTC())
	}
	if j.EnrollmentID != nil {
		st, err := stepJob(j)
		if err != nil {
			return delivery.Job{}, err
		}
		job.Owner, job.Message, job.SendBy, job.DueAt = st, st.Spec.Steps[st.Step].Message, st.SendBy, st.DueAt
		job.Reply = st.Spec.Reply
		return job, nil
	}
	b, ok := broadcasts[*j.BroadcastID]
	if !ok {
		var err error
		b, err = broadcastRow{ID: *j.BroadcastID, Name: deref(j.BName), AccountID: j.AID, Status: deref(j.BStatus), StatusReason: deref(j.BReason),
			StartAt: deref(j.BStartAt), DeadlineSeconds: deref(j.BDeadline), Message: deref(j.BMessage), RecipientCount: deref(j.BCount),
			Duplicates: deref(j.BDuplicates), StormShare: deref(j.BStormShare), StormWindow: deref(j.BStormWindow),
			LocalTime: deref(j.BLocalTime), LocalDate: deref(j.BLocalDate), SendWindow: deref(j.BSendWindow),
			StartedAt: j.BStartedAt, FinishedAt: j.BFinishedAt, UpdatedAt: deref(j.BUpdatedAt)}.domain()
		if err != nil {
			return delivery.Job{}, fmt.Errorf("decode message: %w", err)
		}
		broadcasts[b.ID] = b
	}
	job.Owner, job.Message, job.SendBy = b, b.Message, b.SendBy()
	if j.DueAt != nil {
		job.DueAt = j.DueAt.UTC()
	}
	return job, nil
}

// stepJob decodes a sequence step's part of a jobRow.
func stepJob(j jobRow) (sequence.StepJob, error) {
	st := sequence.StepJob{EnrollmentID: *j.EnrollmentID, SequenceID: deref(j.SID), Sequence: deref(j.SName),
		Version: deref(j.EVersion), Step: deref(j.Step), Enrollment: deref(j.EStatus), EnrolledAt: deref(j.ECreatedAt).UTC(),
		DueAt: deref(j.DueAt).UTC(), PrevWAMID: deref(j.PrevWamid)}
	if j.SendBy != nil {
		st.SendBy = j.SendBy.UTC()
	}
	if err := json.Unmarshal([]byte(deref(j.VSpec)), &st.Spec); err != nil {
		return st, fmt.Errorf("sequence %q: decode version %d: %w", st.Sequence, st.Version, err)
	}
	if st.Step < 0 || st.Step >= len(st.Spec.Steps) {
		return st, fmt.Errorf("sequence %q version %d has no step %d", st.Sequence, st.Version, st.Step+1)
	}
	return st, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// settledIfAwaiting is a delivery's settle state once its send is found to
// have been accepted: settled if it was awaiting the provider's
// confirmation.
const settledIfAwaiting = `CASE WHEN settle = 'awaiting' THEN 'settled' ELSE settle END`

// joinMark encodes a conversation mark for deliveries.conv_mark (see
// splitMark): nil = none recorded.
func joinMark(mark []string) string {
	if mark == nil {
		return ""
	}
	return "@" + strings.Join(mark, ",")
}

// handBack runs update (at now), which takes delivery id out of sending (to queued or
// planned, or to skipped when its broadcast was cancelled meanwhile), and
// records the skip in the delivery's history; it reports whether the row
// moved.
func (db *DB) handBack(ctx context.Context, id int64, now time.Time, update string, args ...any) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(update, args...)
		if res.Error != nil {
			return res.Error
		}
		ok = res.RowsAffected > 0
		if !ok {
			return nil
		}
		// A delivery whose owner stopped meanwhile ended skipped, saying why
		// (handBackError): record it.
		return tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
			SELECT id, status, ?, error FROM deliveries WHERE id = ? AND status = 'skipped'`,
			utc(now), id).Error
	})
	return ok, err
}

// Release hands back a claim that never reached the provider (the
// recipient's place was taken meanwhile, or the attempt gave up before its
// request): back to queued with the attempt not counted — to planned with a
// new generation if the broadcast was paused meanwhile, to skipped if it was
// cancelled or the enrollment ended. Only while the delivery still holds the
// lease the claim set.
func (db *DB) Release(ctx context.Context, ref delivery.Ref, lease time.Time, reason string, now time.Time) (bool, error) {
	ok, err := db.handBack(ctx, ref.ID, now, `UPDATE deliveries SET lease_until = NULL, sending_at = NULL, attempts = attempts - 1, conv_mark = '',
			gen = `+handBackGen+`, queued_at = `+handBackQueued+`, status = `+handBackStatus+`,
			error = `+handBackError("?")+`, error_code = `+handBackCode("error_code")+`, updated_at = ?
			WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`,
		reason, utc(now), ref.ID, ref.Gen, utc(lease))
	if err != nil {
		return false, fmt.Errorf("delivery %d: release claim: %w", ref.ID, err)
	}
	return ok, nil
}

// Touch restarts the queued clock of a queued delivery whose task was found
// alive, so the sweep looks at other rows next.
func (db *DB) Touch(ctx context.Context, ref delivery.Ref, now time.Time) error {
	err := db.q(ctx).Exec(`UPDATE deliveries SET queued_at = ? WHERE id = ? AND gen = ? AND status = 'queued'`,
		utc(now), ref.ID, ref.Gen).Error
	if err != nil {
		return fmt.Errorf("delivery %d: touch: %w", ref.ID, err)
	}
	return nil
}

// Claim moves a delivery of ref's generation from planned/queued to sending
// with a lease, only while its broadcast is running or its enrollment is
// active, and while its recipient is not on the suppression lists check
// names (for its message): the checks and the claim are one statement,
// right before the request. mark, when not nil, is the recipient's conversation as it was
// before the send (for sends whose answer carries no wamid). sending_at
// records when the request began.
func (db *DB) Claim(ctx context.Context, ref delivery.Ref, now, leaseUntil time.Time, mark []string, check consent.Check) (bool, error) {
	if db.comb != nil {
		a, b := check.ListPair()
		ok, err := db.comb.claim.do(ctx, claimArg{ref: ref, now: now, lease: leaseUntil, mark: joinMark(mark),
			listA: a, listB: b, marketing: check.Marketing})
		if err != nil {
			return false, fmt.Errorf("delivery %d: %w", ref.ID, err)
		}
		return ok, nil
	}
	args := append([]any{utc(now), utc(leaseUntil), joinMark(mark), utc(now), ref.ID, ref.Gen}, blockedArgs(check)...)
	res := db.q(ctx).Exec(`UPDATE deliveries SET status = 'sending', sending_at = ?, lease_until = ?,
		attempts = attempts + 1, conv_mark = ?, updated_at = ?
		WHERE id = ? AND gen = ? AND status IN ('planned', 'queued')
		AND NOT `+blocked("deliveries.phone")+`
		AND `+ownerLive, args...)
	if res.Error != nil {
		return false, fmt.Errorf("delivery %d: claim: %w", ref.ID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// SkipOptedOut skips a delivery of ref's generation not yet claimed whose
// recipient is on the suppression lists check names (for its message),
// with reason opted_out and its event, and ends its enrollment, if it is a
// step, as exited (opted_out). False when the delivery is not pending or
// its recipient is not suppressed. The send path calls it when its claim
// failed: the claim refuses a suppressed recipient without saying why.
func (db *DB) SkipOptedOut(ctx context.Context, ref delivery.Ref, check consent.Check, now time.Time) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var rows []struct{ EnrollmentID *int64 }
		args := append([]any{consent.ReasonOptedOut, optedOutDetail, utc(now), ref.ID, ref.Gen}, blockedArgs(check)...)
		if err := tx.Raw(`UPDATE deliveries SET status = 'skipped', error_code = ?, error = ?, lease_until = NULL, updated_at = ?
			WHERE id = ? AND gen = ? AND status IN ('planned', 'queued') AND `+blocked("deliveries.phone")+`
			RETURNING enrollment_id`, args...).Scan(&rows).Error; err != nil {
			return err
		}
		if ok = len(rows) > 0; !ok {
			return nil
		}
		if err := tx.Create(&eventRow{DeliveryID: ref.ID, Status: string(delivery.Skipped), At: utc(now),
			Detail: joinDetail(consent.ReasonOptedOut, optedOutDetail)}).Error; err != nil {
			return err
		}
		if rows[0].EnrollmentID == nil {
			return nil
		}
		_, err := endEnrollments(tx, []int64{*rows[0].EnrollmentID}, sequence.EnrollExited, consent.ReasonOptedOut, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: skip as opted out: %w", ref.ID, err)
	}
	return ok, nil
}

// Reclaim takes over a sending delivery whose lease ended.
func (db *DB) Reclaim(ctx context.Context, ref delivery.Ref, now, leaseUntil time.Time) (bool, error) {
	res := db.q(ctx).Exec(`UPDATE deliveries SET lease_until = ?, updated_at = ?
		WHERE id = ? AND gen = ? AND status = 'sending' AND (lease_until IS NULL OR lease_until <= ?)`,
		utc(leaseUntil), utc(now), ref.ID, ref.Gen, utc(now))
	if res.Error != nil {
		return false, fmt.Errorf("delivery %d: reclaim: %w", ref.ID, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// Unclaim moves a sending delivery that holds lease (the caller's attempt)
// back to queued (same generation, its task retries) or to planned with a
// new generation (its task is dropped).
func (db *DB) Unclaim(ctx context.Context, ref delivery.Ref, lease time.Time, newGen bool, errCode, reason string, now time.Time) (bool, error) {
	// Back to queued (its task retries) — or, if the broadcast was
	// cancelled meanwhile, skipped: nothing would pick the row up again; if
	// it was paused, planned with a new generation for the feeder.
	q := `UPDATE deliveries SET lease_until = NULL,
		gen = ` + handBackGen + `, queued_at = ` + handBackQueued + `, status = ` + handBackStatus + `,
		error_code = ` + handBackCode("?") + `, error = ` + handBackError("?") + `, updated_at = ?
		WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`
	if newGen {
		// Back to planned for the feeder to send later — or, if the
		// broadcast was cancelled meanwhile, skipped: nothing would ever
		// pick a planned row of a cancelled broadcast up again.
		q = `UPDATE deliveries SET gen = gen + 1, queued_at = NULL, lease_until = NULL,
		status = CASE WHEN ` + ownerGone + `
			THEN 'skipped' ELSE 'planned' END,
		error_code = ` + handBackCode("?") + `, error = ` + handBackError("?") + `, updated_at = ?
		WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`
	}
	ok, err := db.handBack(ctx, ref.ID, now, q, errCode, reason, utc(now), ref.ID, ref.Gen, utc(lease))
	if err != nil {
		return false, fmt.Errorf("delivery %d: unclaim: %w", ref.ID, err)
	}
	return ok, nil
}

// ReleaseLease shortens the lease of a sending delivery that holds lease
// (the caller's attempt) to until, so a retry may reconcile from then on.
// Another attempt's lease is left alone.
func (db *DB) ReleaseLease(ctx context.Context, ref delivery.Ref, lease, until time.Time, reason string, now time.Time) error {
	err := db.q(ctx).Exec(`UPDATE deliveries SET lease_until = ?, error = ?, updated_at = ?
		WHERE id = ? AND gen = ? AND status = 'sending' AND lease_until = ?`, utc(until), reason, utc(now), ref.ID, ref.Gen, utc(lease)).Error
	if err != nil {
		return fmt.Errorf("delivery %d: release lease: %w", ref.ID, err)
	}
	return nil
}

// MarkSent records an accepted send and schedules the first status poll.
// It takes any generation while the delivery is sending: the provider has
// accepted the message, so it must be recorded even if the sweep gave the
// delivery a new generation meanwhile (that generation's task then finds it
// sent and does nothing).
func (db *DB) MarkSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	const update = `UPDATE deliveries SET status = 'sent', wamid = ?, sent_at = ?, lease_until = NULL, settle = ` + settledIfAwaiting + `,
		error_code = '', error = '', next_poll_at = ?, poll_count = 0, track_until = ?, updated_at = ?
		WHERE id = ? AND status = 'sending'`
	if db.comb != nil {
		// One statement and one commit for the sends recorded at once.
		ok, err := db.comb.sent.do(ctx, sentArg{ref: ref, wamid: wamid, now: now, firstPoll: firstPoll, trackUntil: trackUntil})
		if err != nil {
			return false, fmt.Errorf("delivery %d: %w", ref.ID, err)
		}
		return ok, nil
	}
	args := []any{nullable(wamid), utc(now), nullTime(firstPoll), utc(trackUntil), utc(now), ref.ID}
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(update, args...)
		if res.Error != nil {
			return res.Error
		}
		ok = res.RowsAffected > 0
		if !ok {
			return nil
		}
		if err := bumpFinished(tx, ref.ID, now); err != nil {
			return err
		}
		return tx.Create(&eventRow{DeliveryID: ref.ID, Status: string(delivery.Sent), At: utc(now), Detail: wamid}).Error
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: mark sent: %w", ref.ID, err)
	}
	return ok, nil
}

// Finish moves a not-yet-accepted delivery of ref's generation to failed,
// skipped or expired. A sequence step's end then does what the sequence's
// rules say (sequence.Ended): it may stop its enrollment, or pass the step
// over and plan the next.
func (db *DB) Finish(ctx context.Context, ref delivery.Ref, to delivery.Status, code, reason string, now time.Time) (bool, error) {
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var failedAt any
		if to == delivery.Failed {
			failedAt = utc(now)
		}
		res := tx.Exec(`UPDATE deliveries SET status = ?, error_code = ?, error = ?, lease_until = NULL,
			failed_at = ?, updated_at = ?
			WHERE id = ? AND gen = ? AND status IN ('planned', 'queued', 'sending')`,
			string(to), code, reason, failedAt, utc(now), ref.ID, ref.Gen)
		if res.Error != nil {
			return res.Error
		}
		ok = res.RowsAffected > 0
		if !ok {
			return nil
		}
		if err := tx.Create(&eventRow{DeliveryID: ref.ID, Status: string(to), At: utc(now), Detail: joinDetail(code, reason)}).Error; err != nil {
			return err
		}
		if to == delivery.Failed {
			if err := bumpFinished(tx, ref.ID, now); err != nil {
				return err
			}
			if err := db.suppressRefusal(tx, ref.ID, code, now); err != nil {
				return err
			}
		}
		// A sequence step's end may end its enrollment, or pass the step
		// over, as the sequence's rules say (sequence.Ended).
		plan, ok := sequence.Ended(to, code, joinDetail(code, reason))
		if !ok {
			return nil
		}
		var step []struct {
			EnrollmentID int64
			Step         int
		}
		if err := tx.Raw(`SELECT enrollment_id, step FROM deliveries WHERE id = ? AND enrollment_id IS NOT NULL`, ref.ID).Scan(&step).Error; err != nil {
			return err
		}
		if len(step) == 0 {
			return nil
		}
		if plan.Action == sequence.Pass {
			return planNext(tx, step[0].EnrollmentID, step[0].Step, now, now)
		}
		_, err := endEnrollments(tx, []int64{step[0].EnrollmentID}, sequence.EnrollStopped, plan.Reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: finish as %s: %w", ref.ID, to, err)
	}
	return ok, nil
}

// SettleFinishedAt moves the finished_at of broadcasts that ended at or
// after since to their last send's sent_at when that is later (see
// campaign.SweepStore): bumpFinished misses a send recorded concurrently with
// the final move, each statement reading before the other's write. One probe
// of deliveries_sent (broadcast_id, sent_at) per recently ended broadcast.
func (db *DB) SettleFinishedAt(ctx context.Context, since time.Time) (int, error) {
	const last = `(SELECT MAX(d.sent_at) FROM deliveries d WHERE d.broadcast_id = broadcasts.id)`
	res := db.q(ctx).Exec(`UPDATE broadcasts SET finished_at = `+last+`
		WHERE finished_at >= ? AND finished_at < `+last, utc(since))
	if res.Error != nil {
		return 0, fmt.Errorf("settle finished_at: %w", res.Error)
	}
	return int(res.RowsAffected), nil
}

// bumpFinished moves a finished broadcast's finished_at to now when one of
// its sends (delivery id) ends after it finished: a send already in flight
// when the broadcast was cancelled ends later, and finished_at says when the
// last send really ended.
func bumpFinished(tx *gorm.DB, id int64, now time.Time) error {
	return tx.Exec(`UPDATE broadcasts SET finished_at = ?
		WHERE id = (SELECT broadcast_id FROM deliveries WHERE id = ?) AND finished_at < ?`, utc(now), id, utc(now)).Error
}

// KnownWAMIDs returns which of the wamids are recorded on some delivery.
func (db *DB) KnownWAMIDs(ctx context.Context, wamids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(wamids) == 0 {
		return out, nil
	}
	var found []string
	if err := db.q(ctx).Raw(`SELECT wamid FROM deliveries WHERE wamid IN ?`, wamids).Scan(&found).Error; err != nil {
		return nil, fmt.Errorf("look up wamids: %w", err)
	}
	for _, w := range found {
		out[w] = true
	}
	return out, nil
}

// PollTarget loads what a status poll needs.
func (db *DB) PollTarget(ctx context.Context, id int64) (delivery.PollTarget, error) {
	j, err := db.Job(ctx, id)
	if err != nil {
		return delivery.PollTarget{}, err
	}
	var d deliveryRow
	if err := db.q(ctx).Where("id = ?", id).Take(&d).Error; err != nil {
		return delivery.PollTarget{}, fmt.Errorf("load delivery %d: %w", id, err)
	}
	t := delivery.PollTarget{DeliveryID: id, Phone: d.Phone, Status: delivery.Status(d.Status), PollCount: d.PollCount,
		Message: j.Message, Vars: j.Variables(), Account: j.Account, ConvMark: j.ConvMark}
	if d.Wamid != nil {
		t.WAMID = *d.Wamid
	}
	if d.SentAt != nil {
		t.SentAt = d.SentAt.UTC()
	}
	if d.TrackUntil != nil {
		t.TrackUntil = d.TrackUntil.UTC()
	}
	return t, nil
}

// ApplyStatus records a status observation (see delivery.WorkerStore).
func (db *DB) ApplyStatus(ctx context.Context, id int64, wamid string, r provider.StatusReport, now time.Time, nextPoll *time.Time) (bool, error) {
	if r.Status == provider.StatusFailed && r.Code == "" {
		// The code as a send's error is classified: from the text when the
		// report carries none (131049 counted as Meta's marketing limit,
		// 131050 suppressing, whichever driver or path reported it).
		r.Code = provider.ExtractCode(r.Reason)
	}
	at := r.At
	if at.IsZero() {
		at = now
	}
	var np any
	if nextPoll != nil {
		np = utc(*nextPoll)
	}
	var changed bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if from, ok := delivery.StatusMoves[r.Status]; ok { // forward only
			set := "status = ?, updated_at = ?, next_poll_at = ?, poll_count = poll_count + 1, wamid = COALESCE(wamid, ?)"
			args := []any{string(r.Status), utc(now), np, nullable(wamid)}
			switch r.Status {
			case provider.StatusDelivered:
				set += ", delivered_at = ?"
				args = append(args, utc(at))
			case provider.StatusRead:
				set += ", delivered_at = COALESCE(delivered_at, ?), read_at = ?"
				args = append(args, utc(at), utc(at))
			case provider.StatusFailed:
				set += ", failed_at = ?, error_code = ?, error = ?"
				args = append(args, utc(at), r.Code, r.Reason)
			}
			args = append(args, id, from)
			res := tx.Exec(`UPDATE deliveries SET `+set+` WHERE id = ? AND status IN ?`, args...)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected > 0 {
				changed = true
				if r.Status == provider.StatusFailed {
					if err := db.suppressRefusal(tx, id, r.Code, now); err != nil {
						return err
					}
				}
				return tx.Create(&eventRow{DeliveryID: id, Status: string(r.Status), At: utc(at), Detail: joinDetail(r.Code, r.Reason)}).Error
			}
		}
		return tx.Exec(`UPDATE deliveries SET next_poll_at = ?, poll_count = poll_count + 1, wamid = COALESCE(wamid, ?)
			WHERE id = ?`, np, nullable(wamid), id).Error
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: apply status %q: %w", id, r.Status, err)
	}
	return changed, nil
}

// PauseAccount pauses every running or scheduled broadcast of an account.
func (db *DB) PauseAccount(ctx context.Context, accountID int64, reason string, now time.Time) ([]int64, error) {
	var ids []int64
	move := campaign.Lifecycle[campaign.MovePauseAccount]
	err := db.q(ctx).Raw(`UPDATE broadcasts SET status = ?, status_reason = ?, updated_at = ?
		WHERE account_id = ? AND status IN ? RETURNING id`, move.To, reason, utc(now), accountID, move.From).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("account %d: pause: %w", accountID, err)
	}
	return ids, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func joinDetail(code, reason string) string {
	if code == "" {
		return reason
	}
	return strings.TrimSpace("code " + code + ": " + reason)
}

// CreateOccurrence creates the broadcast of one occurrence of a recurring
// broadcast: NAME@TIME, scheduled at `at`, with the parent's message,
// deadline and a copy of its audience, and records `at` as the parent's
// latest occurrence. The occurrence's unique name makes a second call (from
// another scheduler) a no-op: created reports whether this call made it.
func (db *DB) CreateOccurrence(ctx context.Context, parentID int64, at, now time.Time) (name string, created bool, err error) {
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var parent broadcastRow
		if err := tx.Where("id = ? AND status = ?", parentID, campaign.StatusRecurring).Take(&parent).Error; err != nil {
			return err
		}
		name = campaign.OccurrenceName(parent.Name, at)
		var ids []int64
		if err := tx.Raw(`INSERT INTO broadcasts (name, account_id, status, status_reason, start_at, deadline_seconds, message,
			message_hash, audience_hash, recipient_count, duplicates, storm_share, storm_window, local_time, local_date, send_window,
			parent_id, created_at, updated_at)
			SELECT ?, account_id, 'scheduled', '', ?, deadline_seconds, message, message_hash, audience_hash, recipient_count,
			duplicates, storm_share, storm_window, local_time, local_date, send_window, id, ?, ? FROM broadcasts WHERE id = ?
			ON CONFLICT (name) DO NOTHING RETURNING id`, name, utc(at), utc(now), utc(now), parentID).Scan(&ids).Error; err != nil {
			return err
		}
		if len(ids) > 0 {
			created = true
			if err := tx.Exec(`INSERT INTO recipients (broadcast_id, phone, name, vars, zone)
				SELECT ?, phone, name, vars, zone FROM recipients WHERE broadcast_id = ? ORDER BY id`, ids[0], parentID).Error; err != nil {
				return err
			}
			if err := tx.Exec(`INSERT INTO broadcast_zones (broadcast_id, zone, name, recipients)
				SELECT ?, zone, name, recipients FROM broadcast_zones WHERE broadcast_id = ?`, ids[0], parentID).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`UPDATE broadcasts SET last_occurrence = ? WHERE id = ? AND (last_occurrence IS NULL OR last_occurrence < ?)`,
			utc(at), parentID, utc(at)).Error
	})
	if err != nil {
		return "", false, fmt.Errorf("broadcast %d: create occurrence at %s: %w", parentID, at.UTC().Format(time.RFC3339), err)
	}
	return name, created, nil
}

// SkipOccurrences records that a recurring broadcast's occurrences up to
// `upTo` were skipped (missed while no scheduler ran).
func (db *DB) SkipOccurrences(ctx context.Context, parentID int64, upTo time.Time) error {
	err := db.q(ctx).Exec(`UPDATE broadcasts SET last_occurrence = ? WHERE id = ? AND (last_occurrence IS NULL OR last_occurrence < ?)`,
		utc(upTo), parentID, utc(upTo)).Error
	if err != nil {
		return fmt.Errorf("broadcast %d: skip occurrences: %w", parentID, err)
	}
	return nil
}

// DeliveryFilter narrows Deliveries and SequenceDeliveries: a state, a
// phone (normalised, as stored), part of a phone number (Contains: its
// digits; "+" and spaces are ignored, and with no digits nothing matches);
// empty matches all.
type DeliveryFilter struct {
	Status   delivery.Status
	Phone    string
	Contains string
}

// where is f's conditions, each after an AND, on deliveries d whose
// phone number is the column phone, and their arguments.
func (f DeliveryFilter) where(phone string) (string, []any) {
	var q string
	var args []any
	if f.Status != "" {
		q += ` AND d.status = ?`
		args = append(args, string(f.Status))
	}
	if f.Phone != "" {
		q += ` AND ` + phone + ` = ?`
		args = append(args, f.Phone)
	}
	if f.Contains != "" {
		q += ` AND ` + phone + ` LIKE ?`
		args = append(args, containsPattern(f.Contains))
	}
	return q, args
}

// Deliveries returns at most limit of a broadcast's deliveries after id
// after, in id order, with each recipient's name: a keyset page (the
// deliveries_feed index with a state, deliveries_phone with a phone).
// Recipients not planned yet have no delivery and are not listed.
func (db *DB) Deliveries(ctx context.Context, broadcastID int64, f DeliveryFilter, after int64, limit int) ([]delivery.Row, error) {
	q := `SELECT d.id, d.phone, COALESCE(r.name, '') AS name, d.status, d.wamid, d.error_code, d.error, d.attempts, ` + settleShown("d.") + ` AS settle, d.sent_at, d.updated_at
		FROM deliveries d LEFT JOIN recipients r ON r.id = d.recipient_id
		WHERE d.broadcast_id = ? AND d.id > ?`
	cond, fargs := f.where("d.phone")
	q += cond
	args := append([]any{broadcastID, after}, fargs...)
	var rows []exportRow
	if err := db.q(ctx).Raw(q+` ORDER BY d.id LIMIT ?`, append(args, limit)...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("broadcast %d: deliveries: %w", broadcastID, err)
	}
	out := make([]delivery.Row, len(rows))
	for i, r := range rows {
		out[i] = r.row() // every row has its delivery
	}
	return out, nil
}
