package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/templates"
)

// twoToOnePhone applies two broadcasts with different texts to the same
// recipient ("First Person 0", then "Second Person 0"), sends both with no
// id in the answers (a Salebot- or waapi-style provider), the first at t0
// and the second a second later, and returns their refs and the account.
func twoToOnePhone(f *fixture) (first, second delivery.Ref, acct int64, phone string) {
	f.t.Helper()
	mon, tue := broadcast("mon", 1), broadcast("tue", 1)
	mon.Message = templates.Message{Kind: templates.KindText, Text: "First {{name}}"}
	tue.Message = templates.Message{Kind: templates.KindText, Text: "Second {{name}}"}
	f.apply(bundle(mon, tue), t0)
	var refs []delivery.Ref
	for _, n := range []string{"mon", "tue"} {
		b := f.broadcast(n)
		acct = b.AccountID
		f.planAll(b.ID, 10)
		r, err := f.db.NextPlanned(f.ctx, b.ID, 2)
		require.NoError(f.t, err)
		f.setStatus(b.ID, campaign.StatusRunning)
		refs = append(refs, r[0])
	}
	f.claimAndSend(refs[0], "", t0)
	f.claimAndSend(refs[1], "", at(time.Second))
	return refs[0], refs[1], acct, f.delivery(refs[0].ID).Phone
}

// Two id-less messages to one phone: each status lands on the message
// whose text it shows, whatever order the reports come in (the second
// message's report first), and records the provider's id there; a later
// report of the same id follows it. Before, the first report went to the
// oldest open message: step 1 showed step 2's id and status.
func TestWebhookByPhoneMatchesContent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		first, second, acct, phone := twoToOnePhone(f)
		apply := func(ev provider.Event) {
			t.Helper()
			ev.Phone, ev.MatchByPhone = phone, true
			_, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{ev}, at(5*time.Second))
			require.NoError(t, err)
		}
		// A report showing no content cannot tell two open messages apart:
		// it is kept, not guessed.
		res, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "X", Phone: phone, MatchByPhone: true, Status: provider.StatusDelivered}}, at(5*time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, res.Kept)
		require.Equal(t, "sent", f.delivery(first.ID).Status)
		require.Equal(t, "sent", f.delivery(second.ID).Status)

		apply(provider.Event{WAMID: "S2", Status: provider.StatusDelivered, Text: "Second Person 0"})
		apply(provider.Event{WAMID: "S1", Status: provider.StatusFailed, Reason: "(#131026) undeliverable", Code: "131026", Text: "First Person 0"})
		apply(provider.Event{WAMID: "S2", Status: provider.StatusRead})

		d1, d2 := f.delivery(first.ID), f.delivery(second.ID)
		require.Equal(t, "failed", d1.Status)
		require.Equal(t, "S1", *d1.Wamid)
		require.Equal(t, "read", d2.Status)
		require.Equal(t, "S2", *d2.Wamid)

	})
}

// Two reports for one phone applied at the same moment each take their own
// message and record their own id: none is lost, none overwrites the
// other (before, both could pick the same row: one report silently
// ignored, the other message sent forever).
func TestWebhookConcurrentReportsForOnePhone(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		first, second, acct, phone := twoToOnePhone(f)
		// Reports showing no content that can tell them apart (a bot flow's
		// or a template's): both messages are candidates for both.
		require.NoError(t, f.db.Gorm().Exec(`UPDATE broadcasts SET message = ?`, `{"kind":"bot_flow","bot_flow":"F"}`).Error)
		evs := []provider.Event{
			{WAMID: "R1", Phone: phone, MatchByPhone: true, Status: provider.StatusDelivered, Text: "flow says hi"},
			{WAMID: "R2", Phone: phone, MatchByPhone: true, Status: provider.StatusFailed, Text: "flow says hi", Reason: "undeliverable"},
		}
		concurrently(t, 2, func(i int) error {
			_, err := f.db.ApplyWebhookEvents(f.ctx, acct, evs[i:i+1], at(5*time.Second))
			return err
		})
		d1, d2 := f.delivery(first.ID), f.delivery(second.ID)
		require.NotNil(t, d1.Wamid)
		require.NotNil(t, d2.Wamid)
		got := map[string]string{*d1.Wamid: d1.Status, *d2.Wamid: d2.Status}
		require.Equal(t, map[string]string{"R1": "delivered", "R2": "failed"}, got, "each report on its own message")
	})
}

// A send awaiting the provider's confirmation is settled by a status that
// shows it: recorded sent with the id the status names (Sobot's statuses
// show the recipient and an id never learned), marked settled; one whose
// text contradicts it does not settle it; the window's end sends it again.
func TestWebhookSettlesAwaitingSend(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 2, campaign.StatusRunning)
		for _, r := range refs {
			ok, err := f.db.Claim(f.ctx, r, t0, t0.Add(time.Minute), nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = f.db.AwaitSettle(f.ctx, r, t0.Add(time.Minute), at(5*time.Minute), delivery.ReasonAwaiting, at(10*time.Second))
			require.NoError(t, err)
			require.True(t, ok)
		}
		p0, p1 := f.delivery(refs[0].ID).Phone, f.delivery(refs[1].ID).Phone
		res, err := f.db.ApplyWebhookEvents(f.ctx, b.AccountID, []provider.Event{
			{WAMID: "wamid.LEARNED", Phone: p0, Status: provider.StatusDelivered},
			{WAMID: "wamid.OTHER", Phone: p1, MatchByPhone: true, Text: "not what we sent", Status: provider.StatusDelivered},
		}, at(20*time.Second))
		require.NoError(t, err)
		require.Equal(t, 1, res.Settled)
		d := f.delivery(refs[0].ID)
		require.Equal(t, "delivered", d.Status)
		require.Equal(t, "wamid.LEARNED", *d.Wamid)
		require.Equal(t, delivery.SettleSettled, f.settle(refs[0].ID))
		require.Equal(t, "sending", f.delivery(refs[1].ID).Status, "a contradicting status settles nothing")

		ok, err := f.db.Resend(f.ctx, refs[1], at(5*time.Minute), "no trace within the settle window", at(5*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "queued", f.delivery(refs[1].ID).Status)
		require.Equal(t, delivery.SettleResent, f.settle(refs[1].ID))
		ok, err = f.db.Resend(f.ctx, refs[0], at(5*time.Minute), "late", at(5*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "a settled send is never resent")
	})
}

func (f *fixture) settle(id int64) string {
	f.t.Helper()
	var s string
	require.NoError(f.t, f.db.Gorm().Raw(`SELECT settle FROM deliveries WHERE id = ?`, id).Scan(&s).Error)
	return s
}

// An attempt holds its delivery by its lease: one that stalled past its
// lease while another attempt took the delivery over (and sent it again,
// its request in flight) can neither mark it awaiting, nor hand it back
// to be sent again (Resend, Unclaim), nor shorten its lease — each would
// let a third send go out while the second is in flight.
func TestStalledAttemptCannotTouchTheAttemptThatTookOver(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		_, refs := f.planned("spring", 1, campaign.StatusRunning)
		ref := refs[0]
		stalled := at(time.Minute)
		ok, err := f.db.Claim(f.ctx, ref, t0, stalled, nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		// Its lease ended; another attempt reclaims, and sends again.
		took := at(3 * time.Minute)
		ok, err = f.db.Reclaim(f.ctx, ref, at(2*time.Minute), took)
		require.NoError(t, err)
		require.True(t, ok)
		before := f.delivery(ref.ID)

		ok, err = f.db.AwaitSettle(f.ctx, ref, stalled, at(10*time.Minute), delivery.ReasonAwaiting, at(2*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "await under another attempt's lease")
		ok, err = f.db.Resend(f.ctx, ref, stalled, "stalled", at(2*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "resend under another attempt's lease")
		require.NoError(t, f.db.ReleaseLease(f.ctx, ref, stalled, at(2*time.Minute), "stalled", at(2*time.Minute)))
		ok, err = f.db.Unclaim(f.ctx, ref, stalled, false, "", "stalled", at(2*time.Minute))
		require.NoError(t, err)
		require.False(t, ok, "hand back under another attempt's lease")
		require.Equal(t, before, f.delivery(ref.ID), "the attempt that took over holds the delivery as it was")

		// The attempt that holds it can.
		ok, err = f.db.AwaitSettle(f.ctx, ref, took, at(10*time.Minute), delivery.ReasonAwaiting, at(2*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.Resend(f.ctx, ref, at(10*time.Minute), "no trace", at(11*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "queued", f.delivery(ref.ID).Status)
	})
}

// A message sent again after its window may have reached the recipient
// twice, even when the second copy is settled in its turn from a webhook:
// status and export go on showing it resent (before, the second settling
// wrote over it, and the recipient messaged twice was counted settled).
func TestResentThenSettledStaysResent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 2, campaign.StatusRunning)
		ref := refs[0]
		claimAwait := func(ref delivery.Ref, from time.Duration) time.Time {
			t.Helper()
			lease := at(from + time.Minute)
			ok, err := f.db.Claim(f.ctx, ref, at(from), lease, nil, consent.Check{})
			require.NoError(t, err)
			require.True(t, ok)
			until := at(from + 5*time.Minute)
			ok, err = f.db.AwaitSettle(f.ctx, ref, lease, until, delivery.ReasonAwaiting, at(from+time.Second))
			require.NoError(t, err)
			require.True(t, ok)
			return until
		}
		until := claimAwait(ref, 0)
		ok, err := f.db.Resend(f.ctx, ref, until, "no trace within the settle window", at(5*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		ref.Gen = f.delivery(ref.ID).Gen
		claimAwait(ref, 6*time.Minute)
		// The other delivery is settled the first time.
		claimAwait(refs[1], 0)

		res, err := f.db.ApplyWebhookEvents(f.ctx, b.AccountID, []provider.Event{
			{WAMID: "wamid.SECOND", Phone: f.delivery(ref.ID).Phone, Status: provider.StatusDelivered},
			{WAMID: "wamid.ONCE", Phone: f.delivery(refs[1].ID).Phone, Status: provider.StatusDelivered},
		}, at(7*time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, res.Settled)
		require.Equal(t, "delivered", f.delivery(ref.ID).Status)

		counts, err := f.db.SettleCounts(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, map[string]int{delivery.SettleResent: 1, delivery.SettleSettled: 1}, counts)
		shown := map[string]string{}
		require.NoError(t, f.db.Export(f.ctx, b.ID, func(r delivery.Row) error {
			shown[r.WAMID] = r.Settle
			return nil
		}))
		require.Equal(t, map[string]string{"wamid.SECOND": delivery.SettleResent, "wamid.ONCE": delivery.SettleSettled}, shown)
	})
}

// A sequence step whose outcome is unknown shows how it settles, as a
// broadcast's delivery does: in the sequence's report (per step) and in
// its export, with its attempts.
func TestSequenceStepShowsItsSettling(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi {{name}}", "Day 2")), t0)
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{{Phone: "4915100000001", Name: "Ann"}}, t0)
		require.NoError(t, err)
		due := f.dueSteps(t0)
		require.Len(t, due, 1)
		ref := due[0].Ref
		lease := at(time.Minute)
		ok, err := f.db.Claim(f.ctx, ref, t0, lease, nil, consent.Check{})
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = f.db.AwaitSettle(f.ctx, ref, lease, at(5*time.Minute), delivery.ReasonAwaiting, at(time.Second))
		require.NoError(t, err)
		require.True(t, ok)

		rep, err := f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{delivery.SettleAwaiting: 1}, rep.Steps[0].Settle)
		require.Empty(t, rep.Steps[1].Settle)
		var rows []sequence.Row
		require.NoError(t, f.db.ExportSequence(f.ctx, "onboarding", func(r sequence.Row) error {
			rows = append(rows, r)
			return nil
		}))
		require.Len(t, rows, 1)
		require.Equal(t, delivery.SettleAwaiting, rows[0].Settle)
		require.Equal(t, 1, rows[0].Attempts)

		ok, err = f.db.Resend(f.ctx, ref, at(5*time.Minute), "no trace within the settle window", at(5*time.Minute))
		require.NoError(t, err)
		require.True(t, ok)
		rep, err = f.db.SequenceReport(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{delivery.SettleResent: 1}, rep.Steps[0].Settle)
	})
}
