package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/store"
)

// TestRecipientProbesGoByPhoneWhateverTheStatistics: the probes of one
// recipient's history (the job load's "contacted", the frequency cap's
// count) read that recipient's deliveries only, even when the planner's
// statistics were sampled before any send, as they are after a large plan
// (autovacuum analyzes a table it has just seen grow). With an index of
// every accepted delivery that such a probe could use, the planner used it
// and read every send recorded so far for each job (issue 14: 12,000
// buffers a load after 30,000 steps, the steps' rate cut by a sixth). The
// assertion is on buffers read, which grow with the sends on the bad plan
// and not on the good one: not a timing.
func TestRecipientProbesGoByPhoneWhateverTheStatistics(t *testing.T) {
	t.Parallel()
	f := newPostgres(t)
	store.SetBatch(f.db, 1000)
	const n = 4000
	b, refs := f.planned("stale", n, campaign.StatusRunning)
	sqlDB, err := f.db.Gorm().DB()
	require.NoError(t, err)
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := sqlDB.ExecContext(f.ctx, q, args...)
		require.NoError(t, err)
	}
	// Statistics of a table where nothing was sent, kept while everything
	// but the last delivery is sent, in an order of sent_at that is not the
	// rows' (as sends of many numbers and workers are), so reading the sends
	// by time visits a row's page for each.
	exec(`ALTER TABLE deliveries SET (autovacuum_enabled = false)`)
	exec(`ANALYZE deliveries`)
	exec(`UPDATE deliveries SET status = 'sent', sent_at = CAST($1 AS TIMESTAMPTZ) + (id * 7919 % 4001) * INTERVAL '1 millisecond', wamid = 'wamid.' || id
		WHERE broadcast_id = $2 AND id <> $3`, at(time.Minute), b.ID, refs[n-1].ID)
	var phone string
	require.NoError(t, sqlDB.QueryRowContext(f.ctx, `SELECT phone FROM deliveries WHERE id = $1`, refs[n-1].ID).Scan(&phone))

	buffers := func(q string, args ...any) int {
		t.Helper()
		var out []byte
		require.NoError(t, sqlDB.QueryRowContext(f.ctx, `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) `+q, args...).Scan(&out))
		var plans []struct {
			Plan struct {
				Hit  int `json:"Shared Hit Blocks"`
				Read int `json:"Shared Read Blocks"`
			}
		}
		require.NoError(t, json.Unmarshal(out, &plans))
		require.Len(t, plans, 1)
		return plans[0].Plan.Hit + plans[0].Plan.Read
	}
	// One delivery, its recipient never sent to: the probe must look at
	// their deliveries (one) and stop. On the bad plan it reads each of the
	// 3,999 sends' index entries and rows: thousands of buffers.
	const bound = 200
	require.Less(t, buffers(store.JobQuery, []int64{refs[n-1].ID}), bound, "job load of one delivery")
	ids, err := f.db.LedgerAccounts(f.ctx, "number:119060000040020")
	require.NoError(t, err)
	require.Less(t, buffers(store.AtCapQuery, []string{phone}, at(0), ids, 1), bound, "frequency cap probe of one phone")

	// And the answers are right: never sent to, so not contacted and not
	// at a cap of one message; a recipient who was sent to is both.
	job, err := f.db.Job(f.ctx, refs[n-1].ID)
	require.NoError(t, err)
	require.False(t, job.Contacted)
	sentJob, err := f.db.Job(f.ctx, refs[0].ID)
	require.NoError(t, err)
	require.True(t, sentJob.Contacted)
	atCap, err := f.db.AtCap(f.ctx, ids, []string{phone, sentJob.Phone}, at(0), 1)
	require.NoError(t, err)
	require.Equal(t, 1, atCap)
}
