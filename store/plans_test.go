package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
)

// TestKeyedStatementsKeepTheirGenericPlans: the send path's statements
// that go by keys are planned a few times per connection, not at every
// run. Postgres plans a prepared statement anew at each run for as long as
// that looks cheaper than the plan it could keep, which for a few keys in
// an array it always did: bench -steps spent more of Postgres's time
// planning than running statements. The statements now hide their
// parameters from the planner (opaque), and after its first five runs on a
// connection Postgres keeps one generic plan. On one connection, each
// statement runs at least eight times with one or two keys (the claim 24
// times, the enrollment statements 16); pg_prepared_statements says how
// each was planned. Before, the job load, the claim, the mark and the
// enrollment statements were custom-planned at every run; the two records
// had mostly kept their plans even then (checked here all the same).
func TestKeyedStatementsKeepTheirGenericPlans(t *testing.T) {
	t.Parallel()
	f := newPostgres(t)
	f.db.SetMaxConns(1) // one session, whose prepared statements the check reads
	const runs = 8

	b := bundle(broadcast("promo", runs))
	b.Sequences = []spec.Sequence{onboarding(false, "Hi {{name}}")}
	f.apply(b, t0)
	promo := f.broadcast("promo")
	f.planAll(promo.ID, 1000)
	refs, err := f.db.NextPlanned(f.ctx, promo.ID, runs)
	require.NoError(t, err)
	require.Len(t, refs, runs)
	f.setStatus(promo.ID, campaign.StatusRunning)
	people := make([]sequence.Enrollee, 2*runs)
	for i := range people {
		people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49160%08d", i), Name: "P"}
	}
	_, err = f.db.Enroll(f.ctx, "onboarding", people, t0)
	require.NoError(t, err)

	for i := range runs {
		// A release of two steps, their job load, claims and records
		// (each step its enrollment's last: the round completes it).
		due, err := f.db.DueSteps(f.ctx, at(0), nil, 2)
		require.NoError(t, err)
		require.Len(t, due, 2)
		steps := []delivery.Ref{due[0].Ref, due[1].Ref}
		marked, err := f.db.MarkBatches(f.ctx, steps, []int64{int64(i + 1), int64(i + 1)}, at(0))
		require.NoError(t, err)
		require.Len(t, marked, 2)
		jobs, err := f.db.Jobs(f.ctx, []int64{marked[0].ID, marked[1].ID})
		require.NoError(t, err)
		require.Len(t, jobs, 2)
		for j, r := range marked {
			f.sendStep(r, fmt.Sprintf("wamid.s%d.%d", i, j), at(0))
		}
		// A broadcast's delivery: its claim and record.
		f.claimAndSend(refs[i], fmt.Sprintf("wamid.b%d", i), at(0))
	}
	require.Equal(t, int64(2*runs), f.count("enrollments", "status = 'completed'"))

	sqlDB, err := f.db.Gorm().DB()
	require.NoError(t, err)
	rows, err := sqlDB.QueryContext(f.ctx, `SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements`)
	require.NoError(t, err)
	defer rows.Close()
	type plans struct{ generic, custom int64 }
	var got []struct {
		text string
		plans
	}
	for rows.Next() {
		var s string
		var p plans
		require.NoError(t, rows.Scan(&s, &p.generic, &p.custom))
		got = append(got, struct {
			text string
			plans
		}{s, p})
	}
	require.NoError(t, rows.Err())
	for name, marker := range map[string]string{
		"job load":             "COALESCE(r.name, e.name",
		"mark queued":          "SET status = 'queued', queued_at",
		"claim":                "SET status = 'sending'",
		"step record":          "SELECT id, enrollment_id, step, now FROM u",
		"enrollments read":     "FOR UPDATE OF e",
		"enrollments complete": "UPDATE enrollments SET status = 'completed'",
		"broadcast record":     "SELECT delivery_id FROM e",
	} {
		var found []plans
		for _, g := range got {
			if strings.Contains(g.text, marker) {
				found = append(found, g.plans)
			}
		}
		require.Len(t, found, 1, "%s: one prepared statement containing %q", name, marker)
		p := found[0]
		require.GreaterOrEqual(t, p.generic+p.custom, int64(runs), "%s: runs", name)
		require.LessOrEqual(t, p.custom, int64(5), "%s: planned at %d of %d runs", name, p.custom, p.generic+p.custom)
	}
}
