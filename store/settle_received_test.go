package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
)

// A status kept while its send was in flight counts from when it reached
// the receiver, not from when it was applied: settling a send of unknown
// outcome takes a status that arrived after the send began and leaves one
// that arrived before it (about an earlier message to the phone), however
// late that one was applied. Before, a status counted as received when it
// was applied, and the earlier message's status settled the send with the
// wrong id.
func TestKeptStatusCountsFromItsArrival(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 1, campaign.StatusRunning)
		ref := refs[0]
		phone := f.delivery(ref.ID).Phone
		ok, err := f.db.Claim(f.ctx, ref, at(10*time.Second), at(2*time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		// Both applied while the send is in flight (kept): one arrived
		// before it began, one after.
		for _, ev := range []struct {
			wamid    string
			received time.Duration
		}{{"wamid.EARLIER", 5 * time.Second}, {"wamid.OURS", 15 * time.Second}} {
			res, err := f.db.ApplyReceivedWebhookEvents(f.ctx, b.AccountID, []provider.Event{{WAMID: ev.wamid, Phone: phone, Status: provider.StatusDelivered}},
				at(ev.received), at(20*time.Second))
			require.NoError(t, err)
			require.Equal(t, 1, res.Kept)
		}
		// The answer was lost: the send awaits, and is settled from what
		// was kept.
		ok, err = f.db.AwaitSettle(f.ctx, ref, at(2*time.Minute), at(5*time.Minute), delivery.ReasonAwaiting, at(30*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		settled, err := f.db.SettleFromKept(f.ctx, ref.ID, at(40*time.Second))
		require.NoError(t, err)
		require.True(t, settled)
		d := f.delivery(ref.ID)
		require.Equal(t, "delivered", d.Status)
		require.Equal(t, "wamid.OURS", *d.Wamid)
	})
}
