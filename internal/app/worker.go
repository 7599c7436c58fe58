package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
)

// WorkerConfig configures one worker server.
type WorkerConfig struct {
	Concurrency int // default 50
	Senders     campaign.Senders
	Limiter     campaign.Limiter
	Campaign    campaign.Options
	Logger      *slog.Logger
}

// NewWorker returns an asynq server and the mux with wacamp's handlers.
// Sends and polls sit in separate weighted queues; waits (rate, leases) are
// not failures; retries back off per the provider's Retry-After or
// exponentially.
func NewWorker(c *Conns, cfg WorkerConfig) (*asynq.Server, *asynq.ServeMux) {
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 50
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Campaign.Logger = log
	srv := asynq.NewServer(c.Redis, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          map[string]int{campaign.QueueBroadcast: 6, campaign.QueueStatus: 3, "default": 1},
		IsFailure:       campaign.IsFailure,
		RetryDelayFunc:  campaign.RetryDelay,
		Logger:          NewAsynqLogger(log),
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: 40 * time.Second, // a send's HTTP timeout (30 s) plus recording
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			if !campaign.IsFailure(err) {
				return
			}
			log.WarnContext(ctx, "worker: task failed", slog.String("type", t.Type()), slog.String("error", err.Error()))
		}),
	})
	mux := asynq.NewServeMux()
	mux.Handle(campaign.TypeSend, campaign.NewSendHandler(c.Store, cfg.Senders, cfg.Limiter, cfg.Campaign))
	mux.Handle(campaign.TypePoll, campaign.NewPollHandler(c.Store, cfg.Senders, cfg.Campaign))
	return srv, mux
}

// asynqLogger adapts slog to asynq's Logger interface.
type asynqLogger struct{ l *slog.Logger }

// NewAsynqLogger returns an asynq.Logger writing to l.
func NewAsynqLogger(l *slog.Logger) asynq.Logger {
	return asynqLogger{l.With(slog.String("component", "asynq"))}
}

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
