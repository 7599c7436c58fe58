package campaign_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/throttle"
)

type noLimit struct{}

func (noLimit) Wait(context.Context, string, float64) error { return nil }

func sendTask(ref delivery.Ref) *asynq.Task {
	p, _ := json.Marshal(delivery.SendPayload{DeliveryID: ref.ID, Gen: ref.Gen})
	return asynq.NewTask(delivery.TypeSend, p)
}

// stallRecipients blocks the take of the recipient's place (between the
// claim and the request) until release is closed: a slow Redis, a paused
// process.
type stallRecipients struct {
	entered chan struct{}
	release chan struct{}
}

func (s *stallRecipients) Admit(_ context.Context, _ throttle.Gate, _ time.Time, take bool) (throttle.Verdict, error) {
	if take {
		close(s.entered)
		<-s.release
	}
	return throttle.Verdict{}, nil
}

func (s *stallRecipients) HoldPair(context.Context, throttle.Gate, time.Duration) error { return nil }

// A copy that stalls between its claim and its request past its lease never
// sends after another copy reconciled, claimed and sent: not two templates.
func TestStalledClaimNeverSendsAfterLosingItsLease(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.opts.Lease = 2 * time.Second
	b.opts.SettleWindow = time.Second
	b.apply(b.writeCampaign("stall", 1, 100, `      template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}`))
	clk := testclock.New(time.Now()) // after start_at (the apply)
	b.opts.Now = clk.Now
	ctx := context.Background()
	f, _ := b.feeder()
	job := b.firstQueued(f, "stall")

	senders := &app.Senders{Getenv: getenv}
	sr := &stallRecipients{entered: make(chan struct{}), release: make(chan struct{})}
	a := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: senders, Limiter: noLimit{}, Recipients: sr}, b.opts)
	bh := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: senders, Limiter: noLimit{}}, b.opts)

	var wg sync.WaitGroup
	var errA error
	wg.Add(1)
	go func() {
		defer wg.Done()
		actx, cancel := context.WithTimeout(ctx, 20*time.Second) // task timeout > lease
		defer cancel()
		errA = a.ProcessTask(actx, sendTask(job.Ref))
	}()
	<-sr.entered                                // A has claimed and stalls before its request
	clk.Add(b.opts.Lease + b.opts.SettleWindow) // A's lease and the settle window end; A's ctx is still alive
	// Second copy: reconcile finds nothing within the window -> unclaim ->
	// claim -> send.
	require.NoError(t, bh.ProcessTask(ctx, sendTask(job.Ref)))
	close(sr.release)
	wg.Wait()
	t.Logf("A returned %v", errA)
	n := 0
	for _, s := range b.sim.Sends() {
		if s.Phone == job.Phone {
			n++
		}
	}
	require.Equal(t, 1, n, "phone %s got %d templates", job.Phone, n)
}

// hookSenders runs hook before the first Conversation call.
type hookSenders struct {
	inner delivery.Senders
	once  sync.Once
	hook  func()
}

type hookSender struct {
	delivery.Sender
	s *hookSenders
}

func (h *hookSenders) Sender(ctx context.Context, a delivery.Account) (delivery.Sender, error) {
	s, err := h.inner.Sender(ctx, a)
	if err != nil {
		return nil, err
	}
	return hookSender{s, h}, nil
}

func (h hookSender) Conversation(ctx context.Context, phone string, limit int) ([]provider.ConversationMessage, error) {
	h.s.once.Do(h.s.hook)
	return h.Sender.Conversation(ctx, phone, limit)
}

// A cancel that lands while a retry reconciles a crashed send must still end
// the delivery (skipped), not leave it queued in a cancelled broadcast.
func TestCancelDuringReconcileEndsSkipped(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.apply(b.writeCampaign("cxl", 1, 100, `      text: "Hi {{name}}"`))
	ctx := context.Background()
	f, _ := b.feeder()
	job := b.firstQueued(f, "cxl")
	// A crashed attempt: claimed, lease over, never reached the provider.
	now := time.Now()
	ok, err := b.db.Claim(ctx, job.Ref, now.Add(-time.Minute), now.Add(-time.Second), nil, consent.Check{})
	require.NoError(t, err)
	require.True(t, ok)

	hs := &hookSenders{inner: &app.Senders{Getenv: getenv}, hook: func() {
		_, err := b.service().Cancel(ctx, "cxl") // operator cancels during the reconcile's lookup
		require.NoError(t, err)
	}}
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: hs, Limiter: noLimit{}}, b.opts)
	require.NoError(t, h.ProcessTask(ctx, sendTask(job.Ref)))
	require.NoError(t, f.Tick(ctx))
	require.NoError(t, f.Sweep(ctx))
	got, err := b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	gb, _ := campaign.BroadcastOf(got)
	t.Logf("broadcast %s, delivery %s", gb.Status, got.Status)
	require.False(t, got.Status.Pending() || got.Status == delivery.Sending, "delivery left %s", got.Status)
}
