package bench

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/store"
)

// Defaults of Config's zero fields.
const (
	DefaultNoopTasks   = 20000
	DefaultSends       = 5000
	DefaultRounds      = 3
	DefaultConcurrency = 50
	DefaultRedisURL    = "redis://127.0.0.1:6379"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisDB     = 14
	DefaultTimeout     = 5 * time.Minute
)

// ErrMismatch is returned (wrapped, together with a complete Result) when the
// simulator did not accept every recipient's message exactly once.
var ErrMismatch = errors.New("send path did not deliver every message exactly once")

// Config is one benchmark run. The zero value of every field means its
// default.
type Config struct {
	// NoopTasks is how many no-op tasks the asynq phase drains.
	NoopTasks int
	// Sends is the broadcast's audience size in the send-path phase.
	Sends int
	// Concurrency is the worker concurrency of both phases.
	Concurrency int
	// Rounds is how many times both phases run, one after the other (no-op,
	// send, no-op, send, …); the result is the round of median ratio. On a
	// shared machine a phase's rate swings with what else runs: the ratio
	// of phases run side by side, several times, says more than one pair.
	Rounds int
	// RedisURL names the Redis server; its database index is ignored.
	RedisURL string
	// RedisDB is the database index used; it is flushed (FLUSHDB) before
	// and between the phases. It must be 1 or more.
	RedisDB int
	// RedisLeased says the caller already holds internal/testenv's lease on
	// RedisDB. Otherwise Run takes that lease itself (waiting while a test
	// holds it), so it never flushes a database a running test uses.
	RedisLeased bool
	// DatabaseURL is a Postgres URL on which Run may CREATE DATABASE; Run
	// works in a fresh database wacamp_bench_<random> and drops it at the
	// end. The database the URL names is not touched.
	DatabaseURL string
	// Timeout bounds the whole run.
	Timeout time.Duration
	// StatsDelay is how long the send phase waits, after its last send, for
	// Postgres to show its statistics (the profile's commits and tuples);
	// 0 means 11 s (an idle backend reports within 10 s).
	StatsDelay time.Duration
}

func (c Config) withDefaults() Config {
	c.NoopTasks = cmp.Or(c.NoopTasks, DefaultNoopTasks)
	c.Sends = cmp.Or(c.Sends, DefaultSends)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.Rounds = cmp.Or(c.Rounds, DefaultRounds)
	c.RedisURL = cmp.Or(c.RedisURL, DefaultRedisURL)
	c.RedisDB = cmp.Or(c.RedisDB, DefaultRedisDB)
	c.DatabaseURL = cmp.Or(c.DatabaseURL, DefaultDatabaseURL)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	return c
}

func (c Config) validate() error {
	switch {
	case c.NoopTasks < 1:
		return fmt.Errorf("noop tasks must be at least 1, got %d", c.NoopTasks)
	case c.Sends < 1:
		return fmt.Errorf("sends must be at least 1, got %d", c.Sends)
	case c.Sends > 99_999_999:
		return fmt.Errorf("sends must be at most 99999999, got %d", c.Sends)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	case c.Rounds < 1 || c.Rounds > 99:
		return fmt.Errorf("rounds must be 1–99, got %d", c.Rounds)
	case c.RedisDB < 1:
		return fmt.Errorf("redis db must be 1 or more (database 0 is never flushed), got %d", c.RedisDB)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must not be negative, got %s", c.Timeout)
	}
	return nil
}

// Result is what one run measured: its round of median ratio, and every
// round's rates. Durations are in seconds.
type Result struct {
	CPUs        int     `json:"cpus"`
	Concurrency int     `json:"concurrency"`
	RedisDB     int     `json:"redis_db"`
	Database    string  `json:"database"` // the median round's
	Noop        Noop    `json:"noop"`
	Send        Send    `json:"send"`
	Ratio       float64 `json:"ratio"`        // Send.PerSecond / Noop.PerSecond
	SteadyRatio float64 `json:"steady_ratio"` // Send.SteadyPerSecond / Noop.PerSecond
	Rounds      []Round `json:"rounds"`       // the rounds that ran to the end, in order
	// ShownRound is the round (from 1) whose phases the fields above are:
	// the one of median ratio, or, when Stopped, the round that failed.
	ShownRound int  `json:"shown_round"`
	Stopped    bool `json:"stopped"`
}

// Round is one no-op phase and the send phase right after it.
type Round struct {
	NoopPerSecond float64 `json:"noop_per_second"`
	SendPerSecond float64 `json:"send_per_second"`
	Ratio         float64 `json:"ratio"`
	SteadyRatio   float64 `json:"steady_ratio"`
}

// Noop is the raw asynq phase.
type Noop struct {
	Tasks            int     `json:"tasks"`
	EnqueueSeconds   float64 `json:"enqueue_seconds"`
	EnqueuePerSecond float64 `json:"enqueue_per_second"`
	// Seconds runs from the server's start to the last handler's return.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// Send is the full send-path phase.
type Send struct {
	Recipients int `json:"recipients"`
	// Seconds runs from the feeder's start (the broadcast is applied and
	// due, not yet planned) until every delivery is recorded as accepted.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// FirstSendSeconds is when, after that start, the first send handler
	// began: planning, the first enqueue and the worker's idle poll.
	FirstSendSeconds float64 `json:"first_send_seconds"`
	// SteadySeconds runs from the first send handler's start to the last
	// one's return.
	SteadySeconds   float64 `json:"steady_seconds"`
	SteadyPerSecond float64 `json:"steady_per_second"`
	// HandlerRuns counts send task runs (a batch send task's run is one);
	// Carried counts the deliveries the successful ones carried: more than
	// Recipients means retries or duplicate deliveries of a task.
	HandlerRuns int `json:"handler_runs"`
	Carried     int `json:"carried"`
	// P50Millis and P99Millis are percentiles of one successful send task
	// run: load its jobs, then for each claim it, call the provider over
	// HTTP, record it.
	P50Millis float64 `json:"p50_ms"`
	P99Millis float64 `json:"p99_ms"`
	// SimAccepted is how many sends the simulator accepted; Duplicates and
	// Missing count recipients it accepted more than once or never.
	SimAccepted int `json:"sim_accepted"`
	Duplicates  int `json:"duplicates"`
	Missing     int `json:"missing"`
	// Profile is what one send cost (CPU, statements, Redis commands).
	Profile Profile `json:"profile"`
}

// Run runs both phases Config.Rounds times and returns what they measured.
// Progress and the engine's own log lines go to progress as slog text. When
// the simulator did not accept every message exactly once in a round, Run
// returns the Result so far and an error wrapping ErrMismatch.
func Run(ctx context.Context, cfg Config, progress io.Writer) (res Result, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Result{}, fmt.Errorf("invalid config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	log := slog.New(slog.NewTextHandler(progress, nil))

	rds, err := openRedis(ctx, log, cfg)
	if err != nil {
		return Result{}, err
	}
	defer rds.close()

	res = Result{CPUs: runtime.GOMAXPROCS(0), Concurrency: cfg.Concurrency, RedisDB: cfg.RedisDB}
	var rounds []Result
	for i := range cfg.Rounds {
		log.InfoContext(ctx, "bench: round", slog.Int("round", i+1), slog.Int("of", cfg.Rounds))
		r, err := runRound(ctx, log, rds, cfg)
		if err == nil && (r.Send.SimAccepted != r.Send.Recipients || r.Send.Duplicates != 0 || r.Send.Missing != 0) {
			err = fmt.Errorf("simulator accepted %d sends for %d recipients (%d duplicated, %d missing): %w",
				r.Send.SimAccepted, r.Send.Recipients, r.Send.Duplicates, r.Send.Missing, ErrMismatch)
		}
		if err == nil || errors.Is(err, ErrMismatch) { // both phases ran to the end
			res.Rounds = append(res.Rounds, Round{NoopPerSecond: r.Noop.PerSecond, SendPerSecond: r.Send.PerSecond,
				Ratio: r.Ratio, SteadyRatio: r.SteadyRatio})
		}
		if err != nil {
			res.Database, res.Noop, res.Send, res.Ratio, res.SteadyRatio = r.Database, r.Noop, r.Send, r.Ratio, r.SteadyRatio
			res.ShownRound, res.Stopped = i+1, true
			return res, fmt.Errorf("round %d: %w", i+1, err)
		}
		r.ShownRound = i + 1
		rounds = append(rounds, r)
	}
	m := medianRound(rounds)
	res.Database, res.Noop, res.Send, res.Ratio, res.SteadyRatio = m.Database, m.Noop, m.Send, m.Ratio, m.SteadyRatio
	res.ShownRound = m.ShownRound
	return res, nil
}

// medianRound returns the round of median ratio (of an even count, the
// lower of the middle two).
func medianRound(rounds []Result) Result {
	sorted := slices.Clone(rounds)
	slices.SortStableFunc(sorted, func(a, b Result) int { return cmp.Compare(a.Ratio, b.Ratio) })
	return sorted[(len(sorted)-1)/2]
}

// runRound runs the no-op phase, then the send phase in a database of its
// own, created and dropped around it.
func runRound(ctx context.Context, log *slog.Logger, rds *benchRedis, cfg Config) (res Result, err error) {
	if err := rds.flush(ctx); err != nil {
		return res, err
	}
	if res.Noop, err = runNoop(ctx, log, rds.opt, cfg); err != nil {
		return res, err
	}
	if err := rds.flush(ctx); err != nil {
		return res, err
	}

	dbName, dbURL, drop, err := createDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer func() {
		if derr := drop(); derr != nil {
			err = errors.Join(err, derr)
		} else {
			log.InfoContext(ctx, "bench: dropped database", slog.String("database", dbName))
		}
	}()
	log.InfoContext(ctx, "bench: created database", slog.String("database", dbName))
	res.Database = dbName

	db, err := store.Open(ctx, dbURL, log)
	if err != nil {
		return res, fmt.Errorf("send: %w", err)
	}
	defer func() { _ = db.Close() }()
	if res.Send, err = runSend(ctx, log, rds, db, dbName, cfg); err != nil {
		return res, err
	}
	res.Ratio = res.Send.PerSecond / res.Noop.PerSecond
	res.SteadyRatio = res.Send.SteadyPerSecond / res.Noop.PerSecond
	return res, nil
}

// leaseKey is internal/testenv's lease on a Redis database index, in
// database 0. Taking it keeps tests (which lease indexes 1–15) and other
// bench runs off the database this run flushes.
func leaseKey(db int) string { return "wacamp:testenv:lease:" + strconv.Itoa(db) }

// benchRedis is the flushed Redis database a run works in.
type benchRedis struct {
	opt   asynq.RedisClientOpt
	data  *redis.Client // on cfg.RedisDB
	ctl   *redis.Client // on database 0, for the lease
	owner string        // lease value; empty when the caller holds the lease
	db    int
}

func openRedis(ctx context.Context, log *slog.Logger, cfg Config) (*benchRedis, error) {
	base, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	ctlOpt, dataOpt := *base, *base
	ctlOpt.DB, dataOpt.DB = 0, cfg.RedisDB
	r := &benchRedis{
		opt: asynq.RedisClientOpt{Network: base.Network, Addr: base.Addr, Username: base.Username,
			Password: base.Password, DB: cfg.RedisDB, TLSConfig: base.TLSConfig},
		data: redis.NewClient(&dataOpt),
		ctl:  redis.NewClient(&ctlOpt),
		db:   cfg.RedisDB,
	}
	if !cfg.RedisLeased {
		if err := r.lease(ctx, log, cfg.Timeout); err != nil {
			r.close()
			return nil, err
		}
	}
	if err := r.flush(ctx); err != nil {
		r.close()
		return nil, err
	}
	log.InfoContext(ctx, "bench: flushed redis database", slog.String("addr", base.Addr), slog.Int("db", cfg.RedisDB))
	return r, nil
}

// lease takes testenv's lease on the database, waiting while another holder
// has it.
func (r *benchRedis) lease(ctx context.Context, log *slog.Logger, ttl time.Duration) error {
	owner, err := randomHex(8)
	if err != nil {
		return err
	}
	waiting := false
	for {
		ok, err := r.ctl.SetNX(ctx, leaseKey(r.db), "bench:"+owner, ttl+time.Minute).Result()
		if err != nil {
			return fmt.Errorf("lease redis db %d: %w", r.db, err)
		}
		if ok {
			r.owner = "bench:" + owner
			return nil
		}
		if !waiting {
			waiting = true
			log.InfoContext(ctx, "bench: redis database is leased by a test or another bench run; waiting (or pick another with -redis-db)", slog.Int("db", r.db))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for redis db %d lease: %w", r.db, ctx.Err())
		case <-time.After(200 * time.Millisecond): // a lease held in another process signals nothing
		}
	}
}

func (r *benchRedis) flush(ctx context.Context) error {
	if err := r.data.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis db %d: %w", r.db, err)
	}
	return nil
}

func (r *benchRedis) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if r.owner != "" {
		_ = r.data.FlushDB(ctx).Err() // leave nothing behind for the next holder
		if v, _ := r.ctl.Get(ctx, leaseKey(r.db)).Result(); v == r.owner {
			r.ctl.Del(ctx, leaseKey(r.db))
		}
	}
	_ = r.data.Close()
	_ = r.ctl.Close()
}

// createDatabase creates wacamp_bench_<random> through adminURL and returns
// its name, its URL and a function dropping it.
func createDatabase(ctx context.Context, adminURL string) (name, dbURL string, drop func() error, err error) {
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", "", nil, fmt.Errorf("database url: %w", err)
	}
	suffix, err := randomHex(6)
	if err != nil {
		return "", "", nil, err
	}
	name = "wacamp_bench_" + suffix
	admin, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", "", nil, fmt.Errorf("connect to postgres: %w", err)
	}
	defer func() { _ = admin.Close(context.WithoutCancel(ctx)) }()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	drop = func() error {
		// The run's context may be over (timeout, ^C); dropping must not be.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		defer func() { _ = c.Close(ctx) }()
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	u.Path = "/" + name
	return name, u.String(), drop, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// rate is n per seconds, or 0 when no time passed.
func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// world is one benchmark run's services: a flushed Redis database and a
// fresh, migrated Postgres database.
type world struct {
	log    *slog.Logger
	rds    *benchRedis
	db     *store.DB
	dbName string
}

// newWorld validates base and sets up a run's services under ctx; close
// releases them (dropping the database).
func newWorld(ctx context.Context, base Config, progress io.Writer) (w *world, close func() error, err error) {
	if err := base.validate(); err != nil {
		return nil, nil, fmt.Errorf("invalid config: %w", err)
	}
	w = &world{log: slog.New(slog.NewTextHandler(progress, nil))}
	if w.rds, err = openRedis(ctx, w.log, base); err != nil {
		return nil, nil, err
	}
	name, dbURL, drop, err := createDatabase(ctx, base.DatabaseURL)
	if err != nil {
		w.rds.close()
		return nil, nil, err
	}
	w.dbName = name
	if w.db, err = store.Open(ctx, dbURL, w.log); err != nil {
		w.rds.close()
		return nil, nil, errors.Join(err, drop())
	}
	return w, func() error {
		_ = w.db.Close()
		w.rds.close()
		return drop()
	}, nil
}
