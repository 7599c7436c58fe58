package cli

import (
	"context"
	"flag"
	"log/slog"
	"net"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/ops"
)

// The default metrics addresses, one port per process so that a worker,
// a scheduler and the web UI run side by side on one host (the API server
// takes DefaultAPIMetricsAddr).
const (
	DefaultWorkerMetricsAddr    = "127.0.0.1:9470"
	DefaultSchedulerMetricsAddr = "127.0.0.1:9471"
	DefaultAsynqmonMetricsAddr  = "127.0.0.1:9472"
	DefaultAPIMetricsAddr       = "127.0.0.1:9473"
)

// metricsFlags are a long-running command's --metrics-addr and
// --metrics-insecure-no-auth.
type metricsFlags struct {
	fs     *flag.FlagSet
	addr   *string
	noAuth *bool
}

func addMetricsFlags(fs *flag.FlagSet, def string) *metricsFlags {
	return &metricsFlags{fs: fs,
		addr:   fs.String("metrics-addr", def, `serve /metrics, /healthz and /readyz on this address ("" = off); beyond loopback it needs WACAMP_METRICS_TOKEN`),
		noAuth: fs.Bool("metrics-insecure-no-auth", false, "serve metrics beyond loopback without a bearer token (only behind your own network controls)"),
	}
}

// explicit reports whether --metrics-addr was given.
func (f *metricsFlags) explicit() bool {
	set := false
	f.fs.Visit(func(fl *flag.Flag) { set = set || fl.Name == "metrics-addr" })
	return set
}

// check refuses, before anything starts, an address beyond loopback
// without a token (a usage error), and returns the token.
func (f *metricsFlags) check(cfg config.Config) (string, error) {
	if *f.addr == "" {
		return "", nil
	}
	token, err := ops.LoadToken(cfg.MetricsToken, cfg.MetricsTokenFile)
	if err != nil {
		return "", &exitError{code: 2, msg: err.Error()}
	}
	if err := ops.CheckAuth(*f.addr, token, *f.noAuth); err != nil {
		return "", &exitError{code: 2, msg: err.Error()}
	}
	return token, nil
}

// serve serves the ops endpoints in the background until ctx ends. An
// address given with --metrics-addr that cannot be listened on is an
// error; the default one (taken, say, by another worker on the host) is a
// warning: the process runs without.
func (f *metricsFlags) serve(ctx context.Context, token string, m *ops.Metrics, checks []ops.Check, log *slog.Logger) error {
	if *f.addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", *f.addr)
	if err != nil {
		if f.explicit() {
			return &exitError{code: 1, msg: "metrics: " + err.Error()}
		}
		log.WarnContext(ctx, "metrics: cannot listen on the default address; serving no metrics (give each process on this host its own --metrics-addr)",
			slog.String("addr", *f.addr), slog.String("error", err.Error()))
		return nil
	}
	srv := ops.Server{Addr: *f.addr, Gatherer: m.Registry(), Checks: checks, Token: token, NoAuth: *f.noAuth, Logger: log}
	go func() {
		if err := srv.ServeOn(ctx, ln); err != nil {
			log.ErrorContext(ctx, "metrics: server stopped", slog.String("error", err.Error()))
		}
	}()
	return nil
}
