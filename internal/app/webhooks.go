package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/webhook"
)

// NewReceiver returns the webhook receiver of c's accounts, queueing on c's
// Redis (recording each webhook as pending there first, see
// webhook.Pending) and keeping in c's database what Redis cannot take;
// close releases its queue client.
func NewReceiver(c *Conns, getenv func(string) string, log *slog.Logger) (r *webhook.Receiver, close func()) {
	client := asynq.NewClient(c.Redis)
	return &webhook.Receiver{
		Accounts: WebhookStore{c.Store}, Queue: client, Inbox: WebhookStore{c.Store}, Pending: c.pending(log),
		Getenv: getenv, Resolve: spec.ResolveToken, Logger: log,
		Parser: func(p string) (webhook.Parser, bool) {
			d, ok := drivers.Lookup(p)
			return d.ParseWebhook, ok && d.ParseWebhook != nil
		},
	}, func() { _ = client.Close() }
}

// ServeWebhooks serves the webhook receiver on addr until ctx ends. ready,
// if not nil, gets the address it listens on.
func ServeWebhooks(ctx context.Context, c *Conns, addr string, getenv func(string) string, log *slog.Logger, ready func(net.Addr)) error {
	ln, err := ListenWebhooks(addr)
	if err != nil {
		return err
	}
	return ServeWebhooksOn(ctx, c, ln, getenv, log, ready)
}

// ListenWebhooks opens the webhook receiver's listener on addr, so that a
// process can fail at start, before it says it runs, when the address is
// taken.
func ListenWebhooks(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhooks: listen on %s: %w", addr, err)
	}
	return ln, nil
}

// ServeWebhooksOn is ServeWebhooks on a listener opened already; it closes
// ln when it returns.
func ServeWebhooksOn(ctx context.Context, c *Conns, ln net.Listener, getenv func(string) string, log *slog.Logger, ready func(net.Addr)) error {
	recv, closeRecv := NewReceiver(c, getenv, log)
	defer closeRecv()
	if err := recv.CheckSecrets(ctx); err != nil {
		log.WarnContext(ctx, "webhooks: cannot read the accounts yet; trying again at the first webhook", slog.String("error", err.Error()))
	}
	mux := http.NewServeMux()
	var h http.Handler = recv
	if c.Metrics != nil {
		h = c.Metrics.Webhooks(recv)
	}
	mux.Handle("/webhooks/", h)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute}
	if ready != nil {
		ready(ln.Addr())
	}
	log.InfoContext(ctx, "webhooks: listening", slog.String("addr", ln.Addr().String()), slog.String("path", "/webhooks/<account>/<secret>"))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("webhooks: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("webhooks: shut down: %w", err)
	}
	return nil
}

// pending is the record of webhooks taken and not applied, on c's Redis
// (the database of the apply tasks, so the two are lost together); nil
// without a go-redis client.
func (c *Conns) pending(log *slog.Logger) *webhook.Pending {
	if c.RedisClient == nil {
		return nil
	}
	return &webhook.Pending{Redis: c.RedisClient, Logger: log}
}
