package store_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
)

// TestConversationEntries: a conversation entry proving a send is recorded
// on one delivery only, even when two deliveries race for it; recording it
// again on its delivery is a no-op, and KnownEntries and ConvEntry see it.
func TestConversationEntries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("ev", 3, campaign.StatusRunning)
		for _, r := range refs {
			f.claimAndSend(r, "", t0)
		}
		const key = "1/4915100000001/8812"

		var wg sync.WaitGroup
		won := make([]bool, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := f.db.RecordEntry(f.ctx, refs[i].ID, key)
				if err == nil {
					won[i] = ok
				}
			}()
		}
		wg.Wait()
		require.True(t, won[0] != won[1], "exactly one delivery takes the entry: %v", won)
		owner, other := refs[0], refs[1]
		if won[1] {
			owner, other = refs[1], refs[0]
		}

		ok, err := f.db.RecordEntry(f.ctx, owner.ID, key)
		require.NoError(t, err)
		require.True(t, ok, "recording it again on its delivery")
		ok, err = f.db.RecordEntry(f.ctx, other.ID, key)
		require.NoError(t, err)
		require.False(t, ok, "another delivery's entry")
		ok, err = f.db.RecordEntry(f.ctx, owner.ID, "1/4915100000001/8813")
		require.NoError(t, err)
		require.False(t, ok, "a delivery has one entry")

		got, err := f.db.ConvEntry(f.ctx, owner.ID)
		require.NoError(t, err)
		require.Equal(t, key, got)
		got, err = f.db.ConvEntry(f.ctx, refs[2].ID)
		require.NoError(t, err)
		require.Empty(t, got)
		_, err = f.db.ConvEntry(f.ctx, 1<<40)
		require.ErrorIs(t, err, campaign.ErrNotFound)

		known, err := f.db.KnownEntries(f.ctx, []string{key, "1/4915100000001/8813"})
		require.NoError(t, err)
		require.Equal(t, map[string]bool{key: true}, known)
	})
}
