package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

// A worker took a delivery's task and never finished it (it died; here its
// handler hangs): once the delivery has waited StaleAfter, the sweep sends
// it under a new generation, without waiting for asynq to hand the
// orphaned task out again (its 30 s lease and a recoverer tick of up to a
// minute). Should the old task ever run, its generation makes it a no-op.
func TestSweepRevivesADeliveryWhoseTaskIsOrphaned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.apply(b.writeCampaign("orphan", 1, 50, `      text: "Hi {{name}}"`))
	clk := testclock.New(time.Now())
	b.opts.Now = clk.Now
	f, insp := b.feeder()
	job := b.firstQueued(f, "orphan")

	took, hang := make(chan struct{}), make(chan struct{})
	srv := asynq.NewServer(b.rds.Opt, asynq.Config{Concurrency: 1, Queues: map[string]int{delivery.QueueBroadcast: 1},
		TaskCheckInterval: 50 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(delivery.TypeSend, func(context.Context, *asynq.Task) error {
		close(took)
		<-hang
		return nil
	})
	require.NoError(t, srv.Start(mux))
	t.Cleanup(func() { close(hang); srv.Shutdown() })
	select {
	case <-took:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker never took the task")
	}

	clk.Add(b.opts.WithDefaults().StaleAfter - time.Second)
	require.NoError(t, f.Sweep(ctx))
	got, err := b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, job.Gen, got.Gen, "not stale yet: its task may still be held by a live handler")

	clk.Add(2 * time.Second)
	require.NoError(t, f.Sweep(ctx))
	got, err = b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, job.Gen+1, got.Gen, "sent under a new generation")
	info, err := insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(got.Ref))
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
}
