package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/throttle"
)

// stopGrace is how long after pause or cancel returns a send may still
// reach the provider: one that was claimed before and is on the wire.
const stopGrace = time.Second

// Pause and cancel stop the sends that are already claimed by a worker and
// waiting for their rate token (at 2 msg/s, 50 slots hold 25 s of sends):
// nothing reaches the provider later than stopGrace after the command
// returns; a paused broadcast resumes and sends each recipient once; a
// cancelled one ends every recipient skipped or sent; and finished_at is
// when its last send really ended.
func TestStopIsEffectiveWithinASecond(t *testing.T) {
	t.Parallel()
	for _, verb := range []string{"pause", "cancel"} {
		t.Run(verb, func(t *testing.T) {
			t.Parallel()
			b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
			b.opts.Lease = 30 * time.Second // waits of up to 20 s for a token
			b.opts.FeedAhead = 30 * time.Second
			b.accountYAML = "    pair_interval: 0s"
			const n = 80
			b.apply(b.writeCampaign("slow", n, 2, `      text: "Hello {{name}}"`))
			b.startWorker(50)
			b.startScheduler()
			svc := b.service()
			ctx := context.Background()
			b.waitFor(30*time.Second, "50 tasks waiting for a token", func() bool {
				return b.sim.Stats().Accepted >= 4 && b.counts("slow")["queued"] >= 50
			})
			var err error
			if verb == "pause" {
				_, err = svc.Pause(ctx, "slow")
			} else {
				_, err = svc.Cancel(ctx, "slow")
			}
			require.NoError(t, err)
			returned := time.Now()
			// Nothing can be sent once no delivery is sending, queued or
			// (for a cancel) planned: a send needs a claim, which needs a
			// running broadcast.
			b.waitFor(30*time.Second, "no delivery in flight", func() bool {
				c := b.counts("slow")
				return c["sending"]+c["queued"] == 0
			})
			sends := b.sim.Sends()
			for _, s := range sends {
				require.False(t, s.At.After(returned.Add(stopGrace)), "a send reached the provider %s after %s returned", s.At.Sub(returned), verb)
			}
			rows := b.export("slow")
			c := b.counts("slow")
			require.Equal(t, len(sends), c["sent"]+c["delivered"], "every accepted send recorded: %v", c)
			if verb == "cancel" {
				require.Equal(t, n, c["skipped"]+c["sent"]+c["delivered"], "every recipient ends skipped or sent: %v", c)
				var last time.Time
				for _, r := range rows {
					if r.SentAt != nil && r.SentAt.After(last) {
						last = *r.SentAt
					}
				}
				// A send recorded in the same instant as the cancel is
				// caught up with by the scheduler's next tick.
				var st campaign.Report
				b.waitFor(5*time.Second, "finished_at at or after the last send", func() bool {
					st, err = svc.Status(ctx, "slow")
					require.NoError(t, err)
					return st.FinishedAt != nil && !st.FinishedAt.Before(last)
				})
				require.NotNil(t, st.FinishedAt)
				for _, r := range rows {
					require.Zero(t, r.Attempts*boolInt(r.Status == delivery.Skipped), "a skipped delivery counts no attempt: %+v", r)
				}
				return
			}
			require.Equal(t, n-len(sends), c["planned"], "paused sends go back to planned: %v", c)
			_, err = svc.Resume(ctx, "slow")
			require.NoError(t, err)
			// Faster now, so the test ends soon.
			require.NoError(t, b.db.Gorm().Exec(`UPDATE accounts SET rate_per_second = 200`).Error)
			b.waitFor(60*time.Second, "all delivered", func() bool { return b.counts("slow")["delivered"] == n })
			b.requireOncePerPhone(b.export("slow"))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// oneQueued is a bench with a broadcast, name, of one recipient whose
// send task is queued.
func oneQueued(t *testing.T, name string) (*bench, delivery.Job) {
	t.Helper()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: -1}})
	b.apply(b.writeCampaign(name, 1, 10, `      text: "Hi {{name}}"`))
	f, _ := b.feeder()
	return b, b.firstQueued(f, name)
}

// blockLimiter holds every rate wait until its context ends.
type blockLimiter struct{ entered chan struct{} }

func (l blockLimiter) Wait(ctx context.Context, _ string, _ float64) error {
	close(l.entered)
	<-ctx.Done()
	return ctx.Err()
}

// A send waiting for its rate token holds no claim: a worker that dies
// meanwhile (here: its task's context ends mid-wait, and nothing after the
// wait runs) leaves the delivery queued with no attempt counted, for the
// next run of its task to send at once — not stranded as sending until a
// lease runs out (seen: a 5 s drip step waited 173 s).
func TestWaitingSendHoldsNoClaim(t *testing.T) {
	t.Parallel()
	b, job := oneQueued(t, "w")
	ctx := context.Background()

	l := blockLimiter{entered: make(chan struct{})}
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: l}, b.opts)
	tctx, kill := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- h.ProcessTask(tctx, sendTask(job.Ref)) }()
	<-l.entered
	got, err := b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Queued, got.Status, "nothing claimed while waiting for a token")
	kill()
	require.Error(t, <-errc)
	got, err = b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, delivery.Queued, got.Status)
	require.Zero(t, got.Attempts)

	// The next run sends at once.
	h2 := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: noLimit{}}, b.opts)
	require.NoError(t, h2.ProcessTask(ctx, sendTask(job.Ref)))
	require.Equal(t, 1, b.sim.Stats().Accepted)
}

// departLimiter hands out departure slots wait after it is asked, as a
// delivery.Departer.
type departLimiter struct {
	wait time.Duration
	at   chan time.Time
}

func (departLimiter) Wait(context.Context, string, float64) error {
	return errors.New("a Departer is asked for its slot ahead")
}

func (l departLimiter) WaitAhead(context.Context, string, float64, time.Duration) (time.Time, error) {
	at := time.Now().Add(l.wait)
	l.at <- at
	return at, nil
}

func (departLimiter) Depart(ctx context.Context, _ string, _ float64, at time.Time) error {
	return throttle.SleepUntil(ctx, at)
}

// With a limiter that hands out departure slots ahead (throttle.Fleet),
// the send claims its delivery before its slot and the request leaves at
// the slot, not whenever the claim is done: the claim's varying delay does
// not bunch requests at the provider.
func TestRequestLeavesAtItsSlot(t *testing.T) {
	t.Parallel()
	b, job := oneQueued(t, "slot")
	ctx := context.Background()

	l := departLimiter{wait: 300 * time.Millisecond, at: make(chan time.Time, 1)}
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: l}, b.opts)
	require.NoError(t, h.ProcessTask(ctx, sendTask(job.Ref)))
	at := <-l.at
	sends := b.sim.Sends()
	require.Len(t, sends, 1)
	require.False(t, sends[0].At.Before(at), "the request left at its slot")
}

// The send path hands back a send's places through delivery.Refunder, found
// by a type assertion: the fleet's recipient limits must satisfy it.
var _ delivery.Refunder = (*throttle.Recipients)(nil)

// lateLimiter hands out a departure slot at once, and then finds every
// send late for it (throttle.ErrLate), as a stalled worker does.
type lateLimiter struct{}

func (lateLimiter) Wait(context.Context, string, float64) error {
	return errors.New("a Departer is asked for its slot ahead")
}

func (lateLimiter) WaitAhead(context.Context, string, float64, time.Duration) (time.Time, error) {
	return time.Now(), nil
}

func (lateLimiter) Depart(context.Context, string, float64, time.Time) error {
	return fmt.Errorf("throttle phone:1: 30ms after its slot, and the next is in 600ms: %w", throttle.ErrLate)
}

// A send late for its departure slot hands back its claim and what its
// recipient's Admit took: the next attempt sends at once, not a pair
// interval (6 s) later, held back by a message that never went (seen:
// the last sends of a bench broadcast came 3-6 s after the others).
func TestSendLateForItsSlotKeepsNoPairInterval(t *testing.T) {
	t.Parallel()
	b, job := oneQueued(t, "late")
	ctx := context.Background()
	limits := throttle.NewRecipients(b.rds.Client)
	require.Equal(t, 6*time.Second, job.Account.PairInterval)

	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: lateLimiter{}, Recipients: limits}, b.opts)
	err := h.ProcessTask(ctx, sendTask(job.Ref))
	var w *delivery.WaitError
	require.ErrorAs(t, err, &w)
	require.Equal(t, delivery.WaitRate, w.KindOf())
	require.Contains(t, err.Error(), throttle.ErrLate.Error())
	require.Zero(t, b.sim.Stats().Accepted)

	h2 := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: noLimit{}, Recipients: limits}, b.opts)
	require.NoError(t, h2.ProcessTask(ctx, sendTask(job.Ref)))
	require.Equal(t, 1, b.sim.Stats().Accepted)
}

// A provider that accepts a request long after the client gave up on it
// (seen: 45 s against a 30 s HTTP timeout) must not get the message twice:
// the lookup after the lost answer finds nothing yet, and the engine keeps
// looking over the settle window instead of sending again at once.
func TestSlowAcceptIsNotSentTwice(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.opts.SettleWindow = 15 * time.Second
	b.accountYAML = "    pair_interval: 0s"
	// Every fifth recipient's first send is accepted 4 s after it arrived,
	// with the client long gone (its request ends before the 3 s lease).
	inner := b.sim
	var mu sync.Mutex
	slowed := map[string]bool{}
	b.url = startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/whatsapp/send") {
			_ = r.ParseForm()
			p := r.PostForm.Get("phone_number")
			mu.Lock()
			slow := !slowed[p] && p[len(p)-1] == '5'
			slowed[p] = true
			mu.Unlock()
			if slow {
				time.Sleep(4 * time.Second) // the provider is slow; no one waits on this
				inner.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.Background()))
				return
			}
		}
		inner.ServeHTTP(w, r)
	})) + "/api/v1"
	const n = 40
	b.apply(b.writeCampaign("slowaccept", n, 50, `      text: "Hello {{name}}"`))
	b.startWorker(20)
	b.startScheduler()
	b.waitFor(60*time.Second, "every delivery delivered", func() bool { return b.counts("slowaccept")["delivered"] == n })
	b.requireOncePerPhone(b.export("slowaccept"))
	require.Equal(t, n, b.sim.Stats().Accepted)
}
