// Command bench measures, on this machine, the raw asynq no-op task rate and
// the rate of wacamp's full send path (feeder → asynq → send handler →
// botsailor driver over HTTP → in-process simulator → Postgres), and prints
// both with their ratio.
//
//	bench [-noop 20000] [-sends 5000] [-concurrency 50] [-json]
//
// It FLUSHES the Redis database -redis-db (default 14; never 0) before and
// between the phases, taking the same lease as the tests so it never flushes
// one a test is using, and works in a Postgres database wacamp_bench_<random>
// that it creates through -database-url and drops at the end.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/wacamp/wacamp/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// run parses args, runs the benchmark and writes its result to stdout;
// progress goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		cfg    bench.Config
		asJSON bool
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.NoopTasks, "noop", bench.DefaultNoopTasks, "no-op tasks the raw asynq phase drains")
	fs.IntVar(&cfg.Sends, "sends", bench.DefaultSends, "recipients of the send-path broadcast")
	fs.IntVar(&cfg.Concurrency, "concurrency", bench.DefaultConcurrency, "worker concurrency of both phases")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "Redis server (default $REDIS_URL, else "+bench.DefaultRedisURL+"); its database index is ignored")
	fs.IntVar(&cfg.RedisDB, "redis-db", bench.DefaultRedisDB, "Redis database index to use; it is FLUSHED (FLUSHDB) before and between the phases; must not be 0")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "Postgres URL to CREATE DATABASE wacamp_bench_<random> through, dropped at the end "+
		"(default $DATABASE_URL, else "+bench.DefaultDatabaseURL+"); the database it names is not touched")
	fs.DurationVar(&cfg.Timeout, "timeout", bench.DefaultTimeout, "bound on the whole run")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if cfg.RedisDB == 0 {
		// bench.Config reads 0 as "the default"; on the command line it is
		// a request to flush database 0.
		return errors.New("-redis-db 0 is refused: database 0 is never flushed")
	}
	// Read after parsing, so -help never prints a URL's password as a default.
	cfg.RedisURL = cmp.Or(cfg.RedisURL, getenv("REDIS_URL"))
	cfg.DatabaseURL = cmp.Or(cfg.DatabaseURL, getenv("DATABASE_URL"))

	res, err := bench.Run(ctx, cfg, stderr)
	if err != nil && !errors.Is(err, bench.ErrMismatch) {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		if jerr := enc.Encode(res); jerr != nil {
			return errors.Join(err, fmt.Errorf("write result: %w", jerr))
		}
	} else if terr := res.WriteTable(stdout); terr != nil {
		return errors.Join(err, terr)
	}
	return err
}
