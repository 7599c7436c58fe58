package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/api"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/internal/service"
)

// schedAPI serves the HTTP API (`scheduler api`) until ctx ends.
func schedAPI(ctx context.Context, args []string, io IO) error {
	fs := newFlags("api", io)
	addr := fs.String("addr", "127.0.0.1:8092", "listen address")
	noAuth := fs.Bool("insecure-no-auth", false, "serve without authentication (loopback addresses only; for trying it out)")
	mf := addMetricsFlags(fs, DefaultAPIMetricsAddr)
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	tokens, err := api.LoadTokens(io.Getenv)
	if err != nil {
		return &exitError{code: 2, msg: err.Error()}
	}
	if err := noAuthOnLoopback(*noAuth, *addr); err != nil {
		return err
	}
	if len(tokens) == 0 && !*noAuth {
		return &exitError{code: 2, msg: api.ErrNoTokens.Error()}
	}
	cfg, err := settings(io)
	if err != nil {
		return err
	}
	metricsToken, err := mf.check(cfg)
	if err != nil {
		return err
	}
	log := Logger(io)
	conns, err := openLive(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conns.Close()
	// The API process's own /metrics (the Go runtime's), /healthz and
	// /readyz (Redis, Postgres, migrations), as every long-running process.
	if err := mf.serve(ctx, metricsToken, ops.New(), app.ReadyChecks(conns), log); err != nil {
		return err
	}
	h, closeAPI, err := APIHandler(conns, io, tokens, *noAuth, log)
	if err != nil {
		return err
	}
	defer closeAPI()
	if *noAuth {
		log.Warn("api: serving WITHOUT authentication (--insecure-no-auth): every request may change everything")
		h = LoopbackHostOnly(h)
	}
	return Serve(ctx, *addr, h, log, fmt.Sprintf("api: serving %d token(s)", len(tokens)))
}

// APIHandler returns the HTTP API over conns (the demo serves it with
// ServeUIOn); close it with the returned function.
func APIHandler(conns *app.Conns, io IO, tokens []api.Token, insecure bool, log *slog.Logger) (http.Handler, func(), error) {
	svc, closeSvc := service.New(conns, io.Getenv, io.now)
	srv, err := api.New(api.Config{Service: svc, Tokens: tokens, Insecure: insecure, Logger: log, Now: io.now})
	if err != nil {
		closeSvc()
		return nil, nil, err
	}
	return srv, closeSvc, nil
}

// openLive opens the connections of a long-running process and checks
// that Redis answers: it stops at once when Redis or Postgres cannot be
// reached at start.
func openLive(ctx context.Context, cfg config.Config, log *slog.Logger) (*app.Conns, error) {
	conns, err := app.Open(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := conns.PingRedis(ctx); err != nil {
		conns.Close()
		return nil, err
	}
	return conns, nil
}
