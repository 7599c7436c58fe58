package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/store"
)

// capCampaign writes a campaign of one account capped at one message per
// 168h and one broadcast to phones.
func (w *world) capCampaign(name string, phones ...string) string {
	var rs []string
	for _, p := range phones {
		rs = append(rs, fmt.Sprintf("{phone: %q}", p))
	}
	return w.write(name+".yaml", `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: `+w.simURL+`
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
    frequency_cap: {messages: 1, per: 168h}
broadcasts:
  - name: `+name+`
    account: main
    audience: {recipients: [`+strings.Join(rs, ", ")+`]}
    message: {text: "Hello"}
`)
}

// validate estimates, per broadcast of a capped account, how many of its
// recipients the cap would skip now, from the deliveries accepted within
// the window; without the database it says why there is no estimate.
func TestValidateEstimatesTheFrequencyCap(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	phones := []string{"4915100000001", "4915100000002", "4915100000003", "4915100000004"}
	code, out := w.run("apply", "-f", w.capCampaign("first", phones...))
	require.Equal(t, 0, code, out)

	// Three of them got "first" an hour ago, one of those long before the
	// window: two are at the cap.
	db, err := store.Open(context.Background(), w.env["DATABASE_URL"], nil)
	require.NoError(t, err)
	defer db.Close()
	ctx := context.Background()
	b, err := db.BroadcastByName(ctx, "first")
	require.NoError(t, err)
	_, _, err = db.PlanBatch(ctx, b.ID, 0, 100, time.Now())
	require.NoError(t, err)
	now := time.Now()
	for phone, at := range map[string]time.Time{phones[0]: now.Add(-time.Hour), phones[1]: now.Add(-time.Hour), phones[2]: now.Add(-169 * time.Hour)} {
		require.NoError(t, db.Gorm().Exec(`UPDATE deliveries SET status = 'sent', sent_at = ? WHERE broadcast_id = ? AND phone = ?`, at.UTC(), b.ID, phone).Error)
	}

	second := w.capCampaign("second", append(phones, "4915100000005")...)
	code, out = w.run("validate", "-f", second)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "broadcast second: 5 recipients")
	require.Contains(t, out, "\n  frequency cap 1 per 168h: 2 of 5 recipients already had 1 message(s) in the last 168h and would be skipped if it started now\n")

	code, out = w.run("validate", "--offline", "-f", second)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  frequency cap 1 per 168h: not estimated offline\n")

	// A database that apply has not migrated yet: said so, not an SQL
	// error about a missing table.
	w.env["DATABASE_URL"] = testenv.NewDatabase(t)
	code, out = w.run("validate", "-f", second)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  frequency cap 1 per 168h: not estimated (the database is not migrated to this version yet: scheduler apply migrates it)\n")
	require.NotContains(t, out, "SQLSTATE")

	delete(w.env, "DATABASE_URL")
	code, out = w.run("validate", "-f", second)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "\n  frequency cap 1 per 168h: not estimated (set DATABASE_URL to estimate from the history)\n")
}
