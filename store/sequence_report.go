package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
)

// SequenceReport counts a sequence's enrollments by state and its steps'
// deliveries by state (steps by position, across versions), with the
// earliest due time of each step not yet sent.
func (db *DB) SequenceReport(ctx context.Context, name string) (sequence.Report, error) {
	id, version, spec, err := db.SequenceSpec(ctx, name)
	if err != nil {
		return sequence.Report{}, err
	}
	r := sequence.Report{Name: name, Version: version}
	if r.Enrollments, err = db.EnrollmentCounts(ctx, name); err != nil {
		return r, err
	}
	var rows []struct {
		Step   int
		Status string
		Code   string // a skipped step's error_code
		Settle string // how a send of unknown outcome settles (settleShown); "" for the others
		N      int
		Next   sql.NullString // a time; SQLite returns an aggregate's as text
	}
	err = db.q(ctx).Raw(`SELECT d.step, d.status, CASE WHEN d.status = 'skipped' THEN d.error_code ELSE '' END AS code,
		`+settleShown("d.")+` AS settle, COUNT(*) AS n,
		MIN(CASE WHEN d.status IN ('planned', 'queued', 'sending') THEN d.due_at END) AS next
		FROM deliveries d JOIN enrollments e ON e.id = d.enrollment_id
		WHERE e.sequence_id = ? GROUP BY 1, 2, 3, 4 ORDER BY d.step`, id).Scan(&rows).Error
	if err != nil {
		return r, fmt.Errorf("sequence %q: count steps: %w", name, err)
	}
	steps := len(spec.Steps)
	for _, row := range rows {
		steps = max(steps, row.Step+1)
	}
	r.Steps = make([]sequence.StepReport, steps)
	for i := range r.Steps {
		r.Steps[i] = sequence.StepReport{Step: i + 1, Counts: map[string]int{}}
	}
	for _, row := range rows {
		s := &r.Steps[row.Step]
		s.Counts[row.Status] += row.N
		if row.Settle != "" {
			if s.Settle == nil {
				s.Settle = map[string]int{}
			}
			s.Settle[row.Settle] += row.N
		}
		if isReasonCode(row.Code) {
			if s.Skips == nil {
				s.Skips = map[string]int{}
			}
			s.Skips[row.Code] += row.N
		}
		if !row.Next.Valid {
			continue
		}
		next, err := parseDBTime(row.Next.String)
		if err != nil {
			return r, fmt.Errorf("sequence %q: %w", name, err)
		}
		if s.NextDue == nil || next.Before(*s.NextDue) {
			s.NextDue = ptr(next.UTC())
		}
	}
	// Why the earliest planned step waits, if it was put off: one row of
	// the due-steps index per step that has planned ones.
	for i := range r.Steps {
		if r.Steps[i].Counts[string(delivery.Planned)] == 0 {
			continue
		}
		var why []string
		err := db.q(ctx).Raw(`SELECT d.error FROM deliveries d WHERE d.sequence_id = ? AND d.status = 'planned' AND d.enrollment_id IS NOT NULL
			AND d.step = ? ORDER BY d.due_at LIMIT 1`, id, i).Scan(&why).Error
		if err != nil {
			return r, fmt.Errorf("sequence %q: step %d: why it waits: %w", name, i+1, err)
		}
		if len(why) > 0 {
			r.Steps[i].NextWait = why[0]
		}
	}
	return r, nil
}

// ExportSequence calls fn for every (enrollment, step) of a sequence that
// has been planned, in enrollment then step order, reading in keyset
// batches of 1000.
func (db *DB) ExportSequence(ctx context.Context, name string, fn func(sequence.Row) error) error {
	id, _, _, err := db.SequenceSpec(ctx, name)
	if err != nil {
		return err
	}
	var after int64
	for {
		var rows []struct {
			ID, EnrollmentID    int64
			Run, Step           int
			Phone, Name, Status string
			Wamid               *string
			ErrorCode, Error    string
			DueAt, SentAt       *time.Time
			Attempts            int
			Settle              string
		}
		err := db.q(ctx).Raw(`SELECT d.id, d.enrollment_id, e.run, d.step, d.phone, e.name, d.status, d.wamid,
			d.error_code, d.error, d.due_at, d.sent_at, d.attempts, `+settleShown("d.")+` AS settle
			FROM deliveries d JOIN enrollments e ON e.id = d.enrollment_id
			WHERE e.sequence_id = ? AND d.id > ? ORDER BY d.id LIMIT ?`, id, after, db.batch).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("sequence %q: export: %w", name, err)
		}
		if len(rows) == 0 {
			return nil
		}
		for _, r := range rows {
			row := sequence.Row{Enrollment: r.EnrollmentID, Run: r.Run, Phone: r.Phone, Name: r.Name, Step: r.Step + 1,
				Status: r.Status, WAMID: deref(r.Wamid), ErrorCode: r.ErrorCode, Error: r.Error, Attempts: r.Attempts, Settle: r.Settle}
			if r.DueAt != nil {
				row.DueAt = ptr(r.DueAt.UTC())
			}
			if r.SentAt != nil {
				row.SentAt = ptr(r.SentAt.UTC())
			}
			if err := fn(row); err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].ID
	}
}

// StepDelivery is one (enrollment, step) of a sequence on a deliveries
// page: the delivery with its outcome, as a broadcast's page shows it,
// and which enrollment (its run) and step (1-based) it is.
type StepDelivery struct {
	delivery.Row
	Enrollment int64      `json:"enrollment"`
	Run        int        `json:"run"`
	Step       int        `json:"step"`
	DueAt      *time.Time `json:"due_at"`
}

// StepCursor is where a sequence's deliveries page starts: after this
// enrollment's step (1-based; the zero cursor: from the first).
type StepCursor struct {
	Enrollment int64
	Step       int
}

// SequenceDeliveries returns at most limit of the sequence's planned
// (enrollment, step) deliveries after the cursor after, in enrollment then
// step order, filtered by f: a keyset page that walks the sequence's
// enrollments by the enrollments_keyset index (by (sequence_id, phone,
// run) with a phone) and each one's steps by deliveries_step (EXPLAIN on
// Postgres: a page of a 500-enrollment sequence among 600,000 reads
// about 100 enrollments, not every enrollment before them).
func (db *DB) SequenceDeliveries(ctx context.Context, sequenceID int64, f DeliveryFilter, after StepCursor, limit int) ([]StepDelivery, error) {
	q := `SELECT d.id, d.enrollment_id, e.run, d.step, d.phone, e.name, d.status, d.wamid, d.error_code, d.error, d.attempts,
		` + settleShown("d.") + ` AS settle, d.due_at, d.sent_at, d.updated_at
		FROM enrollments e JOIN deliveries d ON d.enrollment_id = e.id
		WHERE e.sequence_id = ? AND e.id >= ? AND d.enrollment_id >= ? AND (d.enrollment_id > ? OR d.step > ?)`
	// The bound is on both sides of the join, so that either index seeks
	// to the page (a merge join otherwise reads deliveries_step from its
	// start).
	e := after.Enrollment
	cond, fargs := f.where("e.phone")
	q += cond
	args := append([]any{sequenceID, e, e, e, after.Step - 1}, fargs...)
	var rows []struct {
		ID, EnrollmentID            int64
		Run, Step, Attempts         int
		Phone, Name, Status, Settle string
		Wamid                       *string
		ErrorCode, Error            string
		DueAt, SentAt               *time.Time
		UpdatedAt                   time.Time
	}
	if err := db.q(ctx).Raw(q+` ORDER BY e.id, d.step LIMIT ?`, append(args, limit)...).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("sequence %d: deliveries: %w", sequenceID, err)
	}
	out := make([]StepDelivery, len(rows))
	for i, r := range rows {
		er := exportRow{ID: &r.ID, Phone: r.Phone, Name: r.Name, Status: &r.Status, Wamid: r.Wamid, ErrorCode: &r.ErrorCode,
			Error: &r.Error, Attempts: &r.Attempts, Settle: &r.Settle, SentAt: r.SentAt, UpdatedAt: &r.UpdatedAt}
		out[i] = StepDelivery{Row: er.row(), Enrollment: r.EnrollmentID, Run: r.Run, Step: r.Step + 1}
		if r.DueAt != nil {
			out[i].DueAt = ptr(r.DueAt.UTC())
		}
	}
	return out, nil
}

// IsSequence reports whether name is a sequence.
func (db *DB) IsSequence(ctx context.Context, name string) (bool, error) {
	_, _, _, err := db.SequenceSpec(ctx, name)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, campaign.ErrNotFound) {
		return false, nil
	}
	return false, err
}

// SequenceNames lists every sequence's name, in name order.
func (db *DB) SequenceNames(ctx context.Context) ([]string, error) {
	var names []string
	if err := db.q(ctx).Raw(`SELECT name FROM sequences ORDER BY name`).Scan(&names).Error; err != nil {
		return nil, fmt.Errorf("list sequences: %w", err)
	}
	return names, nil
}

// parseDBTime reads a timestamp that came back as text: Postgres's via
// database/sql (RFC 3339), SQLite's as the driver stores it.
func parseDBTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999-07:00", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("read %q as a time", v)
}
