package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/templates"
)

// A delivery's job carries when its recipient last wrote to the account's
// number (contact_inbound, in the job's own query), nil when they never
// did; WindowCounts counts an audience inside, outside and unknown.
func TestJobCarriesLastInbound(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("promo", 3, campaign.StatusRunning)
		jobs, err := f.db.Jobs(f.ctx, []int64{refs[0].ID, refs[1].ID, refs[2].ID})
		require.NoError(t, err)
		for _, r := range refs {
			require.Nil(t, jobs[r.ID].LastInbound, "never wrote")
		}
		acct := b.AccountID
		wrote := t0.Add(-time.Hour).Truncate(time.Microsecond)
		old := t0.Add(-30 * time.Hour).Truncate(time.Microsecond)
		p0, p1 := jobs[refs[0].ID].Phone, jobs[refs[1].ID].Phone
		_, err = f.db.RecordInbound(f.ctx, acct, []consent.Inbound{{Phone: p0, Text: "hi", At: wrote}, {Phone: p1, Text: "hi", At: old}}, t0)
		require.NoError(t, err)
		jobs, err = f.db.Jobs(f.ctx, []int64{refs[0].ID, refs[1].ID, refs[2].ID})
		require.NoError(t, err)
		require.NotNil(t, jobs[refs[0].ID].LastInbound)
		require.True(t, wrote.Equal(*jobs[refs[0].ID].LastInbound), "%v", jobs[refs[0].ID].LastInbound)
		require.True(t, old.Equal(*jobs[refs[1].ID].LastInbound), "%v", jobs[refs[1].ID].LastInbound)
		require.Nil(t, jobs[refs[2].ID].LastInbound)

		inside, known, err := f.db.WindowCounts(f.ctx, acct, []string{p0, p1, jobs[refs[2].ID].Phone}, t0.Add(-24*time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, inside)
		require.Equal(t, 2, known)
	})
}

// A started broadcast accepts an edit that only adds outside_window (a
// campaign file upgraded for the 24-hour window), and refuses any other
// edit of its message.
func TestApplyOutsideWindowToAStartedBroadcast(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		bc := broadcast("promo", 2)
		f.apply(bundle(bc), t0)
		f.setStatus(f.broadcast("promo").ID, campaign.StatusRunning)
		bc.Message.OutsideWindow = &templates.OutsideWindow{Skip: true}
		changes := f.apply(bundle(bc), t0)
		require.Equal(t, "updated", changes[len(changes)-1].Action, "%+v", changes)
		require.Equal(t, "changed [outside_window]", changes[len(changes)-1].Detail)
		require.Equal(t, &templates.OutsideWindow{Skip: true}, f.broadcast("promo").Message.OutsideWindow)

		bc.Message.Text += "!"
		_, err := f.db.Apply(f.ctx, bundle(bc), t0)
		require.ErrorContains(t, err, "its message can no longer change")
	})
}
