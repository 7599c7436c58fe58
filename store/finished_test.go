package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
)

// A send recorded in the same instant as its broadcast's final move can end
// after finished_at (each statement read before the other's write):
// SettleFinishedAt moves finished_at to the last send of broadcasts that
// ended since a time, and leaves the others alone.
func TestSettleFinishedAtCatchesUpWithALateSend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("late", 2), broadcast("early", 2), broadcast("old", 2)), t0)
		ended := map[string]int64{}
		for _, name := range []string{"late", "early", "old"} {
			b := f.broadcast(name)
			f.planAll(b.ID, 1000)
			refs, err := f.db.NextPlanned(f.ctx, b.ID, 3)
			require.NoError(t, err)
			f.setStatus(b.ID, campaign.StatusRunning)
			f.claimAndSend(refs[0], "wamid."+name, at(5*time.Second))
			// The second send is claimed before the cancel, on the wire
			// while it comes.
			ok, err := f.db.Claim(f.ctx, refs[1], at(8*time.Second), at(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
			endAt := at(10 * time.Second)
			if name == "old" {
				endAt = at(-time.Hour)
			}
			ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCancelled, "test", endAt)
			require.NoError(t, err)
			require.True(t, ok)
			sentAt := at(12 * time.Second)
			if name == "early" {
				sentAt = at(9 * time.Second) // recorded before the cancel ended it
			}
			ok, err = f.db.MarkSent(f.ctx, refs[1], "wamid.2."+name, sentAt, sentAt.Add(5*time.Second), sentAt.Add(time.Hour))
			require.NoError(t, err)
			require.True(t, ok)
			// The bump missed (as when the send and the cancel commit at
			// once): finished_at back at the cancel.
			require.NoError(t, f.db.Gorm().Exec(`UPDATE broadcasts SET finished_at = ? WHERE id = ?`, endAt, b.ID).Error)
			ended[name] = b.ID
		}

		n, err := f.db.SettleFinishedAt(f.ctx, at(0))
		require.NoError(t, err)
		require.Equal(t, 1, n, "only the broadcast that ended since then with a later send")
		finished := func(name string) *time.Time { return f.broadcast(name).FinishedAt }
		requireTime(t, at(12*time.Second), finished("late"), "late: its last send")
		requireTime(t, at(10*time.Second), finished("early"), "early: its sends ended before it")
		requireTime(t, at(-time.Hour), finished("old"), "old: ended before since")

		n, err = f.db.SettleFinishedAt(f.ctx, at(0))
		require.NoError(t, err)
		require.Zero(t, n, "nothing more to move")
	})
}
