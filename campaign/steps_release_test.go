package campaign_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/throttle"
)

// stepRow is what the tests below read of a sequence step's delivery.
type stepRow struct {
	ID       int64
	Gen      int
	Status   string
	Batch    *int64
	DueAt    time.Time
	QueuedAt *time.Time
}

// steps reads the bench's sequence-step deliveries in id order.
func (b *bench) steps() []stepRow {
	b.t.Helper()
	var rows []stepRow
	require.NoError(b.t, b.db.Gorm().Raw(`SELECT id, gen, status, batch, due_at, queued_at FROM deliveries
		WHERE enrollment_id IS NOT NULL ORDER BY id`).Scan(&rows).Error)
	return rows
}

// step reads the sequence step delivery id.
func (b *bench) step(id int64) stepRow {
	b.t.Helper()
	for _, s := range b.steps() {
		if s.ID == id {
			return s
		}
	}
	b.t.Fatalf("no step delivery %d", id)
	return stepRow{}
}

// parked requires step delivery id to be parked (planned under a new
// generation, due later than now) and returns its ref and due time.
func (b *bench) parked(id int64, now time.Time) (delivery.Ref, time.Time) {
	b.t.Helper()
	s := b.step(id)
	require.Equal(b.t, string(delivery.Planned), s.Status, "parked in Postgres: %+v", s)
	require.True(b.t, s.DueAt.After(now), "due when its wait ends: %s, now %s", s.DueAt, now)
	return delivery.Ref{ID: s.ID, Gen: s.Gen}, s.DueAt
}

// sendTasks lists the send queue's tasks in state.
func sendTasks(t *testing.T, insp *asynq.Inspector, state asynq.TaskState) []*asynq.TaskInfo {
	t.Helper()
	list := map[asynq.TaskState]func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
		asynq.TaskStatePending: insp.ListPendingTasks, asynq.TaskStateScheduled: insp.ListScheduledTasks,
	}[state]
	infos, err := list(delivery.QueueBroadcast, asynq.PageSize(1000))
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	require.NoError(t, err)
	return infos
}

// A sequence step waits in Postgres until it is due and is released to the
// send queue, as a pending task a worker can take at once, in the very
// tick that finds it due, never before; run early, the handler holds it
// and sends nothing. The clock is injected: no waiting.
func TestStepReleasedInTheTickItFallsDueNeverBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("later", "", `      - {after: 90s, message: {text: "Hello {{name}}"}}`))
	clk := testclock.New(time.Now())
	b.opts.Now = clk.Now
	people := b.people(3)
	_, err := b.db.Enroll(ctx, "later", people, clk.Now())
	require.NoError(t, err)
	due := b.steps()[0].DueAt
	f, insp := b.feeder()
	client := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = client.Close() })
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal(), Queue: client}, b.opts)

	// A task carrying the step that runs before it is due (a worker whose
	// clock is behind) sends nothing.
	clk.Set(due.Add(-30 * time.Second))
	early := b.steps()[0]
	require.NoError(t, h.ProcessBatch(ctx, delivery.NewBatchTask(1, []delivery.Ref{{ID: early.ID, Gen: early.Gen}}, time.Minute)))
	require.Zero(t, b.sim.Stats().Accepted, "nothing sent before it is due")
	handed := sendTasks(t, insp, asynq.TaskStateScheduled)
	require.Len(t, handed, 1, "handed to a task of its own, for when it is due")
	require.NoError(t, insp.DeleteTask(delivery.QueueBroadcast, handed[0].ID))

	for _, at := range []time.Time{due.Add(-30 * time.Second), due.Add(-time.Microsecond)} {
		clk.Set(at)
		require.NoError(t, f.Tick(ctx))
		for _, s := range b.steps() {
			require.Equal(t, "planned", s.Status, "not due yet: still in Postgres")
		}
		require.Empty(t, sendTasks(t, insp, asynq.TaskStatePending))
		require.Empty(t, sendTasks(t, insp, asynq.TaskStateScheduled))
	}

	clk.Set(due)
	require.NoError(t, f.Tick(ctx))
	rows := b.steps()
	require.NotNil(t, rows[0].Batch)
	for _, s := range rows {
		require.Equal(t, "queued", s.Status, "due: released in this tick")
		require.Equal(t, *rows[0].Batch, *s.Batch, "one batch for the account's steps due together")
		require.False(t, s.QueuedAt.Before(s.DueAt), "released no earlier than due")
	}
	pending := sendTasks(t, insp, asynq.TaskStatePending)
	require.Len(t, pending, 1, "pending now: no whole-second schedule to wait for")
	require.Equal(t, delivery.BatchTaskID(*rows[0].Batch), pending[0].ID)
	require.Empty(t, sendTasks(t, insp, asynq.TaskStateScheduled))

	// A worker takes it at once and sends each step once.
	require.NoError(t, h.ProcessBatch(ctx, asynq.NewTask(pending[0].Type, pending[0].Payload)))
	for _, p := range people {
		require.Equal(t, 1, b.sim.SendCount(p.Phone), p.Phone)
	}
}

// Two schedulers releasing the same due steps at once enqueue each step
// once: the mark that takes a step comes before its task, so the other
// scheduler's mark finds it gone. The sweep leaves a released step whose
// batch task is waiting alone, and re-sends one whose task was lost under a
// new generation, so that the lost task, should it run after all, sends
// nothing: each step reaches the provider once.
func TestStepReleasedOnceAndSweptOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("once", "", `      - {after: 0s, message: {text: "Hello {{name}}"}}`))
	clk := testclock.New(time.Now())
	b.opts.Now = clk.Now
	people := b.people(120)
	_, err := b.db.Enroll(ctx, "once", people, clk.Now())
	require.NoError(t, err)
	f1, insp := b.feeder()
	f2, _ := b.feeder()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, f := range []*campaign.Feeder{f1, f2} {
		wg.Go(func() { errs[i] = f.Tick(ctx) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	pending := sendTasks(t, insp, asynq.TaskStatePending)
	carried := map[int64]int{}
	var lost []*asynq.Task
	for _, info := range pending {
		var p delivery.BatchPayload
		require.NoError(t, json.Unmarshal(info.Payload, &p))
		for _, r := range p.Refs {
			carried[r[0]]++
		}
		lost = append(lost, asynq.NewTask(info.Type, info.Payload))
	}
	steps := b.steps()
	require.Len(t, carried, len(steps), "every step released")
	for id, n := range carried {
		require.Equal(t, 1, n, "delivery %d carried by %d tasks", id, n)
	}

	clk.Add(b.opts.StaleAfter + time.Second)
	require.NoError(t, f1.Sweep(ctx))
	for _, s := range b.steps() {
		require.Equal(t, 0, s.Gen, "its batch task waits: left alone")
	}

	for _, info := range pending {
		require.NoError(t, insp.DeleteTask(delivery.QueueBroadcast, info.ID)) // lost
	}
	clk.Add(b.opts.StaleAfter + time.Second)
	require.NoError(t, f1.Sweep(ctx))
	own := sendTasks(t, insp, asynq.TaskStatePending)
	require.Len(t, own, len(people), "each re-sent in a task of its own")
	for _, s := range b.steps() {
		require.Equal(t, 1, s.Gen, "under a new generation")
		require.Nil(t, s.Batch)
	}

	client := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = client.Close() })
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal(), Queue: client}, b.opts)
	for _, info := range own {
		require.NoError(t, h.ProcessTask(ctx, asynq.NewTask(info.Type, info.Payload)))
	}
	for _, task := range lost {
		require.NoError(t, h.ProcessBatch(ctx, task), "a lost task turns up after all")
	}
	for _, p := range people {
		require.Equal(t, 1, b.sim.SendCount(p.Phone), p.Phone)
	}
}

// A release whose task cannot reach Redis puts its steps back (planned,
// under a new generation, so a task that did get there is a no-op), and a
// later release sends them.
func TestStepReleaseThatCannotEnqueuePutsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("back", "", `      - {after: 0s, message: {text: "Hello {{name}}"}}`))
	clk := testclock.New(time.Now())
	b.opts.Now = clk.Now
	_, err := b.db.Enroll(ctx, "back", b.people(2), clk.Now())
	require.NoError(t, err)

	// Nothing listens on port 1: every enqueue fails.
	down := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = down.Close() })
	_, insp := b.feeder()
	broken := campaign.NewFeeder(b.db, down, insp, b.opts)
	require.Error(t, broken.Tick(ctx))
	for _, s := range b.steps() {
		require.Equal(t, "planned", s.Status)
		require.Equal(t, 1, s.Gen)
		require.Nil(t, s.Batch)
	}

	f, _ := b.feeder()
	require.NoError(t, f.Tick(ctx))
	pending := sendTasks(t, insp, asynq.TaskStatePending)
	require.Len(t, pending, 1)
	for _, s := range b.steps() {
		require.Equal(t, "queued", s.Status)
		require.Equal(t, delivery.BatchTaskID(*s.Batch), pending[0].ID)
	}
}

// Between the scheduler's ticks, Run releases steps as they fall due
// (sleeping until the next step is due): here the interval is an hour, so only the
// first tick runs (at once, before the step is due), and the step is
// released anyway, never before its due time.
func TestRunReleasesStepsBetweenTicks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("soon", "", `      - {after: 2s, message: {text: "Hello {{name}}"}}`))
	_, err := b.db.Enroll(ctx, "soon", b.people(1), time.Now())
	require.NoError(t, err)
	f, _ := b.feeder()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(runCtx, time.Hour) }()
	t.Cleanup(func() { stop(); <-done })
	b.waitFor(30*time.Second, "the step released", func() bool { return b.steps()[0].Status == "queued" })
	s := b.steps()[0]
	require.False(t, s.QueuedAt.Before(s.DueAt), "released at %s, due %s", s.QueuedAt, s.DueAt)
}

// A number's backlog of due steps goes to the send queue a window at a
// time (about rate × campaign.StepsAhead, far less than a broadcast's), and another number's
// due steps are released beside it, not behind it: the backlog no longer
// takes every worker slot. The window is topped up when it is half empty,
// with the earliest due steps. The clock is injected: no waiting.
func TestStepReleaseKeepsEachNumberWithinItsWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	yaml := fmt.Sprintf(`accounts:
  - name: slow
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %[1]s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: 10
    pair_interval: 0s
  - name: fast
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %[1]s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040021"
    whatsapp_bot_id: 124
    rate_per_second: 200
    pair_interval: 0s
  - name: trickle
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %[1]s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040022"
    whatsapp_bot_id: 125
    rate_per_second: 1
    pair_interval: 0s
sequences:
  - name: backlog
    account: slow
    steps:
      - {after: 1m, message: {text: "Hello {{name}}"}}
  - name: other
    account: fast
    steps:
      - {after: 1m, message: {text: "Hi {{name}}"}}
  - name: slowest
    account: trickle
    steps:
      - {after: 1m, message: {text: "Hey {{name}}"}}
`, b.url)
	p := filepath.Join(b.dir, "lanes.yaml")
	require.NoError(t, os.WriteFile(p, []byte(yaml), 0o600))
	b.apply(p)
	clk := testclock.New(time.Now())
	b.opts.Now = clk.Now
	// The slow number's window: 10/s × StepsAhead 2 s = 20 steps (a
	// broadcast's would be 300 with this FeedAhead); the trickle's (1/s)
	// its least, 4.
	b.opts.FeedAhead = 30 * time.Second
	const window = 20
	people := b.people(70)
	_, err := b.db.Enroll(ctx, "backlog", people[:30], clk.Now())
	require.NoError(t, err)
	clk.Add(time.Second) // the second half falls due a second later
	_, err = b.db.Enroll(ctx, "backlog", people[30:50], clk.Now())
	require.NoError(t, err)
	_, err = b.db.Enroll(ctx, "other", people[50:60], clk.Now())
	require.NoError(t, err)
	_, err = b.db.Enroll(ctx, "slowest", people[60:], clk.Now())
	require.NoError(t, err)
	f, insp := b.feeder()

	type state struct {
		queued, planned int
		latestQueued    time.Time
		earliestPlanned time.Time
	}
	read := func(name string) state {
		t.Helper()
		var rows []stepRow
		require.NoError(t, b.db.Gorm().Raw(`SELECT d.id, d.gen, d.status, d.batch, d.due_at, d.queued_at FROM deliveries d
			JOIN enrollments e ON e.id = d.enrollment_id JOIN sequences s ON s.id = e.sequence_id
			WHERE s.name = ? ORDER BY d.id`, name).Scan(&rows).Error)
		var st state
		for _, r := range rows {
			switch delivery.Status(r.Status) {
			case delivery.Queued:
				st.queued++
				if r.DueAt.After(st.latestQueued) {
					st.latestQueued = r.DueAt
				}
			case delivery.Planned:
				st.planned++
				if st.earliestPlanned.IsZero() || r.DueAt.Before(st.earliestPlanned) {
					st.earliestPlanned = r.DueAt
				}
			}
		}
		return st
	}
	carried := func() int {
		t.Helper()
		n := 0
		for _, info := range sendTasks(t, insp, asynq.TaskStatePending) {
			var p delivery.BatchPayload
			require.NoError(t, json.Unmarshal(info.Payload, &p))
			n += len(p.Refs)
		}
		return n
	}
	// sent moves n of the backlog's queued steps on, as workers would.
	sent := func(n int) {
		t.Helper()
		require.NoError(t, b.db.Gorm().Exec(`UPDATE deliveries SET status = 'sent', sent_at = ? WHERE id IN (
			SELECT d.id FROM deliveries d JOIN enrollments e ON e.id = d.enrollment_id JOIN sequences s ON s.id = e.sequence_id
			WHERE s.name = 'backlog' AND d.status = 'queued' ORDER BY d.id LIMIT ?)`, clk.Now(), n).Error)
	}

	clk.Add(time.Minute) // every step due
	require.NoError(t, f.Tick(ctx))
	backlog, other := read("backlog"), read("other")
	require.Equal(t, window, backlog.queued, "a window of the backlog")
	require.Equal(t, 50-window, backlog.planned)
	require.Equal(t, 10, other.queued, "the other number's steps are not held behind the backlog")
	require.Equal(t, 4, read("slowest").queued, "a number sending one a second holds 4 worker slots at most, not 50")
	require.False(t, backlog.latestQueued.After(backlog.earliestPlanned), "the earliest due go first")
	require.Equal(t, window+10+4, carried())

	sent(window/2 - 1) // 11 still in flight: more than half the window
	require.NoError(t, f.Tick(ctx))
	require.Equal(t, window/2+1, read("backlog").queued, "no top-up while the window is more than half full")

	sent(1) // half the window in flight
	require.NoError(t, f.Tick(ctx))
	backlog = read("backlog")
	require.Equal(t, window, backlog.queued, "topped up to the window")
	require.Equal(t, 50-window-window/2, backlog.planned)
	require.False(t, backlog.latestQueued.After(backlog.earliestPlanned), "the earliest due go first")
	require.Equal(t, window+10+4+window/2, carried())
}

// A released step that must wait long (here outside its sequence's send
// window, until Monday) is parked in Postgres, due when the wait ends, not
// left queued in a task of its own: a queued step holds room in its
// account's window, and a window full of such steps held back every other
// step of the account for as long. Another sequence's due steps on the
// same account are released at the next tick.
func TestLongStepWaitIsParkedOutOfTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("windowed", `    window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}`,
		`      - {after: 0s, deadline: 96h, message: {text: "Hi"}}`))
	b.apply(b.writeSequence("always", "", `      - {after: 0s, message: {text: "Hello"}}`))
	berlin := testclock.Zone(t, "Europe/Berlin")
	friday := testclock.Next(time.Now(), berlin, 16, 0, time.Friday)
	clk := testclock.New(friday.Add(90 * time.Minute)) // 17:30: a backlog held past the close
	b.opts.Now = clk.Now
	b.opts.MinWindow, b.opts.MaxWindow = 20, 20
	people := b.people(25)
	_, err := b.db.Enroll(ctx, "windowed", people[:15], friday)
	require.NoError(t, err)
	f, insp := b.feeder()
	require.NoError(t, f.Tick(ctx))
	client := asynq.NewClient(b.rds.Opt)
	t.Cleanup(func() { _ = client.Close() })
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal(), Queue: client}, b.opts)
	pending := sendTasks(t, insp, asynq.TaskStatePending)
	require.NotEmpty(t, pending)
	for _, info := range pending {
		require.NoError(t, h.ProcessBatch(ctx, asynq.NewTask(info.Type, info.Payload)))
		require.NoError(t, insp.DeleteTask(delivery.QueueBroadcast, info.ID))
	}
	require.Empty(t, sendTasks(t, insp, asynq.TaskStateScheduled), "no task waits until Monday")
	monday := testclock.Next(friday, berlin, 9, 0, time.Monday)
	for _, s := range b.steps() {
		require.Equal(t, string(delivery.Planned), s.Status, "parked")
		require.Equal(t, 1, s.Gen, "under a new generation")
		require.True(t, s.DueAt.Equal(monday), "due when the window opens: %s, want %s", s.DueAt, monday)
	}
	require.Zero(t, b.sim.SendCount(people[0].Phone))

	_, err = b.db.Enroll(ctx, "always", people[15:], clk.Now())
	require.NoError(t, err)
	require.NoError(t, f.Tick(ctx))
	var queued int
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries d JOIN sequences s ON s.id = d.sequence_id
		WHERE s.name = 'always' AND d.status = 'queued'`).Scan(&queued).Error)
	require.Equal(t, 10, queued, "the parked steps hold no room in the account's window")

	clk.Set(monday.Add(time.Second))
	require.NoError(t, f.Tick(ctx))
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries d JOIN sequences s ON s.id = d.sequence_id
		WHERE s.name = 'windowed' AND d.status = 'queued'`).Scan(&queued).Error)
	require.Equal(t, 10, queued, "released again when due, within the window (20, of which 10 are in flight)")
}

// A step held by the daily unique-recipient budget is parked until the
// budget has room, checked again at least hourly (delivery.ParkRecheck, so
// a raised limit reaches it), not every minute as the budget's re-check
// in a task would: each park is a transaction and an event. It is sent
// once room comes, 24 hours after the first person took the budget.
func TestBudgetHeldStepIsParkedUntilRoom(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	p := b.writeSequence("drip", "", `      - {after: 0s, deadline: 48h, message: {text: "Hi"}}`)
	yaml, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(yaml), "daily_unique_limit: unlimited", "daily_unique_limit: 1", 1)), 0o600))
	b.apply(p)
	start := time.Now()
	ctx := context.Background()
	people := b.people(2)
	_, err = b.db.Enroll(ctx, "drip", people, start)
	require.NoError(t, err)
	due, err := b.db.DueSteps(ctx, start, nil, 10)
	require.NoError(t, err)
	require.Len(t, due, 2)
	clk := testclock.New(start)
	b.opts.Now = clk.Now
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv},
		Limiter: throttle.NewLocal(), Recipients: throttle.NewRecipients(b.rds.Client)}, b.opts)
	require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[0].Ref, time.Minute)))
	require.Equal(t, 1, b.sim.SendCount(people[0].Phone))

	ref, parks := due[1].Ref, 0
	for b.sim.SendCount(people[1].Phone) == 0 {
		require.Less(t, parks, 30, "parked again and again")
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(ref, time.Minute)))
		if b.sim.SendCount(people[1].Phone) > 0 {
			break
		}
		var at time.Time
		ref, at = b.parked(ref.ID, clk.Now())
		parks++
		require.LessOrEqual(t, at.Sub(clk.Now()), delivery.ParkRecheck, "checked again within the hour")
		require.Greater(t, at.Sub(clk.Now()), 5*time.Minute, "not the budget's one-minute re-check")
		clk.Set(at)
	}
	require.GreaterOrEqual(t, parks, 23, "parked hour after hour for the day")
	// The budget's ledger keeps times in milliseconds.
	require.False(t, clk.Now().Before(start.Add(24*time.Hour-time.Millisecond)), "sent once the budget has room: %s", clk.Now().Sub(start))
}
