package store

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
)

// SchemaVersion is the newest migration version this program knows for
// the database's dialect (the number its migration files start with).
func (db *DB) SchemaVersion() (int64, error) {
	entries, err := fs.ReadDir(migrations, "migrations/"+db.dialect)
	if err != nil {
		return 0, fmt.Errorf("read embedded migrations: %w", err)
	}
	var newest int64
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		if v, err := strconv.ParseInt(num, 10, 64); err == nil {
			newest = max(newest, v)
		}
	}
	return newest, nil
}

// SchemaCurrent reports whether the database's schema is migrated at
// least to SchemaVersion (a newer one, migrated by a newer program, is
// current too), and the version it is at. It only reads goose's version
// table: a readiness check, never a migration, never the migration lock.
func (db *DB) SchemaCurrent(ctx context.Context) (current bool, at int64, err error) {
	want, err := db.SchemaVersion()
	if err != nil {
		return false, 0, err
	}
	if err := db.q(ctx).Raw(`SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&at).Error; err != nil {
		return false, 0, fmt.Errorf("read schema version: %w", err)
	}
	return at >= want, at, nil
}

// BroadcastCounts is one broadcast's state and its deliveries per state.
type BroadcastCounts struct {
	Name   string
	Status campaign.Status
	Counts map[string]int
}

// LiveBroadcastCounts returns the broadcasts that are scheduled, running
// or paused, and those that finished (completed, cancelled, failed) since
// finishedSince, each with its deliveries per state, in id order. Like
// CountByStatus it reads the kept counts, never the deliveries: two
// indexed queries whatever the audiences (for a metrics scrape).
func (db *DB) LiveBroadcastCounts(ctx context.Context, finishedSince time.Time) ([]BroadcastCounts, error) {
	var bs []struct {
		ID     int64
		Name   string
		Status string
	}
	err := db.q(ctx).Raw(`SELECT id, name, status FROM broadcasts WHERE status IN ?
		OR (status IN ? AND finished_at >= ?) ORDER BY id`,
		[]campaign.Status{campaign.StatusScheduled, campaign.StatusRunning, campaign.StatusPaused},
		[]campaign.Status{campaign.StatusCompleted, campaign.StatusCancelled, campaign.StatusFailed}, utc(finishedSince)).Scan(&bs).Error
	if err != nil {
		return nil, fmt.Errorf("list live broadcasts: %w", err)
	}
	if len(bs) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(bs))
	out := make([]BroadcastCounts, len(bs))
	at := make(map[int64]int, len(bs))
	for i, b := range bs {
		ids[i], at[b.ID] = b.ID, i
		out[i] = BroadcastCounts{Name: b.Name, Status: campaign.Status(b.Status), Counts: map[string]int{}}
	}
	var rows []struct {
		BroadcastID int64
		Status      string
		N           int
	}
	err = db.q(ctx).Raw(`SELECT broadcast_id, status, SUM(n) AS n FROM (
		SELECT broadcast_id, status, n FROM delivery_counts WHERE broadcast_id IN ?
		UNION ALL SELECT broadcast_id, status, n FROM delivery_count_changes WHERE broadcast_id IN ?) c
		GROUP BY broadcast_id, status HAVING SUM(n) <> 0`, ids, ids).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count live broadcasts' deliveries: %w", err)
	}
	for _, r := range rows {
		out[at[r.BroadcastID]].Counts[r.Status] = r.N
	}
	return out, nil
}

// OldestDuePoll returns the earliest time a status poll is due (the
// partial index on next_poll_at: one probe), ok false when none is
// scheduled. A time before now is how far status polls lag.
func (db *DB) OldestDuePoll(ctx context.Context) (at time.Time, ok bool, err error) {
	var v sql.NullString // a time; SQLite returns an aggregate's as text
	if err := db.q(ctx).Raw(`SELECT MIN(next_poll_at) FROM deliveries WHERE next_poll_at IS NOT NULL`).Scan(&v).Error; err != nil {
		return time.Time{}, false, fmt.Errorf("oldest due status poll: %w", err)
	}
	if !v.Valid {
		return time.Time{}, false, nil
	}
	t, err := parseDBTime(v.String)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("oldest due status poll: %w", err)
	}
	return t.UTC(), true, nil
}

// SequenceSteps is one sequence's steps as the scheduler's metrics report
// them.
type SequenceSteps struct {
	Name string
	// InFlight counts its steps queued, or sending and not awaiting a
	// settle: what its account's release window holds.
	InFlight int
	// OldestDue is the due time of its earliest planned step (zero: none
	// is planned); past it, the step waits for release.
	OldestDue time.Time
}

// SequenceStepStates returns every sequence's steps in flight and its
// earliest planned step's due time: two index probes per sequence
// (deliveries_steps_inflight, deliveries_steps_due), never a count of a
// backlog of planned steps.
func (db *DB) SequenceStepStates(ctx context.Context) ([]SequenceSteps, error) {
	var rows []struct {
		Name      string
		InFlight  int
		OldestDue sql.NullString // a time; SQLite returns a subquery's as text
	}
	err := db.q(ctx).Raw(`SELECT s.name, ` + stepsInFlight + ` AS in_flight,
			(SELECT d.due_at FROM deliveries d WHERE d.sequence_id = s.id AND d.status = 'planned'
				AND d.enrollment_id IS NOT NULL ORDER BY d.due_at LIMIT 1) AS oldest_due
		FROM sequences s ORDER BY s.name`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("sequence step states: %w", err)
	}
	out := make([]SequenceSteps, len(rows))
	for i, r := range rows {
		out[i] = SequenceSteps{Name: r.Name, InFlight: r.InFlight}
		if r.OldestDue.Valid {
			t, err := parseDBTime(r.OldestDue.String)
			if err != nil {
				return nil, fmt.Errorf("sequence step states: %w", err)
			}
			out[i].OldestDue = t.UTC()
		}
	}
	return out, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
