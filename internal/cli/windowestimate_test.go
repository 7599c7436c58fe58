package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/store"
)

// windowAccount is the head of a campaign file: account main, of the
// BotSailor family, which enforces the 24-hour window.
func (w *world) windowAccount() string {
	return `accounts:
  - name: main
    provider: wabotick
    base_url: ` + w.simURL + `
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
`
}

// windowCampaign writes a campaign of one BotSailor-family account (which
// enforces the 24-hour window) and one text broadcast to phones, whose
// message ends with outside (an outside_window line, or "").
func (w *world) windowCampaign(name, outside string, phones ...string) string {
	var rs []string
	for _, p := range phones {
		rs = append(rs, fmt.Sprintf("{phone: %q}", p))
	}
	return w.write(name+".yaml", w.windowAccount()+`broadcasts:
  - name: `+name+`
    account: main
    audience: {recipients: [`+strings.Join(rs, ", ")+`]}
    message:
      text: "Hello"`+outside+`
`)
}

// validate refuses a free-form broadcast on a window-enforcing account
// that does not say what happens outside the window, naming the field and
// the fix; with outside_window it passes and says, offline, that the
// window was not estimated.
func TestValidateRefusesAnUnqualifiedTextBroadcast(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.windowCampaign("bare", "", "4915100000001")
	code, out := w.run("validate", "--offline", "-f", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, path+":10: broadcast bare: message.outside_window: is required: account main (botsailor) enforces the 24-hour customer-service window")
	require.Contains(t, out, "add outside_window: skip (skip the others) or outside_window: {template: {...}} (send them an approved template)")

	path = w.windowCampaign("qualified", "\n      outside_window: skip", "4915100000001")
	code, out = w.run("validate", "--offline", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  24-hour window (outside it: skipped): not estimated offline\n")
}

// validate counts, per broadcast, the recipients inside, outside and
// unknown to the 24-hour window from what people wrote (contact_inbound).
func TestValidateCountsTheWindow(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	phones := []string{"4915100000001", "4915100000002", "4915100000003", "4915100000004"}
	path := w.windowCampaign("promo", "\n      outside_window: {template: {id: \"313823\"}}", phones...)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)

	db, err := store.Open(context.Background(), w.env["DATABASE_URL"], nil)
	require.NoError(t, err)
	defer db.Close()
	wrote(t, db, phones[0], phones[1])

	code, out = w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  24-hour window (outside it: the fallback template): 1 inside, 1 outside, 2 unknown (never wrote) of 4 recipients if it sent now; the conversation history is read again before each send outside it\n")
}

// validate counts, per sequence with free-form steps on a window-enforcing
// account, the people enrolled now inside, outside and unknown to the
// 24-hour window, naming the steps and what they do outside it.
func TestValidateCountsTheWindowForSequences(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.write("drip.yaml", w.windowAccount()+`sequences:
  - name: drip
    account: main
    steps:
      - {after: 0s, message: {template: {id: "313823"}}}
      - {after: 1h, message: {text: "Thanks for answering", outside_window: skip}}
  - name: templates-only
    account: main
    steps:
      - {after: 0s, message: {template: {id: "313823"}}}
`)
	code, out := w.run("validate", "--offline", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "sequence drip: 2 steps\n  24-hour window, free-form step(s) 2 (outside it: skipped): not estimated offline\nsequence templates-only: 1 steps\n")

	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	db, err := store.Open(context.Background(), w.env["DATABASE_URL"], nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	phones := []string{"4915100000001", "4915100000002", "4915100000003"}
	var people []sequence.Enrollee
	for _, p := range phones {
		people = append(people, sequence.Enrollee{Phone: p})
	}
	_, err = db.Enroll(ctx, "drip", people, time.Now())
	require.NoError(t, err)
	wrote(t, db, phones[0], phones[1])

	code, out = w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "sequence drip: 2 steps\n  24-hour window, free-form step(s) 2 (outside it: skipped): of the 3 people enrolled now, 1 inside, 1 outside, 1 unknown (never wrote) if a step were due now; the conversation history is read again before each send outside it\n")
}

// wrote records that inside wrote to account main's number an hour ago and
// outside 30 hours ago. The BotSailor family's times come from its
// history: they count 14 h older, so "inside" is a message of the last
// 10 h.
func wrote(t *testing.T, db *store.DB, inside, outside string) {
	t.Helper()
	ctx := context.Background()
	acct, ok, err := db.AccountID(ctx, "main")
	require.NoError(t, err)
	require.True(t, ok)
	now := time.Now()
	_, err = db.RecordInbound(ctx, acct, []consent.Inbound{
		{Phone: inside, Text: "hi", At: now.Add(-time.Hour)},
		{Phone: outside, Text: "hi", At: now.Add(-30 * time.Hour)},
	}, now)
	require.NoError(t, err)
}
