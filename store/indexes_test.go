package store_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/sequence"
)

// TestStepsLeaveTheBroadcastIndexesEmpty: a sequence step (a delivery
// without a broadcast) writes no entry in the indexes only broadcasts read,
// deliveries_feed and the unique deliveries_recipient, through its whole
// life (planned, queued, sending, sent), while a broadcast's deliveries do
// (migration 21). Each state change of a step is a new row version with an
// entry in every index whose predicate it meets; before, a step paid two
// such entries per change for nothing (16% of the WAL records of bench
// -steps). A btree with no entry is its metapage alone: one block.
func TestStepsLeaveTheBroadcastIndexesEmpty(t *testing.T) {
	t.Parallel()
	f := newPostgres(t)
	sqlDB, err := f.db.Gorm().DB()
	require.NoError(t, err)
	blocks := func(index string) int64 {
		t.Helper()
		var n int64
		require.NoError(t, sqlDB.QueryRowContext(f.ctx, `SELECT pg_relation_size($1::regclass) / current_setting('block_size')::int`, index).Scan(&n))
		return n
	}

	f.apply(withSequences(onboarding(false, "Hi {{name}}")), t0)
	const n = 300
	people := make([]sequence.Enrollee, n)
	for i := range people {
		people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49151%08d", i), Name: "P"}
	}
	_, err = f.db.Enroll(f.ctx, "onboarding", people, t0)
	require.NoError(t, err)
	due, err := f.db.DueSteps(f.ctx, t0, nil, n)
	require.NoError(t, err)
	require.Len(t, due, n)
	refs, batches := make([]delivery.Ref, n), make([]int64, n)
	for i, d := range due {
		refs[i], batches[i] = d.Ref, int64(1+i/4)
	}
	marked, err := f.db.MarkBatches(f.ctx, refs, batches, at(0))
	require.NoError(t, err)
	require.Len(t, marked, n)
	for i, r := range marked {
		f.sendStep(r, fmt.Sprintf("wamid.%d", i), at(0))
	}
	require.Equal(t, int64(n), f.count("deliveries", "enrollment_id IS NOT NULL AND status = 'sent'"))
	for _, index := range []string{"deliveries_feed", "deliveries_recipient"} {
		require.Equal(t, int64(1), blocks(index), "%s: %d steps through four states wrote entries", index, n)
	}

	// The probe can fail: a broadcast's deliveries are in both.
	f.planned("spring", n, campaign.StatusRunning)
	for _, index := range []string{"deliveries_feed", "deliveries_recipient"} {
		require.Greater(t, blocks(index), int64(1), "%s: a broadcast's %d deliveries", index, n)
	}
}
