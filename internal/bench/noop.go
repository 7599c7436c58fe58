package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/internal/app"
)

// typeNoop is the no-op task type of the asynq phase.
const typeNoop = "bench:noop"

// enqueuers is how many goroutines enqueue the no-op tasks.
const enqueuers = 8

// runNoop enqueues cfg.NoopTasks no-op tasks, then times one asynq.Server
// with cfg.Concurrency workers draining them.
func runNoop(ctx context.Context, log *slog.Logger, opt asynq.RedisClientOpt, cfg Config) (Noop, error) {
	res := Noop{Tasks: cfg.NoopTasks}
	client := asynq.NewClient(opt)
	defer func() { _ = client.Close() }()

	log.InfoContext(ctx, "bench: noop: enqueueing", slog.Int("tasks", cfg.NoopTasks))
	start := time.Now()
	if err := enqueueNoops(ctx, client, cfg.NoopTasks); err != nil {
		return res, err
	}
	d := time.Since(start)
	res.EnqueueSeconds, res.EnqueuePerSecond = d.Seconds(), rate(cfg.NoopTasks, d)

	var (
		done     atomic.Int64
		lastDone atomic.Int64 // unix nanoseconds
		finished = make(chan struct{})
		once     sync.Once
	)
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: cfg.Concurrency,
		Queues:      map[string]int{"default": 1},
		Logger:      app.NewAsynqLogger(log),
		LogLevel:    asynq.WarnLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(typeNoop, func(context.Context, *asynq.Task) error {
		lastDone.Store(time.Now().UnixNano())
		if done.Add(1) >= int64(cfg.NoopTasks) {
			once.Do(func() { close(finished) })
		}
		return nil
	})
	log.InfoContext(ctx, "bench: noop: draining", slog.Int("tasks", cfg.NoopTasks), slog.Int("concurrency", cfg.Concurrency))
	start = time.Now()
	if err := srv.Start(mux); err != nil {
		return res, fmt.Errorf("noop: start server: %w", err)
	}
	defer srv.Shutdown()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for wait := true; wait; {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("noop: %d of %d tasks done: %w", done.Load(), cfg.NoopTasks, ctx.Err())
		case <-tick.C:
			n := int(done.Load())
			log.InfoContext(ctx, "bench: noop: draining", slog.Int("done", n), slog.Int("of", cfg.NoopTasks),
				slog.Int("per_second", int(rate(n, time.Since(start)))))
		case <-finished:
			wait = false
		}
	}
	d = time.Unix(0, lastDone.Load()).Sub(start)
	res.Seconds, res.PerSecond = d.Seconds(), rate(cfg.NoopTasks, d)
	log.InfoContext(ctx, "bench: noop: done", slog.Int("tasks", cfg.NoopTasks), slog.Duration("took", d.Round(time.Millisecond)),
		slog.Int("per_second", int(res.PerSecond)))
	return res, nil
}

// enqueueNoops enqueues n no-op tasks from a few goroutines.
func enqueueNoops(ctx context.Context, client *asynq.Client, n int) error {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, enqueuers)
	)
	for w := range enqueuers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if _, err := client.EnqueueContext(ctx, asynq.NewTask(typeNoop, nil)); err != nil {
					errs[w] = fmt.Errorf("noop: enqueue: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
