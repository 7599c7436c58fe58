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

// A media message without a caption whose answer was lost is settled by a
// status that shows the file at the provider's own URL (the provider keeps
// its copy), when it is the only message open to the phone: another URL
// says nothing against it. A status showing text the message does not
// have still settles nothing.
func TestRehostedMediaSettlesTheOnlyOpenMessage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ref, phone, acct := f.awaitingOne(t, templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{Type: "image", URL: "https://cdn.example.com/sale.jpg"}})

		// Text it never had: a contradiction, nothing settled.
		_, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{Phone: phone, Status: provider.StatusDelivered, MatchByPhone: true,
			Text: "somebody else's caption", Media: "https://files.provider.example/123.jpg"}}, at(20*time.Second))
		require.NoError(t, err)
		require.Equal(t, "sending", f.delivery(ref.ID).Status)

		// The file at the provider's URL, no text: settled.
		_, err = f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{Phone: phone, Status: provider.StatusDelivered, MatchByPhone: true,
			Media: "https://files.provider.example/123.jpg"}}, at(30*time.Second))
		require.NoError(t, err)
		d := f.delivery(ref.ID)
		require.Equal(t, "delivered", d.Status)
	})
}

// Accounts lists every applied account by name, as Account loads it.
func TestAccountsListsTheApplied(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		f.apply(bundle(broadcast("one", 1)), t0)
		all, err := f.db.Accounts(f.ctx)
		require.NoError(t, err)
		require.Len(t, all, 1)
		one, err := f.db.Account(f.ctx, all[0].ID)
		require.NoError(t, err)
		require.Equal(t, one, all[0])
	})
}

// A media message with a caption is not settled by a status that shows
// only another URL: its caption would have shown.
func TestRehostedMediaDoesNotSettleACaptionedMessage(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ref, phone, acct := f.awaitingOne(t, templates.Message{Kind: templates.KindMedia,
			Media: &templates.Media{Type: "image", URL: "https://cdn.example.com/sale.jpg", Caption: "Big sale today"}})
		_, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{Phone: phone, Status: provider.StatusDelivered, MatchByPhone: true,
			Media: "https://files.provider.example/123.jpg"}}, at(30*time.Second))
		require.NoError(t, err)
		require.Equal(t, "sending", f.delivery(ref.ID).Status)
	})
}

// A status that shows nothing of the message (Sobot's doc shape: an id, a
// status, a time) settles the one awaiting message to its phone only if
// it can be about it: not timed before the request began, and its id not
// reported before then (another sender's earlier message — a bot flow's,
// an agent's).
func TestContentlessStatusOfAnEarlierMessageSettlesNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, f *fixture) {
		ref, phone, acct := f.awaitingOne(t, templates.Message{Kind: templates.KindText, Text: "Hello {{name}}"})
		began := f.delivery(ref.ID).SendingAt
		require.NotNil(t, began)
		// The bot's message of an hour before: its sent status was kept,
		// unknown, when it came.
		_, err := f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "wamid.BOT", Phone: phone, Status: provider.StatusSent,
			At: began.Add(-time.Hour)}}, began.Add(-time.Hour))
		require.NoError(t, err)
		// Timed before the request began: not ours.
		_, err = f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "wamid.OLD", Phone: phone, Status: provider.StatusDelivered,
			At: began.Add(-10 * time.Minute)}}, at(20*time.Second))
		require.NoError(t, err)
		require.Equal(t, "sending", f.delivery(ref.ID).Status)
		// Read now, but its id was reported an hour ago: not ours either.
		_, err = f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "wamid.BOT", Phone: phone, Status: provider.StatusRead,
			At: began.Add(20 * time.Second)}}, at(25*time.Second))
		require.NoError(t, err)
		require.Equal(t, "sending", f.delivery(ref.ID).Status)
		// A new id, timed after the request began: ours.
		_, err = f.db.ApplyWebhookEvents(f.ctx, acct, []provider.Event{{WAMID: "wamid.OURS", Phone: phone, Status: provider.StatusDelivered,
			At: began.Add(2 * time.Second)}}, at(30*time.Second))
		require.NoError(t, err)
		d := f.delivery(ref.ID)
		require.Equal(t, "delivered", d.Status)
		require.Equal(t, "wamid.OURS", derefOr(d.Wamid))
	})
}

// awaitingOne applies a one-recipient running broadcast of msg, claims its
// delivery at t0 and leaves it awaiting the provider's confirmation; it
// returns the delivery, its phone and its account.
func (f *fixture) awaitingOne(t *testing.T, msg templates.Message) (delivery.Ref, string, int64) {
	t.Helper()
	b := broadcast("one", 1)
	b.Message = msg
	f.apply(bundle(b), t0)
	row := f.broadcast("one")
	f.planAll(row.ID, 10)
	refs, err := f.db.NextPlanned(f.ctx, row.ID, 1)
	require.NoError(t, err)
	f.setStatus(row.ID, campaign.StatusRunning)
	ref := refs[0]
	ok, err := f.db.Claim(f.ctx, ref, t0, at(2*time.Minute), nil, consent.Check{})
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = f.db.AwaitSettle(f.ctx, ref, at(2*time.Minute), at(5*time.Minute), delivery.ReasonAwaiting, at(10*time.Second))
	require.NoError(t, err)
	require.True(t, ok)
	return ref, f.delivery(ref.ID).Phone, row.AccountID
}
