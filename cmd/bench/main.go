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
	"runtime/pprof"
	"syscall"

	"github.com/wacamp/wacamp/internal/bench"
)

func main() {
	// The throttle benchmark starts this binary again as its worker
	// processes; they are told so by the environment, not by flags.
	if bench.IsWorkerChild(os.Getenv) {
		os.Exit(bench.WorkerChildMain())
	}
	if bench.IsSchedulerChild(os.Getenv) { // -audience runs the scheduler command as this binary
		bench.SchedulerChildMain()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
}

// flags that only one of the two benchmarks reads.
var (
	sendFlags     = map[string]bool{"noop": true, "sends": true, "rounds": true}
	throttleFlags = map[string]bool{"rate": true, "seconds": true}
	faultFlags    = map[string]bool{"texts": true, "templates": true, "slow-accept": true, "settle-window": true}
	audienceFlags = map[string]bool{"rows": true, "dir": true}
)

// run parses args, runs the benchmark and writes its result to stdout;
// progress goes to stderr.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var (
		cfg      bench.Config
		tcfg     bench.ThrottleConfig
		asJSON   bool
		throttle bool
		steps    bool
		scfg     bench.StepsConfig
		hooks    bool
		wcfg     bench.WebhooksConfig
		faults   bool
		fcfg     bench.FaultsConfig
		audience bool
		acfg     bench.AudienceConfig
		plan     int
		cpuProf  string
	)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&throttle, "throttle", false, "run the throttle benchmark (2 worker processes × 2, then 10, phone numbers) instead of the send-path one")
	fs.BoolVar(&steps, "steps", false, "run the sequence-steps benchmark (-enrollments steps due within one minute) instead")
	fs.IntVar(&scfg.Enrollments, "enrollments", bench.DefaultEnrollments, "with -steps: how many people to enroll")
	fs.BoolVar(&hooks, "webhooks", false, "run the status webhook benchmark instead")
	fs.IntVar(&wcfg.Messages, "messages", bench.DefaultWebhookMessages, "with -webhooks: how many sent messages get a status")
	fs.IntVar(&wcfg.Clients, "clients", bench.DefaultWebhookClients, "with -webhooks: concurrent webhook senders")
	fs.BoolVar(&faults, "faults", false, "run the BotSailor fault benchmark (slow accepts, dropped template answers, a Redis restart) instead; it runs its own redis-server")
	fs.IntVar(&fcfg.Texts, "texts", bench.DefaultFaultTexts, "with -faults: text recipients")
	fs.IntVar(&fcfg.Templates, "templates", bench.DefaultFaultTemplates, "with -faults: template recipients")
	fs.DurationVar(&fcfg.SlowAccept, "slow-accept", bench.DefaultSlowAccept, "with -faults: how long 2% of text sends take to be accepted")
	fs.DurationVar(&fcfg.SettleWindow, "settle-window", 0, "with -faults: the engine's settle window (default its own, 3m)")
	fs.BoolVar(&audience, "audience", false, "run the CSV audience benchmark (scheduler validate and apply of -rows rows) instead")
	fs.IntVar(&acfg.Rows, "rows", bench.DefaultAudienceRows, "with -audience: rows of the CSV file")
	fs.IntVar(&plan, "plan", 0, "run the audience benchmark on this many rows and then `scheduler run` until the broadcast sends (planning time, peak RSS, Redis memory, status and export latency)")
	fs.StringVar(&acfg.Dir, "dir", "", "with -audience: where to write the CSV file (default the temporary directory)")
	fs.IntVar(&cfg.NoopTasks, "noop", bench.DefaultNoopTasks, "no-op tasks the raw asynq phase drains")
	fs.IntVar(&cfg.Sends, "sends", bench.DefaultSends, "recipients of the send-path broadcast")
	fs.IntVar(&cfg.Rounds, "rounds", bench.DefaultRounds, "how many times the no-op and send phases run, one after the other; the result is the round of median ratio")
	fs.Float64Var(&tcfg.Rate, "rate", bench.DefaultThrottleRate, "with -throttle: rate_per_second of every phone number, and the simulator's limit")
	fs.Float64Var(&tcfg.Seconds, "seconds", bench.DefaultThrottleSeconds, "with -throttle: work per phone number, as seconds at -rate (rate × seconds recipients)")
	fs.IntVar(&tcfg.Slow, "slow", 0, "with -throttle: also this many numbers sending 1/s (seconds × 1 recipients each) sharing the workers in every scenario; the figures are the other numbers'")
	fs.DurationVar(&tcfg.FeedAhead, "feed-ahead", 0, "with -throttle: the broadcast window, as time at each number's rate (default the product's, 5s)")
	fs.IntVar(&tcfg.MinWindow, "min-window", 0, "with -throttle: the least broadcast window, in deliveries (default the product's, 4)")
	fs.DurationVar(&tcfg.QueueLead, "queue-lead", 0, "with -throttle: how long before its first departure a batch task enters the send queue (default the product's, 500ms; below 0: every task at once)")
	fs.IntVar(&cfg.Concurrency, "concurrency", bench.DefaultConcurrency, "worker concurrency (of both phases; with -throttle, of each worker process)")
	fs.StringVar(&cfg.RedisURL, "redis-url", "", "Redis server (default $REDIS_URL, else "+bench.DefaultRedisURL+"); its database index is ignored")
	fs.IntVar(&cfg.RedisDB, "redis-db", bench.DefaultRedisDB, "Redis database index to use; it is FLUSHED (FLUSHDB) before and between the phases; must not be 0")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "Postgres URL to CREATE DATABASE wacamp_bench_<random> through, dropped at the end "+
		"(default $DATABASE_URL, else "+bench.DefaultDatabaseURL+"); the database it names is not touched")
	fs.DurationVar(&cfg.Timeout, "timeout", bench.DefaultTimeout, "bound on the whole run")
	fs.BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	fs.StringVar(&cpuProf, "cpuprofile", "", "write a CPU profile of this process (not its worker children) to this file (go tool pprof reads it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cpuProf != "" {
		f, err := os.Create(cpuProf)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if plan != 0 {
		audience, acfg.Plan, acfg.Rows = true, true, plan
	}
	var misplaced error
	fs.Visit(func(f *flag.Flag) {
		switch {
		case throttle && sendFlags[f.Name]:
			misplaced = fmt.Errorf("-%s does not apply to -throttle", f.Name)
		case steps && (sendFlags[f.Name] || f.Name == "seconds" || f.Name == "throttle"):
			misplaced = fmt.Errorf("-%s does not apply to -steps", f.Name)
		case !faults && faultFlags[f.Name]:
			misplaced = fmt.Errorf("-%s only applies with -faults", f.Name)
		case faults && (sendFlags[f.Name] || f.Name == "seconds" || f.Name == "redis-url" || f.Name == "redis-db"):
			misplaced = fmt.Errorf("-%s does not apply to -faults", f.Name)
		case !throttle && (f.Name == "slow" || f.Name == "feed-ahead" || f.Name == "min-window" || f.Name == "queue-lead"):
			misplaced = fmt.Errorf("-%s only applies with -throttle", f.Name)
		case !hooks && (f.Name == "messages" || f.Name == "clients"):
			misplaced = fmt.Errorf("-%s only applies with -webhooks", f.Name)
		case !steps && f.Name == "enrollments":
			misplaced = fmt.Errorf("-%s only applies with -steps", f.Name)
		case !throttle && !steps && !faults && f.Name == "rate":
			misplaced = fmt.Errorf("-%s only applies with -throttle, -steps or -faults", f.Name)
		case !audience && audienceFlags[f.Name]:
			misplaced = fmt.Errorf("-%s only applies with -audience", f.Name)
		case plan != 0 && f.Name == "rows":
			misplaced = errors.New("-rows does not apply to -plan: -plan N plans an audience of N rows")
		case audience && !acfg.Plan && f.Name == "redis-db":
			misplaced = errors.New("-redis-db only applies to -audience with -plan")
		case audience && (sendFlags[f.Name] || throttleFlags[f.Name] || f.Name == "concurrency"):
			misplaced = fmt.Errorf("-%s does not apply to -audience", f.Name)
		case !throttle && !steps && throttleFlags[f.Name]:
			misplaced = fmt.Errorf("-%s only applies with -throttle or -steps", f.Name)
		}
	})
	if misplaced != nil {
		return misplaced
	}
	if cfg.Rounds == 0 {
		// bench.Config reads 0 as "the default".
		return errors.New("-rounds 0 is refused: want 1–99 rounds")
	}
	if cfg.RedisDB == 0 {
		// bench.Config reads 0 as "the default"; on the command line it is
		// a request to flush database 0.
		return errors.New("-redis-db 0 is refused: database 0 is never flushed")
	}
	// Read after parsing, so -help never prints a URL's password as a default.
	cfg.RedisURL = cmp.Or(cfg.RedisURL, getenv("REDIS_URL"))
	cfg.DatabaseURL = cmp.Or(cfg.DatabaseURL, getenv("DATABASE_URL"))

	if audience {
		acfg.DatabaseURL, acfg.RedisURL, acfg.RedisDB = cfg.DatabaseURL, cfg.RedisURL, cfg.RedisDB
		acfg.Timeout = bench.DefaultAudienceTimeout
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "timeout" {
				acfg.Timeout = cfg.Timeout
			}
		})
		res, err := bench.RunAudience(ctx, acfg, stderr)
		if err != nil && !errors.Is(err, bench.ErrAudienceMismatch) {
			return err
		}
		return errors.Join(err, report(res, nil, asJSON, stdout))
	}
	if faults {
		fcfg.Rate = bench.DefaultFaultsRate
		fcfg.Timeout = bench.DefaultFaultsTimeout
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "rate":
				fcfg.Rate = tcfg.Rate
			case "timeout":
				fcfg.Timeout = cfg.Timeout
			}
		})
		if fcfg.Texts <= 0 || fcfg.Templates <= 0 || fcfg.Rate <= 0 || fcfg.SlowAccept <= 0 || fcfg.SettleWindow < 0 {
			return fmt.Errorf("-texts, -templates, -rate and -slow-accept must be more than 0, and -settle-window not negative")
		}
		fcfg.Concurrency, fcfg.DatabaseURL = cfg.Concurrency, cfg.DatabaseURL
		res, err := bench.RunFaults(ctx, fcfg, stderr)
		return report(res, err, asJSON, stdout)
	}
	if hooks {
		if wcfg.Messages <= 0 || wcfg.Clients <= 0 {
			return fmt.Errorf("-messages and -clients must be more than 0, got %v and %v", wcfg.Messages, wcfg.Clients)
		}
		wcfg.Concurrency, wcfg.RedisURL, wcfg.RedisDB = cfg.Concurrency, cfg.RedisURL, cfg.RedisDB
		wcfg.DatabaseURL, wcfg.Timeout = cfg.DatabaseURL, cfg.Timeout
		res, err := bench.RunWebhooks(ctx, wcfg, stderr)
		return report(res, err, asJSON, stdout)
	}
	if steps {
		scfg.Rate = bench.DefaultStepsRate
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "rate" {
				scfg.Rate = tcfg.Rate
			}
		})
		if scfg.Enrollments <= 0 || scfg.Rate <= 0 {
			return fmt.Errorf("-enrollments and -rate must be more than 0, got %v and %v", scfg.Enrollments, scfg.Rate)
		}
		scfg.Concurrency, scfg.RedisURL, scfg.RedisDB = cfg.Concurrency, cfg.RedisURL, cfg.RedisDB
		scfg.DatabaseURL, scfg.Timeout = cfg.DatabaseURL, cfg.Timeout
		res, err := bench.RunSteps(ctx, scfg, stderr)
		return report(res, err, asJSON, stdout)
	}
	if throttle {
		if tcfg.Rate <= 0 || tcfg.Seconds <= 0 {
			// ThrottleConfig reads 0 as "the default".
			return fmt.Errorf("-rate and -seconds must be more than 0, got %v and %v", tcfg.Rate, tcfg.Seconds)
		}
		tcfg.Concurrency, tcfg.RedisURL, tcfg.RedisDB = cfg.Concurrency, cfg.RedisURL, cfg.RedisDB
		tcfg.DatabaseURL, tcfg.Timeout = cfg.DatabaseURL, cfg.Timeout
		res, err := bench.RunThrottle(ctx, tcfg, stderr)
		return report(res, err, asJSON, stdout)
	}
	res, err := bench.Run(ctx, cfg, stderr)
	return report(res, err, asJSON, stdout)
}

// report writes a result to stdout as a table or as JSON. A result that
// came with ErrMismatch is complete and written; the error is returned too.
func report(res interface{ WriteTable(io.Writer) error }, err error, asJSON bool, stdout io.Writer) error {
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
