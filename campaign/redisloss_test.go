package campaign_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

// Redis losing its data mid-broadcast (a restart without persistence; here
// a flush of the test's database) loses every queued task and every status
// poll parked there. The scheduler notices at its next tick and re-enqueues
// them at once — not after the periodic sweep's StaleAfter, set here far
// beyond the test's time — and nothing is sent twice or lost.
func TestRedisDataLossRecoversAtOnce(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 5}})
	b.opts.StaleAfter = 10 * time.Minute
	b.opts.Polls = delivery.PollPlan{First: 500 * time.Millisecond, Offline: 2 * time.Second, ReadWindow: 5 * time.Second}
	b.accountYAML = "    pair_interval: 0s"
	const n = 200
	b.apply(b.writeCampaign("loss", n, 80, `      text: "Hello {{name}}"`))
	b.startWorker(20)
	b.startScheduler() // its feeder detects data loss, as `scheduler run` does

	b.waitFor(30*time.Second, "a quarter sent", func() bool { return b.sim.Stats().Accepted >= n/4 })
	require.NoError(t, b.rds.Client.FlushDB(context.Background()).Err())
	b.waitFor(60*time.Second, "every delivery delivered", func() bool { return b.counts("loss")["delivered"] == n })
	b.requireOncePerPhone(b.export("loss"))
	require.Equal(t, n, b.sim.Stats().Accepted)
}

// A real Redis restart without persistence mid-broadcast (SIGKILL, then an
// empty server on the same port): workers and scheduler reconnect, the
// scheduler notices the loss, and every recipient gets exactly one message;
// sending resumes within seconds, not after the StaleAfter sweep.
func TestRedisRestartWithoutPersistence(t *testing.T) {
	t.Parallel()
	rs := testenv.NewRedisServer(t)
	b := newBenchOn(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 9}}, rs.Redis)
	b.opts.StaleAfter = 10 * time.Minute
	b.opts.Polls = delivery.PollPlan{First: 500 * time.Millisecond, Offline: 2 * time.Second, ReadWindow: 5 * time.Second}
	b.accountYAML = "    pair_interval: 0s"
	const n = 300
	b.apply(b.writeCampaign("restart", n, 80, `      text: "Hello {{name}}"`))
	b.startWorker(20)
	b.startWorker(20)
	b.startScheduler()
	b.waitFor(30*time.Second, "a quarter sent", func() bool { return b.sim.Stats().Accepted >= n/4 })
	rs.Restart()
	restarted := time.Now()
	atRestart := b.sim.Stats().Accepted
	b.waitFor(60*time.Second, "sending resumed", func() bool { return b.sim.Stats().Accepted > atRestart+20 })
	t.Logf("%s restarted empty with %d of %d sent; 20 more sent %s later", rs, atRestart, n, time.Since(restarted).Round(time.Millisecond))
	b.waitFor(60*time.Second, "every delivery delivered", func() bool { return b.counts("restart")["delivered"] == n })
	b.requireOncePerPhone(b.export("restart"))
	require.Equal(t, n, b.sim.Stats().Accepted)
}

// After Redis lost its data, a delivery whose lease was still running at
// the loss (here: a send reconciling, its lease ending 2 s later) lost its
// task too; the scheduler looks for it again as soon as that lease ends,
// not StaleAfter (10 min here) later. The clock is injected.
func TestRedisDataLossRecoversRunningLeasesAsTheyEnd(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	b.opts.StaleAfter = 10 * time.Minute
	b.apply(b.writeCampaign("lease", 3, 10, `      text: "Hi {{name}}"`))
	clk := testclock.New(time.Now()) // after start_at (the apply)
	b.opts.Now = clk.Now
	ctx := context.Background()
	f, insp := b.feeder()
	job := b.firstQueued(f, "lease")
	ok, err := b.db.Claim(ctx, job.Ref, clk.Now(), clk.Now().Add(2*time.Second), nil, consent.Check{})
	require.NoError(t, err)
	require.True(t, ok)

	require.NoError(t, b.rds.Client.FlushDB(ctx).Err())
	require.NoError(t, f.Tick(ctx)) // notices the loss; the lease still runs
	_, err = insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(job.Ref))
	require.True(t, errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound), "its task is gone: %v", err)

	clk.Add(b.opts.AmbiguousDelay + 3*time.Second) // the lease has ended
	require.NoError(t, f.Tick(ctx))
	got, err := b.db.Job(ctx, job.ID)
	require.NoError(t, err)
	require.Equal(t, job.Gen+1, got.Gen, "re-enqueued under a new generation")
	_, err = insp.GetTaskInfo(delivery.QueueBroadcast, delivery.SendTaskID(got.Ref))
	require.NoError(t, err, "its new task is queued")
}
