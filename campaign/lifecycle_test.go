package campaign_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/wacamp/wacamp/store"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/templates"
	"github.com/wacamp/wacamp/throttle"
)

func pendingSends(t *testing.T, b *bench) int {
	t.Helper()
	insp := asynq.NewInspector(b.rds.Opt)
	defer insp.Close()
	n := 0
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		insp.ListPendingTasks, insp.ListScheduledTasks, insp.ListRetryTasks, insp.ListActiveTasks,
	} {
		for _, info := range listAll(t, list) {
			n += delivery.SendsIn(asynq.NewTask(info.Type, info.Payload))
		}
	}
	return n
}

// listAll returns every task list lists in the send queue (none before
// the queue exists).
func listAll(t *testing.T, list func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)) []*asynq.TaskInfo {
	t.Helper()
	var all []*asynq.TaskInfo
	for page := 1; ; page++ {
		infos, err := list(delivery.QueueBroadcast, asynq.PageSize(500), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return all
		}
		require.NoError(t, err)
		all = append(all, infos...)
		if len(infos) < 500 {
			return all
		}
	}
}

func TestPauseResumeCancel(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 1}})
	const n = 250
	b.apply(b.writeCampaign("pr", n, 100, `      text: "Hello {{name}}"`))
	b.startWorker(10)
	b.startWorker(10)
	b.startScheduler()
	svc := b.service()
	ctx := context.Background()

	b.waitFor(30*time.Second, "100 sent", func() bool { return b.sim.Stats().Accepted >= 100 })
	_, err := svc.Pause(ctx, "pr")
	require.NoError(t, err)
	// In-flight sends finish (at most the two workers' concurrency); nothing new starts.
	atPause := b.sim.Stats().Accepted
	b.waitFor(10*time.Second, "no delivery sending", func() bool { return b.counts("pr")["sending"] == 0 })
	require.Never(t, func() bool { return b.sim.Stats().Accepted > atPause+20 }, time.Second, 50*time.Millisecond)
	settled := b.sim.Stats().Accepted
	require.Never(t, func() bool { return b.sim.Stats().Accepted != settled }, time.Second, 50*time.Millisecond, "sent while paused")
	c := b.counts("pr")
	require.Zero(t, c["queued"], "queued deliveries go back to planned on pause")
	require.Equal(t, n-settled, c["planned"])
	st, err := svc.Status(ctx, "pr")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusPaused, st.Status)
	require.Zero(t, pendingSends(t, b), "pause deletes the broadcast's queued tasks")

	_, err = svc.Resume(ctx, "pr")
	require.NoError(t, err)
	b.waitFor(60*time.Second, "all delivered", func() bool { return b.counts("pr")["delivered"] == n })
	b.requireOncePerPhone(b.export("pr"))
	require.Equal(t, n, b.sim.Stats().Accepted)

	// Cancel a second broadcast midway: the rest is skipped, nothing queued remains.
	b.apply(b.writeCampaign("cx", n, 100, `      text: "Bye {{name}}"`))
	b.waitFor(30*time.Second, "50 of cx sent", func() bool { return b.sim.Stats().Accepted >= n+50 })
	_, err = svc.Cancel(ctx, "cx")
	require.NoError(t, err)
	b.waitFor(10*time.Second, "no cx delivery pending", func() bool {
		c := b.counts("cx")
		return c["sending"]+c["queued"]+c["planned"] == 0
	})
	settled = b.sim.Stats().Accepted
	require.Never(t, func() bool { return b.sim.Stats().Accepted != settled }, time.Second, 50*time.Millisecond, "sent after cancel")
	c = b.counts("cx")
	require.Equal(t, n, c["skipped"]+c["sent"]+c["delivered"], "every recipient ends skipped or sent: %v", c)
	require.Equal(t, settled-n, c["sent"]+c["delivered"])
	// Tasks that were waiting for a rate token when the cancel came hold no
	// claim (their rows are skipped already); they end as no-ops when they
	// next run, and the queue drains.
	b.waitFor(15*time.Second, "cx's tasks drained", func() bool { return pendingSends(t, b) == 0 })
	for _, r := range b.export("cx") {
		if r.Status == delivery.Skipped {
			require.Equal(t, "broadcast cancelled", r.Error)
		}
	}
	_, err = svc.Resume(ctx, "cx")
	require.ErrorIs(t, err, campaign.ErrInvalidTransition)
}

// TestRedisHoldsAWindowNotTheAudience feeds a large audience with no
// workers: Redis must hold at most the window, whatever the audience size.
func TestRedisHoldsAWindowNotTheAudience(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	const n = 5000 // ten windows
	b.apply(b.writeCampaign("big", n, 80, `      text: "Hi {{name}}"`))
	b.opts.MaxWindow = 500
	f, insp := b.feeder()
	ctx := context.Background()
	for range 5 {
		require.NoError(t, f.Tick(ctx))
	}
	insp.Close()
	inRedis := pendingSends(t, b)
	require.LessOrEqual(t, inRedis, 500)
	require.Greater(t, inRedis, 0)
	c := b.counts("big")
	require.Equal(t, inRedis, c["queued"])
	require.Equal(t, n-inRedis, c["planned"])
	keys, err := b.rds.Client.DBSize(ctx).Result()
	require.NoError(t, err)
	require.Less(t, keys, int64(600), "redis keys grow with the window, not the audience")
	// Postgres too holds deliveries for the window only: the rest of the
	// audience is planned as the window moves on.
	var rows int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries`).Scan(&rows).Error)
	require.EqualValues(t, inRedis, rows, "deliveries are created as the window needs them")
}

// TestFeederInterleavesBroadcasts: every send shares one FIFO queue and
// waits for its number's token in a worker slot, so the feeder must not put
// one broadcast's whole window in front of another's (the first number
// would take every slot and the others would idle behind it). Windows are
// interleaved in proportion to their size.
func TestFeederInterleavesBroadcasts(t *testing.T) {
	t.Parallel()
	t.Run("one round", func(t *testing.T) {
		t.Parallel()
		feedTwo(t, 100, 50, 25, 100) // windows of 100 at 50/s, half a second per batch
	})
	t.Run("several rounds", func(t *testing.T) {
		t.Parallel()
		// Windows of 1,200 at 600/s: the tick plans and enqueues 2,400
		// deliveries in three rounds (the first sends need not wait for
		// the whole window's planning), and still fills both windows,
		// interleaved.
		feedTwo(t, 1200, 600, delivery.MaxBatch, 400)
	})
}

// feedTwo applies two broadcasts of n recipients at rate per second, whose
// windows (2 s) hold them all, ticks the feeder once and checks that every
// run of two batches in the queue holds one batch of each, and that no
// statement planned more than plan deliveries.
func feedTwo(t *testing.T, n, rate, batch, plan int) {
	b := newBench(t, botsailorsim.Options{})
	b.opts.FeedAhead = 2 * time.Second
	b.opts.MaxWindow = n
	// Every task in the send queue at once, to see their order (by
	// default the later ones wait in the schedule, each until its time:
	// TestLaterBatchesWaitInTheSchedule).
	b.opts.QueueLead = -1
	b.apply(b.writeCampaign("a", n, rate, `      text: "A {{name}}"`))
	b.firstPhone = 100000
	b.apply(b.writeCampaign("b", n, rate, `      text: "B {{name}}"`))
	_, insp := b.feeder()
	planner := &planSizes{DB: b.db}
	client := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = client.Close() })
	f := campaign.NewFeeder(planner, client, insp, b.opts)
	require.NoError(t, f.Tick(context.Background()))
	require.Equal(t, plan, slices.Max(planner.limits), "largest plan: %v", planner.limits)
	var ids []int64 // the deliveries in queue order
	for _, task := range listAll(t, insp.ListPendingTasks) {
		require.Equal(t, delivery.TypeSendBatch, task.Type)
		var p delivery.BatchPayload
		require.NoError(t, json.Unmarshal(task.Payload, &p))
		require.Len(t, p.Refs, batch)
		for _, r := range p.Refs {
			ids = append(ids, r[0])
		}
	}
	require.Len(t, ids, 2*n, "one tick fills both windows")
	aID, err := b.db.BroadcastByName(context.Background(), "a")
	require.NoError(t, err)
	rows := map[int64]bool{} // delivery ids of broadcast a
	for _, r := range b.export("a") {
		rows[r.ID] = true
	}
	require.Len(t, rows, n, "broadcast %d planned", aID.ID)
	for i := 0; i+2*batch <= len(ids); i += 2 * batch {
		fromA := 0
		for _, id := range ids[i : i+2*batch] {
			if rows[id] {
				fromA++
			}
		}
		require.Equal(t, batch, fromA, "sends %d–%d", i, i+2*batch-1)
	}
}

// planSizes records the limit of every PlanNext call.
type planSizes struct {
	*store.DB
	limits []int
}

func (p *planSizes) PlanNext(ctx context.Context, broadcastID int64, limit int, now time.Time) ([]delivery.Ref, error) {
	p.limits = append(p.limits, limit)
	return p.DB.PlanNext(ctx, broadcastID, limit, now)
}

// TestScheduledStartAndDeadline drives the feeder with a clock: nothing is
// queued before start_at, everything unsent expires after the deadline.
func TestScheduledStartAndDeadline(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	clk := testclock.New(time.Now())
	start := clk.Now().Add(time.Hour).UTC().Truncate(time.Second)
	path := b.writeCampaign("later", 100, 10, `      text: "Hi {{name}}"`)
	patchYAML(t, path, "    account: main\n", "    account: main\n    start_at: "+start.Format(time.RFC3339)+"\n    deadline: 30s\n")
	b.apply(path)
	b.opts.Now = clk.Now
	f, _ := b.feeder()
	svc := b.service()
	ctx := context.Background()

	require.NoError(t, f.Tick(ctx))
	require.Zero(t, pendingSends(t, b))
	clk.Add(time.Hour - 30*time.Second) // not started, nothing queued
	require.NoError(t, f.Tick(ctx))
	st, err := svc.Status(ctx, "later")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, st.Status)
	require.Zero(t, pendingSends(t, b))
	clk.Add(30 * time.Second) // start_at
	require.NoError(t, f.Tick(ctx))
	st, err = svc.Status(ctx, "later")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, st.Status)
	require.Equal(t, 20, pendingSends(t, b), "a window of rate × FeedAhead (10/s × 2 s) deliveries, not the audience")
	clk.Add(31 * time.Second) // past the deadline with no worker running
	require.NoError(t, f.Tick(ctx))
	require.NoError(t, f.Tick(ctx))
	st, err = svc.Status(ctx, "later")
	require.NoError(t, err)
	require.Equal(t, 100, st.Counts["expired"])
	require.Equal(t, campaign.StatusCompleted, st.Status)
	require.Zero(t, pendingSends(t, b))
}

// TestWindowIsSecondsOfTheRate: the default window is FeedAhead (5 s) of
// the number's rate, at least MinWindow (4): a number sending one message
// a second has 5 one-delivery tasks in Redis (it had 50 when the least
// window was 50), a faster one 5 s of its rate in tasks of half a second; a
// shorter FeedAhead of a slow number's rate still leaves its least. Only
// the tasks whose first send leaves within QueueLead (500 ms) enter the
// send queue; the others wait in Redis's schedule until QueueLead before
// their departure (at the rate, behind the deliveries ahead of them), so
// that a task holds a worker slot about that long, not the whole window's
// time (TestLaterBatchesWaitInTheSchedule).
func TestWindowIsSecondsOfTheRate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		rate, sends, tasks, pending int
		ahead                       time.Duration
	}{{1, 5, 5, 1, 0}, {20, 100, 10, 2, 0}, {1, 4, 4, 1, 2 * time.Second}} {
		b := newBench(t, botsailorsim.Options{})
		b.opts.FeedAhead, b.opts.MinWindow = c.ahead, 0 // 0: the defaults; 2 s of 1/s is under the least (4)
		b.apply(b.writeCampaign("w", 500, c.rate, `      text: "Hi {{name}}"`))
		f, _ := b.feeder()
		require.NoError(t, f.Tick(context.Background()))
		insp := asynq.NewInspector(b.rds.Opt)
		pending, scheduled := listAll(t, insp.ListPendingTasks), listAll(t, insp.ListScheduledTasks)
		require.Len(t, pending, c.pending, "tasks in the send queue at %d/s", c.rate)
		require.Len(t, scheduled, c.tasks-c.pending, "tasks in Redis's schedule at %d/s", c.rate)
		require.NoError(t, insp.Close())
		require.Equal(t, c.sends, pendingSends(t, b), "deliveries in Redis at %d/s", c.rate)
	}
}

// TestLaterBatchesWaitInTheSchedule: each batch task that would wait for
// its first departure longer than QueueLead is scheduled for QueueLead
// before it (asynq keeps the whole second: up to a second earlier), in
// the order of the window; with a negative QueueLead every task is queued
// at once, as before.
func TestLaterBatchesWaitInTheSchedule(t *testing.T) {
	t.Parallel()
	for _, lead := range []time.Duration{0, -1} { // 0: the default (500 ms); -1: off
		b := newBench(t, botsailorsim.Options{})
		b.opts.QueueLead, b.opts.FeedAhead = lead, 5*time.Second
		b.apply(b.writeCampaign("s", 50, 2, `      text: "Hi {{name}}"`)) // 2/s: a window of 10 in tasks of 1
		f, _ := b.feeder()
		before := time.Now()
		require.NoError(t, f.Tick(context.Background()))
		after := time.Now()
		insp := asynq.NewInspector(b.rds.Opt)
		pending, scheduled := listAll(t, insp.ListPendingTasks), listAll(t, insp.ListScheduledTasks)
		require.NoError(t, insp.Close())
		if lead < 0 {
			require.Len(t, pending, 10)
			require.Empty(t, scheduled)
			continue
		}
		// Positions 0 and 1 leave within 500 ms (at 0 and 0.5 s); 2–9 at
		// 1–4.5 s, each scheduled 500 ms before.
		require.Len(t, pending, 2)
		require.Len(t, scheduled, 8)
		slices.SortFunc(scheduled, func(a, b *asynq.TaskInfo) int { return a.NextProcessAt.Compare(b.NextProcessAt) })
		for i, info := range scheduled {
			at := time.Duration(i+2)*500*time.Millisecond - 500*time.Millisecond
			lo, hi := before.Add(at).Add(-time.Second), after.Add(at)
			require.False(t, info.NextProcessAt.Before(lo) || info.NextProcessAt.After(hi),
				"task %d due at %s, want %s–%s", i, info.NextProcessAt.Format(time.StampMilli), lo.Format(time.StampMilli), hi.Format(time.StampMilli))
		}
	}
}

func patchYAML(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := readFile(path)
	require.NoError(t, err)
	require.Contains(t, b, old)
	require.NoError(t, writeFile(path, strings.Replace(b, old, new, 1)))
}

// TestCrashedSendIsReconciled leaves a delivery "sending" after the
// provider accepted it (a worker that died before recording): the sweep
// re-enqueues it and the handler finds the message in get/conversation
// instead of sending it again.
func TestCrashedSendIsReconciled(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.apply(b.writeCampaign("crash", 5, 50, `      text: "Hi {{name}}"`))
	ctx := context.Background()
	f, insp := b.feeder()
	require.NoError(t, f.Tick(ctx)) // plan + start + enqueue 5
	// The "crashed worker": claim the first delivery, send it, die.
	rows := b.export("crash")
	ref := delivery.Ref{ID: rows[0].ID}
	now := time.Now()
	ok, err := b.db.Claim(ctx, ref, now.Add(-time.Minute), now.Add(-time.Second), nil, consent.Check{}) // lease already over
	require.NoError(t, err)
	require.True(t, ok)
	cl := botsailor.New(botsailor.Config{BaseURL: b.url, Token: testToken, PhoneNumberID: "119060000040020", WhatsAppBotID: 123})
	res, err := cl.Send(ctx, rows[0].Phone, templates.Message{Kind: templates.KindText, Text: "Hi Person 0"})
	require.NoError(t, err)
	err = insp.DeleteQueue(delivery.QueueBroadcast, true) // and its task is lost too
	require.NoError(t, err)

	b.startWorker(5)
	b.startScheduler()
	b.waitFor(30*time.Second, "all delivered", func() bool { return b.counts("crash")["delivered"] == 5 })
	require.Equal(t, 5, b.sim.Stats().Accepted, "the crashed send was not sent again")
	require.Equal(t, res.WAMID, b.export("crash")[0].WAMID)
	b.requireOncePerPhone(b.export("crash"))
}

// TestTemplateSendResolvesWAMID sends a template, whose answer carries no
// wamid: the wamid comes from get/conversation, and variables are sent as
// templateVariable-<name>-<index>.
func TestTemplateSendResolvesWAMID(t *testing.T) {
	t.Parallel()
	// 503s before accepting make the handler reconcile: it must not mistake
	// an older chatbot message for the template that never went out.
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 11}})
	b.accountYAML = "    pair_interval: 0s" // a retry after a 503 goes at once
	const n = 40
	b.apply(b.writeCampaign("tpl", n, 100, `      template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}`))
	// Half the recipients already have chatbot messages from the business
	// in their conversation (not sent by wacamp): they must not be taken
	// for the template's message.
	cl := botsailor.New(botsailor.Config{BaseURL: b.url, Token: testToken, PhoneNumberID: "119060000040020", WhatsAppBotID: 123})
	for _, r := range b.exportPlanned("tpl") {
		if r.ID%2 == 0 {
			_, err := cl.Send(context.Background(), r.Phone, templates.Message{Kind: templates.KindText, Text: "Thanks! Your order #123 has shipped."})
			require.NoError(t, err)
		}
	}
	b.sim.SetOptions(func(o *botsailorsim.Options) { o.Fail5xxRate = 0.3 })
	b.startWorker(10)
	b.startScheduler()
	b.waitFor(30*time.Second, "all delivered", func() bool { return b.counts("tpl")["delivered"] == n })
	byPhone := map[string]botsailorsim.Send{}
	for _, s := range b.sim.Sends() {
		if s.Kind == "template" {
			require.NotContains(t, byPhone, s.Phone, "template sent twice to %s", s.Phone)
			byPhone[s.Phone] = s
		}
	}
	require.Len(t, byPhone, n)
	for _, r := range b.export("tpl") {
		s := byPhone[r.Phone]
		require.Equal(t, s.WAMID, r.WAMID, "wamid of %s", r.Phone)
		require.Equal(t, "template", s.Kind)
		require.Equal(t, "313823", s.Text)
		require.Regexp(t, `^Person \d+$`, s.TemplateVars["name-1"])
		require.Regexp(t, `^C\d+$`, s.TemplateVars["code-2"])
	}
}

// TestSubscriberLimitPausesAndResumeContinues: the provider's subscriber
// limit halts the campaign with the reason instead of failing deliveries.
func TestSubscriberLimitPausesAndResumeContinues(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{SubscriberLimit: 30, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.accountYAML = "    pair_interval: 0s" // the refused send goes at once after the resume
	const n = 60
	b.apply(b.writeCampaign("subs", n, 100, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	svc := b.service()
	ctx := context.Background()
	b.waitFor(30*time.Second, "paused", func() bool {
		st, err := svc.Status(ctx, "subs")
		return err == nil && st.Status == campaign.StatusPaused && st.Counts["sending"] == 0
	})
	st, err := svc.Status(ctx, "subs")
	require.NoError(t, err)
	require.Contains(t, st.Reason, "Subscriber limit")
	require.Zero(t, st.Counts["failed"], "a plan limit fails no delivery")
	require.Equal(t, 30, b.sim.Stats().Accepted)

	b.sim.SetOptions(func(o *botsailorsim.Options) { o.SubscriberLimit = 0 })
	_, err = svc.Resume(ctx, "subs")
	require.NoError(t, err)
	b.waitFor(30*time.Second, "all delivered", func() bool { return b.counts("subs")["delivered"] == n })
	require.Equal(t, n, b.sim.Stats().Accepted)
	b.requireOncePerPhone(b.export("subs"))
}

// TestPermanentErrorFailsWithoutRetry: an undeliverable number fails once,
// with Meta's code, and is not retried; the rest of the broadcast goes on.
func TestPermanentErrorFailsWithoutRetry(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	var mu sync.Mutex
	calls := map[string]int{}
	// Numbers ending in 7 are not on WhatsApp.
	b.interceptSends(func(p string) string {
		if !strings.HasSuffix(p, "7") {
			return ""
		}
		mu.Lock()
		calls[p]++
		mu.Unlock()
		return `{"status":"0","message":"(#131026) Message undeliverable."}`
	})
	const n = 50
	b.apply(b.writeCampaign("perm", n, 100, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	b.waitFor(30*time.Second, "all final", func() bool {
		c := b.counts("perm")
		return c["delivered"]+c["failed"] == n
	})
	failed := 0
	for _, r := range b.export("perm") {
		if strings.HasSuffix(r.Phone, "7") {
			failed++
			require.Equal(t, delivery.Failed, r.Status)
			require.Equal(t, "131026", r.ErrorCode)
			require.Equal(t, 1, r.Attempts)
		}
	}
	require.Equal(t, 5, failed)
	for p, c := range calls {
		require.Equal(t, 1, c, "%s was retried", p)
	}
}

// TestErrorStormPausesTheBroadcast: when too many recent sends fail, the
// broadcast pauses itself with the reason instead of burning through the
// audience; a resume starts a fresh window.
func TestErrorStormPausesTheBroadcast(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	// Set per broadcast in the YAML: pause when >20% of the last 40 failed
	// (after 4 seen); the engine's default window is 200.
	b.broadcastYAML = "    error_storm: {share: 0.2, window: 40}"
	b.interceptSends(func(p string) string {
		if (p[len(p)-1]-'0')%2 != 0 {
			return ""
		}
		return `{"status":"0","message":"(#131026) Message undeliverable."}`
	})
	const n = 300
	b.apply(b.writeCampaign("storm", n, 50, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	svc := b.service()
	ctx := context.Background()
	paused := func() bool {
		st, err := svc.Status(ctx, "storm")
		return err == nil && st.Status == campaign.StatusPaused && st.Counts["sending"] == 0
	}
	b.waitFor(30*time.Second, "auto-paused", paused)
	st, err := svc.Status(ctx, "storm")
	require.NoError(t, err)
	require.Contains(t, st.Reason, "auto-paused")
	require.Contains(t, st.Reason, "131026")
	firstFailed := st.Counts["failed"]
	require.Less(t, firstFailed+st.Counts["sent"]+st.Counts["delivered"], n/2, "it stopped early: %v", st.Counts)
	accepted := b.sim.Stats().Accepted
	require.Never(t, func() bool { return b.sim.Stats().Accepted != accepted }, time.Second, 50*time.Millisecond, "sent while auto-paused")

	_, err = svc.Resume(ctx, "storm")
	require.NoError(t, err)
	b.waitFor(30*time.Second, "auto-paused again", paused)
	st, err = svc.Status(ctx, "storm")
	require.NoError(t, err)
	require.Greater(t, st.Counts["failed"], firstFailed, "the resumed run sent before pausing again")
}

// TestRateLimitAnswerSlowsTheNumber: a 130429 answer lowers the number's
// rate fleet-wide for a while, and the refused sends are retried, not failed.
func TestRateLimitAnswerSlowsTheNumber(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	var mu sync.Mutex
	refused := 0
	b.interceptSends(func(string) string {
		mu.Lock()
		defer mu.Unlock()
		refused++
		if refused > 3 {
			return ""
		}
		return `{"status":"0","message":"(#130429) Rate limit hit"}`
	})
	b.accountYAML = "    pair_interval: 0s" // a refused send is retried at once
	const n = 20
	b.apply(b.writeCampaign("rl", n, 100, `      text: "Hi {{name}}"`))
	b.startWorker(5)
	b.startScheduler()
	b.waitFor(60*time.Second, "all delivered", func() bool { return b.counts("rl")["delivered"] == n })
	b.requireOncePerPhone(b.export("rl"))
	f, err := throttle.NewFleet(b.rds.Client).Factor(context.Background(), "phone:119060000040020")
	require.NoError(t, err)
	require.Less(t, f, 1.0, "the number's rate was lowered")
}

// Pausing a paused broadcast says it is already paused (and is the
// invalid move it was); retry-failed on a cancelled one names the states
// it takes, in words.
func TestRepeatedMovesSayWhy(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	b.apply(b.writeCampaign("rp", 3, 10, `      text: "Hi {{name}}"`))
	f, _ := b.feeder()
	ctx := context.Background()
	require.NoError(t, f.Tick(ctx))
	svc := b.service()
	_, err := svc.Pause(ctx, "rp")
	require.NoError(t, err)
	_, err = svc.Pause(ctx, "rp")
	require.ErrorIs(t, err, campaign.ErrInvalidTransition)
	require.ErrorContains(t, err, `broadcast "rp" is already paused`)
	_, err = svc.Cancel(ctx, "rp")
	require.NoError(t, err)
	_, err = svc.RetryFailed(ctx, "rp")
	require.ErrorIs(t, err, campaign.ErrInvalidTransition)
	require.ErrorContains(t, err, "the broadcast is cancelled; retry-failed takes one that is running, paused, completed")
}
