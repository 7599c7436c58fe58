package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// The generated campaign's names and the simulator's only token.
const (
	broadcastName = "bench"
	tokenVar      = "BENCH_SIM_TOKEN"
	simToken      = "bench-token-0123456789abcdef"
)

// feedTick is the feeder's interval in the send phase: short, so that the
// first send does not wait for a tick (the whole audience fits in one
// window, fed at the first tick after the start).
const feedTick = 50 * time.Millisecond

// getenv resolves the generated account's ${BENCH_SIM_TOKEN}; nothing is
// read from the real environment.
func getenv(k string) string {
	if k == tokenVar {
		return simToken
	}
	return ""
}

// phone is recipient i's number.
func phone(i int) string { return fmt.Sprintf("49151%08d", i) }

// runSend applies a broadcast of cfg.Sends recipients and times the real
// send path delivering it to the simulator.
func runSend(ctx context.Context, log *slog.Logger, rds *benchRedis, db *store.DB, dbName string, cfg Config) (Send, error) {
	opt := rds.opt
	res := Send{Recipients: cfg.Sends}

	sim, baseURL, dir, cleanup, err := simAndDir(botsailorsim.Options{})
	if err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	defer cleanup()
	path, err := writeCampaign(dir, baseURL, cfg.Sends)
	if err != nil {
		return res, err
	}
	bundle, err := spec.Load(path, getenv, drivers.Catalog{})
	if err != nil {
		return res, fmt.Errorf("send: load generated campaign: %w", err)
	}
	applyStart := time.Now()
	if _, err := db.Apply(ctx, bundle, time.Now()); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	b, err := db.BroadcastByName(ctx, broadcastName)
	if err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	log.InfoContext(ctx, "bench: send: applied broadcast", slog.Int("recipients", cfg.Sends),
		slog.Duration("took", time.Since(applyStart).Round(time.Millisecond)))

	opts := delivery.Options{
		// No status poll falls due during the run, so none competes with sends.
		Polls: delivery.PollPlan{First: time.Hour},
		// Window: the whole audience may sit in Redis at once, so the feeder
		// is never what sends wait for.
		FeedAhead: time.Hour,
		MaxWindow: max(cfg.Sends, 50),
		// Every task in the queue at once: the account's rate (spec's
		// maximum) is not what this worker's limiter enforces (none), so
		// the feeder must not hold tasks back for it.
		QueueLead: -1,
	}
	timer := &sendTimer{}
	srv := app.NewWorker(&app.Conns{Redis: opt, Store: db}, app.WorkerConfig{
		Concurrency: cfg.Concurrency,
		Senders:     &app.Senders{Getenv: getenv, Logger: log},
		Limiter:     unlimited{},
		Campaign:    opts,
		Logger:      log,
	})
	srv.UseOnSends(timer.middleware)
	if err := srv.Start(); err != nil {
		return res, fmt.Errorf("send: start worker: %w", err)
	}
	defer srv.Shutdown()

	opts.Logger = log

	log.InfoContext(ctx, "bench: send: running", slog.Int("recipients", cfg.Sends), slog.Int("concurrency", cfg.Concurrency))
	before, perr := readCounters(ctx, db.Gorm(), rds.data, dbName)
	start := time.Now()
	stopFeed := runFeeder(ctx, opt, db, opts)
	defer stopFeed()
	if err := waitAccepted(ctx, log, db, b.ID, cfg.Sends, timer, start); err != nil {
		return res, err
	}
	stopFeed()
	after, err := settledCounters(ctx, log, db, rds, dbName, cmp.Or(cfg.StatsDelay, defaultStatsDelay))
	res.Profile = profile(before, after, cfg.Sends)
	if perr = errors.Join(perr, err); perr != nil {
		log.WarnContext(ctx, "bench: send: profile incomplete", slog.Any("error", perr))
	}

	st := timer.snapshot()
	d := st.last.Sub(start)
	res.Seconds, res.PerSecond = d.Seconds(), rate(cfg.Sends, d)
	res.FirstSendSeconds = st.first.Sub(start).Seconds()
	steady := st.last.Sub(st.first)
	res.SteadySeconds, res.SteadyPerSecond = steady.Seconds(), rate(cfg.Sends, steady)
	res.HandlerRuns, res.Carried = st.runs, st.succeeded
	res.P50Millis, res.P99Millis = percentileMillis(st.durations, 0.50), percentileMillis(st.durations, 0.99)

	seen := make(map[string]int, cfg.Sends)
	sends := sim.Sends()
	for _, s := range sends {
		seen[s.Phone]++
	}
	res.SimAccepted = len(sends)
	for i := range cfg.Sends {
		switch n := seen[phone(i)]; {
		case n == 0:
			res.Missing++
		case n > 1:
			res.Duplicates++
		}
	}
	log.InfoContext(ctx, "bench: send: done", slog.Int("recipients", cfg.Sends), slog.Duration("took", d.Round(time.Millisecond)),
		slog.Int("per_second", int(res.PerSecond)))
	return res, nil
}

// waitAccepted waits until all n deliveries of the broadcast are accepted
// and every send handler that recorded one has returned. It fails fast when
// a delivery ends otherwise or the broadcast stops running. The handlers'
// own count is watched every 20 ms; the database is counted once a second
// and at the end, so that counting does not weigh on the profile.
func waitAccepted(ctx context.Context, log *slog.Logger, db *store.DB, broadcastID int64, n int, timer *sendTimer, start time.Time) error {
	check := time.NewTicker(20 * time.Millisecond)
	defer check.Stop()
	lastCount := time.Now()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("send: waiting for %d accepted deliveries: %w", n, ctx.Err())
		case <-check.C:
		}
		done := timer.ok() >= n
		if !done && time.Since(lastCount) < time.Second {
			continue
		}
		lastCount = time.Now()
		counts, err := db.CountByStatus(ctx, broadcastID)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		accepted, ended := 0, 0
		for st, c := range counts {
			switch {
			case st.Accepted():
				accepted += c
			case !st.Pending():
				ended += c
			}
		}
		if ended > 0 {
			return fmt.Errorf("send: %d deliveries ended without being accepted: %v", ended, counts)
		}
		if accepted >= n && done {
			return nil
		}
		b, err := db.BroadcastByName(ctx, broadcastName)
		if err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if b.Status != campaign.StatusScheduled && b.Status != campaign.StatusRunning && b.Status != campaign.StatusCompleted {
			return fmt.Errorf("send: broadcast is %s (%s) with %d of %d accepted", b.Status, b.Reason, accepted, n)
		}
		log.InfoContext(ctx, "bench: send: running", slog.String("broadcast", string(b.Status)), slog.Int("accepted", accepted),
			slog.Int("of", n), slog.Int("per_second", int(rate(accepted, time.Since(start)))))
	}
}

// simAndDir starts a simulator with opts (accepting simToken) on
// 127.0.0.1 and makes a temporary directory for generated campaign files;
// cleanup stops the one and removes the other.
func simAndDir(opts botsailorsim.Options) (sim *botsailorsim.Server, baseURL, dir string, cleanup func(), err error) {
	opts.Tokens = []string{simToken}
	sim = botsailorsim.New(opts)
	baseURL, stopSim, err := serve(sim)
	if err != nil {
		return nil, "", "", nil, err
	}
	if dir, err = os.MkdirTemp("", "wacamp-bench-"); err != nil {
		stopSim()
		return nil, "", "", nil, err
	}
	return sim, baseURL, dir, func() { stopSim(); _ = os.RemoveAll(dir) }, nil
}

// serve runs the simulator on a loopback port and returns its API base URL
// and a function stopping it.
func serve(h http.Handler) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("simulator: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("bench: simulator stopped", slog.String("error", err.Error()))
		}
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return "http://" + ln.Addr().String() + "/api/v1", stop, nil
}

// writeCampaign writes one account on the simulator and one broadcast of n
// recipients (in a CSV) into dir and returns the YAML file's path.
func writeCampaign(dir, baseURL string, n int) (string, error) {
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "%s,Person %d\n", phone(i), i)
	}
	if err := os.WriteFile(filepath.Join(dir, broadcastName+".csv"), []byte(csv.String()), 0o600); err != nil {
		return "", fmt.Errorf("write audience: %w", err)
	}
	// rate_per_second is spec's maximum; the worker's limiter is
	// unlimited (see unlimited), so the rate never paces the run.
	yaml := fmt.Sprintf(`accounts:
  - name: bench
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${%s}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: %d
broadcasts:
  - name: %s
    account: bench
    audience:
      csv: %s.csv
    message:
      text: "Hello {{name}}, this is a benchmark."
`, baseURL, tokenVar, spec.MaxRatePerSecond, broadcastName, broadcastName)
	path := filepath.Join(dir, broadcastName+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", fmt.Errorf("write campaign: %w", err)
	}
	return path, nil
}

// unlimited is a delivery.Limiter that never waits. spec caps
// rate_per_second at spec.MaxRatePerSecond, and the benchmark measures how
// fast the engine can go, not the configured pace.
type unlimited struct{}

func (unlimited) Wait(context.Context, string, float64) error { return nil }

// sendTimer is worker middleware timing every send task run.
type sendTimer struct {
	mu    sync.Mutex
	stats timerStats
}

type timerStats struct {
	first     time.Time       // earliest start of a send run
	last      time.Time       // latest return of a successful send run
	runs      int             // send task runs (a batch is one)
	succeeded int             // deliveries carried by successful runs
	durations []time.Duration // of successful runs
}

func (s *sendTimer) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		sends := delivery.SendsIn(t)
		if sends == 0 {
			return next.ProcessTask(ctx, t)
		}
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		end := time.Now()
		s.mu.Lock()
		defer s.mu.Unlock()
		st := &s.stats
		st.runs++
		if st.first.IsZero() || start.Before(st.first) {
			st.first = start
		}
		if err == nil {
			st.succeeded += sends
			st.durations = append(st.durations, end.Sub(start))
			if end.After(st.last) {
				st.last = end
			}
		}
		return err
	})
}

func (s *sendTimer) ok() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.succeeded
}

func (s *sendTimer) snapshot() timerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.durations = slices.Clone(st.durations)
	return st
}

// percentileMillis is the nearest-rank q-percentile of ds in milliseconds.
func percentileMillis(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	i := max(0, min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1))
	return float64(ds[i].Microseconds()) / 1000
}

// runFeeder starts the scheduler's feeder on opt and db, ticking every
// feedTick, and returns the function that stops it and waits for it (safe
// to call more than once).
func runFeeder(ctx context.Context, opt asynq.RedisClientOpt, db *store.DB, opts delivery.Options) (stop func()) {
	return runFeederEvery(ctx, opt, db, opts, feedTick)
}

// runFeederEvery is runFeeder ticking every interval.
func runFeederEvery(ctx context.Context, opt asynq.RedisClientOpt, db *store.DB, opts delivery.Options, interval time.Duration) (stop func()) {
	client := asynq.NewClient(opt)
	insp := asynq.NewInspector(opt)
	feeder := campaign.NewFeeder(db, client, insp, opts)
	feedCtx, cancel := context.WithCancel(ctx)
	var feeding sync.WaitGroup
	feeding.Go(func() { _ = feeder.Run(feedCtx, interval) })
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			feeding.Wait()
			_ = client.Close()
			_ = insp.Close()
		})
	}
}
