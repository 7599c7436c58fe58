package store

import (
	"fmt"
	"strings"
)

// opaque is parameter p of a statement, cast to typ, behind a scalar
// subquery: `(SELECT $1::bigint[])::bigint[]`. It may stand wherever the
// bare parameter would (unnest(…), = ANY(…), a comparison); the outer cast
// is what keeps `= ANY((SELECT …))` from being read as ANY over a subquery's
// rows.
//
// The send path's statements go by keys — the job load of a batch task's
// deliveries, the claim and the record of the sends in flight, a step
// round's enrollments, the release's marks — and their best plan does not
// depend on their parameters' values. Postgres, though,
// plans a prepared statement anew at every run (a custom plan, which sees
// the values) for as long as the plan it could keep (the generic plan,
// which does not) is estimated to cost more; and it reckons an array
// parameter it cannot see at 10 elements, while a custom plan counts
// them. So a statement that reads a few rows by an array of keys — a
// batch of one to four sequence steps, a claim round of two — was planned
// at every run: bench -steps spent more of Postgres's time planning
// (43 s, 30 s of it the job load over seven tables) than running statements
// (31 s). Behind a subquery no plan sees the value, a custom plan costs
// what the generic one does plus its planning, and after its first five
// runs on a connection Postgres keeps the generic plan
// (TestKeyedStatementsKeepTheirGenericPlans). The two records had mostly
// kept their plans already (their custom plans cost more); they are opaque
// for the same reason, so that no round size makes planning look cheaper.
//
// A kept plan is made from the statistics of its day: one made while the
// tables were nearly empty (a fresh install) is used as they grow, until
// an ANALYZE (autovacuum's, after every tenth or so of a table changed)
// invalidates it. Keyed statements probe primary keys whatever the table
// size, so such a plan costs at most a few slow runs.
//
// Not for a statement whose best plan depends on a value: there the
// custom plan is worth its planning. DueSteps is one (how many steps are
// due by when, how many to read): blind to both, its generic plan took
// 196 ms a call behind a backlog of 100,000 due steps (2,158 buffers a
// call, bench -steps on a private Postgres with pg_stat_statements),
// where its custom plans are no statement of note.
func opaque(p, typ string) string {
	return "(SELECT " + p + "::" + typ + ")::" + typ
}

// opaqueParams is opaque of the statement's parameters $1, $2, … in order,
// one per type, separated by commas: the arguments of a multi-array
// unnest.
func opaqueParams(types ...string) string {
	ps := make([]string, len(types))
	for i, typ := range types {
		ps[i] = opaque(fmt.Sprintf("$%d", i+1), typ)
	}
	return strings.Join(ps, ", ")
}
