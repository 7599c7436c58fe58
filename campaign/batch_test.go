package campaign_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/throttle"
)

// TestBatchHandsOffWhatMustWait runs one batch send task by hand: the
// deliveries that go through are sent once each, the one the provider
// surely did not take (a 503) is handed to a send task of its own, due
// later, while the batch itself succeeds; a second run of the batch (asynq
// delivers at least once) sends nothing twice; and a worker that is
// shutting down starts nothing of a batch and asks for it again.
func TestBatchHandsOffWhatMustWait(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	const n = 10
	failing := "4915100000003"
	b.interceptSendsHTTP(func(p string) (int, string) {
		if p == failing {
			return http.StatusServiceUnavailable, `{"status":"0","message":"try later"}`
		}
		return 0, ""
	})
	b.apply(b.writeCampaign("batched", n, 100, `      text: "Hi {{name}}"`))
	f, insp := b.feeder()
	ctx := context.Background()
	require.NoError(t, f.Tick(ctx))
	tasks, err := insp.ListPendingTasks(delivery.QueueBroadcast)
	require.NoError(t, err)
	require.Len(t, tasks, 1, "ten deliveries at 100/s make one batch")
	task := asynq.NewTask(tasks[0].Type, tasks[0].Payload)
	require.Equal(t, n, delivery.SendsIn(task))

	queue := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = queue.Close() })
	deps := campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal(), Queue: queue}

	// Shutting down: nothing starts, the batch comes back.
	stopped, stop := context.WithCancel(ctx)
	stop()
	opts := b.opts
	opts.Stop = stopped
	var wait *delivery.WaitError
	require.ErrorAs(t, campaign.NewSendHandler(deps, opts).ProcessBatch(ctx, task), &wait)
	require.Zero(t, b.sim.Stats().Accepted)
	require.Equal(t, n, b.counts("batched")["queued"])

	h := campaign.NewSendHandler(deps, b.opts)
	require.NoError(t, h.ProcessBatch(ctx, task), "one delivery's trouble does not fail the batch")
	require.Equal(t, n-1, b.sim.Stats().Accepted)
	var handed delivery.Row
	for _, r := range b.export("batched") {
		if r.Phone == failing {
			handed = r
			continue
		}
		require.Equal(t, 1, b.sim.SendCount(r.Phone), r.Phone)
		require.Equal(t, delivery.Sent, r.Status, r.Phone)
	}
	require.Equal(t, delivery.Queued, handed.Status, "handed back, not failed")
	info, err := insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(delivery.Ref{ID: handed.ID}))
	require.NoError(t, err, "the 503's delivery has a task of its own")
	require.Equal(t, asynq.TaskStateScheduled, info.State, "due after a back-off")

	require.NoError(t, h.ProcessBatch(ctx, task), "run again")
	require.Equal(t, n-1, b.sim.Stats().Accepted, "nothing sent twice")
}
