package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/webhook"
)

// KeptWebhookEvery is how often every worker looks for status webhooks a
// receiver kept in the database because Redis could not take them.
const KeptWebhookEvery = 2 * time.Second

// WorkerConfig configures one worker process.
type WorkerConfig struct {
	Concurrency     int // send tasks at once; default 50
	PollConcurrency int // status polls at once; default Concurrency/5, at least 2
	Senders         delivery.Senders
	Limiter         delivery.Limiter
	Outcomes        delivery.Outcomes // nil: no pausing on error storms
	// Recipients enforces the pair interval and the unique-recipient
	// budget; nil turns both off.
	Recipients delivery.RecipientLimits
	Campaign   delivery.Options
	// Logger logs the worker's servers and its send path; nil means
	// Campaign.Logger, and nothing when that is nil too.
	Logger *slog.Logger
	// CheckEvery is how often the servers look for tasks whose wait or
	// retry delay has passed and, while idle, the status server for new
	// tasks. Default 200 ms (asynq's own is 1 s): a few cheap Redis calls
	// a second per server.
	CheckEvery time.Duration
	// SendCheckEvery is how often an idle send server looks for new send
	// tasks (asynq sleeps 0.5–1.5 times this between looks at an empty
	// queue). Default 50 ms: a sequence step released to the queue when
	// it falls due waits for this look, and an idle server's look is one
	// small Redis call (about 20 a second).
	SendCheckEvery time.Duration
	// RetryDelay is asynq's wait before a task's next run; nil =
	// delivery.RetryDelay. Tests shorten the back-off of failures with it.
	RetryDelay asynq.RetryDelayFunc
}

// Worker is one worker process's task servers. Sends and status polls run
// on separate asynq servers with their own concurrency: a send waits for its
// rate token inside its handler, so a shared pool would fill up with waiting
// sends and starve the polls (seen in the web UI as a growing status queue).
type Worker struct {
	stop         context.CancelFunc
	sends, polls *asynq.Server
	sendMux      *asynq.ServeMux
	pollMux      *asynq.ServeMux
	queue        *asynq.Client
	sweep        func(context.Context)
	sweepDone    chan struct{}
	sweepStop    context.CancelFunc
}

// NewWorker builds a worker on c. Waits (rate, leases) are not failures;
// retries back off per the provider's Retry-After or exponentially.
func NewWorker(c *Conns, cfg WorkerConfig) *Worker {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 50
	}
	if cfg.PollConcurrency == 0 {
		cfg.PollConcurrency = max(2, cfg.Concurrency/5)
	}
	// The engine options' logger serves when Logger is not set: a caller
	// that set only one of the two must not lose the send path's records.
	log := cmp.Or(cfg.Logger, cfg.Campaign.Logger)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Campaign.Logger = log
	if cfg.CheckEvery == 0 {
		cfg.CheckEvery = 200 * time.Millisecond
	}
	if cfg.SendCheckEvery == 0 {
		cfg.SendCheckEvery = 50 * time.Millisecond
	}
	if cfg.RetryDelay == nil {
		cfg.RetryDelay = delivery.RetryDelay
	}
	if c.Metrics != nil {
		cfg.Campaign.Metrics = c.Metrics
		if cfg.Senders != nil {
			cfg.Senders = c.Metrics.Senders(cfg.Senders)
		}
	}
	stop, cancel := context.WithCancel(context.Background())
	cfg.Campaign.Stop = stop
	health, alog := &redisHealth{log: log}, NewAsynqLogger(log)
	server := func(queue string, concurrency int, idleCheck time.Duration) *asynq.Server {
		return asynq.NewServer(c.Redis, asynq.Config{
			Concurrency:     concurrency,
			Queues:          map[string]int{queue: 1},
			IsFailure:       delivery.IsFailure,
			RetryDelayFunc:  cfg.RetryDelay,
			Logger:          alog,
			LogLevel:        asynq.WarnLevel,
			HealthCheckFunc: health.check,
			ShutdownTimeout: 40 * time.Second, // a send's HTTP timeout (30 s) plus recording
			// Waits (pair interval, leases) come back through asynq's retry
			// set; look for due ones every second rather than every 5 s.
			DelayedTaskCheckInterval: cfg.CheckEvery,
			TaskCheckInterval:        idleCheck,
			ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
				if !delivery.IsFailure(err) {
					return
				}
				retried, _ := asynq.GetRetryCount(ctx)
				most, _ := asynq.GetMaxRetry(ctx)
				level, msg := taskFailure(retried, most, err)
				log.Log(ctx, level, msg, slog.String("type", t.Type()), slog.Int("retried", retried), slog.String("error", err.Error()))
			}),
		})
	}
	w := &Worker{
		stop:    cancel,
		sends:   server(delivery.QueueBroadcast, cfg.Concurrency, cfg.SendCheckEvery),
		polls:   server(delivery.QueueStatus, cfg.PollConcurrency, cfg.CheckEvery),
		sendMux: asynq.NewServeMux(),
		pollMux: asynq.NewServeMux(),
	}
	// A send of unknown outcome looks for the webhooks still on their way
	// before it is sent again; the apply handler tells when one arrived.
	pending := c.pending(log)
	var webhooks delivery.PendingWebhooks
	if pending != nil {
		webhooks = PendingWebhooks{Pending: pending, DB: c.Store}
	}
	// Batch send tasks hand the deliveries that must be tried again later
	// to tasks of their own.
	w.queue = asynq.NewClient(c.Redis)
	send := campaign.NewSendHandler(campaign.SendDeps{
		Store: c.Store, Senders: cfg.Senders, Limiter: cfg.Limiter, Outcomes: cfg.Outcomes, Recipients: cfg.Recipients, Webhooks: webhooks,
		Queue: w.queue,
	}, cfg.Campaign)
	w.sendMux.Handle(delivery.TypeSend, send)
	w.sendMux.HandleFunc(delivery.TypeSendBatch, send.ProcessBatch)
	w.pollMux.Handle(delivery.TypePoll, delivery.NewPollHandler(c.Store, cfg.Senders, cfg.Campaign))
	apply := &webhook.ApplyHandler{Store: WebhookStore{c.Store}, Pending: pending, Logger: log, Now: cfg.Campaign.Now}
	w.pollMux.Handle(webhook.TypeApply, apply)
	w.sweep = func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { webhook.Drain(ctx, apply, WebhookStore{c.Store}, KeptWebhookEvery) })
		webhook.Sweep(ctx, WebhookStore{c.Store}, 10*time.Second, log)
		wg.Wait()
	}
	return w
}

// UseOnSends adds middleware around the send handler (e.g. timing).
func (w *Worker) UseOnSends(mws ...asynq.MiddlewareFunc) { w.sendMux.Use(mws...) }

// Start starts both servers.
func (w *Worker) Start() error {
	if err := w.sends.Start(w.sendMux); err != nil {
		return fmt.Errorf("start send server: %w", err)
	}
	if err := w.polls.Start(w.pollMux); err != nil {
		w.sends.Shutdown()
		return fmt.Errorf("start status server: %w", err)
	}
	// Webhook events kept for messages not yet recorded are matched by a
	// sweep in every worker (matching twice is harmless), and webhooks a
	// receiver kept in the database while Redis was away are applied.
	ctx, cancel := context.WithCancel(context.Background())
	w.sweepStop, w.sweepDone = cancel, make(chan struct{})
	go func() { defer close(w.sweepDone); w.sweep(ctx) }()
	return nil
}

// Shutdown stops both servers: sends waiting for a rate token give up at
// once (nothing new starts) and in-flight requests finish.
func (w *Worker) Shutdown() {
	w.stop()
	if w.sweepStop != nil {
		w.sweepStop()
		<-w.sweepDone
	}
	done := make(chan struct{})
	go func() { w.polls.Shutdown(); close(done) }()
	w.sends.Shutdown()
	<-done
	_ = w.queue.Close()
}

// taskFailure is how a failed task (IsFailure) is logged after its
// retried-th retry of at most most: at info while asynq will run it again
// (a 503, a timeout: routine, as the batch's hand-off logs it), as a
// warning when it was the last try or cannot be retried (SkipRetry,
// RevokeTask).
func taskFailure(retried, most int, err error) (slog.Level, string) {
	if retried < most && !errors.Is(err, asynq.SkipRetry) && !errors.Is(err, asynq.RevokeTask) {
		return slog.LevelInfo, "worker: task failed; it is retried"
	}
	return slog.LevelWarn, "worker: task failed"
}
