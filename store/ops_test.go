package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/store"
)

// The metrics' reads: live broadcasts with their kept counts (one that
// finished before the cut-off left out), the oldest due status poll, and
// whether the schema is current.
func TestOpsReads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, live := f.planned("live", 3, campaign.StatusRunning)
		f.planned("done", 2, campaign.StatusCompleted)
		old, _ := f.planned("old", 2, campaign.StatusCompleted)
		require.NoError(t, f.db.Gorm().Exec(`UPDATE broadcasts SET finished_at = ? WHERE id = ?`, at(-2*time.Hour), old.ID).Error)
		_, err := f.db.Finish(f.ctx, live[0], delivery.Skipped, "", "test", t0)
		require.NoError(t, err)

		bs, err := f.db.LiveBroadcastCounts(f.ctx, at(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, []store.BroadcastCounts{
			{Name: "live", Status: campaign.StatusRunning, Counts: map[string]int{"planned": 2, "skipped": 1}},
			{Name: "done", Status: campaign.StatusCompleted, Counts: map[string]int{"planned": 2}},
		}, bs)

		_, ok, err := f.db.OldestDuePoll(f.ctx)
		require.NoError(t, err)
		require.False(t, ok, "no poll scheduled")
		for i, d := range []time.Duration{time.Hour, -90 * time.Second} {
			require.NoError(t, f.db.Gorm().Exec(`UPDATE deliveries SET next_poll_at = ? WHERE id = ?`, at(d), live[i+1].ID).Error)
		}
		due, ok, err := f.db.OldestDuePoll(f.ctx)
		require.NoError(t, err)
		require.True(t, ok)
		require.True(t, due.Equal(at(-90*time.Second)), "%s", due)

		current, version, err := f.db.SchemaCurrent(f.ctx)
		require.NoError(t, err)
		require.True(t, current)
		want, err := f.db.SchemaVersion()
		require.NoError(t, err)
		require.Equal(t, want, version)
		require.NoError(t, f.db.Ping(f.ctx))
	})
}
