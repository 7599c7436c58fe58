package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/store"
)

// retry-failed plans again only the failed deliveries whose failure was
// transient and that never reached the provider, reopens the completed
// broadcast, says why the others stay failed, changes nothing the second
// time, and the feeder's completion cannot close the broadcast over what
// it planned.
func TestRetryFailed(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("retry", 10, campaign.StatusRunning)
		fail := func(i int, code, reason string) {
			ok, err := f.db.Finish(f.ctx, refs[i], delivery.Failed, code, reason, at(time.Second))
			require.NoError(t, err)
			require.True(t, ok)
		}
		fail(0, "131026", "botsailor send: code 131026: undeliverable (permanent)")
		fail(1, "130429", "gave up after 10 attempts: botsailor send: code 130429: rate (transient)")
		fail(2, "", "gave up after 10 attempts")
		f.claimAndSend(refs[3], "wamid.accepted", at(time.Second)) // accepted, then reported failed
		ok, err := f.db.ApplyStatus(f.ctx, refs[3].ID, "", provider.StatusReport{Status: provider.StatusFailed, Code: "131000"}, at(2*time.Second), nil)
		require.NoError(t, err)
		require.True(t, ok)
		fail(4, "", "outcome unknown: the answer was lost and the provider offers no history to check whether it was sent")
		fail(5, "", "gave up after 10 attempts: sobot send: http 502: bad gateway (transient)")
		require.NoError(t, f.db.Gorm().Exec(`UPDATE deliveries SET settle = 'resent' WHERE id = ?`, refs[5].ID).Error)
		fail(6, "", "render message: no value for {{code}}")
		fail(7, "", "botsailor send: http 400: bad request (permanent)")
		fail(8, "", "something nobody wrote down")
		f.claimAndSend(refs[9], "wamid.sent", at(time.Second))
		ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCompleted, "", at(3*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		gens := map[int]int{1: f.delivery(refs[1].ID).Gen, 2: f.delivery(refs[2].ID).Gen}

		from := []campaign.Status{campaign.StatusRunning, campaign.StatusPaused, campaign.StatusCompleted}
		r, err := f.db.RetryFailed(f.ctx, b.ID, from, delivery.RetryVerdict, at(time.Minute))
		require.NoError(t, err)
		want := map[string]int{delivery.NotRetriedPermanent: 2, delivery.NotRetriedReachedProvider: 1,
			delivery.NotRetriedOutcomeUnknown: 2, delivery.NotRetriedUnrenderable: 1, delivery.NotRetriedUnclassified: 1}
		require.Equal(t, 2, r.Replanned)
		require.Equal(t, want, r.NotRetried)
		require.Equal(t, campaign.StatusRunning, r.Status)
		require.Equal(t, campaign.StatusRunning, f.broadcast("retry").Status)
		require.Nil(t, f.broadcast("retry").FinishedAt)
		for _, i := range []int{1, 2} {
			d := f.delivery(refs[i].ID)
			require.Equal(t, "planned", d.Status, "delivery %d", i)
			require.Equal(t, gens[i]+1, d.Gen, "a new generation: no old task acts on it")
			require.Zero(t, d.Attempts)
			require.Empty(t, d.Error)
			require.Nil(t, d.FailedAt)
			es := f.events(refs[i].ID)
			require.Equal(t, "planned", es[len(es)-1].Status)
		}
		for _, i := range []int{0, 3, 4, 5, 6, 7, 8} {
			require.Equal(t, "failed", f.delivery(refs[i].ID).Status, "delivery %d", i)
		}
		require.Equal(t, "sent", f.delivery(refs[9].ID).Status)
		require.NoError(t, f.db.FoldCounts(f.ctx))
		counts, err := f.db.CountByStatus(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, 2, counts[delivery.Planned])
		require.Equal(t, 7, counts[delivery.Failed])

		// Pages of the failed deliveries, and one phone's.
		page, err := f.db.Deliveries(f.ctx, b.ID, store.DeliveryFilter{Status: delivery.Failed}, 0, 4)
		require.NoError(t, err)
		require.Len(t, page, 4)
		require.Equal(t, refs[0].ID, page[0].ID)
		require.Equal(t, "Person 0", page[0].Name)
		rest, err := f.db.Deliveries(f.ctx, b.ID, store.DeliveryFilter{Status: delivery.Failed}, page[3].ID, 4)
		require.NoError(t, err)
		require.Len(t, rest, 3, "7 failed in all")
		one, err := f.db.Deliveries(f.ctx, b.ID, store.DeliveryFilter{Phone: f.delivery(refs[1].ID).Phone}, 0, 10)
		require.NoError(t, err)
		require.Len(t, one, 1)
		require.Equal(t, delivery.Planned, one[0].Status)

		// The feeder found nothing to send before the retry: its
		// completion now finds planned deliveries and leaves it running.
		ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCompleted, "", at(2*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "completed over planned deliveries")

		again, err := f.db.RetryFailed(f.ctx, b.ID, from, delivery.RetryVerdict, at(3*time.Minute))
		require.NoError(t, err)
		require.Zero(t, again.Replanned, "nothing more to plan")
		require.Equal(t, want, again.NotRetried)

		ok, err = f.db.SetStatus(f.ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCancelled, "", at(4*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		_, err = f.db.RetryFailed(f.ctx, b.ID, from, delivery.RetryVerdict, at(5*time.Minute))
		require.ErrorIs(t, err, campaign.ErrInvalidTransition)
	})
}
