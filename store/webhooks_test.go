package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

func status(wamid string, s provider.Status, after time.Duration) provider.Event {
	return provider.Event{WAMID: wamid, Status: s, At: at(after)}
}

// Webhook statuses move a message forward only, whatever their order and
// however often they come; a status that beats the send's answer is kept
// and applied once the send is recorded; an id-less provider's status finds
// its message by phone and records the provider's id.
func TestWebhookEvents(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 7, campaign.StatusRunning)
		acct := b.AccountID
		apply := func(evs ...provider.Event) (applied, kept int) {
			t.Helper()
			res, err := f.db.ApplyWebhookEvents(f.ctx, acct, evs, at(time.Minute))
			require.NoError(t, err)
			return res.Applied, res.Kept
		}

		// Duplicates and reversed order.
		f.claimAndSend(refs[0], "wamid.A", t0)
		applied, kept := apply(status("wamid.A", provider.StatusRead, 4*time.Second), status("wamid.A", provider.StatusDelivered, 2*time.Second),
			status("wamid.A", provider.StatusDelivered, 2*time.Second), status("wamid.A", provider.StatusFailed, 5*time.Second),
			status("wamid.A", provider.StatusSent, time.Second))
		require.Equal(t, 4, applied, "sent carries nothing to record")
		require.Zero(t, kept)
		d := f.delivery(refs[0].ID)
		require.Equal(t, "read", d.Status)
		require.Empty(t, d.ErrorCode, "failed never replaces read")
		require.Equal(t, []string{"sent", "read"}, eventStatuses(f.events(refs[0].ID)))

		// Failed from sent, with its code; then nothing moves it.
		f.claimAndSend(refs[1], "wamid.F", t0)
		apply(provider.Event{WAMID: "wamid.F", Status: provider.StatusFailed, Code: "131026", Reason: "Message undeliverable."},
			status("wamid.F", provider.StatusDelivered, 3*time.Second))
		d = f.delivery(refs[1].ID)
		require.Equal(t, "failed", d.Status)
		require.Equal(t, "131026", d.ErrorCode)

		// The webhook beats the answer: kept, then applied on MarkSent.
		applied, kept = apply(status("wamid.B", provider.StatusDelivered, 2*time.Second), status("wamid.B", provider.StatusDelivered, 2*time.Second))
		require.Equal(t, 0, applied)
		require.Equal(t, 2, kept)
		f.claimAndSend(refs[2], "wamid.B", t0)
		n, err := f.db.MatchWebhookEvents(f.ctx, refs[2].ID, at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, "delivered", f.delivery(refs[2].ID).Status)
		require.Zero(t, f.count("webhook_events", "wamid = ?", "wamid.B"), "matched events are forgotten")

		// Kept just as the send was recorded: the sweep matches it.
		apply(status("wamid.C", provider.StatusRead, 3*time.Second))
		f.claimAndSend(refs[3], "wamid.C", t0)
		matched, dropped, err := f.db.SweepWebhookEvents(f.ctx, at(time.Minute), time.Hour)
		require.NoError(t, err)
		require.Equal(t, 1, matched)
		require.Zero(t, dropped)
		require.Equal(t, "read", f.delivery(refs[3].ID).Status)

		// An id-less provider: matched by phone, its id recorded; and
		// before the send, kept and matched by phone too.
		f.claimAndSend(refs[4], "", t0)
		phone4 := f.delivery(refs[4].ID).Phone
		applied, _ = apply(provider.Event{WAMID: "9001", Status: provider.StatusDelivered, Phone: phone4, MatchByPhone: true})
		require.Equal(t, 1, applied)
		d = f.delivery(refs[4].ID)
		require.Equal(t, "delivered", d.Status)
		require.Equal(t, "9001", *d.Wamid)
		phone5 := f.delivery(refs[5].ID).Phone
		_, kept = apply(provider.Event{WAMID: "9002", Status: provider.StatusFailed, Reason: "no WhatsApp", Phone: phone5, MatchByPhone: true})
		require.Equal(t, 1, kept)
		f.claimAndSend(refs[5], "", t0)
		n, err = f.db.MatchWebhookEvents(f.ctx, refs[5].ID, at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, 1, n)
		d = f.delivery(refs[5].ID)
		require.Equal(t, "failed", d.Status)
		require.Equal(t, "9002", *d.Wamid)

		// A by-phone status older than ByPhoneKeep never attaches to a
		// later send (it may report a message we did not send).
		phone6 := f.delivery(refs[6].ID).Phone
		_, kept = apply(provider.Event{WAMID: "9003", Status: provider.StatusDelivered, Phone: phone6, MatchByPhone: true})
		require.Equal(t, 1, kept)
		f.claimAndSend(refs[6], "", t0)
		n, err = f.db.MatchWebhookEvents(f.ctx, refs[6].ID, at(time.Minute+store.ByPhoneKeep+time.Second))
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, "sent", f.delivery(refs[6].ID).Status)

		// Never matched: dropped after keep.
		apply(status("wamid.never", provider.StatusDelivered, time.Second))
		_, dropped, err = f.db.SweepWebhookEvents(f.ctx, at(3*time.Hour), time.Hour)
		require.NoError(t, err)
		require.Equal(t, 2, dropped)
		require.Zero(t, f.count("webhook_events", "1 = 1"))
	})
}

// A reply pushed by an account's webhook ends the replier's enrollments in
// that account's sequences that exit on reply, and no other account's.
func TestWebhookReplyExitsThisAccountsEnrollments(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		mine := onboarding(false, "Hi", "Again")
		mine.ExitOn = []string{"reply"}
		other := onboarding(false, "Hi", "Again")
		other.Name, other.Account, other.ExitOn = "elsewhere", "second", []string{"reply"}
		b := withSequences(mine, other)
		second := account("second")
		second.PhoneNumberID = "119060000040021"
		b.Accounts = append(b.Accounts, second)
		f.apply(b, t0)
		ann := sequence.Enrollee{Phone: "4915100000001", Name: "Ann"}
		for _, seq := range []string{"onboarding", "elsewhere"} {
			_, err := f.db.Enroll(f.ctx, seq, []sequence.Enrollee{ann}, t0)
			require.NoError(t, err)
		}
		var acct int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM accounts WHERE name = 'main'`).Scan(&acct).Error)

		res, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{Inbound: true, Phone: ann.Phone, Text: "stop please"}}, at(time.Minute))
		require.NoError(t, err)
		require.Equal(t, []string{"onboarding"}, res.Exited)
		for seq, want := range map[string]map[string]int{"onboarding": {"exited": 1}, "elsewhere": {"active": 1}} {
			counts, err := f.db.EnrollmentCounts(f.ctx, seq)
			require.NoError(t, err)
			require.Equal(t, want, counts, seq)
		}
	})
}

// Review findings, each a regression test.

// A status pushed through one account's webhook never touches another
// account's message, even with the same id.
func TestWebhookStatusStaysInItsAccount(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		other := account("other")
		other.PhoneNumberID = "119060000040021"
		f.apply(&spec.Bundle{Accounts: []spec.Account{account("main"), other}, Broadcasts: []spec.Broadcast{broadcast("spring", 1)}}, t0)
		b := f.broadcast("spring")
		f.planAll(b.ID, 100)
		refs, err := f.db.NextPlanned(f.ctx, b.ID, 2)
		require.NoError(t, err)
		f.setStatus(b.ID, campaign.StatusRunning)
		f.claimAndSend(refs[0], "wamid.MAIN", t0)
		var otherID int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM accounts WHERE name = 'other'`).Scan(&otherID).Error)
		res, err := f.db.ApplyWebhookEvents(f.ctx, otherID, []provider.Event{{WAMID: "wamid.MAIN", Status: provider.StatusFailed, Reason: "forged"}}, at(time.Minute))
		require.NoError(t, err)
		require.Zero(t, res.Applied)
		require.Equal(t, "sent", f.delivery(refs[0].ID).Status)
		n, err := f.db.MatchWebhookEvents(f.ctx, refs[0].ID, at(time.Minute))
		require.NoError(t, err)
		require.Zero(t, n, "the other account's kept event is not this message's")
	})
}

// Kept events that never match (an agent's messages, say) cannot starve
// the sweep of the one that does.
func TestWebhookSweepIsNotStarvedByUnmatchedEvents(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		b, refs := f.planned("spring", 1, campaign.StatusRunning)
		noise := make([]provider.Event, testBatch+testBatch/10) // more than one sweep batch
		for i := range noise {
			noise[i] = provider.Event{WAMID: fmt.Sprintf("wamid.agent.%d", i), Status: provider.StatusDelivered}
		}
		_, err := f.db.ApplyWebhookEvents(f.ctx, b.AccountID, noise, at(time.Second))
		require.NoError(t, err)
		_, err = f.db.ApplyWebhookEvents(f.ctx, b.AccountID, []provider.Event{{WAMID: "wamid.OURS", Status: provider.StatusRead}}, at(2*time.Second))
		require.NoError(t, err)
		f.claimAndSend(refs[0], "wamid.OURS", at(2*time.Second))
		matched, _, err := f.db.SweepWebhookEvents(f.ctx, at(time.Minute), 24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, 1, matched)
		require.Equal(t, "read", f.delivery(refs[0].ID).Status)
	})
}

// A by-phone status belongs to a recent send, never to an older message
// to the same phone that never got its report.
func TestWebhookByPhoneSkipsOldMessages(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("mon", 1), broadcast("tue", 1)), t0)
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
		f.claimAndSend(refs[0], "", t0)
		f.claimAndSend(refs[1], "", at(24*time.Hour))
		_, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "777", Phone: f.delivery(refs[1].ID).Phone, MatchByPhone: true,
			Status: provider.StatusFailed, Reason: "(#131026) undeliverable"}}, at(24*time.Hour+5*time.Second))
		require.NoError(t, err)
		require.Equal(t, "sent", f.delivery(refs[0].ID).Status)
		require.Equal(t, "failed", f.delivery(refs[1].ID).Status)
	})
}

// An opt-out pushed by a webhook ends the opted-out person's enrollments,
// and is told apart from a reply exit (the log said "reply ended an
// enrollment" for both).
func TestWebhookOptOutEndsEnrollmentsAsAnOptOut(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(withSequences(onboarding(false, "Hi", "Again")), t0)
		ann := sequence.Enrollee{Phone: "4915100000001", Name: "Ann"}
		_, err := f.db.Enroll(f.ctx, "onboarding", []sequence.Enrollee{ann}, t0)
		require.NoError(t, err)
		var acct int64
		require.NoError(t, f.db.Gorm().Raw(`SELECT id FROM accounts WHERE name = 'main'`).Scan(&acct).Error)

		res, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{Inbound: true, Phone: ann.Phone, Text: "STOP"}}, at(time.Minute))
		require.NoError(t, err)
		require.Empty(t, res.Exited, "no exit_on: reply")
		require.Equal(t, []string{"onboarding"}, res.OptedOut)
		counts, err := f.db.EnrollmentCounts(f.ctx, "onboarding")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"exited": 1}, counts)
	})
}
