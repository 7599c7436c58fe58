package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/store"
)

// The console's reads: sends counted per time bucket of one broadcast
// only, its failures grouped by state and code, and its recipients paged
// in audience order and found by part of their number.
func TestConsoleReads(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, other := f.planned("other", 2, campaign.StatusRunning)
		f.claimAndSend(other[0], "wamid.OTHER", at(time.Second))
		b, refs := f.planned("spring", 12, campaign.StatusRunning)

		for i, d := range []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond, 10 * time.Second, 59 * time.Second} {
			f.claimAndSend(refs[i], "wamid."+string(rune('A'+i)), at(d))
		}
		end := func(ref delivery.Ref, st delivery.Status, code, msg string) {
			ok, err := f.db.Claim(f.ctx, ref, at(time.Second), at(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = f.db.Finish(f.ctx, ref, st, code, msg, at(2*time.Second))
			require.NoError(t, err)
			require.True(t, ok)
		}
		end(refs[5], delivery.Failed, "131026", "not on WhatsApp")
		end(refs[6], delivery.Failed, "131026", "not on WhatsApp")
		end(refs[7], delivery.Skipped, delivery.ReasonFrequencyCap, "frequency cap")

		got, err := f.db.SendsOverTime(f.ctx, b.ID, t0, at(time.Minute), 6)
		require.NoError(t, err)
		require.Equal(t, []int{3, 1, 0, 0, 0, 1}, got)
		got, err = f.db.SendsOverTime(f.ctx, b.ID, at(time.Minute), t0, 4)
		require.NoError(t, err)
		require.Equal(t, []int{0, 0, 0, 0}, got, "an empty span")
		got, err = f.db.SendsOverTime(f.ctx, b.ID, t0, at(time.Minute), 10*store.MaxSendBuckets)
		require.NoError(t, err)
		require.Len(t, got, store.MaxSendBuckets)

		groups, err := f.db.ErrorGroups(f.ctx, b.ID, 10)
		require.NoError(t, err)
		require.Equal(t, []store.ErrorGroup{
			{Status: delivery.Failed, Code: "131026", Example: "not on WhatsApp", N: 2},
			{Status: delivery.Skipped, Code: delivery.ReasonFrequencyCap, Example: "frequency cap", N: 1},
		}, groups)

		var phones []string
		var after int64
		for range 5 {
			page, err := f.db.Recipients(f.ctx, b.ID, after, 5, "")
			require.NoError(t, err)
			if len(page) == 0 {
				break
			}
			for _, r := range page {
				phones = append(phones, r.Phone)
			}
			after = page[len(page)-1].RecipientID
		}
		require.Len(t, phones, 12)
		for i, p := range phones {
			require.Equal(t, recipients(i, 1)[0].Phone, p, "row %d", i)
		}
		found, err := f.db.Recipients(f.ctx, b.ID, 0, 50, "+49 151 0000 0005")
		require.NoError(t, err)
		require.Len(t, found, 1)
		require.Equal(t, delivery.Failed, found[0].Status)
		require.Equal(t, "131026", found[0].ErrorCode)
		found, err = f.db.Recipients(f.ctx, b.ID, 0, 50, "no digits")
		require.NoError(t, err)
		require.Empty(t, found)
	})
}
