package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/wacamp/wacamp/delivery"
)

// maxRound is the most calls one combined statement carries, roundLanes
// how many such statements of one kind a process may have in flight, and
// roundStall how long a round must have run before the second lane opens.
// Fewer, larger rounds (the calls that queue behind a round join the next
// one) cost less per send: alternated on 2 cores, bench's send path ran at
// 0.41–0.44× the no-op rate with two lanes against 0.35–0.38× with four;
// and with one lane bench -steps cost Postgres 82–85 CPU-seconds against
// 96–99 with two (933–964 steps/s against 889–955). The second lane is
// kept for a round that stalls (a row lock, a slow flush), so that it
// does not hold up every send of the process; a normal round (a statement
// and its commit) takes a few milliseconds, and a claim comes 100 ms
// before its departure.
const (
	maxRound   = 100
	roundLanes = 2
	roundStall = 20 * time.Millisecond
)

// combiners are the send path's group-committed writes on Postgres: the
// claim before each request and the record of each accepted send, the
// two writes every send makes. The concurrent sends of a worker share
// their statements and commits.
type combiners struct {
	claim    *combiner[claimArg]
	sent     *combiner[sentArg]
	stepSent *combiner[sentArg]
}

// newCombiners returns db's combiners over its pool (g is the same pool
// through gorm).
func newCombiners(g *gorm.DB, db *sql.DB, specs *versionSpecs) *combiners {
	return &combiners{
		stepSent: &combiner[sentArg]{max: maxRound, lanes: roundLanes, stall: roundStall, key: func(a sentArg) any { return a.ref.ID },
			exec: func(ctx context.Context, args []sentArg) ([]bool, error) { return stepSentRound(ctx, g, specs, args) }},
		claim: &combiner[claimArg]{max: maxRound, lanes: roundLanes, stall: roundStall, key: func(a claimArg) any { return a.ref.ID },
			exec: func(ctx context.Context, args []claimArg) ([]bool, error) { return claimRound(ctx, db, args) }},
		sent: &combiner[sentArg]{max: maxRound, lanes: roundLanes, stall: roundStall, key: func(a sentArg) any { return a.ref.ID },
			exec: func(ctx context.Context, args []sentArg) ([]bool, error) { return sentRound(ctx, db, args) }},
	}
}

type claimArg struct {
	ref          delivery.Ref
	now, lease   time.Time
	mark         string
	listA, listB string // the suppression lists the recipient must not be on
	marketing    bool   // the message is marketing (an entry of scope marketing blocks it)
}

// claimSQL is claimRound's statement, built once (opaque). The
// suppression check is two probes of the suppressions' primary key per
// delivery, in the statement that claims it.
var claimSQL = `UPDATE deliveries SET status = 'sending', sending_at = v.now, lease_until = v.lease,
		attempts = attempts + 1, conv_mark = v.mark, updated_at = v.now
		FROM unnest(` + opaqueParams("bigint[]", "int[]", "timestamptz[]", "timestamptz[]", "text[]", "text[]", "text[]", "bool[]") + `)
			AS v(id, gen, now, lease, mark, list_a, list_b, marketing)
		WHERE deliveries.id = v.id AND deliveries.gen = v.gen AND deliveries.status IN ('planned', 'queued')
		AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.list IN (v.list_a, v.list_b) AND s.phone = deliveries.phone
			AND (s.scope = 'all' OR v.marketing))
		AND ` + ownerLive + `
		RETURNING deliveries.id`

// claimRound is Claim for many deliveries in one statement.
func claimRound(ctx context.Context, db *sql.DB, args []claimArg) ([]bool, error) {
	n := len(args)
	ids, gens := make([]int64, n), make([]int64, n)
	nows, leases, marks := make([]time.Time, n), make([]time.Time, n), make([]string, n)
	listAs, listBs, marketing := make([]string, n), make([]string, n), make([]bool, n)
	for i, a := range args {
		ids[i], gens[i], nows[i], leases[i], marks[i] = a.ref.ID, int64(a.ref.Gen), utc(a.now), utc(a.lease), a.mark
		listAs[i], listBs[i], marketing[i] = a.listA, a.listB, a.marketing
	}
	rows, err := db.QueryContext(ctx, claimSQL, ids, gens, nows, leases, marks, listAs, listBs, marketing)
	if err != nil {
		return nil, fmt.Errorf("claim %d deliveries: %w", len(args), err)
	}
	return matched(rows, ids)
}

type sentArg struct {
	ref                        delivery.Ref
	wamid                      string
	now, firstPoll, trackUntil time.Time
}

// sentValues is the records' rows, one per call of a round: $1 the ids,
// $2 the wamids, $3 the times, $4 the first polls, $5 when tracking ends.
var sentValues = `WITH v AS (
	SELECT * FROM unnest(` + opaqueParams("bigint[]", "text[]", "timestamptz[]", "timestamptz[]", "timestamptz[]") + `)
	AS v(id, wamid, now, first_poll, track_until))`

// sentSet is what recording a send sets, from sentValues' row v.
const sentSet = `status = 'sent', wamid = NULLIF(v.wamid, ''), sent_at = v.now, lease_until = NULL,
	settle = ` + settledIfAwaiting + `, error_code = '', error = '', next_poll_at = v.first_poll, poll_count = 0,
	track_until = v.track_until, updated_at = v.now`

// sentSQL is sentRound's statement, built once (opaque).
var sentSQL = sentValues + `,
		u AS (UPDATE deliveries SET ` + sentSet + `
			FROM v WHERE deliveries.id = v.id AND deliveries.status = 'sending'
			RETURNING deliveries.id, deliveries.broadcast_id, v.now, v.wamid),
		e AS (INSERT INTO delivery_events (delivery_id, status, at, detail) SELECT id, 'sent', now, wamid FROM u RETURNING delivery_id),
		f AS (UPDATE broadcasts b SET finished_at = m.at
			FROM (SELECT broadcast_id, MAX(now) AS at FROM u WHERE broadcast_id IS NOT NULL GROUP BY broadcast_id) m
			WHERE b.id = m.broadcast_id AND b.finished_at < m.at)
		SELECT delivery_id FROM e`

// sentRound is MarkSent for many deliveries in one statement: each row
// moves to sent, gets its 'sent' event, and its broadcast's finished_at
// moves on if the broadcast had ended.
func sentRound(ctx context.Context, db *sql.DB, args []sentArg) ([]bool, error) {
	n := len(args)
	ids, wamids := make([]int64, n), make([]string, n)
	nows, polls, tracks := make([]time.Time, n), make([]*time.Time, n), make([]time.Time, n)
	for i, a := range args {
		ids[i], wamids[i], nows[i], tracks[i] = a.ref.ID, a.wamid, utc(a.now), utc(a.trackUntil)
		if !a.firstPoll.IsZero() {
			p := utc(a.firstPoll)
			polls[i] = &p
		}
	}
	rows, err := db.QueryContext(ctx, sentSQL, ids, wamids, nows, polls, tracks)
	if err != nil {
		return nil, fmt.Errorf("mark %d deliveries sent: %w", n, err)
	}
	return matched(rows, ids)
}

// stepSentSQL is stepSentRound's first statement, built once (opaque).
var stepSentSQL = sentValues + `,
			u AS (UPDATE deliveries SET ` + sentSet + `
				FROM v WHERE deliveries.id = v.id AND deliveries.status = 'sending' AND deliveries.enrollment_id IS NOT NULL
				RETURNING deliveries.id, deliveries.enrollment_id, deliveries.step, v.now, v.wamid),
			e AS (INSERT INTO delivery_events (delivery_id, status, at, detail) SELECT id, 'sent', now, wamid FROM u)
			SELECT id, enrollment_id, step, now FROM u ORDER BY enrollment_id`

// stepSentRound is MarkStepSent for many sequence steps in one
// transaction: one statement moves the steps to sent and writes their
// events, then their enrollments plan their next steps together
// (planNextMany), and one commit records it all.
func stepSentRound(ctx context.Context, g *gorm.DB, specs *versionSpecs, args []sentArg) ([]bool, error) {
	n := len(args)
	ids, wamids := make([]int64, n), make([]string, n)
	nows, polls, tracks := make([]time.Time, n), make([]*time.Time, n), make([]time.Time, n)
	var latest time.Time
	for i, a := range args {
		ids[i], wamids[i], nows[i], tracks[i] = a.ref.ID, a.wamid, utc(a.now), utc(a.trackUntil)
		if !a.firstPoll.IsZero() {
			p := utc(a.firstPoll)
			polls[i] = &p
		}
		if a.now.After(latest) {
			latest = a.now
		}
	}
	var oks []bool
	err := g.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
		if !ok {
			return fmt.Errorf("transaction is a %T, not a *sql.Tx", tx.Statement.ConnPool)
		}
		rows, err := sqlTx.QueryContext(ctx, stepSentSQL, ids, wamids, nows, polls, tracks)
		if err != nil {
			return err
		}
		defer rows.Close()
		var sent []sentStep
		got := make(map[int64]bool, n)
		for rows.Next() {
			var id int64
			var s sentStep
			if err := rows.Scan(&id, &s.enrollmentID, &s.step, &s.at); err != nil {
				return err
			}
			got[id] = true
			sent = append(sent, s)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		oks = make([]bool, n)
		for i, id := range ids {
			oks[i] = got[id]
		}
		return planNextMany(tx, specs, sent, latest)
	})
	if err != nil {
		return nil, fmt.Errorf("mark %d sequence steps sent: %w", n, err)
	}
	return oks, nil
}

// matched reads the ids rows returns and reports, per id of ids, whether
// it was among them.
func matched(rows *sql.Rows, ids []int64) ([]bool, error) {
	defer rows.Close()
	got := make(map[int64]bool, len(ids))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		got[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]bool, len(ids))
	for i, id := range ids {
		out[i] = got[id]
	}
	return out, nil
}
