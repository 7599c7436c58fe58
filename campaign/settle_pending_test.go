package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/webhook"
)

// pendingWorld is one Sobot recipient whose send the provider accepts and
// answers with a bare 500 (its outcome unknown), a settle window of a
// minute, and what a worker and a receiver are made of, all on one clock
// and driven by hand: a send handler, the apply handler, the receiver.
type pendingWorld struct {
	*bench
	sim     *sobotsim.Server
	clk     *testclock.Clock
	send    *delivery.SendHandler
	apply   *webhook.ApplyHandler
	recv    *webhook.Receiver
	job     delivery.Job
	pending *webhook.Pending
	logs    *bytes.Buffer
}

const pendingWindow = time.Minute

func newPendingWorld(t *testing.T) *pendingWorld {
	t.Helper()
	b := newBench(t, botsailorsim.Options{})
	sim, apiURL := sobotAlways500(t)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "people.csv"), []byte("phone,name,code\n4915100000001,Ann,C1\n"), 0o600))
	b.applyProviderYAML(sobotAccount(apiURL) + fmt.Sprintf(`    settle_window: %s
broadcasts:
  - name: one
    account: main
    audience: {csv: people.csv}
    message: {text: "Hi {{name}}"}
`, pendingWindow))

	w := &pendingWorld{bench: b, sim: sim, clk: testclock.New(time.Now()), logs: &bytes.Buffer{}}
	b.opts.Now = w.clk.Now
	f, _ := b.feeder()
	w.job = b.firstQueued(f, "one")
	// As app.NewWorker and app.NewReceiver wire them, on the test's clock.
	w.pending = &webhook.Pending{Redis: b.rds.Client, Logger: slog.New(slog.NewTextHandler(w.logs, nil))}
	w.send = campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: providerEnv}, Limiter: noLimit{},
		Webhooks: app.PendingWebhooks{Pending: w.pending, DB: b.db}}, b.opts)
	w.apply = &webhook.ApplyHandler{Store: app.WebhookStore{DB: b.db}, Pending: w.pending, Now: w.clk.Now}
	recv, closeRecv := app.NewReceiver(b.conns, providerEnv, nil)
	t.Cleanup(closeRecv)
	recv.Now = w.clk.Now
	w.recv = recv
	return w
}

// process runs the send task once and returns the wait it asked for ("" if
// none).
func (w *pendingWorld) process() string {
	w.t.Helper()
	err := w.send.ProcessTask(context.Background(), sendTask(w.job.Ref))
	if err == nil {
		return ""
	}
	var we *delivery.WaitError
	require.ErrorAs(w.t, err, &we)
	return we.Reason
}

// pushInWindow sends the message (answered with a bare 500), reconciles it
// into awaiting the provider's confirmation, posts the provider's
// delivered status of it to the receiver 10 s later, moves the clock past
// the settle window's end and runs the send task: it must wait for the
// webhook rather than send again. It returns when the webhook arrived.
func (w *pendingWorld) pushInWindow() (arrived time.Time) {
	w.t.Helper()
	until := w.clk.Now().Add(pendingWindow)
	require.Equal(w.t, "reconcile after lost answer", w.process())
	require.Len(w.t, w.sim.Sends(), 1)
	w.clk.Add(w.opts.AmbiguousDelay)
	require.Equal(w.t, delivery.ReasonAwaiting, w.process())

	w.clk.Add(10 * time.Second)
	s := w.sim.Sends()[0]
	body := fmt.Sprintf(`{"id":%q,"status":"delivered","timestamp":"%d","recipient_id":%q}`, s.WAMID, w.clk.Now().Unix(), s.Phone)
	rec := httptest.NewRecorder()
	w.recv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/main/"+hookSecret, strings.NewReader(body)))
	require.Equal(w.t, http.StatusOK, rec.Code, rec.Body.String())
	arrived = w.clk.Now()

	w.clk.Set(until.Add(time.Second))
	require.Equal(w.t, delivery.ReasonApplying, w.process())
	require.Len(w.t, w.sim.Sends(), 1, "not sent again while the webhook is on its way")
	return arrived
}

// queuedApplies returns the apply tasks waiting in the status queue.
func (w *pendingWorld) queuedApplies() []*asynq.TaskInfo {
	w.t.Helper()
	ins := asynq.NewInspector(w.rds.Opt)
	defer func() { _ = ins.Close() }()
	tasks, err := ins.ListPendingTasks(webhook.Queue)
	if err != nil && !strings.Contains(err.Error(), "queue not found") {
		require.NoError(w.t, err)
	}
	return tasks
}

// settledOnce checks that the message was recorded from the webhook,
// settled, and sent once.
func (w *pendingWorld) settledOnce() {
	w.t.Helper()
	require.Equal(w.t, "", w.process(), "nothing left to do")
	row := w.export("one")[0]
	require.Equal(w.t, delivery.Delivered, row.Status)
	require.Equal(w.t, delivery.SettleSettled, row.Settle)
	require.Equal(w.t, w.sim.Sends()[0].WAMID, row.WAMID)
	require.Len(w.t, w.sim.Sends(), 1, "sent once")
}

// A webhook showing the message reached the receiver before the settle
// window ended, but no worker has applied it yet (its task still waits in
// the status queue): when the window ends the message is not sent again;
// it waits for the webhook, which settles it once applied. Before, only
// applied webhooks were looked at and the message went out twice.
func TestUnknownOutcomeWaitsForAQueuedWebhook(t *testing.T) {
	t.Parallel()
	w := newPendingWorld(t)
	w.pushInWindow()
	applies := w.queuedApplies()
	require.Len(t, applies, 1, "queued, not applied")
	w.clk.Add(delivery.ApplyingWait)
	require.Equal(t, delivery.ReasonApplying, w.process(), "and again, as long as it is not applied")

	// The worker applies it: it settles the message.
	require.NoError(t, w.apply.ProcessTask(context.Background(), asynq.NewTask(applies[0].Type, applies[0].Payload)))
	w.clk.Add(delivery.ApplyingWait)
	w.settledOnce()
}

// The same for a webhook the receiver kept in the database because Redis
// could not take it (nor record it): the inbox holds the message back
// until a worker applies what was kept.
func TestUnknownOutcomeWaitsForAKeptWebhook(t *testing.T) {
	t.Parallel()
	w := newPendingWorld(t)
	down := testenv.ClosedAddr(t)
	queue := asynq.NewClient(asynq.RedisClientOpt{Addr: down})
	t.Cleanup(func() { _ = queue.Close() })
	gone := redis.NewClient(&redis.Options{Addr: down, MaxRetries: -1})
	t.Cleanup(func() { _ = gone.Close() })
	w.recv.Queue, w.recv.Pending = queue, &webhook.Pending{Redis: gone}
	w.pushInWindow()
	require.Empty(t, w.queuedApplies())

	n, err := w.apply.ApplyKept(context.Background(), app.WebhookStore{DB: w.db})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	w.clk.Add(delivery.ApplyingWait)
	w.settledOnce()
}

// A webhook taken but never applied (its task archived, or lost with a
// crash) holds the message back for webhook.PendingStale at most: then it
// is logged once, forgotten, and the message is sent again.
func TestUnknownOutcomeStopsWaitingForAStaleWebhook(t *testing.T) {
	t.Parallel()
	w := newPendingWorld(t)
	arrived := w.pushInWindow()
	require.Len(t, w.queuedApplies(), 1)
	w.clk.Set(arrived.Add(webhook.PendingStale - time.Second))
	require.Equal(t, delivery.ReasonApplying, w.process(), "not stale yet")
	require.Empty(t, w.logs.String())

	w.sim.SetOptions(func(o *sobotsim.Options) { o.Fail500Rate = 0 })
	w.clk.Set(arrived.Add(webhook.PendingStale + delivery.ApplyingWait))
	require.Equal(t, "", w.process())
	require.Len(t, w.sim.Sends(), 2, "sent again")
	row := w.export("one")[0]
	require.Equal(t, delivery.Sent, row.Status)
	require.Equal(t, delivery.SettleResent, row.Settle)
	require.Equal(t, 1, strings.Count(w.logs.String(), "no longer hold back sending again"), w.logs.String())
}

// A busy worker may look at a send of unknown outcome for the first time
// only after its settle window has ended, when the webhook showing the
// message has already been applied and kept (the delivery was not yet
// awaiting, so the webhook could not settle it). The kept webhook settles
// it then; the message is not sent again.
func TestUnknownOutcomeFirstLookedAtAfterTheWindowSettlesFromKept(t *testing.T) {
	t.Parallel()
	w := newPendingWorld(t)
	until := w.clk.Now().Add(pendingWindow)
	require.Equal(t, "reconcile after lost answer", w.process())
	require.Len(t, w.sim.Sends(), 1)

	w.clk.Add(time.Second)
	s := w.sim.Sends()[0]
	body := fmt.Sprintf(`{"id":%q,"status":"delivered","timestamp":"%d","recipient_id":%q}`, s.WAMID, w.clk.Now().Unix(), s.Phone)
	rec := httptest.NewRecorder()
	w.recv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/webhooks/main/"+hookSecret, strings.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	applies := w.queuedApplies()
	require.Len(t, applies, 1)
	require.NoError(t, w.apply.ProcessTask(context.Background(), asynq.NewTask(applies[0].Type, applies[0].Payload)))

	w.clk.Set(until.Add(time.Second)) // the worker comes back only now
	w.settledOnce()
}
