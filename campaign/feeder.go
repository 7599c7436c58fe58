package campaign

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
	"github.com/wacamp/wacamp/delivery"
)

// Queue enqueues tasks (*asynq.Client satisfies it).
type Queue interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Tasks inspects and deletes queued tasks (*asynq.Inspector satisfies it).
type Tasks interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
	DeleteTask(queue, id string) error
	// ListActiveTasks lists a queue's running tasks; one whose worker
	// stopped extending its lease (it died) is IsOrphaned.
	ListActiveTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
}

// Feeder is the scheduler's engine: each Tick it plans broadcasts that are
// due, tops up the Redis window of every running broadcast, completes or
// expires broadcasts, releases the sequence steps that fell due, moves due
// status polls into Redis and re-enqueues work whose task was lost. Several
// feeders (scheduler replicas) may run at once: every step is idempotent or
// conditional.
type Feeder struct {
	store FeederStore
	queue Queue
	tasks Tasks
	opts  delivery.Options

	loss LossDetector

	// releasing serializes releaseSteps between Tick and Run's StepTick
	// loop.
	releasing sync.Mutex

	mu        sync.Mutex
	lastSweep time.Time
	// recoverUntil: after Redis lost its data, the sweep runs every
	// AmbiguousDelay until then.
	recoverUntil time.Time
}

// LossDetector tells the feeder that Redis lost its data (a restart without
// persistence, a flush): every queued task and parked status poll is gone
// at once, and waiting for the periodic sweep would stop sending for
// minutes. Lost reports whether the data was lost since the last call; a
// false alarm (the first call ever) only costs one full sweep.
type LossDetector interface {
	Lost(ctx context.Context) (bool, error)
}

// DetectLoss makes every Tick ask d whether Redis lost its data, and if so
// re-enqueue at once every delivery whose task is gone and every status poll
// parked in Redis.
func (f *Feeder) DetectLoss(d LossDetector) { f.loss = d }

// NewFeeder returns a Feeder.
func NewFeeder(store FeederStore, queue Queue, tasks Tasks, opts delivery.Options) *Feeder {
	return &Feeder{store: store, queue: queue, tasks: tasks, opts: opts.WithDefaults()}
}

// PlanAhead is how long before its start an occurrence of a recurring
// broadcast is created (with a copy of the audience), so that sending
// starts on time even for a large audience.
const PlanAhead = time.Minute

// Run calls Tick every interval until ctx ends, and between ticks releases
// the sequence steps falling due every StepTick. Tick errors are logged,
// not fatal: the next tick tries again.
func (f *Feeder) Run(ctx context.Context, interval time.Duration) error {
	var releasing sync.WaitGroup
	defer releasing.Wait()
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	t := time.NewTicker(interval)
	defer t.Stop()
	for first := true; ; first = false {
		if err := f.Tick(ctx); err != nil && ctx.Err() == nil {
			f.opts.Logger.ErrorContext(ctx, "scheduler: tick failed", slog.String("error", err.Error()))
		}
		// The release loop starts after the first tick, whose check for a
		// Redis that lost its data (on a new Redis: the first check) must
		// not find steps the loop released a moment before and enqueue
		// them again as lost.
		if first && interval > StepTick {
			releasing.Go(func() { f.releaseEvery(rctx, interval) })
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Tick does one round of scheduling work.
func (f *Feeder) Tick(ctx context.Context) error {
	var errs []error
	if f.loss != nil {
		lost, err := f.loss.Lost(ctx)
		if err != nil {
			// Redis is unreachable: nothing else in this tick can work.
			return fmt.Errorf("check redis: %w", err)
		}
		if lost {
			if err := f.recoverLoss(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := f.planRecurring(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := f.startDue(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := f.feedRunning(ctx); err != nil {
		errs = append(errs, err)
	}
	if _, err := f.releaseSteps(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := f.enqueuePolls(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := f.store.FoldCounts(ctx); err != nil {
		errs = append(errs, err)
	}
	now := f.opts.Now()
	// A send recorded in the same instant as its broadcast's final move
	// (each statement missing the other's write) ends after finished_at;
	// such sends were claimed before the move, so they end within a lease,
	// or a settle window for one awaiting confirmation.
	if _, err := f.store.SettleFinishedAt(ctx, now.Add(-f.opts.Lease-f.opts.SettleWindow)); err != nil {
		errs = append(errs, err)
	}
	f.mu.Lock()
	every, staleFor := f.opts.StaleAfter/5, f.opts.StaleAfter
	if now.Before(f.recoverUntil) {
		// After Redis lost its data, a delivery whose lease was still
		// running at the loss (a send reconciling, or awaiting a
		// confirmation) lost its task too: look for those as their leases
		// end, not StaleAfter later.
		every, staleFor = f.opts.AmbiguousDelay, f.opts.AmbiguousDelay
	}
	sweep := now.Sub(f.lastSweep) >= every
	if sweep {
		f.lastSweep = now
	}
	f.mu.Unlock()
	if sweep {
		if _, err := f.sweep(ctx, now.Add(-staleFor), false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// MaxCatchUp bounds how far back a recurring broadcast's missed
// occurrences are looked for.
const MaxCatchUp = 31 * 24 * time.Hour

// planRecurring creates the broadcasts of recurring broadcasts'
// occurrences that start within PlanAhead. Occurrences missed while no
// scheduler ran: the latest one is still sent if its deadline has not
// passed (late, but within what the broadcast allows); older ones are
// skipped, and logged. Two schedulers may do this at once: an occurrence
// is a broadcast with a unique name, created once.
func (f *Feeder) planRecurring(ctx context.Context) error {
	bs, err := f.store.BroadcastsIn(ctx, StatusRecurring)
	if err != nil {
		return err
	}
	now := f.opts.Now()
	for _, b := range bs {
		tz := b.Timezone
		if tz == "" {
			a, err := f.store.Account(ctx, b.AccountID)
			if err != nil {
				return err
			}
			tz = a.Timezone
		}
		sched, loc, err := ParseCron(b.Cron, tz)
		if err != nil {
			f.opts.Logger.ErrorContext(ctx, "scheduler: recurring broadcast has a bad schedule", slog.String("broadcast", b.Name), slog.String("error", err.Error()))
			continue
		}
		if err := f.planOccurrences(ctx, b, sched, loc, now); err != nil {
			// One broadcast's trouble must not hold up the others.
			f.opts.Logger.ErrorContext(ctx, "scheduler: cannot plan occurrences", slog.String("broadcast", b.Name), slog.String("error", err.Error()))
		}
	}
	return nil
}

// planOccurrences plans one recurring broadcast's due occurrences.
func (f *Feeder) planOccurrences(ctx context.Context, b Broadcast, sched cron.Schedule, loc *time.Location, now time.Time) error {
	from := b.StartAt // when it was applied
	if b.LastOccurrence != nil {
		from = *b.LastOccurrence
	}
	from = latest(from, now.Add(-MaxCatchUp)).UTC()
	var missed time.Time
	skipped := 0
	prevWall := from.In(loc).Format("2006-01-02T15:04")
	for occ := sched.Next(from); !occ.IsZero() && !occ.After(now.Add(PlanAhead)); occ = sched.Next(occ) {
		// When the clocks go back, the same wall-clock time comes
		// twice: the schedule fires once, at the first.
		wall := occ.In(loc).Format("2006-01-02T15:04")
		if wall == prevWall {
			continue
		}
		prevWall = wall
		if occ.After(now) {
			if err := f.occurrence(ctx, b, occ, now); err != nil {
				return err
			}
			continue
		}
		if !missed.IsZero() {
			skipped++
		}
		missed = occ
	}
	if !missed.IsZero() {
		if b.Deadline <= 0 || now.Before(missed.Add(b.Deadline)) {
			if err := f.occurrence(ctx, b, missed, now); err != nil {
				return err
			}
		} else {
			skipped++
			if err := f.store.SkipOccurrences(ctx, b.ID, missed); err != nil {
				return err
			}
		}
	}
	if skipped > 0 {
		f.opts.Logger.WarnContext(ctx, "scheduler: skipped occurrences of a recurring broadcast missed while no scheduler ran",
			slog.String("broadcast", b.Name), slog.Int("skipped", skipped))
	}
	return nil
}

func (f *Feeder) occurrence(ctx context.Context, b Broadcast, at, now time.Time) error {
	name, created, err := f.store.CreateOccurrence(ctx, b.ID, at, now)
	if err != nil {
		return err
	}
	if created {
		f.opts.Logger.InfoContext(ctx, "scheduler: occurrence of a recurring broadcast planned", slog.String("broadcast", name), slog.Time("start", at))
	}
	return nil
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ParseCron parses a recurring broadcast's schedule: a robfig/cron standard
// spec read in the IANA zone tz ("" = UTC, never the host's zone, so every
// scheduler replica computes the same times). It returns the zone too.
func ParseCron(spec, tz string) (cron.Schedule, *time.Location, error) {
	tz = cmp.Or(tz, "UTC")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, nil, fmt.Errorf("cron time zone %q: %w", tz, err)
	}
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") {
		return nil, nil, fmt.Errorf("cron %q: set the zone with timezone:, not in the spec", spec)
	}
	s, err := cron.ParseStandard("CRON_TZ=" + tz + " " + spec)
	if err != nil {
		return nil, nil, fmt.Errorf("cron %q: %w", spec, err)
	}
	return s, loc, nil
}

// startDue starts the scheduled broadcasts whose time has come. Their
// deliveries are planned as the feeder fills their windows (feedRunning),
// so a broadcast of ten million starts as soon as one of ten.
func (f *Feeder) startDue(ctx context.Context) error {
	bs, err := f.store.BroadcastsIn(ctx, StatusScheduled)
	if err != nil {
		return err
	}
	now := f.opts.Now()
	for _, b := range bs {
		if b.StartAt.After(now) {
			continue
		}
		// Start only the version we read: an apply that edited or
		// postponed the broadcast meanwhile wins.
		ok, err := f.store.StartBroadcast(ctx, b.ID, b.UpdatedAt, now)
		if err != nil {
			return err
		}
		if ok {
			f.opts.Logger.InfoContext(ctx, "scheduler: broadcast started", slog.String("broadcast", b.Name), slog.Int("recipients", b.RecipientCount))
		}
	}
	return nil
}

// expirePaused expires the unsent deliveries of paused broadcasts whose
// deadline has passed, as running ones are.
func (f *Feeder) expirePaused(ctx context.Context) error {
	bs, err := f.store.BroadcastsIn(ctx, StatusPaused)
	if err != nil {
		return err
	}
	now := f.opts.Now()
	for _, b := range bs {
		if sb := b.SendBy(); !sb.IsZero() && now.After(sb) {
			refs, err := f.store.FinishPending(ctx, b.ID, delivery.Expired, "deadline passed while the broadcast was paused", now)
			if err != nil {
				return err
			}
			deleteSendTasks(f.tasks, refs)
			// Nothing can be sent any more: the broadcast is over.
			if inflight, more, err := f.store.Window(ctx, b.ID); err == nil && inflight == 0 && !more {
				if _, err := f.store.SetStatus(ctx, b.ID, Lifecycle[MoveExpirePaused].From, Lifecycle[MoveExpirePaused].To, "deadline passed while paused", now); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// window is how many deliveries a broadcast may have queued in Redis at
// once (in batch tasks of batchSize).
func (f *Feeder) window(rate float64) int {
	w := int(math.Ceil(rate * f.opts.FeedAhead.Seconds()))
	return max(f.opts.MinWindow, min(w, f.opts.MaxWindow))
}

// StepsAhead is about how many seconds of its number's rate an account's
// released sequence steps hold in the send queue (Feeder.stepWindow), at
// most FeedAhead. Steps are released as they fall due, every 100 ms while
// a window holds some back, so a short window keeps the number busy; and
// everything enqueued after it, every other number's steps included,
// waits about that long behind a backlog (bench -steps: 2 s behind a
// window of 2 s, 3.7–5 s behind one of 5 s, 22–44 s without a window).
const StepsAhead = 2 * time.Second

// stepWindow is how many sequence steps of an account whose rate is rate
// may be in flight at once: about StepsAhead of its rate, at least
// minStepWindow, at most MaxWindow. Small, as a broadcast's MinWindow: a
// slow number's released steps each hold a worker slot while they wait for
// their departure, so 50 steps of a number sending one a second would hold
// 50 slots (a worker's default concurrency) for up to 50 s, and every
// other number would wait for them.
func (f *Feeder) stepWindow(rate float64) int {
	w := int(math.Ceil(rate * min(StepsAhead, f.opts.FeedAhead).Seconds()))
	return max(minStepWindow, min(w, f.opts.MaxWindow))
}

// minStepWindow is the least step window: one batch send task of steps
// (delivery.Options.BatchParallel's default).
const minStepWindow = 4

func (f *Feeder) feedRunning(ctx context.Context) error {
	if err := f.expirePaused(ctx); err != nil {
		return err
	}
	bs, err := f.store.BroadcastsIn(ctx, StatusRunning)
	if err != nil {
		return err
	}
	accounts := map[int64]delivery.Account{}
	var feeds []feed
	total := 0
	for _, b := range bs {
		now := f.opts.Now()
		if sb := b.SendBy(); !sb.IsZero() && now.After(sb) {
			refs, err := f.store.FinishPending(ctx, b.ID, delivery.Expired, "deadline passed before the message could be sent", now)
			if err != nil {
				return err
			}
			deleteSendTasks(f.tasks, refs)
		}
		inflight, more, err := f.store.Window(ctx, b.ID)
		if err != nil {
			return err
		}
		if !more && inflight == 0 {
			ok, err := f.store.SetStatus(ctx, b.ID, Lifecycle[MoveComplete].From, Lifecycle[MoveComplete].To, "", now)
			if err != nil {
				return err
			}
			if ok {
				f.opts.Logger.InfoContext(ctx, "scheduler: broadcast completed", slog.String("broadcast", b.Name))
			}
			continue
		}
		a, ok := accounts[b.AccountID]
		if !ok {
			if a, err = f.store.Account(ctx, b.AccountID); err != nil {
				return err
			}
			accounts[b.AccountID] = a
		}
		w := f.window(a.RatePerSecond)
		if !more || inflight > w/2 {
			continue
		}
		feeds = append(feeds, feed{b: b, need: w - inflight, window: w, batch: batchSize(a.RatePerSecond), ahead: inflight, rate: a.RatePerSecond})
		total += w - inflight
	}
	// The tick's top-ups go out in rounds of about feedChunk deliveries,
	// each broadcast taking the same share of its own need per round: the
	// first sends leave after one round's planning instead of the whole
	// window's (5,000 deliveries: 140 ms), and the queue still interleaves
	// the broadcasts in proportion to their windows.
	rounds := (total + feedChunk - 1) / feedChunk
	for r := 0; r < rounds; r++ {
		var round []feed
		for i := range feeds {
			fd := &feeds[i]
			take := min(fd.need-fd.taken, (fd.need+rounds-1)/rounds)
			if take <= 0 {
				continue
			}
			refs, err := f.nextRefs(ctx, fd.b.ID, take)
			if err != nil {
				return err
			}
			if len(refs) > 0 {
				round = append(round, feed{b: fd.b, refs: refs, offset: fd.taken, window: fd.window, batch: fd.batch, ahead: fd.ahead, rate: fd.rate})
			}
			fd.taken += take
			if len(refs) < take {
				fd.taken = fd.need // the audience is all planned
			}
		}
		if len(round) == 0 {
			break
		}
		if err := f.enqueueFeeds(ctx, round); err != nil {
			return err
		}
	}
	return nil
}

// feedChunk is about how many deliveries one round of a tick's top-up
// plans and enqueues (feedRunning).
const feedChunk = 1000

// nextRefs returns up to n deliveries of broadcast id to enqueue: planned
// ones that are due first, then newly planned ones (deliveries are created
// as the window needs them; a zoned broadcast's only in the zones whose
// time has come).
func (f *Feeder) nextRefs(ctx context.Context, id int64, n int) ([]delivery.Ref, error) {
	now := f.opts.Now()
	refs, err := f.store.NextDue(ctx, id, n, now)
	if err != nil || len(refs) == n {
		return refs, err
	}
	more, err := f.store.PlanNext(ctx, id, n-len(refs), now)
	return append(refs, more...), err
}

// feed is what one tick adds to one broadcast's window, in batch send
// tasks of batch deliveries: need in all, refs in this round, after offset
// (taken) in earlier rounds, behind ahead deliveries already in the window,
// at its number's rate.
type feed struct {
	b      Broadcast
	refs   []delivery.Ref
	window int
	batch  int
	ahead  int
	rate   float64

	need, taken, offset int
}

// holdBack is how long a batch send task whose first delivery is pos
// deliveries into its broadcast's window (those ahead of it leave first,
// at rate) waits in Redis's schedule before it enters the send queue: until
// lead before its first departure, so that it waits for that departure in
// a worker slot for about lead (plus up to a second: asynq releases
// scheduled tasks by the whole second) rather than for the whole window.
// Zero when it leaves within lead, when the rate is unlimited, or when
// lead is negative (every task enters the queue at once).
func holdBack(pos int, rate float64, lead time.Duration) time.Duration {
	if rate <= 0 || lead < 0 {
		return 0
	}
	departs := float64(pos) / rate // seconds; huge for a tiny rate
	return time.Duration(max(min(departs-lead.Seconds(), maxHoldBack.Seconds()), 0) * float64(time.Second))
}

// maxHoldBack bounds holdBack: a number sending once in minutes has its
// few queued tasks come back within this, not at their distant slots.
const maxHoldBack = 10 * time.Minute

// batchSpan is about how long a batch send task keeps its worker slot at
// its number's rate: long enough to share one task's cost among many sends,
// short enough that other numbers' batches get slots, and that a worker
// killed mid-batch strands little.
const batchSpan = 500 * time.Millisecond

// batchSize is how many deliveries of a number sending rate per second one
// batch send task carries.
func batchSize(rate float64) int {
	return max(1, min(delivery.MaxBatch, int(rate*batchSpan.Seconds())))
}

// enqueueFeeds enqueues the tick's sends of every broadcast in batch send
// tasks, interleaved in proportion to their windows, and marks them queued
// (each with its batch, which the sweep looks for). All sends share one
// FIFO queue and a send waits for its number's rate token in its worker
// slot: enqueued broadcast after broadcast, the first one's window would
// take every slot of the fleet and the other numbers would wait idle
// behind it (measured: 10 numbers at 12% of their combined rate).
func (f *Feeder) enqueueFeeds(ctx context.Context, feeds []feed) error {
	type item struct {
		at   float64 // position in its own window, 0–1
		i    int     // which feed
		refs []delivery.Ref
		hold time.Duration
	}
	var order []item
	for i, fd := range feeds {
		for j := 0; j < len(fd.refs); j += fd.batch {
			order = append(order, item{at: float64(fd.offset+j) / float64(fd.window), i: i, refs: fd.refs[j:min(j+fd.batch, len(fd.refs))],
				hold: holdBack(fd.ahead+fd.offset+j, fd.rate, f.opts.QueueLead)})
		}
	}
	slices.SortStableFunc(order, func(a, b item) int { return cmp.Compare(a.at, b.at) })
	var (
		refs    []delivery.Ref
		batches []int64
		enqErr  error
	)
	type enqueued struct {
		i     int
		batch int64
		refs  []delivery.Ref
	}
	var done []enqueued
	for _, it := range order {
		batch, err := f.enqueueBatch(ctx, it.refs, it.hold)
		if err != nil {
			enqErr = err // mark what made it; the rest stays planned for the next tick
			break
		}
		done = append(done, enqueued{i: it.i, batch: batch, refs: it.refs})
		refs = append(refs, it.refs...)
		for range it.refs {
			batches = append(batches, batch)
		}
	}
	marked, err := f.store.MarkBatches(ctx, refs, batches, f.opts.Now())
	if err != nil {
		return err
	}
	in := make(map[delivery.Ref]bool, len(marked))
	for _, r := range marked {
		in[r] = true
	}
	running := map[int]bool{}
	for _, e := range done {
		if slices.ContainsFunc(e.refs, func(r delivery.Ref) bool { return in[r] }) {
			continue
		}
		// None of the batch was marked: its broadcast was paused or
		// cancelled since we looked. Take its task back (if the broadcast
		// still runs, another scheduler queued them first).
		live, ok := running[e.i]
		if !ok {
			cur, err := f.store.BroadcastByName(ctx, feeds[e.i].b.Name)
			live = err != nil || cur.Status == StatusRunning
			running[e.i] = live
		}
		if !live {
			_ = f.tasks.DeleteTask(delivery.QueueBroadcast, delivery.BatchTaskID(e.batch))
		}
	}
	if enqErr != nil {
		return fmt.Errorf("enqueue sends: %w", enqErr)
	}
	return nil
}

// enqueueBatch enqueues a batch send task for refs under a new random
// batch number, to be processed after hold, and returns it. Batch numbers
// are never reused: a TaskID conflict is a collision of random numbers,
// and another is drawn.
func (f *Feeder) enqueueBatch(ctx context.Context, refs []delivery.Ref, hold time.Duration) (int64, error) {
	var opts []asynq.Option
	if hold > 0 {
		opts = append(opts, asynq.ProcessIn(hold))
	}
	for {
		batch := rand.Int64N(math.MaxInt64) + 1
		_, err := f.queue.EnqueueContext(ctx, delivery.NewBatchTask(batch, refs, f.opts.TaskTimeout), opts...)
		if errors.Is(err, asynq.ErrTaskIDConflict) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("enqueue batch of %d sends: %w", len(refs), err)
		}
		return batch, nil
	}
}

// enqueue adds a task; a task with the same id already there counts as done.
func (f *Feeder) enqueue(ctx context.Context, t *asynq.Task) error {
	_, err := f.queue.EnqueueContext(ctx, t)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}

// StepTick is the least time Run's release loop waits between two
// releases while steps keep falling due; it sleeps until the next step is
// due (or the next tick, when none is planned), so a step reaches the
// send queue within StepTick of its due time, at the cost of one query per
// wake-up instead of one every StepTick.
const StepTick = 10 * time.Millisecond

// stepHeldPoll is how often the release loop looks again while an
// account's due steps wait for room in its window: its steps in flight
// fall at the account's rate, so a top-up is due within a fraction of
// the window's half.
const stepHeldPoll = 100 * time.Millisecond

// releaseEvery releases the due sequence steps until ctx ends: at each
// wake-up it releases what has fallen due and sleeps until the next
// planned step is due, at most most (the scheduler's interval: a step
// planned meanwhile, such as a new enrollment's first, is released by the
// next Tick), at least StepTick; while an account's due steps wait for
// room in its window, at most stepHeldPoll (and until the next step to
// fall due, for the other accounts). After a failed release it waits most.
// Its errors are not logged: Tick releases too, and logs them.
func (f *Feeder) releaseEvery(ctx context.Context, most time.Duration) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		wait := most
		if held, err := f.releaseSteps(ctx); err == nil {
			now := f.opts.Now()
			var after time.Time // any planned step: all due ones were released
			if len(held) > 0 {
				wait, after = min(most, stepHeldPoll), now // held ones are due: the next to fall due
			}
			// Not the held sequences' next steps: behind a backlog they
			// fall due every few milliseconds and would wake the loop
			// every StepTick for nothing (bench -steps: 19 releases a
			// second, each reading every sequence's steps in flight).
			if at, ok, err := f.store.NextStepDue(ctx, after, held); err == nil && ok {
				wait = min(wait, max(StepTick, at.Sub(now)))
			}
		}
		t.Reset(wait)
	}
}

// stepBatch is the due steps of one account that one batch send task
// carries.
type stepBatch struct {
	batch int64
	refs  []delivery.Ref
}

// stepBatches groups due steps (earliest first) into batch send tasks of
// one account's steps each, under new random batch numbers, ordered by
// their earliest step, so the send queue takes them in due order across
// accounts. A batch carries at most parallel steps (the deliveries a batch
// send task has in flight at once), fewer for an account whose batchSize
// is smaller: all its steps then wait for their rate tokens from the moment
// a worker takes the batch, in the order the queue handed the batches out.
// A larger batch sends a few steps at a time while the other batches of
// the worker slots go on, so a number with a backlog would send its steps
// interleaved across every busy slot, later ones first.
func stepBatches(due []DueStep, parallel int) []stepBatch {
	var out []stepBatch
	open := map[int64]int{} // account → its batch being filled, in out
	for _, d := range due {
		i, ok := open[d.AccountID]
		if !ok || len(out[i].refs) >= min(parallel, batchSize(d.Rate)) {
			i = len(out)
			out = append(out, stepBatch{batch: rand.Int64N(math.MaxInt64) + 1})
			open[d.AccountID] = i
		}
		out[i].refs = append(out[i].refs, d.Ref)
	}
	return out
}

// releaseSteps moves the sequence steps that have fallen due into the send
// queue as pending batch send tasks: it runs in every Tick and, between
// ticks, every StepTick (Run), so a step is released within StepTick of its
// due time (asynq's own scheduled tasks are kept in whole seconds). The
// handler still holds a step that is not due by the worker's clock.
//
// An account's steps in flight (queued, or sending and not awaiting a
// settle) are kept within a window of about StepsAhead of its rate
// (stepWindow): an account whose window is more than half full releases
// nothing, otherwise it fills its window with its earliest due steps. A
// released step that has to wait long (outside its send window, over a
// cap) is parked back in Postgres (delivery.Parker), so the window holds
// steps that go at the rate. Each scheduler counts for itself: n
// schedulers releasing at the same moment can put up to n windows in
// flight. Without the window a number's backlog of due steps all went
// into Redis at once (41,000 at the peak of bench -steps), and its batches
// took every worker slot, each waiting for the number's rate, while every
// other number's sends waited behind them. held lists the sequences whose
// due steps wait for room (their account's window is more than half full,
// or more of them may be due than were read).
//
// Each step is marked queued with its batch before the batch's task is
// enqueued: of two schedulers releasing the same steps, the one whose mark
// took them enqueues them and the other nothing, so no step waits for its
// rate token twice. A batch whose task cannot be enqueued is put back to
// planned under a new generation (a task that reached Redis after all is
// then a no-op) and released again later; a scheduler that dies between
// the mark and the enqueue leaves its steps queued without a task, which
// the sweep finds.
func (f *Feeder) releaseSteps(ctx context.Context) (held []int64, err error) {
	f.releasing.Lock()
	defer f.releasing.Unlock()
	now := f.opts.Now()
	lanes, err := f.store.StepLanes(ctx, now)
	if err != nil {
		return nil, err
	}
	take, room, held := f.stepRoom(lanes)
	if len(take) == 0 {
		return held, nil
	}
	due, err := f.store.DueSteps(ctx, now, take, 0)
	if err != nil {
		return held, err
	}
	used, read := map[int64]int{}, map[int64]int{}
	kept := due[:0]
	for _, d := range due {
		read[d.SequenceID]++
		if used[d.AccountID] < room[d.AccountID] {
			used[d.AccountID]++
			kept = append(kept, d)
		} else {
			held = append(held, d.SequenceID)
		}
	}
	for seq, n := range read {
		if n >= take[seq] {
			held = append(held, seq) // more of it may be due
		}
	}
	slices.Sort(held)
	held = slices.Compact(held)
	for len(kept) > 0 {
		chunk := kept[:min(len(kept), stepsPerMark)]
		kept = kept[len(chunk):]
		if err := f.releaseChunk(ctx, chunk, now); err != nil {
			return held, err
		}
	}
	return held, nil
}

// stepsPerMark is how many due steps releaseSteps marks in one statement
// (releaseChunk) before it enqueues their batches.
const stepsPerMark = 1000

// stepRoom reads lanes (StepLanes) per account: take is how many due steps
// to read of each sequence, room how many each account releases, and held
// the due sequences of accounts that release none now (their window is
// more than half full).
func (f *Feeder) stepRoom(lanes []StepLane) (take map[int64]int, room map[int64]int, held []int64) {
	type account struct {
		rate     float64
		inFlight int
		due      []int64
	}
	accounts := map[int64]*account{}
	for _, l := range lanes {
		a := accounts[l.AccountID]
		if a == nil {
			a = &account{rate: l.Rate}
			accounts[l.AccountID] = a
		}
		a.inFlight += l.InFlight
		if l.Due {
			a.due = append(a.due, l.SequenceID)
		}
	}
	take, room = map[int64]int{}, map[int64]int{}
	for id, a := range accounts {
		if len(a.due) == 0 {
			continue
		}
		w := f.stepWindow(a.rate)
		if a.inFlight > w/2 {
			held = append(held, a.due...)
			continue
		}
		room[id] = w - a.inFlight
		// Each due sequence's share of the room, read earliest first and
		// merged; a sequence with more due than its share fills the rest
		// of the room at the next release.
		share := (room[id] + len(a.due) - 1) / len(a.due)
		for _, seq := range a.due {
			take[seq] = share
		}
	}
	return take, room, held
}

// releaseChunk marks due (earliest first) queued in batch send tasks and
// enqueues them.
func (f *Feeder) releaseChunk(ctx context.Context, due []DueStep, now time.Time) error {
	batches := stepBatches(due, f.opts.BatchParallel)
	refs := make([]delivery.Ref, 0, len(due))
	nums := make([]int64, 0, len(due))
	for _, b := range batches {
		for _, r := range b.refs {
			refs, nums = append(refs, r), append(nums, b.batch)
		}
	}
	marked, err := f.store.MarkBatches(ctx, refs, nums, now)
	if err != nil {
		return err
	}
	batches = markedOnly(batches, marked)
	for i, b := range batches {
		if _, err := f.queue.EnqueueContext(ctx, delivery.NewBatchTask(b.batch, b.refs, f.opts.TaskTimeout)); err != nil {
			return errors.Join(fmt.Errorf("enqueue sequence steps: %w", err), f.putBack(ctx, batches[i:]))
		}
	}
	return nil
}

// markedOnly returns batches with only their steps in marked, leaving out
// those left empty (released by another scheduler, or ended meanwhile).
func markedOnly(batches []stepBatch, marked []delivery.Ref) []stepBatch {
	in := make(map[delivery.Ref]bool, len(marked))
	for _, r := range marked {
		in[r] = true
	}
	var out []stepBatch
	for _, b := range batches {
		var refs []delivery.Ref
		for _, r := range b.refs {
			if in[r] {
				refs = append(refs, r)
			}
		}
		if len(refs) > 0 {
			out = append(out, stepBatch{batch: b.batch, refs: refs})
		}
	}
	return out
}

// putBack returns the steps of batches, whose tasks were not enqueued, to
// planned for a later release.
func (f *Feeder) putBack(ctx context.Context, batches []stepBatch) error {
	var errs []error
	for _, b := range batches {
		if _, err := f.store.PutBackSteps(ctx, b.batch, b.refs, f.opts.Now()); err != nil {
			errs = append(errs, err) // queued without a task: the sweep finds them
		}
	}
	return errors.Join(errs...)
}

func (f *Feeder) enqueuePolls(ctx context.Context) error {
	now := f.opts.Now()
	polls, err := f.store.LeaseDuePolls(ctx, now, now.Add(f.opts.StaleAfter), 1000)
	if err != nil {
		return err
	}
	for _, p := range polls {
		if err := f.enqueue(ctx, delivery.NewPollTask(p)); err != nil {
			return err // the lease expires and a later tick retries
		}
	}
	return nil
}

// Sweep re-enqueues deliveries whose task was lost (a Redis restart, a
// flushed queue): queued ones waiting longer than StaleAfter and sending
// ones whose lease ended that long ago, when no task for them exists any
// more. The new generation makes any late copy of the old task a no-op; the
// send handler reconciles a sending delivery with the provider before it
// sends again.
func (f *Feeder) Sweep(ctx context.Context) error {
	_, err := f.sweep(ctx, f.opts.Now().Add(-f.opts.StaleAfter), false)
	return err
}

// recoverLoss runs after Redis lost its data: every queued delivery and
// every sending one whose lease ended is checked at once (not only those
// older than StaleAfter), and status polls parked in Redis come due again.
//
// A Redis new to wacamp looks the same (no marker); when nothing was in
// flight there was nothing to lose, and it is said as such, not warned.
func (f *Feeder) recoverLoss(ctx context.Context) error {
	f.mu.Lock()
	// Leases running now end within a lease, or a settle window for a send
	// awaiting confirmation.
	f.recoverUntil = f.opts.Now().Add(f.opts.Lease + f.opts.SettleWindow)
	f.mu.Unlock()
	n, err := f.sweep(ctx, f.opts.Now(), true)
	if err != nil {
		return fmt.Errorf("recover from redis data loss: %w", err)
	}
	now := f.opts.Now()
	polls, err := f.store.RequeuePolls(ctx, now, now.Add(f.opts.StaleAfter))
	if err != nil {
		return fmt.Errorf("recover from redis data loss: %w", err)
	}
	if n == 0 && polls == 0 {
		f.opts.Logger.InfoContext(ctx, "scheduler: Redis holds no wacamp data yet (new, or emptied while nothing was in flight); nothing to recover")
		return nil
	}
	f.opts.Logger.WarnContext(ctx, "scheduler: Redis lost its data (restart without persistence or flush); lost work re-enqueued",
		slog.Int("deliveries_reenqueued", n), slog.Int("status_polls_due_again", polls))
	return nil
}

// sweep re-enqueues the stale deliveries (queued before `before`, or
// sending with a lease over since then) whose task is gone, in id order,
// and returns how many it re-enqueued. all makes it go through every such
// delivery; otherwise it looks at one batch.
func (f *Feeder) sweep(ctx context.Context, before time.Time, all bool) (int, error) {
	const batch = 1000
	now := f.opts.Now()
	n := 0
	var after int64
	orphans := &orphanSet{tasks: f.tasks}
	for {
		stale, err := f.store.Stale(ctx, before, after, batch)
		if err != nil {
			return n, err
		}
		for _, j := range stale {
			after = j.ID
			ok, err := f.reenqueue(ctx, j, orphans, now)
			if err != nil {
				return n, err
			}
			if ok {
				n++
			}
		}
		if !all || len(stale) < batch {
			return n, nil
		}
	}
}

// reenqueue gives a stale delivery a new generation and task if its task
// is gone, or orphaned (shown running by a worker that died); it reports
// whether it did.
func (f *Feeder) reenqueue(ctx context.Context, j delivery.Job, orphans *orphanSet, now time.Time) (bool, error) {
	// Its task is its batch's, or (a batch handed it off to be tried again
	// later, or it never had a batch) its own.
	id := delivery.SendTaskID(j.Ref)
	info, err := f.tasks.GetTaskInfo(delivery.QueueBroadcast, id)
	if j.Batch != 0 && (errors.Is(err, asynq.ErrTaskNotFound) || err == nil && (info.State == asynq.TaskStateArchived || info.State == asynq.TaskStateCompleted)) {
		id = delivery.BatchTaskID(j.Batch)
		info, err = f.tasks.GetTaskInfo(delivery.QueueBroadcast, id)
	}
	orphaned := false
	if err == nil && info.State == asynq.TaskStateActive {
		if orphaned, err = orphans.has(id); err != nil {
			return false, err
		}
	}
	switch {
	case orphaned:
		// Its task is shown running, but the worker that took it stopped
		// extending asynq's 30 s lease on it: it died. asynq would hand the
		// task out again only at its recoverer's next tick (up to a minute
		// more); a new generation now makes that task a no-op if it ever
		// runs.
	case err == nil && info.State != asynq.TaskStateArchived && info.State != asynq.TaskStateCompleted:
		// Its task is still there (waiting, held by a live worker, or
		// retrying).
		if j.Status == delivery.Queued {
			if err := f.store.Touch(ctx, j.Ref, now); err != nil {
				return false, err
			}
		}
		return false, nil
	case err == nil:
		// Archived or completed without settling the delivery: lost.
		_ = f.tasks.DeleteTask(delivery.QueueBroadcast, id)
	case !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound):
		return false, fmt.Errorf("sweep: inspect task: %w", err)
	}
	ref, ok, err := f.store.Regen(ctx, j.Ref, now)
	if err != nil || !ok {
		return false, err
	}
	// A sequence step gets a plain send task too: run early, the handler
	// makes it wait for its due time.
	if err := f.enqueue(ctx, delivery.NewSendTask(ref, f.opts.TaskTimeout)); err != nil {
		return false, err
	}
	f.opts.Logger.WarnContext(ctx, "scheduler: re-enqueued delivery whose task was lost", slog.Int64("delivery_id", j.ID), slog.String("status", string(j.Status)))
	return true, nil
}

// orphanSet is the send tasks asynq shows running whose worker died, read
// once per sweep, when a stale delivery's task is running.
type orphanSet struct {
	tasks  Tasks
	ids    map[string]bool
	err    error
	loaded bool
}

// has reports whether the task id is orphaned.
func (o *orphanSet) has(id string) (bool, error) {
	if !o.loaded {
		o.loaded = true
		o.ids, o.err = listOrphans(o.tasks)
	}
	return o.ids[id], o.err
}

// listOrphans reads the send queue's running tasks, a page at a time (they
// are bounded by the fleet's worker slots), and returns the orphaned ones.
func listOrphans(t Tasks) (map[string]bool, error) {
	const page = 500
	ids := map[string]bool{}
	for p := 1; ; p++ {
		infos, err := t.ListActiveTasks(delivery.QueueBroadcast, asynq.PageSize(page), asynq.Page(p))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return ids, nil
		}
		if err != nil {
			return nil, fmt.Errorf("sweep: list running tasks: %w", err)
		}
		for _, i := range infos {
			if i.IsOrphaned {
				ids[i.ID] = true
			}
		}
		if len(infos) < page {
			return ids, nil
		}
	}
}

// deleteSendTasks removes the send tasks of queued deliveries: each batch
// send task once, and the own task of a delivery that had no batch. Tasks
// already running or gone are left alone (their generation or state makes
// them no-ops), and so is the own task a batch handed a delivery to (it
// finds the delivery moved on).
func deleteSendTasks(tasks Tasks, queued []delivery.QueuedRef) int {
	n := 0
	batches := map[int64]bool{}
	for _, q := range queued {
		id := delivery.SendTaskID(q.Ref)
		if q.Batch != 0 {
			if batches[q.Batch] {
				continue
			}
			batches[q.Batch] = true
			id = delivery.BatchTaskID(q.Batch)
		}
		if err := tasks.DeleteTask(delivery.QueueBroadcast, id); err == nil {
			n++
		}
	}
	return n
}
