package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
)

// Defaults of ThrottleConfig's zero fields.
const (
	DefaultThrottleRate      = 50
	DefaultThrottleSeconds   = 10
	DefaultThrottleProcesses = 2
	// MinUtilisation is the share of the limit every phone number must use
	// while work is waiting for the benchmark to call the throttle's claim
	// holding.
	MinUtilisation = 0.95
)

// DefaultThrottleNumbers are the scenarios RunThrottle runs by default: two
// phone numbers, then ten.
var DefaultThrottleNumbers = []int{2, 10}

// ThrottleConfig is one run of the throttle benchmark. The zero value of
// every field means its default.
type ThrottleConfig struct {
	// Rate is every account's rate_per_second, and the simulator's limit
	// per phone number.
	Rate float64
	// Seconds sizes the work: each phone number's broadcast has
	// Rate × Seconds recipients.
	Seconds float64
	// Numbers lists the scenarios: how many phone numbers (accounts, one
	// broadcast each) send at once.
	Numbers []int
	// Processes is how many worker processes share the work.
	Processes int
	// Concurrency is each worker process's send concurrency.
	Concurrency int
	// Slow adds to every scenario this many phone numbers sending
	// SlowRate (one message a second), each with a broadcast of Seconds at
	// that rate, beside the numbers measured: they share the fleet's
	// worker slots, and the scenario's figures are the other numbers'.
	Slow int
	// FeedAhead and MinWindow size the scheduler's broadcast window, and
	// QueueLead is how long before its first departure a batch task enters
	// the send queue (delivery.Options); zero: the product's defaults, a
	// negative QueueLead: every task at once.
	FeedAhead time.Duration
	MinWindow int
	QueueLead time.Duration
	// RedisURL, RedisDB, RedisLeased, DatabaseURL and Timeout are as in
	// Config. The Redis database is flushed before every scenario; every
	// scenario works in its own fresh Postgres database.
	RedisURL    string
	RedisDB     int
	RedisLeased bool
	DatabaseURL string
	Timeout     time.Duration
}

func (c ThrottleConfig) withDefaults() ThrottleConfig {
	c.Rate = cmp.Or(c.Rate, DefaultThrottleRate)
	c.Seconds = cmp.Or(c.Seconds, DefaultThrottleSeconds)
	if len(c.Numbers) == 0 {
		c.Numbers = slices.Clone(DefaultThrottleNumbers)
	}
	c.Processes = cmp.Or(c.Processes, DefaultThrottleProcesses)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.RedisURL = cmp.Or(c.RedisURL, DefaultRedisURL)
	c.RedisDB = cmp.Or(c.RedisDB, DefaultRedisDB)
	c.DatabaseURL = cmp.Or(c.DatabaseURL, DefaultDatabaseURL)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	return c
}

// perNumber is how many recipients each phone number's broadcast has.
func (c ThrottleConfig) perNumber() int { return int(math.Round(c.Rate * c.Seconds)) }

// SlowRate is the rate_per_second of ThrottleConfig.Slow's numbers.
const SlowRate = 1.0

// perSlowNumber is how many recipients each slow number's broadcast has.
func (c ThrottleConfig) perSlowNumber() int { return max(2, int(math.Round(SlowRate*c.Seconds))) }

func (c ThrottleConfig) validate() error {
	total := 0
	for _, n := range c.Numbers {
		if n < 1 {
			return fmt.Errorf("numbers must be at least 1, got %d", n)
		}
		total += n * c.perNumber()
	}
	switch {
	case c.Rate <= 0 || c.Rate > spec.MaxRatePerSecond:
		return fmt.Errorf("rate must be more than 0 and at most %d, got %v", spec.MaxRatePerSecond, c.Rate)
	case c.Seconds <= 0:
		return fmt.Errorf("seconds must be more than 0, got %v", c.Seconds)
	case c.perNumber() < 2:
		return fmt.Errorf("rate × seconds must be at least 2 sends per number to measure a rate, got %d", c.perNumber())
	case total > 99_999_999:
		return fmt.Errorf("at most 99999999 recipients in all, got %d", total)
	case c.Processes < 1:
		return fmt.Errorf("processes must be at least 1, got %d", c.Processes)
	case c.Slow < 0 || c.Slow > 1000:
		return fmt.Errorf("slow numbers must be 0–1000, got %d", c.Slow)
	case c.FeedAhead < 0 || c.MinWindow < 0:
		return fmt.Errorf("feed ahead and min window must not be negative, got %s and %d", c.FeedAhead, c.MinWindow)
	case c.Concurrency < 1:
		return fmt.Errorf("concurrency must be at least 1, got %d", c.Concurrency)
	case c.RedisDB < 1:
		return fmt.Errorf("redis db must be 1 or more (database 0 is never flushed), got %d", c.RedisDB)
	case c.Timeout < 0:
		return fmt.Errorf("timeout must not be negative, got %s", c.Timeout)
	}
	return nil
}

// ThrottleResult is what one throttle benchmark run measured. Durations are
// in seconds, utilisations are shares (0.98 = 98%).
type ThrottleResult struct {
	CPUs           int     `json:"cpus"`
	Processes      int     `json:"processes"`
	Concurrency    int     `json:"concurrency"` // per process
	Rate           float64 `json:"rate_per_second"`
	SendsPerNumber int     `json:"sends_per_number"`
	// Slow numbers at SlowRate shared every scenario's fleet; FeedAhead
	// and MinWindow sized the broadcast window, QueueLead held its later
	// tasks back (0: the product's).
	Slow               int        `json:"slow_numbers"`
	SendsPerSlowNumber int        `json:"sends_per_slow_number"`
	FeedAhead          float64    `json:"feed_ahead_seconds"`
	MinWindow          int        `json:"min_window"`
	QueueLead          float64    `json:"queue_lead_seconds"`
	RedisDB            int        `json:"redis_db"`
	Scenarios          []Scenario `json:"scenarios"`
}

// Scenario is one scenario: Numbers phone numbers, each with a broadcast of
// the same size, sent by Processes worker processes at once.
type Scenario struct {
	Processes  int     `json:"processes"`
	Numbers    int     `json:"numbers"`
	Limit      float64 `json:"limit_per_second"` // per number
	Database   string  `json:"database"`
	Recipients int     `json:"recipients"`
	// Sends is how many sends the simulator accepted.
	Sends int `json:"sends"`
	// Seconds runs from the first accepted send of any number to the last.
	Seconds float64 `json:"seconds"`
	// Timeline counts the accepted sends of all numbers in each
	// TimelineBin from the first (the last bin may be partial): where a
	// run lost its rate, a stall of every number or a tail of a few.
	Timeline []int `json:"sends_per_quarter_second"`
	// PerSecond is the aggregate rate over Seconds; FleetUtilisation is
	// PerSecond over Numbers × Limit. Every number has work waiting from
	// the start, so this is also the utilisation while work is waiting,
	// counted over the whole fleet.
	PerSecond        float64 `json:"per_second"`
	FleetUtilisation float64 `json:"fleet_utilisation"`
	// MinUtilisation and MeanUtilisation are over the numbers'
	// Utilisation (first→last send of each number).
	MinUtilisation  float64 `json:"min_utilisation"`
	MeanUtilisation float64 `json:"mean_utilisation"`
	// WorstWindow is the most sends of one number in any one-second
	// window, over all numbers, at the simulator's clock.
	WorstWindow       int    `json:"worst_window"`
	WorstWindowNumber string `json:"worst_window_number"`
	// Grants counts the rate tokens the workers' limiters granted, and
	// GrantWorstWindow is the most granted to one number in any one-second
	// window, at the workers' clock (the same host clock): the throttle's
	// own pacing, before the jitter between grant and request.
	Grants           int `json:"grants"`
	GrantWorstWindow int `json:"grant_worst_window"`
	// DepartWorstWindow is the same at the moments the workers let the
	// requests go (after sleeping until their slots): the pacing as it
	// left the workers, before the way to the provider.
	DepartWorstWindow int `json:"depart_worst_window"`
	// LeftLate counts the requests that left more than throttle.Late
	// after the slot they were granted: they came or woke late for it (a
	// claim that overran, a stalled process) and went at a later slot
	// (the one they missed went unused), or went late (after three late
	// slots, or with the claims' lead at its bound).
	LeftLate int `json:"left_late"`
	// LuaCalls counts the rate limit's Lua script calls to Redis in every
	// worker process (penalties included), and LuaCallsPerSend is
	// LuaCalls over Sends.
	LuaCalls        int     `json:"lua_calls"`
	LuaCallsPerSend float64 `json:"lua_calls_per_send"`
	// LastStartSeconds is when the last number to start sending sent its
	// first message, after the first number's: how long work waited
	// behind other numbers' work.
	LastStartSeconds float64 `json:"last_start_seconds"`
	// RateLimited counts the simulator's 130429 answers (it enforces Limit
	// per number with a token bucket holding Limit tokens).
	RateLimited int `json:"rate_limited"`
	// Duplicates and Missing count recipients the simulator accepted more
	// than once or never.
	Duplicates int `json:"duplicates"`
	Missing    int `json:"missing"`
	// ProcessRequests is how many send requests each worker process made
	// (accepted or not), in process order.
	ProcessRequests []int         `json:"process_requests"`
	PerNumber       []NumberStats `json:"per_number"`
}

// NumberStats is one phone number's sends in a scenario.
type NumberStats struct {
	PhoneNumberID string `json:"phone_number_id"`
	Sends         int    `json:"sends"`
	// StartSeconds is when its first send came, after the scenario's first
	// send of any number.
	StartSeconds float64 `json:"start_seconds"`
	// Seconds runs from its first send to its last; PerSecond is
	// (Sends − 1) / Seconds, and Utilisation PerSecond / Limit.
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"per_second"`
	Utilisation float64 `json:"utilisation"`
	// WorstWindow is the most of its sends in any one-second window;
	// WorstWindowStart is when the first such window begins, after its
	// first send.
	WorstWindow      int     `json:"worst_window"`
	WorstWindowStart float64 `json:"worst_window_start"`
	// GrantWorstWindow is the most rate tokens granted for it in any
	// one-second window; DepartWorstWindow the most of its requests let
	// go by the workers in one.
	GrantWorstWindow  int `json:"grant_worst_window"`
	DepartWorstWindow int `json:"depart_worst_window"`
}

// WithinLimit reports whether no number sent more than Limit in any
// one-second window.
func (s Scenario) WithinLimit() bool { return float64(s.WorstWindow) <= s.Limit }

// Utilised reports whether every number used at least MinUtilisation of its
// limit while it had work, and the fleet did too.
func (s Scenario) Utilised() bool {
	return s.MinUtilisation >= MinUtilisation && s.FleetUtilisation >= MinUtilisation
}

// RunThrottle proves the fleet-wide throttle on this machine: for each
// scenario it applies one broadcast per phone number to a fresh Postgres
// database, starts cfg.Processes worker processes (this very executable
// again, see [WorkerEnv]) on a flushed Redis database, feeds them from this
// process, and measures from the simulator's record of accepted sends how
// close each number came to its rate_per_second without exceeding it. The
// simulator runs in a process of its own (this executable once more), so
// that this process's work does not stall it.
// Progress and the workers' logs go to progress as slog text. When the
// simulator did not accept every message exactly once, RunThrottle returns
// the result so far and an error wrapping ErrMismatch.
//
// The executable must call [IsWorkerChild] first thing in main (or
// TestMain) and then [WorkerChildMain].
func RunThrottle(ctx context.Context, cfg ThrottleConfig, progress io.Writer) (ThrottleResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return ThrottleResult{}, fmt.Errorf("invalid config: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	progress = &lockedWriter{w: progress}
	log := slog.New(slog.NewTextHandler(progress, nil))

	rds, err := openRedis(ctx, log, Config{RedisURL: cfg.RedisURL, RedisDB: cfg.RedisDB, RedisLeased: cfg.RedisLeased, Timeout: cfg.Timeout})
	if err != nil {
		return ThrottleResult{}, err
	}
	defer rds.close()
	childRedisURL, err := redisURLWithDB(cfg.RedisURL, cfg.RedisDB)
	if err != nil {
		return ThrottleResult{}, err
	}

	res := ThrottleResult{CPUs: runtime.GOMAXPROCS(0), Processes: cfg.Processes, Concurrency: cfg.Concurrency,
		Rate: cfg.Rate, SendsPerNumber: cfg.perNumber(), RedisDB: cfg.RedisDB,
		Slow: cfg.Slow, FeedAhead: cfg.FeedAhead.Seconds(), MinWindow: cfg.MinWindow, QueueLead: cfg.QueueLead.Seconds()}
	if cfg.Slow > 0 {
		res.SendsPerSlowNumber = cfg.perSlowNumber()
	}
	ids := &idSource{}
	var mismatch []error
	for _, n := range cfg.Numbers {
		if err := rds.flush(ctx); err != nil {
			return res, err
		}
		sc, err := runScenario(ctx, log, progress, rds.opt, childRedisURL, cfg, n, ids)
		res.Scenarios = append(res.Scenarios, sc)
		switch {
		case errors.Is(err, ErrMismatch):
			mismatch = append(mismatch, err)
		case err != nil:
			return res, fmt.Errorf("%d numbers: %w", n, err)
		}
	}
	return res, errors.Join(mismatch...)
}

// redisURLWithDB is raw with its path naming database db.
func redisURLWithDB(raw string, db int) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("redis url is not a valid URL") // the error would quote it, password included
	}
	u.Path = "/" + strconv.Itoa(db)
	return u.String(), nil
}

// idSource hands out phone number ids and recipients unique across a run.
type idSource struct{ numbers, recipients int }

func (s *idSource) number() string {
	s.numbers++
	return fmt.Sprintf("1190600%08d", s.numbers)
}

func (s *idSource) phones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = phone(s.recipients)
		s.recipients++
	}
	return out
}

// benchNumber is one phone number of a scenario: its account and broadcast
// (both named name) and its audience.
type benchNumber struct {
	name          string
	rate          float64 // its account's rate_per_second
	phoneNumberID string
	phones        []string
	broadcastID   int64
}

// throttleCampaignOptions are the engine options of the parent's feeder and
// of the workers: no status poll falls due during a run, so none competes
// with sends; the window is the product's own (5 s of each number's rate),
// so the run shows how the fleet shares its worker slots as deployed.
func throttleCampaignOptions() delivery.Options {
	return delivery.Options{Polls: delivery.PollPlan{First: time.Hour}}
}

// slowOf returns the sends of the slow numbers and those of the others.
func slowOf(sends []botsailorsim.Send, slow []benchNumber) (theirs, others []botsailorsim.Send) {
	ids := map[string]bool{}
	for _, n := range slow {
		ids[n.phoneNumberID] = true
	}
	for _, s := range sends {
		if ids[s.PhoneNumberID] {
			theirs = append(theirs, s)
		} else {
			others = append(others, s)
		}
	}
	return theirs, others
}

// runScenario runs one scenario of numbers phone numbers.
func runScenario(ctx context.Context, log *slog.Logger, progress io.Writer, opt asynq.RedisClientOpt, childRedisURL string,
	cfg ThrottleConfig, numbers int, ids *idSource) (sc Scenario, err error) {
	log = log.With(slog.Int("numbers", numbers))
	sc = Scenario{Processes: cfg.Processes, Numbers: numbers, Limit: cfg.Rate, Recipients: numbers * cfg.perNumber()}

	dbName, dbURL, drop, err := createDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return sc, err
	}
	sc.Database = dbName
	defer func() {
		if derr := drop(); derr != nil {
			err = errors.Join(err, derr)
		} else {
			log.InfoContext(ctx, "bench: dropped database", slog.String("database", dbName))
		}
	}()
	log.InfoContext(ctx, "bench: created database", slog.String("database", dbName))
	db, err := store.Open(ctx, dbURL, log)
	if err != nil {
		return sc, fmt.Errorf("open store: %w", err)
	}
	defer func() { _ = db.Close() }()

	simKid, baseURL, err := startSimProcess(ctx, log, progress, cfg.Rate)
	if err != nil {
		return sc, err
	}
	stopSim := stopOnce(ctx, log, "simulator", []*child{simKid})
	defer func() { err = errors.Join(err, stopSim()) }()

	nums := make([]benchNumber, numbers)
	for i := range nums {
		nums[i] = benchNumber{name: fmt.Sprintf("number-%02d", i+1), rate: cfg.Rate, phoneNumberID: ids.number(), phones: ids.phones(cfg.perNumber())}
	}
	slow := make([]benchNumber, cfg.Slow)
	for i := range slow {
		slow[i] = benchNumber{name: fmt.Sprintf("slow-%02d", i+1), rate: SlowRate, phoneNumberID: ids.number(), phones: ids.phones(cfg.perSlowNumber())}
	}
	all := append(slices.Clone(nums), slow...)
	if err := applyNumbers(ctx, log, db, baseURL, all); err != nil {
		return sc, err
	}

	env := []string{
		childRedisURLEnv + "=" + childRedisURL,
		childDatabaseURLEnv + "=" + dbURL,
		childConcurrencyEnv + "=" + strconv.Itoa(cfg.Concurrency),
		tokenVar + "=" + simToken,
	}
	kids, err := startChildren(ctx, log, progress, cfg.Processes, env)
	if err != nil {
		return sc, err
	}
	stop := stopOnce(ctx, log, "worker processes", kids)
	defer func() { err = errors.Join(err, stop()) }()

	opts := throttleCampaignOptions()
	opts.Logger, opts.FeedAhead, opts.MinWindow, opts.QueueLead = log, cfg.FeedAhead, cfg.MinWindow, cfg.QueueLead

	log.InfoContext(ctx, "bench: throttle: running", slog.Int("processes", cfg.Processes), slog.Float64("rate", cfg.Rate),
		slog.Int("recipients", sc.Recipients))
	start := time.Now()
	stopFeed := runFeeder(ctx, opt, db, opts)
	defer stopFeed()
	if err := waitAllAccepted(ctx, log, db, all, kids, start); err != nil {
		return sc, err
	}
	stopFeed()
	if err := stop(); err != nil {
		return sc, err
	}

	if err := stopSim(); err != nil {
		return sc, err
	}
	simKid.stdout.mu.Lock()
	report := simKid.stdout.sim
	simKid.stdout.mu.Unlock()

	grants, luaCalls := collectGrants(kids)
	slowSends, sends := slowOf(report.sends, slow)
	measure(&sc, nums, sends, grants, luaCalls)
	// The slow numbers' sends count for exactly-once, not for the figures.
	var slowSc Scenario
	measure(&slowSc, slow, slowSends, nil, 0)
	sc.Duplicates += slowSc.Duplicates
	sc.Missing += slowSc.Missing
	sc.RateLimited = report.rateLimited
	sc.ProcessRequests = report.counts(cfg.Processes)
	log.InfoContext(ctx, "bench: throttle: done", slog.Int("sends", sc.Sends), slog.Float64("seconds", round(sc.Seconds, 3)),
		slog.Float64("fleet_utilisation", round(sc.FleetUtilisation, 4)), slog.Int("worst_window", sc.WorstWindow))
	if sc.Sends != sc.Recipients || sc.Duplicates != 0 || sc.Missing != 0 {
		return sc, fmt.Errorf("%d numbers: simulator accepted %d sends for %d recipients (%d duplicated, %d missing): %w",
			numbers, sc.Sends, sc.Recipients, sc.Duplicates, sc.Missing, ErrMismatch)
	}
	return sc, nil
}

// applyNumbers writes one account and one broadcast per number, loads and
// applies them, and notes each broadcast's id.
func applyNumbers(ctx context.Context, log *slog.Logger, db *store.DB, baseURL string, nums []benchNumber) error {
	dir, err := os.MkdirTemp("", "wacamp-bench-throttle-")
	if err != nil {
		return fmt.Errorf("campaign directory: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path, err := writeThrottleCampaign(dir, baseURL, nums)
	if err != nil {
		return err
	}
	bundle, err := spec.Load(path, getenv, drivers.Catalog{})
	if err != nil {
		return fmt.Errorf("load generated campaign: %w", err)
	}
	start := time.Now()
	if _, err := db.Apply(ctx, bundle, time.Now()); err != nil {
		return fmt.Errorf("apply generated campaign: %w", err)
	}
	for i := range nums {
		b, err := db.BroadcastByName(ctx, nums[i].name)
		if err != nil {
			return fmt.Errorf("applied broadcast: %w", err)
		}
		nums[i].broadcastID = b.ID
	}
	log.InfoContext(ctx, "bench: throttle: applied broadcasts", slog.Int("broadcasts", len(nums)),
		slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	return nil
}

// writeThrottleCampaign writes, into dir, one YAML file with an account and
// a broadcast per number (each audience in its own CSV) and returns its
// path. Every account is on the simulator with the same token, its own
// phone_number_id, and its number's rate_per_second; the pair interval is the
// default (6 s, never reached: every recipient gets one message) and the
// unique-recipient budget is off, so the rate is the only limit.
func writeThrottleCampaign(dir, baseURL string, nums []benchNumber) (string, error) {
	var accounts, broadcasts strings.Builder
	for _, n := range nums {
		var csv strings.Builder
		csv.WriteString("phone,name\n")
		for i, p := range n.phones {
			fmt.Fprintf(&csv, "%s,Person %d\n", p, i)
		}
		if err := os.WriteFile(filepath.Join(dir, n.name+".csv"), []byte(csv.String()), 0o600); err != nil {
			return "", fmt.Errorf("write audience: %w", err)
		}
		fmt.Fprintf(&accounts, `  - name: %s
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${%s}
    phone_number_id: "%s"
    whatsapp_bot_id: 123
    rate_per_second: %s
    daily_unique_limit: unlimited
`, n.name, baseURL, tokenVar, n.phoneNumberID, strconv.FormatFloat(n.rate, 'f', -1, 64))
		fmt.Fprintf(&broadcasts, `  - name: %s
    account: %s
    audience:
      csv: %s.csv
    message:
      text: "Hello {{name}}, this is a throttle benchmark."
`, n.name, n.name, n.name)
	}
	path := filepath.Join(dir, "throttle.yaml")
	yaml := "accounts:\n" + accounts.String() + "broadcasts:\n" + broadcasts.String()
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", fmt.Errorf("write campaign: %w", err)
	}
	return path, nil
}

// waitAllAccepted waits until every delivery of every number's broadcast is
// accepted. It fails fast when a delivery ends otherwise, a broadcast stops
// running, or a worker process exits.
func waitAllAccepted(ctx context.Context, log *slog.Logger, db *store.DB, nums []benchNumber, kids []*child, start time.Time) error {
	n := 0
	for _, num := range nums {
		n += len(num.phones)
	}
	gone := exited(kids)
	// Polling the database: the workers record acceptance in other
	// processes, which offer no notification.
	check := time.NewTicker(100 * time.Millisecond)
	defer check.Stop()
	lastReport := time.Now()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d accepted deliveries: %w", n, ctx.Err())
		case c := <-gone:
			return fmt.Errorf("worker %d exited while work was waiting: %w", c.id, exitErr(c.err))
		case <-check.C:
		}
		accepted, ended := 0, 0
		for _, num := range nums {
			counts, err := db.CountByStatus(ctx, num.broadcastID)
			if err != nil {
				return fmt.Errorf("count deliveries: %w", err)
			}
			for st, c := range counts {
				switch {
				case st.Accepted():
					accepted += c
				case !st.Pending():
					ended += c
				}
			}
		}
		if ended > 0 {
			return fmt.Errorf("%d deliveries ended without being accepted", ended)
		}
		if accepted >= n {
			return nil
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			for _, num := range nums {
				b, err := db.BroadcastByName(ctx, num.name)
				if err != nil {
					return fmt.Errorf("read broadcast: %w", err)
				}
				if b.Status != campaign.StatusScheduled && b.Status != campaign.StatusRunning && b.Status != campaign.StatusCompleted {
					return fmt.Errorf("broadcast %s is %s (%s) with %d of %d accepted in all", b.Name, b.Status, b.Reason, accepted, n)
				}
			}
			log.InfoContext(ctx, "bench: throttle: running", slog.Int("accepted", accepted), slog.Int("of", n),
				slog.Int("per_second", int(rate(accepted, time.Since(start)))))
		}
	}
}

// measure fills sc's send metrics from the simulator's accepted sends,
// and from the rate tokens and Lua calls the workers reported.
func measure(sc *Scenario, nums []benchNumber, sends []botsailorsim.Send, grants []grant, luaCalls int) {
	sc.Sends = len(sends)
	sc.LuaCalls = luaCalls
	if len(sends) > 0 {
		sc.LuaCallsPerSend = float64(luaCalls) / float64(len(sends))
	}
	seen := make(map[string]int, len(sends))
	byNumber := make(map[string][]time.Time, len(nums))
	var first, last time.Time
	for _, s := range sends {
		seen[s.Phone]++
		byNumber[s.PhoneNumberID] = append(byNumber[s.PhoneNumberID], s.At)
		if first.IsZero() || s.At.Before(first) {
			first = s.At
		}
		if s.At.After(last) {
			last = s.At
		}
	}
	for _, num := range nums {
		for _, p := range num.phones {
			switch c := seen[p]; {
			case c == 0:
				sc.Missing++
			case c > 1:
				sc.Duplicates++
			}
		}
	}
	sc.Timeline = timeline(sends, first, last)
	if len(sends) > 1 {
		sc.Seconds = last.Sub(first).Seconds()
		sc.PerSecond = intervalRate(len(sends), last.Sub(first))
		sc.FleetUtilisation = sc.PerSecond / (float64(len(nums)) * sc.Limit)
	}
	sc.Grants = len(grants)
	_, sc.LeftLate = leftLate(grants)
	grantsOf := make(map[string][]time.Time, len(nums))
	leftOf := make(map[string][]time.Time, len(nums))
	for _, g := range grants {
		id := strings.TrimPrefix(g.key, "phone:")
		grantsOf[id] = append(grantsOf[id], g.at)
		leftOf[id] = append(leftOf[id], cmp.Or(g.left, g.at))
	}
	sum := 0.0
	sc.MinUtilisation = math.Inf(1)
	for _, num := range nums {
		at := byNumber[num.phoneNumberID]
		slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
		ns := NumberStats{PhoneNumberID: num.phoneNumberID, Sends: len(at)}
		if len(at) > 0 {
			ns.StartSeconds = at[0].Sub(first).Seconds()
			d := at[len(at)-1].Sub(at[0])
			ns.Seconds, ns.PerSecond = d.Seconds(), intervalRate(len(at), d)
			ns.Utilisation = ns.PerSecond / sc.Limit
			w, i := worstWindow(at, time.Second)
			ns.WorstWindow, ns.WorstWindowStart = w, at[i].Sub(at[0]).Seconds()
		}
		if g := grantsOf[num.phoneNumberID]; len(g) > 0 {
			slices.SortFunc(g, func(a, b time.Time) int { return a.Compare(b) })
			ns.GrantWorstWindow, _ = worstWindow(g, time.Second)
			sc.GrantWorstWindow = max(sc.GrantWorstWindow, ns.GrantWorstWindow)
		}
		if l := leftOf[num.phoneNumberID]; len(l) > 0 {
			slices.SortFunc(l, func(a, b time.Time) int { return a.Compare(b) })
			ns.DepartWorstWindow, _ = worstWindow(l, time.Second)
			sc.DepartWorstWindow = max(sc.DepartWorstWindow, ns.DepartWorstWindow)
		}
		sc.LastStartSeconds = max(sc.LastStartSeconds, ns.StartSeconds)
		if ns.WorstWindow > sc.WorstWindow {
			sc.WorstWindow, sc.WorstWindowNumber = ns.WorstWindow, ns.PhoneNumberID
		}
		sum += ns.Utilisation
		sc.MinUtilisation = min(sc.MinUtilisation, ns.Utilisation)
		sc.PerNumber = append(sc.PerNumber, ns)
	}
	if len(nums) == 0 {
		sc.MinUtilisation = 0
	} else {
		sc.MeanUtilisation = sum / float64(len(nums))
	}
}

// intervalRate is the rate of n events spread over d from the first to the
// last: n − 1 intervals. It is 0 for fewer than two events or no time.
// TimelineBin is the span of each count of Scenario.Timeline.
const TimelineBin = 250 * time.Millisecond

// timeline counts sends in each TimelineBin from first to last.
func timeline(sends []botsailorsim.Send, first, last time.Time) []int {
	if len(sends) == 0 {
		return nil
	}
	bins := make([]int, last.Sub(first)/TimelineBin+1)
	for _, s := range sends {
		bins[s.At.Sub(first)/TimelineBin]++
	}
	return bins
}

func intervalRate(n int, d time.Duration) float64 {
	if n < 2 || d <= 0 {
		return 0
	}
	return float64(n-1) / d.Seconds()
}

// worstWindow is the most of the sorted times at in any window [t, t+w),
// and the index of the first time starting such a window (a window starting
// at one of the times holds at least as many as any other).
func worstWindow(at []time.Time, w time.Duration) (worst, start int) {
	j := 0
	for i := range at {
		for j < len(at) && at[j].Before(at[i].Add(w)) {
			j++
		}
		if j-i > worst {
			worst, start = j-i, i
		}
	}
	return worst, start
}

func round(f float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(f*p) / p
}

// requestCounter counts send requests per worker process (from the header
// each worker sets) on their way to the simulator.
type requestCounter struct {
	next http.Handler
	mu   sync.Mutex
	n    map[string]int
}

func (c *requestCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.URL.Path, "/whatsapp/send") {
		c.mu.Lock()
		if c.n == nil {
			c.n = map[string]int{}
		}
		c.n[r.Header.Get(workerHeader)]++
		c.mu.Unlock()
	}
	c.next.ServeHTTP(w, r)
}
