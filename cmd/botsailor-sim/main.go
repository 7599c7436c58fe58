package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "botsailor-sim:", err)
		os.Exit(1)
	}
}

// run parses args, serves the simulator until ctx is done, then shuts down.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	var (
		opts   botsailorsim.Options
		addr   string
		tokens string
	)
	fs := flag.NewFlagSet("botsailor-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&addr, "addr", "127.0.0.1:8091", "listen address (8090 is the worker's webhook receiver by convention)")
	fs.StringVar(&tokens, "tokens", "", "accepted apiTokens, comma-separated (else $BOTSAILOR_SIM_TOKENS); none accepts any")
	fs.DurationVar(&opts.Latency, "latency", 0, "latency added to every answer")
	fs.Float64Var(&opts.Fail5xxRate, "fail-5xx-rate", 0, "share of sends answered HTTP 503 before accepting")
	fs.Float64Var(&opts.DropAfterAcceptRate, "drop-after-accept-rate", 0, "share of accepted sends whose connection is dropped unanswered")
	fs.Float64Var(&opts.RatePerSecond, "rate", 0, "sends per second per phone_number_id; 0 = unlimited")
	fs.IntVar(&opts.SubscriberLimit, "subscriber-limit", 0, "distinct recipients allowed; 0 = unlimited")
	fs.DurationVar(&opts.DeliverAfter, "deliver-after", botsailorsim.DefaultDeliverAfter, "sent → delivered delay; < 0 = never")
	fs.DurationVar(&opts.ReadAfter, "read-after", 5*time.Second, "delivered → read delay; < 0 = never")
	fs.Float64Var(&opts.ReadShare, "read-share", 0.6, "share of delivered messages that get read")
	fs.Float64Var(&opts.FailShare, "fail-share", 0, "share of accepted messages that fail (131026)")
	fs.Int64Var(&opts.Seed, "seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if tokens == "" {
		// Read after parsing, so -help never prints a token as a default.
		tokens = getenv("BOTSAILOR_SIM_TOKENS")
	}
	for _, t := range strings.Split(tokens, ",") {
		if t = strings.TrimSpace(t); t != "" {
			opts.Tokens = append(opts.Tokens, t)
		}
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	sim := botsailorsim.New(opts)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	log.InfoContext(ctx, "botsailor-sim: listening",
		slog.String("base_url", "http://"+ln.Addr().String()+"/api/v1"),
		slog.Int("tokens", len(opts.Tokens)))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	st := sim.Stats()
	log.InfoContext(ctx, "botsailor-sim: stopped",
		slog.Int("accepted", st.Accepted), slog.Int("rejected_5xx", st.Rejected5xx),
		slog.Int("dropped", st.Dropped), slog.Int("rate_limited", st.RateLimited),
		slog.Int("subscriber_limited", st.SubscriberLimited),
		slog.Int("status_polls", st.StatusPolls), slog.Int("conversation_calls", st.ConversationCalls))
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
