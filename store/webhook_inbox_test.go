package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
)

// A kept webhook is claimed by one claim at a time; a claim whose lease ran
// out (its worker died) leaves it to the next one, and only the claim that
// holds it can forget it.
func TestKeptWebhooksAreClaimedOnceAndLeased(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		db, ctx := f.db, f.ctx
		b, _ := f.planned("spring", 1, campaign.StatusRunning)
		acct := b.AccountID
		now := time.Now()
		for _, p := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
			require.NoError(t, db.KeepWebhook(ctx, acct, []byte(p), now))
		}
		first, err := db.ClaimKeptWebhooks(ctx, now, time.Minute, 2)
		require.NoError(t, err)
		require.Len(t, first, 2)
		require.Equal(t, `{"n":1}`, string(first[0].Payload))
		require.Equal(t, acct, first[0].AccountID)
		second, err := db.ClaimKeptWebhooks(ctx, now, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, second, 1, "claimed ones are not returned again")
		require.Equal(t, `{"n":3}`, string(second[0].Payload))

		ok, err := db.ForgetKeptWebhook(ctx, first[0])
		require.NoError(t, err)
		require.True(t, ok)
		// first[1]'s worker died: after the lease another claim takes it.
		none, err := db.ClaimKeptWebhooks(ctx, now.Add(30*time.Second), time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, none)
		again, err := db.ClaimKeptWebhooks(ctx, now.Add(61*time.Second), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, again, 2, "expired claims are claimed again")
		ok, err = db.ForgetKeptWebhook(ctx, first[1])
		require.NoError(t, err)
		require.False(t, ok, "the old claim no longer holds it")
		for _, k := range again {
			ok, err := db.ForgetKeptWebhook(ctx, k)
			require.NoError(t, err)
			require.True(t, ok)
		}
		left, err := db.ClaimKeptWebhooks(ctx, now.Add(time.Hour), time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, left)
	})
}
