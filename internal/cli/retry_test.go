package cli_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/store"
)

// retry-failed says how many failed deliveries it planned again and why
// the rest were not; export --format csv streams a header and a row per
// recipient; status --watch prints until interrupted.
func TestRetryFailedExportCSVAndWatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	code, out := w.run("apply", "-f", w.campaign(4))
	require.Equal(t, 0, code, out)
	code, out = w.run("retry-failed", "promo")
	require.Equal(t, 1, code, "a broadcast that never started: %s", out)
	require.Contains(t, out, "scheduled")

	ctx := context.Background()
	db, err := store.Open(ctx, w.env["DATABASE_URL"], nil)
	require.NoError(t, err)
	defer db.Close()
	b, err := db.BroadcastByName(ctx, "promo")
	require.NoError(t, err)
	now := time.Now()
	ok, err := db.StartBroadcast(ctx, b.ID, b.UpdatedAt, now)
	require.NoError(t, err)
	require.True(t, ok)
	refs, err := db.PlanNext(ctx, b.ID, 10, now)
	require.NoError(t, err)
	require.Len(t, refs, 4)
	for i, why := range []struct{ code, reason string }{
		{"", "gave up after 10 attempts: wabotick send: http 429: slow down (transient)"},
		{"131026", "wabotick send: code 131026: undeliverable (permanent)"},
		{"", "=cmd|' /C calc'!A0 (permanent)"},
	} {
		ok, err := db.Finish(ctx, refs[i], delivery.Failed, why.code, why.reason, now)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err = db.Finish(ctx, refs[3], delivery.Skipped, "", "test", now)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = db.SetStatus(ctx, b.ID, []campaign.Status{campaign.StatusRunning}, campaign.StatusCompleted, "", now)
	require.NoError(t, err)
	require.True(t, ok)

	code, out = w.run("retry-failed", "promo")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "broadcast promo: 1 failed deliveries planned again; it is running")
	require.Contains(t, out, "not retried: 2 permanent (the provider refused it for good)")
	code, out = w.run("retry-failed", "promo")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "0 failed deliveries planned again", "nothing more the second time")

	code, out = w.run("export", "promo", "--format", "csv")
	require.Equal(t, 0, code, out)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Len(t, recs, 5, "a header and a row per recipient")
	require.Equal(t, []string{"planned", "failed", "failed", "skipped"}, []string{recs[1][3], recs[2][3], recs[3][3], recs[4][3]})
	require.True(t, strings.HasPrefix(recs[3][6], "'="), "a formula is kept as text: %q", recs[3][6])
	code, out = w.run("export", "promo", "--format", "xml")
	require.Equal(t, 2, code, out)

	// status --watch prints again and again until interrupted.
	watch := &syncBuf{}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cli.Scheduler(wctx, []string{"status", "promo", "--watch", "10ms"}, w.io(watch)) }()
	deadline := time.Now().Add(30 * time.Second)
	for strings.Count(watch.String(), "broadcast  promo (account") < 3 && time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("watch ended by itself: %v\n%s", err, watch.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	require.GreaterOrEqual(t, strings.Count(watch.String(), "broadcast  promo (account"), 3, watch.String())
	cancel()
	require.NoError(t, <-done)
}
