package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// Review finding: a status that beats its own send's answer must not
// settle another awaiting send to the same phone.
//
// A (broadcast "mon") is awaiting settlement on phone P (Sobot-style: no
// history, statuses carry phone + wamid, no content). B (broadcast "tue")
// to the same phone is in flight: the provider answered with wamid W_B, but
// its "sent" webhook is applied before B's MarkSent records W_B (the race
// markSent's MatchWebhookEvents exists for). The status is B's, not A's.
func TestInFlightSendsStatusNeverSettlesAnotherAwaitingSend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		mon, tue := broadcast("mon", 1), broadcast("tue", 1)
		mon.Message = templates.Message{Kind: templates.KindText, Text: "First {{name}}"}
		tue.Message = templates.Message{Kind: templates.KindText, Text: "Second {{name}}"}
		f.apply(bundle(mon, tue), t0)
		var refs []delivery.Ref
		var acct int64
		for _, n := range []string{"mon", "tue"} {
			b := f.broadcast(n)
			acct = b.AccountID
			f.planAll(b.ID, 10)
			r, err := f.db.NextPlanned(f.ctx, b.ID, 2)
			require.NoError(t, err)
			f.setStatus(b.ID, campaign.StatusRunning)
			refs = append(refs, r[0])
		}
		a, bref := refs[0], refs[1]
		phone := f.delivery(a.ID).Phone
		// A: claimed, answer lost, awaiting.
		ok, err := f.db.Claim(f.ctx, a, t0, at(2*time.Minute), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.AwaitSettle(f.ctx, a, at(2*time.Minute), at(5*time.Minute), delivery.ReasonAwaiting, at(10*time.Second))
		require.NoError(t, err)
		require.True(t, ok)
		// B: claimed at 20 s; request in flight.
		ok, err = f.db.Claim(f.ctx, bref, at(20*time.Second), at(140*time.Second), nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		// B's sent status beats B's answer.
		_, err = f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "wamid.B", Phone: phone, Status: provider.StatusSent}}, at(21*time.Second))
		require.NoError(t, err)
		// B's answer recorded.
		ok, err = f.db.MarkSent(f.ctx, bref, "wamid.B", at(21*time.Second), time.Time{}, at(30*24*time.Hour))
		dA, dB := f.delivery(a.ID), f.delivery(bref.ID)
		t.Logf("A: status=%s wamid=%v; B: status=%s wamid=%v; MarkSent(B) ok=%v err=%v", dA.Status, derefOr(dA.Wamid), dB.Status, derefOr(dB.Wamid), ok, err)
		require.NoError(t, err, "B's own answer cannot be recorded")
		require.True(t, ok)
		require.Equal(t, "sending", dA.Status, "A was settled by B's status")
	})
}

func derefOr(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}
