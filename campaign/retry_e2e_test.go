package campaign_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

// A broadcast whose transient failures used up their attempts completes
// with them failed; retry-failed plans them again and the broadcast runs
// until they are delivered, while the permanent failures stay failed and
// are never sent again. After the deadline nothing is planned.
func TestRetryFailedEndToEnd(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	var down atomic.Bool // numbers ending in 3 meet a service outage while it lasts
	down.Store(true)
	var mu sync.Mutex
	calls := map[string]int{}
	b.interceptSends(func(p string) string {
		mu.Lock()
		calls[p]++
		mu.Unlock()
		switch {
		case strings.HasSuffix(p, "7"):
			return `{"status":"0","message":"(#131026) Message undeliverable."}`
		case strings.HasSuffix(p, "3") && down.Load():
			return `{"status":"0","message":"(#131016) Service unavailable."}`
		}
		return ""
	})
	const n = 30
	b.apply(b.writeCampaign("again", n, 100, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	state := func() campaign.Status {
		r, err := b.service().Status(context.Background(), "again")
		require.NoError(t, err)
		return r.Status
	}
	b.waitFor(60*time.Second, "completed", func() bool { return state() == campaign.StatusCompleted })
	c := b.counts("again")
	require.Equal(t, 6, c["failed"], "3 undeliverable, 3 out of attempts: %v", c)

	down.Store(false)
	svc := b.service()
	r, err := svc.RetryFailed(context.Background(), "again")
	require.NoError(t, err)
	require.Equal(t, 3, r.Replanned)
	require.Equal(t, map[string]int{delivery.NotRetriedPermanent: 3}, r.NotRetried)
	require.Equal(t, campaign.StatusRunning, r.Status)
	b.waitFor(60*time.Second, "completed again", func() bool {
		return state() == campaign.StatusCompleted && b.counts("again")["delivered"] == n-3
	})
	for _, row := range b.export("again") {
		switch {
		case strings.HasSuffix(row.Phone, "7"):
			require.Equal(t, delivery.Failed, row.Status)
			mu.Lock()
			require.Equal(t, 1, calls[row.Phone], "%s: a permanent failure was sent again", row.Phone)
			mu.Unlock()
		default:
			require.Equal(t, delivery.Delivered, row.Status, row.Phone)
		}
	}
	b.requireOncePerPhone(b.export("again"))
	again, err := svc.RetryFailed(context.Background(), "again")
	require.NoError(t, err)
	require.Zero(t, again.Replanned)

	// Past the deadline (24 h from the start), nothing is planned.
	b.opts.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	late, err := b.service().RetryFailed(context.Background(), "again")
	require.NoError(t, err)
	require.Zero(t, late.Replanned)
	require.Equal(t, map[string]int{delivery.NotRetriedDeadlinePassed: 3}, late.NotRetried)
}
