package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/templates"
)

type sequenceRow struct {
	ID        int64
	Name      string
	AccountID int64
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (sequenceRow) TableName() string { return "sequences" }

type sequenceVersionRow struct {
	SequenceID int64 `gorm:"primaryKey;autoIncrement:false"`
	Version    int   `gorm:"primaryKey;autoIncrement:false"`
	Spec       string
	SpecHash   string
	CreatedAt  time.Time
}

func (sequenceVersionRow) TableName() string { return "sequence_versions" }

// applySequence creates a sequence or, when its definition changed, gives it
// a new version: enrollments already running finish on the version they
// started with, new ones start on the new version.
func applySequence(tx *gorm.DB, s spec.Sequence, accountID int64, now time.Time) (Change, error) {
	return applySequenceSpec(tx, s.Name, s.Spec(), accountID, s.Pos, now)
}

// applySequenceSpec is applySequence for a sequence named name with spec,
// defined at pos.
func applySequenceSpec(tx *gorm.DB, name string, sp sequence.Spec, accountID int64, pos spec.Pos, now time.Time) (Change, error) {
	c := Change{Kind: "sequence", Name: name}
	raw, err := json.Marshal(sp)
	if err != nil {
		return c, fmt.Errorf("sequence %q: encode: %w", name, err)
	}
	hash := sp.Hash()
	var cur sequenceRow
	err = tx.Where("name = ?", name).Take(&cur).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		row := sequenceRow{Name: name, AccountID: accountID, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return c, fmt.Errorf("create sequence %q: %w", name, err)
		}
		if err := tx.Create(&sequenceVersionRow{SequenceID: row.ID, Version: 1, Spec: string(raw), SpecHash: hash, CreatedAt: now}).Error; err != nil {
			return c, fmt.Errorf("sequence %q: create version 1: %w", name, err)
		}
		c.Action, c.Detail = "created", fmt.Sprintf("version 1, %d steps", len(sp.Steps))
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("load sequence %q: %w", name, err)
	}
	var v sequenceVersionRow
	if err := tx.Where("sequence_id = ? AND version = ?", cur.ID, cur.Version).Take(&v).Error; err != nil {
		return c, fmt.Errorf("sequence %q: load version %d: %w", name, cur.Version, err)
	}
	if v.SpecHash == hash && cur.AccountID == accountID {
		c.Action = "unchanged"
		return c, nil
	}
	if cur.AccountID != accountID {
		var active int64
		if err := tx.Table("enrollments").Where("sequence_id = ? AND status = ?", cur.ID, sequence.EnrollActive).Count(&active).Error; err != nil {
			return c, fmt.Errorf("sequence %q: count enrollments: %w", name, err)
		}
		if active > 0 {
			return c, fmt.Errorf("%s: sequence %q has %d active enrollments: its account can no longer change (apply it under a new name): %w",
				pos, name, active, ErrConflict)
		}
	}
	next := cur.Version + 1
	if v.SpecHash != hash {
		if err := tx.Create(&sequenceVersionRow{SequenceID: cur.ID, Version: next, Spec: string(raw), SpecHash: hash, CreatedAt: now}).Error; err != nil {
			return c, fmt.Errorf("sequence %q: create version %d: %w", name, next, err)
		}
	} else {
		next = cur.Version
	}
	if err := tx.Model(&sequenceRow{}).Where("id = ?", cur.ID).
		Updates(map[string]any{"version": next, "account_id": accountID, "updated_at": now}).Error; err != nil {
		return c, fmt.Errorf("update sequence %q: %w", name, err)
	}
	c.Action, c.Detail = "updated", fmt.Sprintf("version %d; running enrollments stay on the version they started", next)
	return c, nil
}

// seqTarget is what enrolling and planning need about a sequence version.
type seqTarget struct {
	ID, AccountID int64
	Version       int
	Spec          sequence.Spec
	Zone          *time.Location // the account's zone
	// Account and Portfolio name the account's suppression lists.
	Account, Portfolio string
}

// check is what step i's delivery is checked against on the suppression
// lists.
func (t seqTarget) check(i int) consent.Check {
	var m templates.Message
	if i >= 0 && i < len(t.Spec.Steps) {
		m = t.Spec.Steps[i].Message
	}
	return consent.CheckOf(t.Account, t.Portfolio, m)
}

// loadSequence reads a sequence's current version and its account's zone.
// (The record of a step reads the version its enrollment is on through
// versionSpecs.)
func loadSequence(tx *gorm.DB, where string, arg any) (seqTarget, error) {
	var r struct {
		ID, AccountID                   int64
		Version                         int
		Spec, Timezone, Name, Portfolio string
	}
	q := `SELECT s.id, s.account_id, v.version, v.spec, a.timezone, a.name, a.portfolio FROM sequences s
		JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version
		JOIN accounts a ON a.id = s.account_id WHERE ` + where
	if err := tx.Raw(q, arg).Scan(&r).Error; err != nil {
		return seqTarget{}, err
	}
	if r.ID == 0 {
		return seqTarget{}, campaign.ErrNotFound
	}
	sp, err := decodeSpec(r.Spec, r.Version)
	if err != nil {
		return seqTarget{}, err
	}
	return newSeqTarget(r.ID, r.AccountID, r.Version, sp, r.Timezone, r.Name, r.Portfolio), nil
}

// newSeqTarget is a sequence version's target, its account's zone read
// from timezone (UTC when empty or unknown).
func newSeqTarget(id, accountID int64, version int, sp sequence.Spec, timezone, account, portfolio string) seqTarget {
	t := seqTarget{ID: id, AccountID: accountID, Version: version, Spec: sp, Zone: time.UTC, Account: account, Portfolio: portfolio}
	if loc, err := localtime.Zone(timezone); err == nil {
		t.Zone = loc
	}
	return t
}

// decodeSpec decodes a stored sequence version's spec.
func decodeSpec(raw string, version int) (sequence.Spec, error) {
	var sp sequence.Spec
	if err := json.Unmarshal([]byte(raw), &sp); err != nil {
		return sp, fmt.Errorf("decode version %d: %w", version, err)
	}
	return sp, nil
}

// SequenceSpec returns a sequence's current version and its spec;
// campaign.ErrNotFound if there is no such sequence.
func (db *DB) SequenceSpec(ctx context.Context, name string) (id int64, version int, spec sequence.Spec, err error) {
	t, err := loadSequence(db.q(ctx), "s.name = ?", name)
	if err != nil {
		return 0, 0, spec, fmt.Errorf("sequence %q: %w", name, err)
	}
	return t.ID, t.Version, t.Spec, nil
}

// SequenceAccount returns the account a sequence sends through;
// campaign.ErrNotFound if there is no such sequence.
func (db *DB) SequenceAccount(ctx context.Context, name string) (delivery.Account, error) {
	t, err := loadSequence(db.q(ctx), "s.name = ?", name)
	if err != nil {
		return delivery.Account{}, fmt.Errorf("sequence %q: %w", name, err)
	}
	return db.Account(ctx, t.AccountID)
}

// insertStep carries out a Continue plan of an enrollment: its step
// p.Step, planned — or, when its person is on the suppression lists check
// names (for the step's message), skipped with reason opted_out, and the
// enrollment exited (opted_out). A step already planned is left as it is.
// optedOut reports the skip.
func insertStep(tx *gorm.DB, enrollmentID int64, phone string, p sequence.Plan, check consent.Check, now time.Time) (optedOut bool, err error) {
	var sb any
	if !p.SendBy.IsZero() {
		sb = p.SendBy
	}
	var rows []struct {
		ID     int64
		Status string
	}
	listA, listB := check.ListPair()
	if err := tx.Raw(`INSERT INTO deliveries (enrollment_id, sequence_id, step, phone, status, error_code, error, due_at, send_by, updated_at)
		SELECT ?, (SELECT sequence_id FROM enrollments WHERE id = ?), ?, ?, CASE WHEN o THEN 'skipped' ELSE 'planned' END,
			CASE WHEN o THEN ? ELSE '' END, CASE WHEN o THEN ? ELSE '' END, ?, ?, ?
		FROM (SELECT `+blockedAtPlan("?")+` AS o) t WHERE true
		ON CONFLICT DO NOTHING RETURNING id, status`,
		enrollmentID, enrollmentID, p.Step, phone, consent.ReasonOptedOut, optedOutDetail, p.Due, sb, utc(now),
		listA, listB, phone, check.Marketing).Scan(&rows).Error; err != nil {
		return false, err
	}
	if len(rows) == 0 || rows[0].Status != string(delivery.Skipped) {
		return false, nil
	}
	if err := tx.Create(&eventRow{DeliveryID: rows[0].ID, Status: string(delivery.Skipped), At: utc(now),
		Detail: joinDetail(consent.ReasonOptedOut, optedOutDetail)}).Error; err != nil {
		return false, err
	}
	_, err = endEnrollments(tx, []int64{enrollmentID}, sequence.EnrollExited, consent.ReasonOptedOut, now)
	return true, err
}

// location is where a recipient's windows in the sequence are read.
func (t seqTarget) location(phone string, vars map[string]string) *time.Location {
	return localtime.Location(t.Spec.Timezone, phone, vars, t.Zone)
}

// Enroll starts the sequence for each person, on its current version, and
// plans their first step. It does nothing for someone already active in it,
// nor for someone who went through it before unless the sequence lets
// people re-enter; enrolling the same people twice (or from two processes
// at once) enrolls each once.
func (db *DB) Enroll(ctx context.Context, name string, people []sequence.Enrollee, now time.Time) (sequence.EnrollResult, error) {
	var res sequence.EnrollResult
	t, err := loadSequence(db.q(ctx), "s.name = ?", name)
	if err != nil {
		return res, fmt.Errorf("sequence %q: %w", name, err)
	}
	if t.Spec.Reply {
		return res, fmt.Errorf("sequence %q is wacamp's own: it answers the keyword its person wrote, and nobody is enrolled in it otherwise: %w", name, ErrConflict)
	}
	now = utc(now)
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res = sequence.EnrollResult{}
		if db.comb != nil { // Postgres: a statement or two per thousand people
			for chunk := range slices.Chunk(people, enrollChunk) {
				r, err := enrollMany(ctx, tx, t, chunk, now)
				if err != nil {
					return err
				}
				res.Enrolled, res.Skipped, res.OptedOut = res.Enrolled+r.Enrolled, res.Skipped+r.Skipped, res.OptedOut+r.OptedOut
			}
			return nil
		}
		for _, p := range people {
			vars, err := encodeVars(p.Vars)
			if err != nil {
				return fmt.Errorf("enroll %s: %w", p.Phone, err)
			}
			id, err := insertEnrollment(tx, t, p.Phone, p.Name, vars, now)
			if err != nil {
				return fmt.Errorf("enroll %s: %w", p.Phone, err)
			}
			if id == 0 {
				res.Skipped++
				continue
			}
			optedOut, err := insertStep(tx, id, p.Phone, t.Spec.Start(now, t.location(p.Phone, p.Vars)), t.check(0), now)
			if err != nil {
				return fmt.Errorf("enroll %s: plan step 1: %w", p.Phone, err)
			}
			if optedOut {
				res.OptedOut++
				continue
			}
			res.Enrolled++
		}
		return nil
	})
	if err != nil {
		return sequence.EnrollResult{}, fmt.Errorf("sequence %q: %w", name, err)
	}
	return res, nil
}

// enrollChunk is how many people one enrollMany statement enrolls.
const enrollChunk = 1000

// enrollMany is Enroll's loop for Postgres, for people at once: one
// statement enrolls everyone who may be (each as insertEnrollment would,
// the one active enrollment per person kept by the same unique index: of
// one number listed twice, the first is enrolled), one plans their first
// steps, checked against the suppression lists as insertStep does, and
// those who opted out end as insertStep ends them.
func enrollMany(ctx context.Context, tx *gorm.DB, t seqTarget, people []sequence.Enrollee, now time.Time) (sequence.EnrollResult, error) {
	var res sequence.EnrollResult
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return res, fmt.Errorf("enroll: transaction is a %T, not a *sql.Tx", tx.Statement.ConnPool)
	}
	n := len(people)
	phones, names, vars := make([]string, n), make([]string, n), make([]string, n)
	byPhone := make(map[string]int, n)
	for i, p := range people {
		v, err := encodeVars(p.Vars)
		if err != nil {
			return res, fmt.Errorf("enroll %s: %w", p.Phone, err)
		}
		phones[i], names[i], vars[i] = p.Phone, p.Name, v
		if _, ok := byPhone[p.Phone]; !ok {
			byPhone[p.Phone] = i
		}
	}
	rows, err := sqlTx.QueryContext(ctx, `INSERT INTO enrollments (sequence_id, version, run, phone, name, vars, status, created_at, updated_at)
		SELECT $1, $2, COALESCE(p.run, 0) + 1, v.phone, v.name, v.vars, 'active', $6, $6
		FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS v(phone, name, vars, k)
		CROSS JOIN LATERAL (SELECT MAX(run) AS run, COUNT(*) AS n, COUNT(*) FILTER (WHERE status = 'active') AS active
			FROM enrollments e WHERE e.sequence_id = $1 AND e.phone = v.phone) p
		WHERE p.n = 0 OR ($7 AND p.active = 0)
		ORDER BY v.k
		ON CONFLICT DO NOTHING RETURNING id, phone`, t.ID, t.Version, phones, names, vars, now, t.Spec.Reenter)
	if err != nil {
		return res, fmt.Errorf("enroll %d people: %w", n, err)
	}
	var ids, steps []int64
	var stepPhones []string
	var dues, sendBys []*time.Time
	step := -1
	for rows.Next() {
		var id int64
		var phone string
		if err := rows.Scan(&id, &phone); err != nil {
			rows.Close()
			return res, err
		}
		p := people[byPhone[phone]]
		plan := t.Spec.Start(now, t.location(p.Phone, p.Vars))
		step = plan.Step
		due := utc(plan.Due)
		var sb *time.Time
		if !plan.SendBy.IsZero() {
			v := utc(plan.SendBy)
			sb = &v
		}
		ids, steps, stepPhones = append(ids, id), append(steps, id), append(stepPhones, phone)
		dues, sendBys = append(dues, &due), append(sendBys, sb)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("enroll %d people: %w", n, err)
	}
	res.Skipped = n - len(ids)
	if len(ids) == 0 {
		return res, nil
	}
	check := t.check(step)
	listA, listB := check.ListPair()
	rows, err = sqlTx.QueryContext(ctx, `INSERT INTO deliveries (enrollment_id, sequence_id, step, phone, status, error_code, error, due_at, send_by, updated_at)
		SELECT v.id, $12, $5, v.phone, CASE WHEN b.o THEN 'skipped' ELSE 'planned' END, CASE WHEN b.o THEN $6 ELSE '' END,
			CASE WHEN b.o THEN $7 ELSE '' END, v.due, v.send_by, $8
		FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS v(id, phone, due, send_by)
		CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM suppressions s WHERE s.list IN ($9, $10) AND s.phone = v.phone
			AND (s.scope = 'all' OR $11) AND NOT s.recheck) AS o) b
		ON CONFLICT DO NOTHING RETURNING id, enrollment_id, status`,
		steps, stepPhones, dues, sendBys, step, consent.ReasonOptedOut, optedOutDetail, now, listA, listB, check.Marketing, t.ID)
	if err != nil {
		return res, fmt.Errorf("enroll %d people: plan step 1: %w", len(ids), err)
	}
	var skipped, ended []int64
	for rows.Next() {
		var id, enrollment int64
		var status string
		if err := rows.Scan(&id, &enrollment, &status); err != nil {
			rows.Close()
			return res, err
		}
		if status == string(delivery.Skipped) {
			skipped, ended = append(skipped, id), append(ended, enrollment)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("enroll %d people: plan step 1: %w", len(ids), err)
	}
	res.Enrolled, res.OptedOut = len(ids)-len(ended), len(ended)
	if len(skipped) == 0 {
		return res, nil
	}
	if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail) SELECT id, status, ?, ? FROM deliveries WHERE id IN ?`,
		now, joinDetail(consent.ReasonOptedOut, optedOutDetail), skipped).Error; err != nil {
		return res, fmt.Errorf("enroll: opted out: %w", err)
	}
	if _, err := endEnrollments(tx, ended, sequence.EnrollExited, consent.ReasonOptedOut, now); err != nil {
		return res, fmt.Errorf("enroll: opted out: %w", err)
	}
	return res, nil
}

// insertEnrollment enrolls phone in sequence t, on its current version,
// and returns the enrollment's id; 0 when they are active in it already,
// or went through it and it does not let people re-enter. The partial
// unique index keeps one active enrollment per person; ON CONFLICT makes
// a concurrent enroll a no-op.
func insertEnrollment(tx *gorm.DB, t seqTarget, phone, name, vars string, now time.Time) (int64, error) {
	var ids []int64
	if err := tx.Raw(`INSERT INTO enrollments (sequence_id, version, run, phone, name, vars, status, created_at, updated_at)
		SELECT ?, ?, COALESCE(MAX(run), 0) + 1, ?, ?, ?, 'active', ?, ? FROM enrollments WHERE sequence_id = ? AND phone = ?
		HAVING COUNT(*) = 0 OR (? AND SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) = 0)
		ON CONFLICT DO NOTHING RETURNING id`,
		t.ID, t.Version, phone, name, vars, now, now, t.ID, phone, t.Spec.Reenter).Scan(&ids).Error; err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	return ids[0], nil
}

// enrollReply enrolls phone in the reply sequence named name and plans its
// step (a confirmation), unchecked against the suppression list: it
// confirms the opt-out. It reports whether it planned one: not when the
// sequence is missing (an account applied before confirmations existed is
// applied again to have one) nor when one is still pending for them.
func enrollReply(tx *gorm.DB, name, phone string, now time.Time) (bool, error) {
	t, err := loadSequence(tx, "s.name = ?", name)
	if errors.Is(err, campaign.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sequence %q: %w", name, err)
	}
	if !t.Spec.Reply {
		return false, fmt.Errorf("sequence %q is no reply sequence", name)
	}
	now = utc(now)
	id, err := insertEnrollment(tx, t, phone, "", "{}", now)
	if err != nil || id == 0 {
		return false, err
	}
	_, err = insertStep(tx, id, phone, t.Spec.Start(now, time.UTC), consent.Check{}, now)
	return err == nil, err
}

// applyReplySequences gives an account's confirmations their reply
// sequences (consent.ReplySequence), a new version when a text changed.
// A confirmation taken out leaves its sequence as it is: a keyword then
// enrolls nobody in it (RecordInbound reads the account's texts).
func applyReplySequences(tx *gorm.DB, a spec.Account, accountID int64, now time.Time) ([]Change, error) {
	var out []Change
	for _, action := range []consent.Action{consent.OptOut, consent.OptIn} {
		text := a.OptOut.Confirmations.For(action)
		if text == "" {
			continue
		}
		c, err := applySequenceSpec(tx, consent.ReplySequence(a.Name, action), sequence.ReplySpec(text), accountID, a.Pos, now)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// planNext carries out the sequence's plan after step i of an enrollment
// went out at sentAt (sequence.Spec.Sent): its next step, or completing
// it. Nothing happens to an enrollment that is no longer active.
func planNext(tx *gorm.DB, enrollmentID int64, i int, sentAt, now time.Time) error {
	return planNextMany(tx, nil, []sentStep{{enrollmentID: enrollmentID, step: i, at: sentAt}}, now)
}

// sentStep is a step whose send (or pass-over) was just recorded: its
// enrollment plans the step after it, timed from at.
type sentStep struct {
	enrollmentID int64
	step         int
	at           time.Time
}

// planNextMany plans the next step of each sent step's enrollment, or
// completes the enrollment, in tx: one statement reads (and on Postgres
// locks, in id order) every enrollment with its account's zone and lists,
// each sequence version they are on is read once (from specs, when given:
// the record rounds' cache), one statement completes those at their last
// step, and one per enrollment plans its next step. Completed enrollments
// end at now.
func planNextMany(tx *gorm.DB, specs *versionSpecs, steps []sentStep, now time.Time) error {
	if len(steps) == 0 {
		return nil
	}
	ids := make([]int64, len(steps))
	for i, s := range steps {
		ids[i] = s.enrollmentID
	}
	es, err := lockEnrollments(tx, ids)
	if err != nil {
		return fmt.Errorf("load %d enrollment(s): %w", len(ids), err)
	}
	byID := make(map[int64]int, len(es))
	for i, e := range es {
		byID[e.id] = i
	}
	targets := map[seqVersion]seqTarget{}
	var completed []int64
	for _, s := range steps {
		i, ok := byID[s.enrollmentID]
		if !ok || es[i].status != sequence.EnrollActive {
			continue
		}
		e := es[i]
		k := seqVersion{e.sequenceID, e.version}
		t, ok := targets[k]
		if !ok {
			sp, err := specs.get(tx, k)
			if err != nil {
				return fmt.Errorf("enrollment %d: load its sequence version: %w", e.id, err)
			}
			t = newSeqTarget(e.sequenceID, e.accountID, e.version, sp, e.timezone, e.account, e.portfolio)
			targets[k] = t
		}
		p := t.Spec.Sent(s.step, s.at, t.location(e.phone, decodeVars(e.vars)))
		if p.Action == sequence.Complete {
			completed = append(completed, e.id)
			continue
		}
		if _, err := insertStep(tx, e.id, e.phone, p, t.check(p.Step), now); err != nil {
			return err
		}
	}
	if len(completed) == 0 {
		return nil
	}
	// By key alone: the enrollments were read active above, and on
	// Postgres locked. With "AND status = 'active'" the planner, before
	// autovacuum has sampled a large new enrollment (a minute or more),
	// combined the keys with the whole active-enrollment index (4.5 ms a
	// statement at 100,000 enrolled).
	if sqlTx, ok := postgresTx(tx); ok {
		// One statement text whatever the number of keys (IN (…) is a new
		// statement to parse and plan for each count).
		_, err := sqlTx.ExecContext(tx.Statement.Context, completeEnrollmentsSQL,
			utc(now), completed)
		return err
	}
	return tx.Exec(`UPDATE enrollments SET status = 'completed', ended_at = ?, updated_at = ? WHERE id IN ?`,
		utc(now), utc(now), completed).Error
}

// lockedEnrollment is an enrollment planNextMany plans for, with what its
// plan needs of its sequence's account.
type lockedEnrollment struct {
	id, sequenceID, accountID    int64
	version                      int
	phone, vars, status          string
	timezone, account, portfolio string
}

// enrollmentsForPlan reads enrollments with their sequence's account; on
// Postgres it locks the enrollments (not the account or the sequence), in
// id order: an unenroll running now either ends one before this reads it,
// or waits and then skips the planned step.
const enrollmentsForPlan = `SELECT e.id, e.sequence_id, s.account_id, e.version, e.phone, e.vars, e.status, a.timezone, a.name, a.portfolio
	FROM enrollments e JOIN sequences s ON s.id = e.sequence_id JOIN accounts a ON a.id = s.account_id`

// lockEnrollmentsSQL and completeEnrollmentsSQL are a step round's reads
// and completions of enrollments on Postgres ($1, $2: the ids), built once
// (opaque).
var (
	lockEnrollmentsSQL     = enrollmentsForPlan + ` WHERE e.id = ANY(` + opaque("$1", "bigint[]") + `) ORDER BY e.id FOR UPDATE OF e`
	completeEnrollmentsSQL = `UPDATE enrollments SET status = 'completed', ended_at = $1, updated_at = $1 WHERE id = ANY(` + opaque("$2", "bigint[]") + `)`
)

// lockEnrollments reads (enrollmentsForPlan) the enrollments of ids.
func lockEnrollments(tx *gorm.DB, ids []int64) ([]lockedEnrollment, error) {
	var rows *sql.Rows
	var err error
	if sqlTx, ok := postgresTx(tx); ok {
		rows, err = sqlTx.QueryContext(tx.Statement.Context, lockEnrollmentsSQL, ids)
	} else {
		rows, err = tx.Raw(enrollmentsForPlan+` WHERE e.id IN ? ORDER BY e.id`, ids).Rows()
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []lockedEnrollment
	for rows.Next() {
		var e lockedEnrollment
		if err := rows.Scan(&e.id, &e.sequenceID, &e.accountID, &e.version, &e.phone, &e.vars, &e.status, &e.timezone, &e.account, &e.portfolio); err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, rows.Err()
}

// postgresTx is tx's *sql.Tx on Postgres, for statements that pass arrays
// (id = ANY($1)); ok is false on SQLite.
func postgresTx(tx *gorm.DB) (*sql.Tx, bool) {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	return sqlTx, ok && tx.Dialector.Name() == "postgres"
}

// seqVersion names one version of a sequence.
type seqVersion struct {
	seq     int64
	version int
}

// versionSpecs keeps decoded sequence versions by (sequence, version). A
// version never changes once written (applying a changed sequence adds a
// version), so an entry never goes stale; the account's zone and lists,
// which do change, are read with the enrollments. Steps recorded in rounds
// read each version once per process instead of once per round (bench
// -steps: 14,700 loads and JSON decodes per 100,000 steps). A nil
// *versionSpecs reads each time. Safe for concurrent use.
type versionSpecs struct {
	mu sync.Mutex
	m  map[seqVersion]sequence.Spec
}

// maxVersionSpecs bounds versionSpecs: past it the cache starts again empty.
const maxVersionSpecs = 1024

// get returns version k's spec.
func (c *versionSpecs) get(tx *gorm.DB, k seqVersion) (sequence.Spec, error) {
	if c != nil {
		c.mu.Lock()
		sp, ok := c.m[k]
		c.mu.Unlock()
		if ok {
			return sp, nil
		}
	}
	var raw []string
	if err := tx.Raw(`SELECT spec FROM sequence_versions WHERE sequence_id = ? AND version = ?`, k.seq, k.version).Scan(&raw).Error; err != nil {
		return sequence.Spec{}, err
	}
	if len(raw) == 0 {
		return sequence.Spec{}, campaign.ErrNotFound
	}
	sp, err := decodeSpec(raw[0], k.version)
	if err != nil {
		return sp, err
	}
	if c != nil {
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxVersionSpecs {
			c.m = map[seqVersion]sequence.Spec{}
		}
		c.m[k] = sp
		c.mu.Unlock()
	}
	return sp, nil
}

// MarkStepSent records an accepted sequence step, as MarkSent does, and in
// the same transaction plans the enrollment's next step (or completes it):
// a crash can neither lose the next step nor plan it twice.
func (db *DB) MarkStepSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	if db.comb != nil {
		// One transaction and one commit for the steps recorded at once.
		ok, err := db.comb.stepSent.do(ctx, sentArg{ref: ref, wamid: wamid, now: now, firstPoll: firstPoll, trackUntil: trackUntil})
		if err != nil {
			return false, fmt.Errorf("delivery %d: %w", ref.ID, err)
		}
		return ok, nil
	}
	var ok bool
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var got []struct {
			EnrollmentID int64
			Step         int
		}
		err := tx.Raw(`UPDATE deliveries SET status = 'sent', wamid = ?, sent_at = ?, lease_until = NULL, settle = `+settledIfAwaiting+`,
			error_code = '', error = '', next_poll_at = ?, poll_count = 0, track_until = ?, updated_at = ?
			WHERE id = ? AND status = 'sending' AND enrollment_id IS NOT NULL RETURNING enrollment_id, step`,
			nullable(wamid), utc(now), nullTime(firstPoll), utc(trackUntil), utc(now), ref.ID).Scan(&got).Error
		if err != nil || len(got) == 0 {
			return err
		}
		ok = true
		if err := tx.Create(&eventRow{DeliveryID: ref.ID, Status: string(delivery.Sent), At: utc(now), Detail: wamid}).Error; err != nil {
			return err
		}
		return planNext(tx, got[0].EnrollmentID, got[0].Step, now, now)
	})
	if err != nil {
		return false, fmt.Errorf("delivery %d: mark step sent: %w", ref.ID, err)
	}
	return ok, nil
}

// endEnrollments ends active enrollments (to unenrolled, exited or
// stopped) and skips their steps not yet handed to a worker; a step being
// sent right now cannot be claimed again. It returns how many ended.
func endEnrollments(tx *gorm.DB, ids []int64, to, reason string, now time.Time) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	var ended []int64
	if err := tx.Raw(`UPDATE enrollments SET status = ?, reason = ?, ended_at = ?, updated_at = ?
		WHERE id IN ? AND status = 'active' RETURNING id`, to, reason, utc(now), utc(now), ids).Scan(&ended).Error; err != nil {
		return 0, err
	}
	if len(ended) == 0 {
		return 0, nil
	}
	detail := "enrollment " + to
	if reason != "" {
		detail += ": " + reason
	}
	// The steps of a person who opted out carry the reason's code, as a
	// broadcast's deliveries to them do.
	code := ""
	if reason == consent.ReasonOptedOut {
		code = reason
	}
	var skipped []int64
	if err := tx.Raw(`UPDATE deliveries SET status = 'skipped', error_code = ?, error = ?, updated_at = ?
		WHERE enrollment_id IN ? AND status IN ('planned', 'queued') RETURNING id`, code, detail, utc(now), ended).Scan(&skipped).Error; err != nil {
		return 0, err
	}
	for chunk := range slices.Chunk(skipped, 1000) {
		if err := tx.Exec(`INSERT INTO delivery_events (delivery_id, status, at, detail)
			SELECT id, status, ?, error FROM deliveries WHERE id IN ?`, utc(now), chunk).Error; err != nil {
			return 0, err
		}
	}
	return len(ended), nil
}

// Unenroll ends someone's active enrollment and skips its pending steps;
// false if there was none.
func (db *DB) Unenroll(ctx context.Context, name, phone, reason string, now time.Time) (bool, error) {
	var n int
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var ids []int64
		if err := tx.Raw(`SELECT e.id FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
			WHERE s.name = ? AND e.phone = ? AND e.status = 'active'`, name, phone).Scan(&ids).Error; err != nil {
			return err
		}
		var err error
		n, err = endEnrollments(tx, ids, sequence.EnrollUnenrolled, reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sequence %q: unenroll %s: %w", name, phone, err)
	}
	return n > 0, nil
}

// Exit ends, as exited, the active enrollments of phone in every sequence
// whose version exits on event ("reply", "unsubscribe"), and skips their
// pending steps. It returns the sequences they were in.
func (db *DB) Exit(ctx context.Context, phone, event string, now time.Time) ([]string, error) {
	return db.exit(ctx, nil, phone, event, now)
}

// exit is Exit, limited to the sequences of one account when accountID is
// set.
func (db *DB) exit(ctx context.Context, accountID *int64, phone, event string, now time.Time) ([]string, error) {
	var names []string
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		names = nil
		var rows []struct {
			ID   int64
			Name string
			Spec string
		}
		if err := tx.Raw(`SELECT e.id, s.name, v.spec FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
			JOIN sequence_versions v ON v.sequence_id = e.sequence_id AND v.version = e.version
			WHERE e.phone = ? AND e.status = 'active' AND (? OR s.account_id = ?) ORDER BY e.id`,
			phone, accountID == nil, ptrOr(accountID, 0)).Scan(&rows).Error; err != nil {
			return err
		}
		var ids []int64
		for _, r := range rows {
			var sp sequence.Spec
			if json.Unmarshal([]byte(r.Spec), &sp) == nil && sp.Exits(event) {
				ids = append(ids, r.ID)
				names = append(names, r.Name)
			}
		}
		_, err := endEnrollments(tx, ids, sequence.EnrollExited, event, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("exit %s on %s: %w", phone, event, err)
	}
	return names, nil
}

// ExitEnrollment ends one enrollment as exited (the send path found a
// reply) and skips its pending steps.
func (db *DB) ExitEnrollment(ctx context.Context, enrollmentID int64, reason string, now time.Time) (bool, error) {
	var n int
	err := db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		n, err = endEnrollments(tx, []int64{enrollmentID}, sequence.EnrollExited, reason, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enrollment %d: exit: %w", enrollmentID, err)
	}
	return n > 0, nil
}

// StepLanes returns the sequences the release reads: those with planned
// steps due by until and those with steps in flight (queued, or sending and
// not awaiting a settle), each with its account, the account's rate and its
// steps in flight. The release keeps each account's steps in flight within
// a window of its rate (campaign.Feeder). Each count and each probe is one
// range of the deliveries_steps_inflight or deliveries_steps_due index:
// what one call reads grows with the sequences and the steps in flight,
// not with a backlog of due steps. The due probe reads a sequence's
// earliest planned step (ORDER BY … LIMIT 1, the index's first live
// entry), not EXISTS (… due_at <= until): Postgres turned that EXISTS into
// a hashed subplan over every due step, or a scan of the table once its
// statistics counted the backlog — 41 ms a call, every 100 ms, behind a
// backlog of 40,000 due steps (bench -steps, pg_stat_statements), the
// largest share of the database's time in the run.
func (db *DB) StepLanes(ctx context.Context, until time.Time) ([]campaign.StepLane, error) {
	var rows []campaign.StepLane
	err := db.q(ctx).Raw(`SELECT s.id AS sequence_id, s.account_id, a.rate_per_second AS rate,
			COALESCE((SELECT d.due_at FROM deliveries d WHERE d.sequence_id = s.id AND d.status = 'planned'
				AND d.enrollment_id IS NOT NULL ORDER BY d.due_at LIMIT 1) <= ?, false) AS due,
			`+stepsInFlight+` AS in_flight
		FROM sequences s JOIN accounts a ON a.id = s.account_id ORDER BY s.id`, utc(until)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("find sequences with due steps: %w", err)
	}
	return slices.DeleteFunc(rows, func(l campaign.StepLane) bool { return !l.Due && l.InFlight == 0 }), nil
}

// stepsInFlight counts the steps in flight of sequence s (queued, or
// sending and not awaiting a settle): a range of the
// deliveries_steps_inflight index, whose predicate it repeats.
const stepsInFlight = `(SELECT COUNT(*) FROM deliveries d WHERE d.sequence_id = s.id AND d.status IN ('queued', 'sending')
	AND d.enrollment_id IS NOT NULL AND d.settle <> '` + delivery.SettleAwaiting + `')`

// DueSteps returns planned sequence steps due by until whose enrollment is
// active, earliest first, each with its sequence's account and that
// account's rate: of each sequence in take at most take[id] steps, its
// earliest (nil: at most limit of every sequence, and limit in all). It
// reads each sequence's due steps from the deliveries_steps_due index and
// only then looks up each one's enrollment by key, whatever the statistics
// say: right after a large enrollment the planner, estimating a few hundred
// active enrollments, joined every planned step with every enrollment
// (measured: 300 ms a call with 100,000 enrolled); and with EXISTS (…)
// it still hash-joined the due steps with a scan of every active
// enrollment once a call asked for a few hundred (25–170 ms a call in
// bench -steps), so the look-up is a scalar subquery, which Postgres runs
// per row by key and never turns into a join. A planned step's
// enrollment is active (ending an enrollment skips its planned steps in
// the same transaction), so the look-up drops only a step whose enrollment
// is ending right now.
func (db *DB) DueSteps(ctx context.Context, until time.Time, take map[int64]int, limit int) ([]campaign.DueStep, error) {
	var seqs []int64
	var ns []int
	if take == nil {
		if err := db.q(ctx).Raw(`SELECT id FROM sequences ORDER BY id`).Scan(&seqs).Error; err != nil {
			return nil, fmt.Errorf("find due sequence steps: %w", err)
		}
		for range seqs {
			ns = append(ns, limit)
		}
	} else {
		for id, n := range take {
			if n > 0 {
				seqs, ns = append(seqs, id), append(ns, n)
			}
		}
	}
	var rows []dueStepRow
	if db.sql != nil {
		ns32 := make([]int32, len(ns))
		for i, n := range ns {
			ns32[i] = int32(min(n, math.MaxInt32))
		}
		rs, err := db.sql.QueryContext(ctx, `SELECT d.id, d.gen, d.due_at, l.seq, s.account_id, a.rate_per_second
			FROM unnest($1::bigint[], $2::int[]) AS l(seq, n)
			JOIN sequences s ON s.id = l.seq JOIN accounts a ON a.id = s.account_id
			CROSS JOIN LATERAL (SELECT id, gen, due_at, enrollment_id FROM deliveries
				WHERE sequence_id = l.seq AND status = 'planned' AND enrollment_id IS NOT NULL AND due_at <= $3
				ORDER BY due_at LIMIT l.n) d
			WHERE (SELECT e.status FROM enrollments e WHERE e.id = d.enrollment_id) = 'active'
			ORDER BY d.due_at, d.id`, seqs, ns32, utc(until))
		if err != nil {
			return nil, fmt.Errorf("find due sequence steps: %w", err)
		}
		defer rs.Close()
		for rs.Next() {
			var r dueStepRow
			if err := rs.Scan(&r.ID, &r.Gen, &r.DueAt, &r.SequenceID, &r.AccountID, &r.Rate); err != nil {
				return nil, fmt.Errorf("find due sequence steps: %w", err)
			}
			rows = append(rows, r)
		}
		if err := rs.Err(); err != nil {
			return nil, fmt.Errorf("find due sequence steps: %w", err)
		}
	} else {
		for i, seq := range seqs {
			var part []dueStepRow
			err := db.q(ctx).Raw(`SELECT d.id, d.gen, d.due_at, d.sequence_id, s.account_id, a.rate_per_second AS rate FROM deliveries d
				JOIN enrollments e ON e.id = d.enrollment_id AND e.status = 'active'
				JOIN sequences s ON s.id = d.sequence_id JOIN accounts a ON a.id = s.account_id
				WHERE d.sequence_id = ? AND d.status = 'planned' AND d.enrollment_id IS NOT NULL AND d.due_at <= ?
				ORDER BY d.due_at LIMIT ?`, seq, utc(until), ns[i]).Scan(&part).Error
			if err != nil {
				return nil, fmt.Errorf("find due sequence steps: %w", err)
			}
			rows = append(rows, part...)
		}
		slices.SortStableFunc(rows, func(a, b dueStepRow) int {
			return cmp.Or(a.DueAt.Compare(b.DueAt), cmp.Compare(a.ID, b.ID))
		})
	}
	if take == nil && len(rows) > limit {
		rows = rows[:limit]
	}
	out := make([]campaign.DueStep, len(rows))
	for i, r := range rows {
		out[i] = campaign.DueStep{Ref: delivery.Ref{ID: r.ID, Gen: r.Gen}, DueAt: r.DueAt.UTC(), SequenceID: r.SequenceID, AccountID: r.AccountID, Rate: r.Rate}
	}
	return out, nil
}

// dueStepRow is a row DueSteps reads.
type dueStepRow struct {
	ID, SequenceID int64
	Gen            int
	DueAt          time.Time
	AccountID      int64
	Rate           float64
}

// NextStepDue returns the due time of the earliest planned sequence step
// due after after (zero: any) of a sequence not in except; ok is false if
// there is none (the head of each sequence's range of the
// deliveries_steps_due index). A planned step's enrollment is active (see
// DueSteps), so it reads no enrollment: it is only when the scheduler
// looks again.
func (db *DB) NextStepDue(ctx context.Context, after time.Time, except []int64) (at time.Time, ok bool, err error) {
	if db.sql != nil {
		var next sql.NullTime
		err := db.sql.QueryRowContext(ctx, `SELECT x.due_at FROM sequences s CROSS JOIN LATERAL (SELECT due_at FROM deliveries
			WHERE sequence_id = s.id AND status = 'planned' AND enrollment_id IS NOT NULL AND due_at > $1
			ORDER BY due_at LIMIT 1) x
			WHERE s.id <> ALL($2::bigint[])
			ORDER BY x.due_at LIMIT 1`, utc(after), append([]int64{}, except...)).Scan(&next) // never a NULL array
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, false, fmt.Errorf("find the next due sequence step: %w", err)
		}
		return next.Time.UTC(), next.Valid, nil
	}
	q := `SELECT due_at FROM deliveries WHERE status = 'planned' AND enrollment_id IS NOT NULL AND due_at > ?`
	args := []any{utc(after)}
	if len(except) > 0 {
		q += ` AND sequence_id NOT IN ?`
		args = append(args, except)
	}
	var rows []time.Time
	if err := db.q(ctx).Raw(q+` ORDER BY due_at LIMIT 1`, args...).Scan(&rows).Error; err != nil {
		return time.Time{}, false, fmt.Errorf("find the next due sequence step: %w", err)
	}
	if len(rows) == 0 {
		return time.Time{}, false, nil
	}
	return rows[0].UTC(), true, nil
}

// PutBackSteps moves sequence steps of refs that were marked queued in
// batch back to planned under a new generation, and reports how many it
// moved: their batch send task could not be enqueued, and should it have
// reached Redis after all, the new generation makes it a no-op. Steps that
// moved on since (a worker took them, their enrollment ended) are left
// alone.
func (db *DB) PutBackSteps(ctx context.Context, batch int64, refs []delivery.Ref, now time.Time) (int, error) {
	n := 0
	for gen, ids := range idsByGen(refs) {
		res := db.q(ctx).Exec(`UPDATE deliveries SET status = 'planned', gen = gen + 1, batch = NULL, queued_at = NULL, updated_at = ?
			WHERE id IN ? AND gen = ? AND batch = ? AND status = 'queued' AND enrollment_id IS NOT NULL`, utc(now), ids, gen, batch)
		if res.Error != nil {
			return n, fmt.Errorf("put back %d sequence steps: %w", len(ids), res.Error)
		}
		n += int(res.RowsAffected)
	}
	return n, nil
}

// EnrollmentCounts counts a sequence's enrollments per state.
func (db *DB) EnrollmentCounts(ctx context.Context, name string) (map[string]int, error) {
	var rows []struct {
		Status string
		N      int
	}
	err := db.q(ctx).Raw(`SELECT e.status, COUNT(*) AS n FROM enrollments e JOIN sequences s ON s.id = e.sequence_id
		WHERE s.name = ? GROUP BY e.status`, name).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("sequence %q: count enrollments: %w", name, err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
