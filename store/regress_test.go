package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
)

// A send that comes back (halt error, paused) after its broadcast was
// cancelled must end skipped, not planned: nothing would pick it up again.
func TestUnclaimAfterCancelSkips(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("cx", 2, campaign.StatusRunning)
		f.moveTo(refs[0], delivery.Sending)
		f.moveTo(refs[1], delivery.Sending)
		ok, err := f.db.Unclaim(f.ctx, refs[0], at(time.Minute), true, "", "paused", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "planned", f.delivery(refs[0].ID).Status)

		ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCancelled, "", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Unclaim(f.ctx, refs[1], at(time.Minute), true, "132015", "template paused", at(2*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		d := f.delivery(refs[1].ID)
		require.Equal(t, "skipped", d.Status)
		require.Equal(t, "broadcast cancelled", d.Error, "not the hand-back's reason")
		require.Empty(t, d.ErrorCode, "not the hand-back's code")
		require.Equal(t, []string{"skipped"}, eventStatuses(f.events(refs[1].ID)))
	})
}

// The same for a reconcile that found nothing (same generation).
func TestUnclaimSameGenAfterCancelSkips(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("cx2", 1, campaign.StatusRunning)
		f.moveTo(refs[0], delivery.Sending)
		ok, err := f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCancelled, "", at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Unclaim(f.ctx, refs[0], at(time.Minute), false, "", "reconciled: not found", at(2*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "skipped", f.delivery(refs[0].ID).Status)
	})
}

// StartBroadcast only starts the version that was planned, once due: an
// apply that edited the broadcast in between wins.
func TestStartBroadcastIsConditional(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("st", 3)), t0)
		b := f.broadcast("st")
		ok, err := f.db.StartBroadcast(f.ctx, b.ID, b.UpdatedAt, b.StartAt.Add(-time.Second))
		require.NoError(t, err)
		require.False(t, ok, "not before start_at")

		edited := broadcast("st", 4)
		f.apply(bundle(edited), at(time.Minute))
		ok, err = f.db.StartBroadcast(f.ctx, b.ID, b.UpdatedAt, b.StartAt.Add(time.Hour))
		require.NoError(t, err)
		require.False(t, ok, "a stale version must not start")

		cur := f.broadcast("st")
		ok, err = f.db.StartBroadcast(f.ctx, b.ID, cur.UpdatedAt, cur.StartAt.Add(time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, campaign.StatusRunning, f.broadcast("st").Status)
	})
}
