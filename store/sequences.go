package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/sequence"
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
func applySequence(tx *gorm.DB, s config.Sequence, accountID int64, now time.Time) (Change, error) {
	c := Change{Kind: "sequence", Name: s.Name}
	spec := s.Spec()
	raw, err := json.Marshal(spec)
	if err != nil {
		return c, fmt.Errorf("sequence %q: encode: %w", s.Name, err)
	}
	hash := spec.Hash()
	var cur sequenceRow
	err = tx.Where("name = ?", s.Name).Take(&cur).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		row := sequenceRow{Name: s.Name, AccountID: accountID, Version: 1, CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&row).Error; err != nil {
			return c, fmt.Errorf("create sequence %q: %w", s.Name, err)
		}
		if err := tx.Create(&sequenceVersionRow{SequenceID: row.ID, Version: 1, Spec: string(raw), SpecHash: hash, CreatedAt: now}).Error; err != nil {
			return c, fmt.Errorf("sequence %q: create version 1: %w", s.Name, err)
		}
		c.Action, c.Detail = "created", fmt.Sprintf("version 1, %d steps", len(spec.Steps))
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("load sequence %q: %w", s.Name, err)
	}
	var v sequenceVersionRow
	if err := tx.Where("sequence_id = ? AND version = ?", cur.ID, cur.Version).Take(&v).Error; err != nil {
		return c, fmt.Errorf("sequence %q: load version %d: %w", s.Name, cur.Version, err)
	}
	if v.SpecHash == hash && cur.AccountID == accountID {
		c.Action = "unchanged"
		return c, nil
	}
	if cur.AccountID != accountID {
		var active int64
		if err := tx.Table("enrollments").Where("sequence_id = ? AND status = ?", cur.ID, sequence.EnrollActive).Count(&active).Error; err != nil {
			return c, fmt.Errorf("sequence %q: count enrollments: %w", s.Name, err)
		}
		if active > 0 {
			return c, fmt.Errorf("%s: sequence %q has %d active enrollments: its account can no longer change (apply it under a new name): %w",
				s.Pos, s.Name, active, ErrConflict)
		}
	}
	next := cur.Version + 1
	if v.SpecHash != hash {
		if err := tx.Create(&sequenceVersionRow{SequenceID: cur.ID, Version: next, Spec: string(raw), SpecHash: hash, CreatedAt: now}).Error; err != nil {
			return c, fmt.Errorf("sequence %q: create version %d: %w", s.Name, next, err)
		}
	} else {
		next = cur.Version
	}
	if err := tx.Model(&sequenceRow{}).Where("id = ?", cur.ID).
		Updates(map[string]any{"version": next, "account_id": accountID, "updated_at": now}).Error; err != nil {
		return c, fmt.Errorf("update sequence %q: %w", s.Name, err)
	}
	c.Action, c.Detail = "updated", fmt.Sprintf("version %d; running enrollments stay on the version they started", next)
	return c, nil
}

// SequenceSpec returns a sequence's current version and its spec;
// campaign.ErrNotFound if there is no such sequence.
func (db *DB) SequenceSpec(ctx context.Context, name string) (id int64, version int, spec sequence.Spec, err error) {
	var r struct {
		ID      int64
		Version int
		Spec    string
	}
	err = db.q(ctx).Raw(`SELECT s.id, s.version, v.spec FROM sequences s
		JOIN sequence_versions v ON v.sequence_id = s.id AND v.version = s.version WHERE s.name = ?`, name).Scan(&r).Error
	if err != nil {
		return 0, 0, spec, fmt.Errorf("load sequence %q: %w", name, err)
	}
	if r.ID == 0 {
		return 0, 0, spec, fmt.Errorf("sequence %q: %w", name, campaign.ErrNotFound)
	}
	if err := json.Unmarshal([]byte(r.Spec), &spec); err != nil {
		return 0, 0, spec, fmt.Errorf("sequence %q: decode version %d: %w", name, r.Version, err)
	}
	return r.ID, r.Version, spec, nil
}

// Enroll starts the sequence for each person, on its current version. It
// does nothing for someone already active in it, nor for someone who went
// through it before unless the sequence lets people re-enter; enrolling the
// same people twice (or from two processes at once) enrolls each once.
func (db *DB) Enroll(ctx context.Context, name string, people []sequence.Enrollee, now time.Time) (sequence.EnrollResult, error) {
	var res sequence.EnrollResult
	id, version, spec, err := db.SequenceSpec(ctx, name)
	if err != nil {
		return res, err
	}
	now = utc(now)
	err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res = sequence.EnrollResult{}
		for _, p := range people {
			vars := "{}"
			if len(p.Vars) > 0 {
				b, err := json.Marshal(p.Vars)
				if err != nil {
					return fmt.Errorf("enroll %s: encode vars: %w", p.Phone, err)
				}
				vars = string(b)
			}
			// The partial unique index keeps one active enrollment per
			// person; ON CONFLICT makes a concurrent enroll a no-op.
			q := tx.Exec(`INSERT INTO enrollments (sequence_id, version, run, phone, name, vars, status, created_at, updated_at)
				SELECT ?, ?, COALESCE(MAX(run), 0) + 1, ?, ?, ?, 'active', ?, ? FROM enrollments WHERE sequence_id = ? AND phone = ?
				HAVING COUNT(*) = 0 OR (? AND SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END) = 0)
				ON CONFLICT DO NOTHING`,
				id, version, p.Phone, p.Name, vars, now, now, id, p.Phone, spec.Reenter)
			if q.Error != nil {
				return fmt.Errorf("enroll %s: %w", p.Phone, q.Error)
			}
			if q.RowsAffected > 0 {
				res.Enrolled++
			} else {
				res.Skipped++
			}
		}
		return nil
	})
	if err != nil {
		return sequence.EnrollResult{}, fmt.Errorf("sequence %q: %w", name, err)
	}
	return res, nil
}

// Unenroll ends someone's active enrollment; false if there was none.
func (db *DB) Unenroll(ctx context.Context, name, phone, reason string, now time.Time) (bool, error) {
	res := db.q(ctx).Exec(`UPDATE enrollments SET status = 'unenrolled', reason = ?, ended_at = ?, updated_at = ?
		WHERE status = 'active' AND phone = ? AND sequence_id = (SELECT id FROM sequences WHERE name = ?)`,
		reason, utc(now), utc(now), phone, name)
	if res.Error != nil {
		return false, fmt.Errorf("sequence %q: unenroll %s: %w", name, phone, res.Error)
	}
	return res.RowsAffected > 0, nil
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
