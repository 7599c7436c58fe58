package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"time"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/throttle"
)

// Worker runs the worker command: an asynq server with wacamp's handlers
// until ctx ends, then a graceful shutdown (in-flight sends finish). It
// fails at once when Redis or Postgres cannot be reached at start, or the
// webhook address (-webhook-addr) cannot be listened on.
func Worker(ctx context.Context, args []string, io IO) error {
	cfg, cfgErr := settings(io)
	fs := newFlags("worker", io)
	fs.Init("worker", fs.ErrorHandling())
	concurrency := fs.Int("concurrency", 50, "tasks processed at once")
	webhookAddr := fs.String("webhook-addr", cfg.WebhookAddr, "serve provider status webhooks on this address, e.g. :8090 (default $WACAMP_WEBHOOK_ADDR; empty = off)")
	mf := addMetricsFlags(fs, DefaultWorkerMetricsAddr)
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if cfgErr != nil {
		return &exitError{code: 2, msg: cfgErr.Error()}
	}
	token, err := mf.check(cfg)
	if err != nil {
		return err
	}
	log := Logger(io)
	opts := campaignOptions(cfg, log)
	conns, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conns.Close()
	if err := conns.PingRedis(ctx); err != nil {
		return err
	}
	conns.Metrics = ops.New()
	if err := mf.serve(ctx, token, conns.Metrics, app.ReadyChecks(conns), log); err != nil {
		return err
	}
	// The webhook address is taken before the worker starts: a worker
	// that cannot receive its webhooks stops at start, not after saying
	// it runs.
	var hookLn net.Listener
	if *webhookAddr != "" {
		if hookLn, err = app.ListenWebhooks(*webhookAddr); err != nil {
			return err
		}
		defer hookLn.Close()
	}
	senders := &app.Senders{Getenv: io.Getenv, Logger: log}
	warnUnusable(ctx, log, senders, conns.Store)
	srv := app.NewWorker(conns, app.WorkerConfig{
		Concurrency: *concurrency,
		Senders:     senders,
		Limiter:     throttle.NewFleet(conns.RedisClient),
		Outcomes:    throttle.NewOutcomes(conns.RedisClient),
		Recipients:  throttle.NewRecipients(conns.RedisClient),
		Campaign:    opts,
		Logger:      log,
	})
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.InfoContext(ctx, "worker: running", slog.Int("concurrency", *concurrency))
	hooks := make(chan error, 1)
	if hookLn != nil {
		go func() { hooks <- app.ServeWebhooksOn(ctx, conns, hookLn, io.Getenv, log, nil) }()
	}
	select {
	case <-ctx.Done():
	case err := <-hooks:
		srv.Shutdown()
		return err
	}
	log.Info("worker: shutting down; in-flight sends finish first")
	start := time.Now()
	srv.Shutdown()
	log.Info("worker: stopped", slog.Duration("took", time.Since(start)))
	return nil
}

// warnUnusable logs, at start, every applied account this worker cannot
// send for (its token's variable unset, its secret file unreadable): it
// takes every account's sends from the one queue, and one it cannot make
// pauses the account's broadcasts.
func warnUnusable(ctx context.Context, log *slog.Logger, senders *app.Senders, accounts app.AccountLister) {
	bad, err := senders.Unusable(ctx, accounts)
	if err != nil {
		log.WarnContext(ctx, "worker: cannot check the accounts' credentials", slog.String("error", err.Error()))
		return
	}
	for _, name := range slices.Sorted(maps.Keys(bad)) {
		log.ErrorContext(ctx, "worker: cannot send for this account: the first of its sends this worker takes pauses its broadcasts; set its credentials here, or run this worker where they are",
			slog.String("account", name), slog.String("error", bad[name].Error()))
	}
}

// campaignOptions are the engine's tuning knobs from the process settings
// (0, unset, means the engine's default), warning of a short lease:
//   - WACAMP_LEASE: how long a claimed send may take before another attempt
//     reconciles it (worker; default 2m);
//   - WACAMP_SETTLE_WINDOW: how long after a request whose answer was lost
//     the engine keeps looking for it at the provider before it sends again
//     (worker; default 5m; an account's settle_window overrides it);
//   - WACAMP_STALE_AFTER: how long a queued task may wait, or a lease be
//     overdue, before the scheduler's sweep checks that its task still
//     exists (scheduler; default 5m; a Redis that lost its data is noticed
//     at the next tick regardless);
//   - WACAMP_FIRST_POLL: how long after a send its first status poll comes
//     (worker; default 1m; the later polls keep their plan);
//   - WACAMP_FEED_AHEAD: how many seconds of its number's rate a running
//     broadcast keeps queued in Redis (scheduler; default 5s);
//   - WACAMP_QUEUE_LEAD: how long before its first departure a batch task
//     enters the send queue (scheduler; default 500ms; off: at once).
func campaignOptions(cfg config.Config, log *slog.Logger) delivery.Options {
	o := delivery.Options{Logger: log, Lease: cfg.Lease, SettleWindow: cfg.SettleWindow, StaleAfter: cfg.StaleAfter,
		Polls: delivery.PollPlan{First: cfg.FirstPoll}, FeedAhead: cfg.FeedAhead, QueueLead: cfg.QueueLead}
	if o.Lease != 0 && o.Lease < 90*time.Second {
		log.Warn("worker: WACAMP_LEASE is shorter than 90s; requests to a slow provider will be cut short and reconciled", slog.Duration("lease", o.Lease))
	}
	return o
}
