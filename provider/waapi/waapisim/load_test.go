package waapisim_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sim/simtest"
	"github.com/wacamp/wacamp/provider/waapi"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
)

// TestConcurrentLoadRealTime sends 300 messages from 20 goroutines with
// every webhook fault on and the real clock: every accepted message gets a
// terminal status pushed, promptly.
func TestConcurrentLoadRealTime(t *testing.T) {
	t.Parallel()
	hook := simtest.NewReceiver(t)
	sim, c := serveRealTime(t, waapisim.Options{BearerTokens: []string{"tok"}, Sessions: []waapisim.Session{{ID: "s", AccessToken: "tok"}},
		Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.05, Seed: 7}, WebhookURL: hook.URL, WebhookDuplicateRate: 0.2, WebhookReorder: true, WebhookEarly: true}, "tok")
	const n = 300
	ids := make(chan string, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 20 {
				res, err := c.Send(context.Background(), fmt.Sprintf("4915100%06d", i), text("x"))
				if err == nil {
					ids <- res.WAMID
				}
			}
		}()
	}
	wg.Wait()
	close(ids)
	want := map[string]bool{}
	for id := range ids {
		want[id] = true
	}
	require.Len(t, want, n)
	terminal := map[string]bool{}
	deadline := start.Add(20 * time.Second)
	for len(terminal) < n {
		b, ok := hook.Next(time.Until(deadline))
		if !ok {
			t.Fatalf("only %d of %d messages terminal after %v; stats %+v", len(terminal), n, time.Since(start), sim.Stats())
		}
		for _, ev := range simtest.Events(t, waapi.ParseWebhook, [][]byte{b}) {
			require.True(t, want[ev.WAMID], ev.WAMID)
			if ev.Status == provider.StatusDelivered || ev.Status == provider.StatusFailed || ev.Status == provider.StatusRead {
				terminal[ev.WAMID] = true
			}
		}
	}
	t.Logf("all terminal after %v; stats %+v", time.Since(start), sim.Stats())
}
