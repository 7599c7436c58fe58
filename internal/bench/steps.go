package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/throttle"
)

// Defaults of StepsConfig's zero fields.
const (
	DefaultEnrollments = 100000
	DefaultStepsRate   = 1000
	DefaultStepsWindow = time.Minute
	// DefaultStepsLead is how long after enrolling the first step falls
	// due: the worker and the scheduler run by then.
	DefaultStepsLead = 20 * time.Second
	// otherSteps steps of another number, at otherRate per second, fall
	// due over the same window as the backlog (StepsResult.Other).
	otherSteps = 200
	otherRate  = 50.0
	// schedulerTick is `scheduler run`'s default -interval: the steps
	// phase runs the feeder as production does, not at the send phase's
	// feedTick.
	schedulerTick = 500 * time.Millisecond
)

// StepsConfig is one run of the sequence-steps benchmark: Enrollments
// people enrolled in a one-step sequence whose steps all fall due within
// Window, spread evenly over it in no particular order of enrollment, sent
// through the real scheduler, worker and throttle at Rate per second. The
// zero value of a field means its default.
type StepsConfig struct {
	Enrollments int
	Rate        float64
	Window      time.Duration
	Lead        time.Duration
	Concurrency int
	RedisURL    string
	RedisDB     int
	// RedisLeased says the caller holds RedisDB's test lease.
	RedisLeased bool
	DatabaseURL string
	Timeout     time.Duration
}

// StepsResult is what one steps run measured. Durations are in seconds.
type StepsResult struct {
	CPUs          int     `json:"cpus"`
	Concurrency   int     `json:"concurrency"`
	Enrollments   int     `json:"enrollments"`
	Rate          float64 `json:"rate_per_second"`
	WindowSeconds float64 `json:"window_seconds"`
	// EnrollSeconds is the time to enroll everyone (the enrollment and its
	// first step, planned, in Postgres).
	EnrollSeconds   float64 `json:"enroll_seconds"`
	EnrollPerSecond float64 `json:"enroll_per_second"`
	// PeakQueued is the most steps queued at once (in Redis, waiting for
	// a worker), and PeakTasks the most tasks in the send queue, sampled
	// while the steps went out.
	PeakQueued int `json:"peak_queued_steps"`
	PeakTasks  int `json:"peak_tasks"`
	// RedisPeakBytes is the most Redis's used_memory grew above what it
	// was before the scheduler started, at the same samples: server-wide,
	// so other users of the server show in it.
	RedisPeakBytes int64 `json:"redis_peak_bytes"`
	// Lateness is, over every step, when it reached the provider (the
	// simulator's clock) minus its due time.
	LatenessP50 float64 `json:"lateness_p50_seconds"`
	LatenessP99 float64 `json:"lateness_p99_seconds"`
	LatenessMax float64 `json:"lateness_max_seconds"`
	// Floor is the least lateness the rate alone allows each step (see
	// rateFloor): the steps leave one after the other, 1/Rate apart, each
	// no earlier than its due time.
	FloorP50 float64 `json:"floor_p50_seconds"`
	FloorP99 float64 `json:"floor_p99_seconds"`
	FloorMax float64 `json:"floor_max_seconds"`
	// Beyond is each step's lateness beyond its floor: what the engine
	// adds to what the rate forces (the goal's measure).
	BeyondP50 float64 `json:"beyond_floor_p50_seconds"`
	BeyondP99 float64 `json:"beyond_floor_p99_seconds"`
	BeyondMax float64 `json:"beyond_floor_max_seconds"`
	// Pace is Beyond with the order taken out: the k-th step to reach
	// the provider against the k-th floor. It is the rate the engine
	// lost (the limiter's margin, slots nobody used, a machine too slow);
	// what Beyond adds to it is steps overtaking one another.
	// BeyondSpacing is each step's lateness beyond the floor of the
	// throttle's departure spacing (throttle.Spacing: 2% wider than 1/Rate,
	// so that a request's jitter on its way cannot put more than Rate into
	// a second at the provider). Over a backlog of T seconds the spacing
	// alone adds 2% of T to Beyond: this is what is left.
	BeyondSpacingP50 float64 `json:"beyond_spacing_p50_seconds"`
	BeyondSpacingP99 float64 `json:"beyond_spacing_p99_seconds"`
	BeyondSpacingMax float64 `json:"beyond_spacing_max_seconds"`
	PaceP50          float64 `json:"pace_p50_seconds"`
	PaceP99          float64 `json:"pace_p99_seconds"`
	PaceMax          float64 `json:"pace_max_seconds"`
	// SendSeconds runs from the first due time to the last step at the
	// provider; FloorSeconds is what the rate alone allows for it.
	SendSeconds   float64 `json:"send_seconds"`
	FloorSeconds  float64 `json:"floor_seconds"`
	SendPerSecond float64 `json:"send_per_second"`
	// Other is another number's sequence sending beside the backlog:
	// OtherSteps steps due evenly over the same window, at OtherRate per
	// second (far below what it allows), and their lateness (at the
	// provider minus due). Its floor is its due time: what it waits is
	// the backlog's hold on the send queue and the worker slots.
	OtherSteps       int     `json:"other_steps"`
	OtherRate        float64 `json:"other_rate_per_second"`
	OtherLatenessP50 float64 `json:"other_lateness_p50_seconds"`
	OtherLatenessP99 float64 `json:"other_lateness_p99_seconds"`
	OtherLatenessMax float64 `json:"other_lateness_max_seconds"`
	// Departures counts the sends that left at a departure slot, and
	// LeftLate those of them that left more than throttle.Late after the
	// slot they were granted: they came or woke late for it, and most
	// went at a later slot (the one they missed went unused).
	Departures int `json:"departures"`
	LeftLate   int `json:"left_late"`
	Early      int `json:"early"` // at the provider before due: must be 0
	Duplicates int `json:"duplicates"`
	Missing    int `json:"missing"`
}

// WriteTable prints the result for people.
func (r StepsResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sequence steps: %d enrollments due within %gs, %g/s, concurrency %d, %d CPUs\n", r.Enrollments, r.WindowSeconds, r.Rate, r.Concurrency, r.CPUs)
	fmt.Fprintf(tw, "enroll (plan step 1)\t%.1f s\t%.0f/s\n", r.EnrollSeconds, r.EnrollPerSecond)
	fmt.Fprintf(tw, "in Redis at most\t%d steps\t%d tasks, %.1f MB (server-wide)\n", r.PeakQueued, r.PeakTasks, float64(r.RedisPeakBytes)/1e6)
	fmt.Fprintf(tw, "first due → last sent\t%.1f s\t%.0f/s (the rate alone: %.1f s)\n", r.SendSeconds, r.SendPerSecond, r.FloorSeconds)
	fmt.Fprintf(tw, "lateness p50 / p99 / max\t%.2f / %.2f / %.2f s\t\n", r.LatenessP50, r.LatenessP99, r.LatenessMax)
	fmt.Fprintf(tw, "the rate alone allows\t%.2f / %.2f / %.2f s\t\n", r.FloorP50, r.FloorP99, r.FloorMax)
	fmt.Fprintf(tw, "beyond that floor\t%.2f / %.2f / %.2f s\tper step: lateness − its floor\n", r.BeyondP50, r.BeyondP99, r.BeyondMax)
	fmt.Fprintf(tw, "beyond the throttle's spacing\t%.2f / %.2f / %.2f s\tagainst departures %s apart (the rate's %s plus its jitter margin)\n",
		r.BeyondSpacingP50, r.BeyondSpacingP99, r.BeyondSpacingMax, throttle.Spacing(r.Rate), time.Duration(float64(time.Second)/r.Rate))
	fmt.Fprintf(tw, "  of which pace\t%.2f / %.2f / %.2f s\tthe k-th to leave against the k-th floor: rate lost, order aside\n", r.PaceP50, r.PaceP99, r.PaceMax)
	fmt.Fprintf(tw, "another number's steps\t%.2f / %.2f / %.2f s\tlateness p50 / p99 / max of %d steps due over the same window at %g/s\n",
		r.OtherLatenessP50, r.OtherLatenessP99, r.OtherLatenessMax, r.OtherSteps, r.OtherRate)
	fmt.Fprintf(tw, "left late\t%d of %d\tdepartures more than %s after their slots (most at a later slot; the missed slots went unused)\n",
		r.LeftLate, r.Departures, throttle.Late)
	fmt.Fprintf(tw, "early / duplicated / missing\t%d / %d / %d\t\n", r.Early, r.Duplicates, r.Missing)
	return tw.Flush()
}

// rateFloor returns, for due times in ascending order, when each could
// leave at the earliest if the rate were the only limit: one after the
// other, 1/rate apart, none before its due time (a queue served at exactly
// the rate: the k-th leaves at max(due_k, floor_{k−1} + 1/rate)). While
// steps fall due faster than the rate, step k leaves at first due + k/rate.
func rateFloor(due []time.Time, rate float64) []time.Time {
	return gapFloor(due, time.Duration(float64(time.Second)/rate))
}

// gapFloor is rateFloor for departures gap apart.
func gapFloor(due []time.Time, gap time.Duration) []time.Time {
	out := make([]time.Time, len(due))
	for k, d := range due {
		out[k] = d
		if k > 0 && out[k-1].Add(gap).After(d) {
			out[k] = out[k-1].Add(gap)
		}
	}
	return out
}

// RunSteps runs the sequence-steps benchmark in a fresh database and a
// flushed Redis database, as Run does.
func RunSteps(ctx context.Context, cfg StepsConfig, progress io.Writer) (res StepsResult, err error) {
	cfg.Enrollments = cmp.Or(cfg.Enrollments, DefaultEnrollments)
	cfg.Rate = cmp.Or(cfg.Rate, DefaultStepsRate)
	cfg.Window = cmp.Or(cfg.Window, DefaultStepsWindow)
	cfg.Lead = cmp.Or(cfg.Lead, DefaultStepsLead)
	base := Config{Concurrency: cfg.Concurrency, RedisURL: cfg.RedisURL, RedisDB: cfg.RedisDB, RedisLeased: cfg.RedisLeased,
		DatabaseURL: cfg.DatabaseURL, Timeout: cfg.Timeout}.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, base.Timeout)
	defer cancel()
	w, closeWorld, err := newWorld(ctx, base, progress)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, closeWorld()) }()
	log, rds, db, dbName := w.log, w.rds, w.db, w.dbName
	log.InfoContext(ctx, "bench: steps: created database", slog.String("database", dbName))
	res = StepsResult{CPUs: runtime.GOMAXPROCS(0), Concurrency: base.Concurrency, Enrollments: cfg.Enrollments, Rate: cfg.Rate,
		WindowSeconds: cfg.Window.Seconds()}

	sim, baseURL, dir, cleanup, err := simAndDir(botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: -1}})
	if err != nil {
		return res, err
	}
	defer cleanup()
	path := filepath.Join(dir, "steps.yaml")
	yaml := fmt.Sprintf(`accounts:
  - name: bench
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %[1]s
    api_token: ${%[2]s}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: %[3]g
    pair_interval: 0s
    daily_unique_limit: unlimited
  - name: other
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %[1]s
    api_token: ${%[2]s}
    phone_number_id: "119060000040021"
    whatsapp_bot_id: 124
    rate_per_second: %[4]g
    pair_interval: 0s
    daily_unique_limit: unlimited
sequences:
  - name: drip
    account: bench
    steps:
      - {after: 0s, deadline: 24h, message: {text: "Welcome {{name}}"}}
  - name: other
    account: other
    steps:
      - {after: 0s, deadline: 24h, message: {text: "Hello {{name}}"}}
`, baseURL, tokenVar, cfg.Rate, otherRate)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return res, err
	}
	bundle, err := spec.Load(path, getenv, drivers.Catalog{})
	if err != nil {
		return res, fmt.Errorf("load generated sequence: %w", err)
	}
	if _, err := db.Apply(ctx, bundle, time.Now()); err != nil {
		return res, err
	}

	// Plan: enroll everyone as of a moment far ahead, so nothing is fed
	// while enrolling; then spread the steps' due times evenly over the
	// window starting cfg.Lead from now, in an order unrelated to the
	// enrollments' (k·P mod N is a permutation of 0…N−1 for a prime P that
	// does not divide N), at fractions of a second.
	far := time.Now().Add(24 * time.Hour)
	start := time.Now()
	batch := make([]sequence.Enrollee, 0, 1000)
	for i := range cfg.Enrollments {
		batch = append(batch, sequence.Enrollee{Phone: phone(i), Name: "Person " + strconv.Itoa(i)})
		if len(batch) == cap(batch) || i == cfg.Enrollments-1 {
			if _, err := db.Enroll(ctx, "drip", batch, far); err != nil {
				return res, err
			}
			batch = batch[:0]
			if (i+1)%20000 == 0 {
				log.InfoContext(ctx, "bench: steps: enrolling", slog.Int("enrolled", i+1), slog.Int("of", cfg.Enrollments))
			}
		}
	}
	enrollTook := time.Since(start)
	res.EnrollSeconds, res.EnrollPerSecond = enrollTook.Seconds(), rate(cfg.Enrollments, enrollTook)
	others := make([]sequence.Enrollee, otherSteps)
	for i := range others {
		others[i] = sequence.Enrollee{Phone: phone(cfg.Enrollments + i), Name: "Other " + strconv.Itoa(i)}
	}
	if _, err := db.Enroll(ctx, "other", others, far); err != nil {
		return res, err
	}
	res.OtherSteps, res.OtherRate = otherSteps, otherRate
	const prime = 1000003
	due0 := time.Now().Add(cfg.Lead)
	for _, sq := range []struct {
		name string
		n    int
	}{{"drip", cfg.Enrollments}, {"other", otherSteps}} {
		if err := db.Gorm().WithContext(ctx).Exec(`UPDATE deliveries d SET due_at = CAST(? AS TIMESTAMPTZ) + ((r.k * ?) % ?) * ? * INTERVAL '1 microsecond',
			send_by = CAST(? AS TIMESTAMPTZ) + INTERVAL '24 hours'
			FROM (SELECT d.id, row_number() OVER (ORDER BY d.id) - 1 AS k FROM deliveries d
				JOIN sequences s ON s.id = d.sequence_id WHERE d.enrollment_id IS NOT NULL AND s.name = ?) r
			WHERE d.id = r.id`, due0, prime, sq.n, float64(cfg.Window.Microseconds())/float64(sq.n), due0, sq.name).Error; err != nil {
			return res, fmt.Errorf("set due times: %w", err)
		}
	}
	log.InfoContext(ctx, "bench: steps: enrolled", slog.Int("enrollments", cfg.Enrollments), slog.Duration("took", enrollTook.Round(time.Millisecond)),
		slog.Time("first_due", due0))

	mem := func() int64 {
		info, err := rds.data.Info(ctx, "memory").Result()
		if err != nil {
			return 0
		}
		return infoInt(info, "used_memory")
	}
	memBefore := mem()
	// A send whose answer is lost (an EOF from the simulator under load,
	// seen once in 20,000 sends) is looked for in the conversation for 30 s
	// rather than the production 5 min before it is sent again: it shows in
	// the lateness's max instead of timing the run out.
	opts := delivery.Options{Polls: delivery.PollPlan{First: time.Hour}, SettleWindow: 30 * time.Second, Logger: log}
	limiter := &grantRecorder{fleet: throttle.NewFleet(redis.NewClient(rds.data.Options()))}
	srv := app.NewWorker(&app.Conns{Redis: rds.opt, RedisClient: rds.data, Store: db}, app.WorkerConfig{
		Concurrency: base.Concurrency,
		Senders:     &app.Senders{Getenv: getenv, Logger: log},
		Limiter:     limiter,
		Recipients:  throttle.NewRecipients(rds.data),
		Campaign:    opts,
		Logger:      log,
	})
	if err := srv.Start(); err != nil {
		return res, fmt.Errorf("start worker: %w", err)
	}
	defer srv.Shutdown()
	stopFeed := runFeederEvery(ctx, rds.opt, db, opts, schedulerTick)
	defer stopFeed()
	insp := asynq.NewInspector(rds.opt)
	defer insp.Close()
	if err := waitCount(ctx, db, `status = 'sent'`, cfg.Enrollments+otherSteps, log, func() int { return sim.Stats().Accepted }, func() {
		res.RedisPeakBytes = max(res.RedisPeakBytes, mem()-memBefore)
		var queued int
		if db.Gorm().WithContext(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE status = 'queued' AND enrollment_id IS NOT NULL`).Scan(&queued).Error == nil {
			res.PeakQueued = max(res.PeakQueued, queued)
		}
		if q, err := insp.GetQueueInfo(delivery.QueueBroadcast); err == nil {
			res.PeakTasks = max(res.PeakTasks, q.Size)
		}
	}); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	limiter.mu.Lock()
	res.Departures, res.LeftLate = leftLate(limiter.grants)
	limiter.mu.Unlock()

	type stepRow struct {
		Phone         string
		DueAt, SentAt time.Time
		Other         bool
	}
	var all, rows []stepRow
	if err := db.Gorm().WithContext(ctx).Raw(`SELECT d.phone, d.due_at, d.sent_at, s.name = 'other' AS other FROM deliveries d
		JOIN sequences s ON s.id = d.sequence_id WHERE d.enrollment_id IS NOT NULL ORDER BY d.due_at, d.id`).Scan(&all).Error; err != nil {
		return res, err
	}
	arrived := make(map[string]time.Time, cfg.Enrollments)
	seen := make(map[string]int, cfg.Enrollments)
	for _, s := range sim.Sends() {
		seen[s.Phone]++
		if t, ok := arrived[s.Phone]; !ok || s.At.Before(t) {
			arrived[s.Phone] = s.At
		}
	}
	// arrival is when r's step reached the provider, counting it early if
	// it came (or was recorded sent) before it was due; ok is false for
	// one that never came (counted as missing below).
	arrival := func(r stepRow) (at time.Time, ok bool) {
		at, ok = arrived[r.Phone]
		if ok && (at.Before(r.DueAt) || r.SentAt.Before(r.DueAt)) {
			res.Early++
		}
		return at, ok
	}
	var otherLate []time.Duration
	for _, r := range all {
		if !r.Other {
			rows = append(rows, r)
		} else if at, ok := arrival(r); ok {
			otherLate = append(otherLate, at.Sub(r.DueAt))
		}
	}
	due := make([]time.Time, len(rows))
	for i, r := range rows {
		due[i] = r.DueAt
	}
	floor := rateFloor(due, cfg.Rate)
	spaced := gapFloor(due, throttle.Spacing(cfg.Rate))
	var late, floorLate, beyond, beyondSpaced []time.Duration
	var ats, floors []time.Time // of the steps that arrived, in due order
	var last time.Time
	for i, r := range rows {
		at, ok := arrival(r)
		if !ok {
			continue
		}
		late = append(late, at.Sub(r.DueAt))
		floorLate = append(floorLate, floor[i].Sub(r.DueAt))
		beyond = append(beyond, at.Sub(floor[i]))
		beyondSpaced = append(beyondSpaced, at.Sub(spaced[i]))
		ats, floors = append(ats, at), append(floors, floor[i])
		last = latest(last, at)
	}
	for i := range cfg.Enrollments + otherSteps {
		switch n := seen[phone(i)]; {
		case n == 0:
			res.Missing++
		case n > 1:
			res.Duplicates++
		}
	}
	if len(late) > 0 {
		q := func(ds []time.Duration, p float64) float64 { return ds[int(p*float64(len(ds)-1))].Seconds() }
		slices.SortFunc(ats, time.Time.Compare)
		pace := make([]time.Duration, len(ats))
		for k := range ats {
			pace[k] = ats[k].Sub(floors[k])
		}
		for _, ds := range [][]time.Duration{late, floorLate, beyond, beyondSpaced, pace, otherLate} {
			slices.Sort(ds)
		}
		if len(otherLate) > 0 {
			res.OtherLatenessP50, res.OtherLatenessP99, res.OtherLatenessMax = q(otherLate, 0.5), q(otherLate, 0.99), q(otherLate, 1)
		}
		res.LatenessP50, res.LatenessP99, res.LatenessMax = q(late, 0.5), q(late, 0.99), q(late, 1)
		res.FloorP50, res.FloorP99, res.FloorMax = q(floorLate, 0.5), q(floorLate, 0.99), q(floorLate, 1)
		res.BeyondP50, res.BeyondP99, res.BeyondMax = q(beyond, 0.5), q(beyond, 0.99), q(beyond, 1)
		res.BeyondSpacingP50, res.BeyondSpacingP99, res.BeyondSpacingMax = q(beyondSpaced, 0.5), q(beyondSpaced, 0.99), q(beyondSpaced, 1)
		res.PaceP50, res.PaceP99, res.PaceMax = q(pace, 0.5), q(pace, 0.99), q(pace, 1)
		first := due[0]
		res.SendSeconds, res.FloorSeconds = last.Sub(first).Seconds(), floor[len(floor)-1].Sub(first).Seconds()
		res.SendPerSecond = rate(len(late), last.Sub(first))
	}
	if res.Early > 0 || res.Duplicates > 0 || res.Missing > 0 {
		return res, fmt.Errorf("%d early, %d duplicated, %d missing: %w", res.Early, res.Duplicates, res.Missing, ErrMismatch)
	}
	return res, nil
}

// waitCount polls until n sequence-step deliveries match cond, logging
// progress every 5 s when log is set and calling each (if set) at every
// poll. It polls once a second, and while accepted (the simulator's count
// of sends it took) is under n it reads that instead of Postgres: a count
// over the deliveries is Postgres work the measured engine competes with
// (63 ms a second with 100,000 steps, in pg_stat_statements), and the
// results are read from the timestamps, not from when the wait ends.
func waitCount(ctx context.Context, db *store.DB, cond string, n int, log *slog.Logger, accepted func() int, each func()) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		got := accepted()
		if got >= n {
			if err := db.Gorm().WithContext(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE enrollment_id IS NOT NULL AND ` + cond).Scan(&got).Error; err != nil {
				return err
			}
		}
		if each != nil {
			each()
		}
		if got >= n {
			return nil
		}
		if log != nil && time.Since(lastLog) > 5*time.Second {
			log.InfoContext(ctx, "bench: steps: progress", slog.Int("done", got), slog.Int("of", n))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d after timeout: %w", got, n, ctx.Err())
		case <-tick.C:
		}
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
