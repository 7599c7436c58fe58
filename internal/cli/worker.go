package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/throttle"
)

// Worker runs the worker command: an asynq server with wacamp's handlers
// until ctx ends, then a graceful shutdown (in-flight sends finish). It
// fails at once when Redis or Postgres cannot be reached at start.
func Worker(ctx context.Context, args []string, io IO) error {
	fs := newFlags("worker", io)
	fs.Init("worker", fs.ErrorHandling())
	concurrency := fs.Int("concurrency", 50, "tasks processed at once")
	webhookAddr := fs.String("webhook-addr", io.Getenv("WACAMP_WEBHOOK_ADDR"), "serve provider status webhooks on this address, e.g. :8090 (default $WACAMP_WEBHOOK_ADDR; empty = off)")
	if _, err := parse(fs, args); err != nil {
		return &exitError{code: 2}
	}
	log := logger(io)
	opts, err := campaignOptions(io, log)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	conns, err := app.Open(ctx, envOf(io), false, "", log)
	if err != nil {
		return err
	}
	defer conns.Close()
	if err := conns.PingRedis(ctx); err != nil {
		return err
	}
	srv := app.NewWorker(conns, app.WorkerConfig{
		Concurrency: *concurrency,
		Senders:     &app.Senders{Getenv: io.Getenv, Logger: log},
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
	if *webhookAddr != "" {
		go func() { hooks <- app.ServeWebhooks(ctx, conns, *webhookAddr, io.Getenv, log, nil) }()
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

// campaignOptions reads the engine's tuning knobs from the environment:
// WACAMP_LEASE (how long a claimed send may take before another attempt
// reconciles it; default 2m). Unset means the default.
func campaignOptions(io IO, log *slog.Logger) (campaign.Options, error) {
	o := campaign.Options{Logger: log}
	if v := io.Getenv("WACAMP_LEASE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < time.Second {
			return o, fmt.Errorf("WACAMP_LEASE=%q: want a duration such as 2m", v)
		}
		if d < 90*time.Second {
			log.Warn("worker: WACAMP_LEASE is shorter than 90s; requests to a slow provider will be cut short and reconciled", slog.Duration("lease", d))
		}
		o.Lease = d
	}
	return o, nil
}
