package campaign_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

// orphaned is the real inspector, reporting an active task as asynq does
// once its worker stopped extending the task's lease (it died): what a
// test cannot make happen in-process without killing itself.
type orphaned struct{ *asynq.Inspector }

func (o orphaned) ListActiveTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error) {
	infos, err := o.Inspector.ListActiveTasks(queue, opts...)
	for _, i := range infos {
		i.IsOrphaned = true
	}
	return infos, err
}

// A worker took a delivery's task and never finished it. While the worker
// lives (here its handler hangs, holding the task's lease), the sweep leaves
// the delivery alone however long it waits: a handler may wait long for a
// rate token. Once asynq shows the task orphaned (its worker died), the
// sweep sends the delivery under a new generation at once, without waiting
// for asynq's recoverer to hand the task out again (up to a minute); should
// the old task ever run, its generation makes it a no-op.
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

	clk.Add(time.Hour) // stale many times over
	require.NoError(t, f.Sweep(ctx))
	got, err := b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, job.Gen, got.Gen, "its worker lives: left alone")

	clk.Add(time.Hour) // the sweep restarted its queued clock
	client := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = client.Close() })
	require.NoError(t, campaign.NewFeeder(b.db, client, orphaned{insp}, b.opts).Sweep(ctx))
	got, err = b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, job.Gen+1, got.Gen, "sent under a new generation")
	info, err := insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(got.Ref))
	require.NoError(t, err)
	require.Equal(t, asynq.TaskStatePending, info.State)
}
