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

	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/campaign"
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
	// stepsLead is how long after planning the steps fall due: the feeder
	// puts them into Redis campaign.StepAhead before that.
	stepsLead = campaign.StepAhead + 15*time.Second
)

// StepsConfig is one run of the sequence-steps benchmark: Enrollments
// people enrolled in a one-step sequence whose steps all fall due within
// the same minute, sent through the real worker and throttle at Rate per
// second.
type StepsConfig struct {
	Enrollments int
	Rate        float64
	Concurrency int
	RedisURL    string
	RedisDB     int
	DatabaseURL string
	Timeout     time.Duration
}

// StepsResult is what one steps run measured. Durations are in seconds.
type StepsResult struct {
	CPUs        int     `json:"cpus"`
	Concurrency int     `json:"concurrency"`
	Enrollments int     `json:"enrollments"`
	Rate        float64 `json:"rate_per_second"`
	// EnrollSeconds is the time to enroll everyone (the enrollment and its
	// first step, planned, in Postgres).
	EnrollSeconds   float64 `json:"enroll_seconds"`
	EnrollPerSecond float64 `json:"enroll_per_second"`
	// FeedLagSeconds is how long after the last step became eligible
	// (campaign.StepAhead before its due time) every step was in Redis as
	// a task scheduled at its due time.
	FeedLagSeconds float64 `json:"feed_lag_seconds"`
	// RedisBytes is the growth of Redis's used_memory with every step in
	// it as a scheduled task; per task in BytesPerTask.
	RedisBytes   int64 `json:"redis_bytes"`
	BytesPerTask int64 `json:"bytes_per_task"`
	// Lateness: sent_at − due_at over every step, and the least lateness
	// the rate allows (the k-th step by due time cannot go before k/rate
	// after the first is due), to read the measured figures against.
	LatenessP50   float64 `json:"lateness_p50_seconds"`
	LatenessP99   float64 `json:"lateness_p99_seconds"`
	LatenessMax   float64 `json:"lateness_max_seconds"`
	FloorP50      float64 `json:"floor_p50_seconds"`
	FloorP99      float64 `json:"floor_p99_seconds"`
	SendSeconds   float64 `json:"send_seconds"`
	SendPerSecond float64 `json:"send_per_second"`
	Early         int     `json:"early"` // sent before due: must be 0
	Duplicates    int     `json:"duplicates"`
	Missing       int     `json:"missing"`
}

// WriteTable prints the result for people.
func (r StepsResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "sequence steps: %d enrollments due within one minute, %g/s, concurrency %d, %d CPUs\n", r.Enrollments, r.Rate, r.Concurrency, r.CPUs)
	fmt.Fprintf(tw, "enroll (plan step 1)\t%.1f s\t%.0f/s\n", r.EnrollSeconds, r.EnrollPerSecond)
	fmt.Fprintf(tw, "all in Redis\t%.1f s\tafter the last step became due within %s\n", r.FeedLagSeconds, campaign.StepAhead)
	fmt.Fprintf(tw, "Redis memory\t%.1f MB\t%d bytes per scheduled step\n", float64(r.RedisBytes)/1e6, r.BytesPerTask)
	fmt.Fprintf(tw, "first due → last sent\t%.1f s\t%.0f/s\n", r.SendSeconds, r.SendPerSecond)
	fmt.Fprintf(tw, "lateness p50 / p99 / max\t%.1f / %.1f / %.1f s\t(the rate alone allows %.1f / %.1f s)\n", r.LatenessP50, r.LatenessP99, r.LatenessMax, r.FloorP50, r.FloorP99)
	fmt.Fprintf(tw, "early / duplicated / missing\t%d / %d / %d\t\n", r.Early, r.Duplicates, r.Missing)
	return tw.Flush()
}

// RunSteps runs the sequence-steps benchmark in a fresh database and a
// flushed Redis database, as Run does.
func RunSteps(ctx context.Context, cfg StepsConfig, progress io.Writer) (res StepsResult, err error) {
	cfg.Enrollments = cmp.Or(cfg.Enrollments, DefaultEnrollments)
	cfg.Rate = cmp.Or(cfg.Rate, DefaultStepsRate)
	base := Config{Concurrency: cfg.Concurrency, RedisURL: cfg.RedisURL, RedisDB: cfg.RedisDB, DatabaseURL: cfg.DatabaseURL, Timeout: cfg.Timeout}.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, base.Timeout)
	defer cancel()
	w, closeWorld, err := newWorld(ctx, base, progress)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, closeWorld()) }()
	log, rds, db, dbName := w.log, w.rds, w.db, w.dbName
	log.InfoContext(ctx, "bench: steps: created database", slog.String("database", dbName))
	res = StepsResult{CPUs: runtime.GOMAXPROCS(0), Concurrency: base.Concurrency, Enrollments: cfg.Enrollments, Rate: cfg.Rate}

	sim, baseURL, dir, cleanup, err := simAndDir(botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: -1}})
	if err != nil {
		return res, err
	}
	defer cleanup()
	path := filepath.Join(dir, "steps.yaml")
	yaml := fmt.Sprintf(`accounts:
  - name: bench
    provider: botsailor
    base_url: %s
    api_token: ${%s}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: %g
    pair_interval: 0s
    daily_unique_limit: unlimited
sequences:
  - name: drip
    account: bench
    steps:
      - {after: 0s, deadline: 24h, message: {text: "Welcome {{name}}"}}
`, baseURL, tokenVar, cfg.Rate)
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
	// while enrolling; then move the steps' due times into one minute
	// starting stepsLead from now (a second apart per 1/60 of the people).
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
	due0 := time.Now().Add(stepsLead).Truncate(time.Second)
	if err := db.Gorm().WithContext(ctx).Exec(`UPDATE deliveries SET due_at = CAST(? AS TIMESTAMPTZ) + (id % 60) * INTERVAL '1 second', send_by = CAST(? AS TIMESTAMPTZ) + INTERVAL '24 hours'
		WHERE enrollment_id IS NOT NULL`, due0, due0).Error; err != nil {
		return res, fmt.Errorf("set due times: %w", err)
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
	opts := delivery.Options{Polls: delivery.PollPlan{First: time.Hour}, Logger: log}
	feedStart := time.Now()
	stopFeed := runFeeder(ctx, rds.opt, db, opts)
	defer stopFeed()
	if err := waitCount(ctx, db, `status <> 'planned'`, cfg.Enrollments, nil); err != nil {
		return res, fmt.Errorf("feed: %w", err)
	}
	res.FeedLagSeconds = max(0, time.Since(latest(feedStart, due0.Add(59*time.Second-campaign.StepAhead))).Seconds())
	res.RedisBytes = mem() - memBefore
	res.BytesPerTask = res.RedisBytes / int64(cfg.Enrollments)
	log.InfoContext(ctx, "bench: steps: all steps in Redis", slog.Float64("lag_seconds", res.FeedLagSeconds), slog.Int64("redis_bytes", res.RedisBytes))

	srv := app.NewWorker(&app.Conns{Redis: rds.opt, RedisClient: rds.data, Store: db}, app.WorkerConfig{
		Concurrency: base.Concurrency,
		Senders:     &app.Senders{Getenv: getenv, Logger: log},
		Limiter:     throttle.NewFleet(redis.NewClient(rds.data.Options())),
		Recipients:  throttle.NewRecipients(rds.data),
		Campaign:    opts,
		Logger:      log,
	})
	if err := srv.Start(); err != nil {
		return res, fmt.Errorf("start worker: %w", err)
	}
	defer srv.Shutdown()
	if err := waitCount(ctx, db, `status = 'sent'`, cfg.Enrollments, log); err != nil {
		return res, fmt.Errorf("send: %w", err)
	}

	var rows []struct {
		DueAt, SentAt time.Time
	}
	if err := db.Gorm().WithContext(ctx).Raw(`SELECT due_at, sent_at FROM deliveries WHERE enrollment_id IS NOT NULL ORDER BY due_at`).Scan(&rows).Error; err != nil {
		return res, err
	}
	late := make([]time.Duration, len(rows))
	floor := make([]time.Duration, len(rows))
	var last time.Time
	for i, r := range rows {
		late[i] = r.SentAt.Sub(r.DueAt)
		if late[i] < 0 {
			res.Early++
		}
		floor[i] = max(0, due0.Add(time.Duration(float64(i)/cfg.Rate*float64(time.Second))).Sub(r.DueAt))
		if r.SentAt.After(last) {
			last = r.SentAt
		}
	}
	slices.Sort(late)
	slices.Sort(floor)
	q := func(ds []time.Duration, p float64) float64 { return ds[int(p*float64(len(ds)-1))].Seconds() }
	res.LatenessP50, res.LatenessP99, res.LatenessMax = q(late, 0.5), q(late, 0.99), late[len(late)-1].Seconds()
	res.FloorP50, res.FloorP99 = q(floor, 0.5), q(floor, 0.99)
	res.SendSeconds = last.Sub(due0).Seconds()
	res.SendPerSecond = rate(cfg.Enrollments, last.Sub(due0))

	seen := make(map[string]int, cfg.Enrollments)
	for _, s := range sim.Sends() {
		seen[s.Phone]++
	}
	for i := range cfg.Enrollments {
		switch n := seen[phone(i)]; {
		case n == 0:
			res.Missing++
		case n > 1:
			res.Duplicates++
		}
	}
	if res.Early > 0 || res.Duplicates > 0 || res.Missing > 0 {
		return res, fmt.Errorf("%d early, %d duplicated, %d missing: %w", res.Early, res.Duplicates, res.Missing, ErrMismatch)
	}
	return res, nil
}

// waitCount polls until n sequence-step deliveries match cond, logging
// progress every 5 s when log is set.
func waitCount(ctx context.Context, db *store.DB, cond string, n int, log *slog.Logger) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	for {
		var got int
		if err := db.Gorm().WithContext(ctx).Raw(`SELECT COUNT(*) FROM deliveries WHERE enrollment_id IS NOT NULL AND ` + cond).Scan(&got).Error; err != nil {
			return err
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
