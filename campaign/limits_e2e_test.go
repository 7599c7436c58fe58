package campaign_test

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/throttle"
)

// TestPairIntervalHoldsAcrossBroadcasts: two broadcasts on one number to
// the same recipients, running at once. The simulator refuses (131056) any
// second message to a recipient within the pair interval; none is refused,
// every recipient gets both messages, and at the simulator the two are at
// least the interval apart.
func TestPairIntervalHoldsAcrossBroadcasts(t *testing.T) {
	t.Parallel()
	const interval = time.Second
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{PairInterval: interval, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.accountYAML = "    pair_interval: 1s\n    daily_unique_limit: unlimited"
	const n = 20
	b.apply(b.writeCampaign("first", n, 50, `      text: "First {{name}}"`))
	b.apply(b.writeCampaign("second", n, 50, `      text: "Second {{name}}"`))
	b.startWorker(10)
	b.startWorker(10)
	b.startScheduler()
	b.waitFor(60*time.Second, "both delivered", func() bool {
		return b.counts("first")["delivered"] == n && b.counts("second")["delivered"] == n
	})
	require.Zero(t, b.sim.Stats().PairLimited, "a message went out within the pair interval")
	at := map[string][]time.Time{}
	for _, s := range b.sim.Sends() {
		at[s.Phone] = append(at[s.Phone], s.At)
	}
	require.Len(t, at, n)
	for phone, ts := range at {
		require.Len(t, ts, 2, phone)
		gap := ts[1].Sub(ts[0])
		require.GreaterOrEqual(t, gap, interval, "%s got two messages %s apart", phone, gap)
	}
}

// countingLimits counts, per recipient, the sends one limit (hold: the
// budget, the frequency cap) held back.
type countingLimits struct {
	*throttle.Recipients
	hold throttle.Hold
	mu   sync.Mutex
	held map[string]int
}

// newCountingLimits counts the sends hold held back, on the bench's Redis.
func newCountingLimits(b *bench, hold throttle.Hold) *countingLimits {
	return &countingLimits{Recipients: throttle.NewRecipients(b.rds.Client), hold: hold, held: map[string]int{}}
}

func (c *countingLimits) Admit(ctx context.Context, g throttle.Gate, now time.Time, take bool) (throttle.Verdict, error) {
	v, err := c.Recipients.Admit(ctx, g, now, take)
	if err == nil && v.Hold == c.hold {
		c.mu.Lock()
		c.held[g.Recipient]++
		c.mu.Unlock()
	}
	return v, err
}

// reset forgets the holds counted so far.
func (c *countingLimits) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.held)
}

// heldAtLeast reports whether every phone was held back k times or more.
func (c *countingLimits) heldAtLeast(phones []string, k int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range phones {
		if c.held[p] < k {
			return false
		}
	}
	return true
}

// TestBudgetDefersNewRecipients: with a budget of 10 unique recipients per
// 24 h, an 18-recipient broadcast sends 10, defers the other 8 (not failed,
// and `status` says why and until when), while a second broadcast to
// recipients already counted goes on. When the window frees room (the clock
// moves 24 h on), the deferred 8 go out, each once.
func TestBudgetDefersNewRecipients(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	clk := &offsetClock{}
	b.opts.Now = clk.Now
	b.opts.BudgetRecheck = 200 * time.Millisecond
	limits := newCountingLimits(b, throttle.HoldBudget)
	b.recipients = limits
	b.accountYAML = "    pair_interval: 100ms\n    daily_unique_limit: 10"
	b.broadcastYAML = "    deadline: 72h"
	const n, limit = 18, 10
	b.apply(b.writeCampaign("big", n, 50, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	svc := b.service()
	svc.UseBudgets(limits)
	ctx := context.Background()

	b.waitFor(30*time.Second, "10 sent", func() bool { return b.counts("big")["delivered"] == limit })
	var deferred []string
	for _, r := range b.export("big") {
		if r.Status.Pending() {
			deferred = append(deferred, r.Phone)
		}
	}
	require.Len(t, deferred, n-limit)
	// Each deferred recipient has been held back twice, i.e. retried and
	// held again: the budget, not slowness, keeps them.
	b.waitFor(30*time.Second, "deferred sends retried", func() bool { return limits.heldAtLeast(deferred, 2) })
	require.Equal(t, limit, b.sim.Stats().Accepted)
	st, err := svc.Status(ctx, "big")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, st.Status)
	require.Zero(t, st.Counts["failed"])
	require.NotNil(t, st.Budget)
	require.Equal(t, campaign.BudgetReport{Ledger: "number:119060000040020", Limit: limit, Used: limit, Full: true, NextRoom: st.Budget.NextRoom}, *st.Budget)
	require.NotNil(t, st.Budget.NextRoom)
	require.WithinDuration(t, clk.Now().Add(delivery.BudgetWindow), *st.Budget.NextRoom, time.Minute)

	// Recipients already counted in the window are not new: a second
	// broadcast to 10 of them goes out while the budget is full.
	for _, r := range b.export("big") {
		if r.Status.Accepted() {
			b.phones = append(b.phones, r.Phone) // which ten got through depends on scheduling
		}
	}
	b.apply(b.writeCampaign("again", limit, 50, `      text: "Again {{name}}"`))
	b.waitFor(30*time.Second, "second broadcast delivered", func() bool { return b.counts("again")["delivered"] == limit })
	require.Equal(t, 2*limit, b.sim.Stats().Accepted)

	clk.Add(delivery.BudgetWindow + time.Second)
	b.waitFor(30*time.Second, "deferred sent after the window moved", func() bool { return b.counts("big")["delivered"] == n })
	seen := map[string]int{}
	for _, s := range b.sim.Sends() {
		if strings.HasPrefix(s.Text, "Hi ") {
			seen[s.Phone]++
		}
	}
	require.Len(t, seen, n)
	for p, c := range seen {
		require.Equal(t, 1, c, p)
	}
}

// offsetClock is the wall clock moved on by a settable offset: time flows
// (leases, rate limits) and can jump a day.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Add(d time.Duration) { c.mu.Lock(); c.offset += d; c.mu.Unlock() }

// TestErrorPolicyEndToEnd: one recipient of a broadcast gets a provider
// error; where it ends is WHATSAPP.md §4's policy for that code.
func TestErrorPolicyEndToEnd(t *testing.T) {
	t.Parallel()
	const victim = "4915100000000" // the first recipient
	tests := []struct {
		name  string
		code  string
		times int // how often the victim gets the error (0 = always)
		http  int // the answer's HTTP status (0 = 200)
		// second, when set, adds broadcast b2 with these extra lines.
		second string
		// check runs once the broadcasts have settled.
		settled func(b *bench) bool
		check   func(t *testing.T, b *bench, victimRow delivery.Row, calls int)
	}{
		{
			name: "permanent: undeliverable fails at once", code: "131026",
			settled: func(b *bench) bool { c := b.counts("b1"); return c["delivered"]+c["failed"] == 5 },
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Equal(t, delivery.Failed, r.Status)
				require.Equal(t, "131026", r.ErrorCode)
				require.Equal(t, 1, calls)
			},
		},
		{
			name: "transient: unknown error gives up after 3 tries", code: "131000",
			settled: func(b *bench) bool { c := b.counts("b1"); return c["delivered"]+c["failed"] == 5 },
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Equal(t, delivery.Failed, r.Status)
				require.Equal(t, "131000", r.ErrorCode)
				require.Equal(t, 3, calls)
			},
		},
		{
			name: "transient: service unavailable with a 503 gives up after 5 tries", code: "131016", http: 503,
			settled: func(b *bench) bool { c := b.counts("b1"); return c["delivered"]+c["failed"] == 5 },
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Equal(t, delivery.Failed, r.Status)
				require.Equal(t, "131016", r.ErrorCode, "an answer with Meta's code is a refusal, not a lost answer")
				require.Equal(t, 5, calls)
			},
		},
		{
			name: "transient: pair rate retries after 4^X s", code: "131056", times: 2,
			settled: func(b *bench) bool { return b.counts("b1")["delivered"] == 5 },
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Equal(t, delivery.Delivered, r.Status)
				require.Equal(t, 3, calls)
				require.Equal(t, 3, r.Attempts)
			},
		},
		{
			name: "halt campaign: template missing pauses the broadcast only", code: "132001",
			second: "    deadline: 1h",
			settled: func(b *bench) bool {
				return b.status("b1").Status == campaign.StatusPaused && b.counts("b1")["sending"] == 0 && b.counts("b2")["delivered"] == 5
			},
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Contains(t, b.status("b1").Reason, "132001")
				require.True(t, r.Status == delivery.Planned || r.Status == delivery.Queued, "%s: the victim waits for a resume", r.Status)
				require.Equal(t, campaign.StatusCompleted, b.status("b2").Status, "another broadcast on the account goes on")
			},
		},
		{
			name: "halt account: spam limit pauses every broadcast of the number", code: "131048",
			second: "    start_at: " + time.Now().Add(time.Hour).Format(time.RFC3339),
			settled: func(b *bench) bool {
				return b.status("b1").Status == campaign.StatusPaused && b.status("b2").Status == campaign.StatusPaused &&
					b.counts("b1")["sending"] == 0
			},
			check: func(t *testing.T, b *bench, r delivery.Row, calls int) {
				require.Contains(t, b.status("b1").Reason, "131048")
				require.Contains(t, b.status("b2").Reason, "131048", "the scheduled broadcast on the number is paused too")
				require.NotEqual(t, delivery.Failed, r.Status)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
			var mu sync.Mutex
			calls := 0
			b.interceptSendsHTTP(func(p string) (int, string) {
				if p != victim {
					return 0, ""
				}
				mu.Lock()
				defer mu.Unlock()
				calls++
				if tc.times > 0 && calls > tc.times {
					return 0, ""
				}
				return cmp.Or(tc.http, http.StatusOK), fmt.Sprintf(`{"status":"0","message":"(#%s) provider error"}`, tc.code)
			})
			// The victim's retries wait for the code's policy, not for the
			// pair interval its refused tries took.
			b.accountYAML = "    pair_interval: 0s\n    daily_unique_limit: unlimited"
			b.apply(b.writeCampaign("b1", 5, 20, `      text: "Hi {{name}}"`))
			if tc.second != "" {
				// A second broadcast on the account, to other recipients,
				// shows the scope of a halt.
				b.firstPhone, b.broadcastYAML = 100, tc.second
				b.apply(b.writeCampaign("b2", 5, 20, `      text: "Other {{name}}"`))
			}
			b.startWorker(3)
			b.startScheduler()
			b.waitFor(60*time.Second, "settled", func() bool { return tc.settled(b) })
			var row delivery.Row
			for _, r := range b.export("b1") {
				if r.Phone == victim {
					row = r
				}
			}
			mu.Lock()
			defer mu.Unlock()
			tc.check(t, b, row, calls)
		})
	}
}

func (b *bench) status(name string) campaign.Report {
	b.t.Helper()
	r, err := b.service().Status(context.Background(), name)
	require.NoError(b.t, err)
	return r
}
