package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/redisproc"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/throttle"
)

// Defaults of FaultsConfig's zero fields, and the fault mix of issue 11's
// BotSailor proof.
const (
	DefaultFaultTexts     = 2000
	DefaultFaultTemplates = 1000
	DefaultFaultsRate     = 20
	DefaultSlowAccept     = 45 * time.Second
	DefaultFaultsTimeout  = 20 * time.Minute
	// DefaultClientTimeout is the production HTTP client's timeout
	// (internal/app.Senders).
	DefaultClientTimeout = 30 * time.Second
	// MaxResumeSeconds is the longest pause in sending after the Redis
	// restart the verdict accepts ("within seconds").
	MaxResumeSeconds = 10

	slowShare    = 0.02 // of text sends, accepted only after SlowAccept
	dropShare    = 0.05 // of template answers, dropped after acceptance
	noWAMIDShare = 0.5  // of templates, listed in the conversation without a wamid
	// schedulerInterval is `scheduler run`'s default -interval.
	schedulerInterval = 500 * time.Millisecond
	// trackWait bounds the wait for every accepted message's status to
	// reach delivered once nothing is pending any more.
	trackWait = 2 * time.Minute
)

// FaultsConfig is one run of the fault benchmark: a text broadcast and a
// template broadcast on two BotSailor accounts, sent by the real worker and
// scheduler through the fleet throttle, with slow accepts, dropped template
// answers and a Redis restart without persistence. Zero fields mean their
// defaults.
type FaultsConfig struct {
	Texts     int     // text recipients; 2% of their sends are accepted after SlowAccept
	Templates int     // template recipients; 5% of their answers are dropped
	Rate      float64 // rate_per_second of each account
	// SlowAccept is how long the slow text sends take to be accepted.
	SlowAccept time.Duration
	// ClientTimeout is the HTTP client's timeout; production's is 30 s.
	ClientTimeout time.Duration
	// SettleWindow and AmbiguousDelay are delivery.Options'; zero keeps
	// the engine's defaults (3 min, 10 s).
	SettleWindow   time.Duration
	AmbiguousDelay time.Duration
	// StaleAfter is delivery.Options' (zero: the engine's 5 min): how long
	// a delivery whose task Redis lost waits for the sweep when the loss
	// recovery does not re-enqueue it.
	StaleAfter  time.Duration
	Concurrency int
	DatabaseURL string
	Timeout     time.Duration
}

// FaultsResult is what one fault run measured.
type FaultsResult struct {
	CPUs          int          `json:"cpus"`
	Concurrency   int          `json:"concurrency"`
	Rate          float64      `json:"rate_per_second"`
	SlowAccept    float64      `json:"slow_accept_seconds"`
	ClientTimeout float64      `json:"client_timeout_seconds"`
	SettleWindow  float64      `json:"settle_window_seconds"`
	Text          FaultPart    `json:"text"`
	Template      FaultPart    `json:"template"`
	Restart       RedisRestart `json:"redis_restart"`
	Seconds       float64      `json:"seconds"` // start of feeding to every delivery settled
	Holds         bool         `json:"holds"`
	// Problems lists every duplicated or lost recipient with its
	// deliveries' delivery_events history and the simulator's sends.
	Problems []string `json:"problems,omitempty"`
}

// FaultPart is one broadcast's counts.
type FaultPart struct {
	Recipients int `json:"recipients"`
	// Accepted counts recipients the simulator accepted a message for.
	Accepted int `json:"accepted"`
	// Duplicates counts recipients with more than one accepted message.
	Duplicates int `json:"duplicates"`
	// Lost counts recipients never accepted, or whose delivery did not end
	// delivered (or read).
	Lost int `json:"lost"`
	// Faulted counts sends the simulator slowed or whose answer it dropped.
	Faulted int `json:"faulted"`
	// NoWAMID counts deliveries recorded without a wamid (found in a
	// conversation that lists them by entry only).
	NoWAMID int `json:"no_wamid"`
	// Found counts deliveries reconciliation found at the provider; Resent,
	// those it sent again after the settle window.
	Found  int `json:"found_by_reconciliation"`
	Resent int `json:"resent_after_settle_window"`
}

// RedisRestart is the Redis restart's effect.
type RedisRestart struct {
	// AtAccepted is how many recipients were accepted when Redis was killed;
	// Queued, how many deliveries were queued in Redis then (all lost).
	AtAccepted int `json:"at_accepted"`
	Queued     int `json:"queued"`
	// DownSeconds is from the kill until the new server answered.
	DownSeconds float64 `json:"down_seconds"`
	// ResumeSeconds is from the new server answering until the first send
	// that began after it was accepted.
	ResumeSeconds float64 `json:"resume_seconds"`
}

// WriteTable prints the result for people.
func (r FaultsResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "BotSailor faults: %g/s per account, concurrency %d, %d CPUs; client timeout %gs, settle window %gs\n",
		r.Rate, r.Concurrency, r.CPUs, r.ClientTimeout, r.SettleWindow)
	fmt.Fprintf(tw, "part\trecipients\taccepted\tduplicates\tlost\tfaulted\tfound by reconciliation\tresent after settle window\tno wamid\t\n")
	for _, p := range []struct {
		name string
		p    FaultPart
	}{{fmt.Sprintf("text, %.0f%% accepted after %gs", slowShare*100, r.SlowAccept), r.Text},
		{fmt.Sprintf("template, %.0f%% answers dropped", dropShare*100), r.Template}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", p.name, p.p.Recipients, p.p.Accepted, p.p.Duplicates, p.p.Lost,
			p.p.Faulted, p.p.Found, p.p.Resent, p.p.NoWAMID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "Redis restart without persistence at %d accepted (%d queued, lost): down %.1f s, sending resumed %.1f s after it came back\n",
		r.Restart.AtAccepted, r.Restart.Queued, r.Restart.DownSeconds, r.Restart.ResumeSeconds)
	fmt.Fprintf(w, "run: %.0f s\n", r.Seconds)
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  ", p)
	}
	verdict := "HOLDS"
	if !r.Holds {
		verdict = "DOES NOT HOLD"
	}
	_, err := fmt.Fprintf(w, "0 duplicates, 0 lost, sending resumes within %d s of Redis coming back: %s\n", MaxResumeSeconds, verdict)
	return err
}

// RunFaults runs the fault benchmark in a fresh Postgres database and a
// private redis-server (in memory only) that it kills and starts again when
// about a third of the recipients were accepted. A run whose verdict does
// not hold returns the complete result with an error wrapping ErrMismatch.
func RunFaults(ctx context.Context, cfg FaultsConfig, progress io.Writer) (res FaultsResult, err error) {
	cfg.Texts = cmp.Or(cfg.Texts, DefaultFaultTexts)
	cfg.Templates = cmp.Or(cfg.Templates, DefaultFaultTemplates)
	cfg.Rate = cmp.Or(cfg.Rate, DefaultFaultsRate)
	cfg.SlowAccept = cmp.Or(cfg.SlowAccept, DefaultSlowAccept)
	cfg.ClientTimeout = cmp.Or(cfg.ClientTimeout, DefaultClientTimeout)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultFaultsTimeout)
	if cfg.Texts < 1 || cfg.Templates < 1 || cfg.Texts+cfg.Templates > 99_999_999 || cfg.Rate <= 0 || cfg.SlowAccept < 0 || cfg.ClientTimeout < 0 {
		return res, fmt.Errorf("invalid config: texts %d, templates %d, rate %g, slow accept %s, client timeout %s",
			cfg.Texts, cfg.Templates, cfg.Rate, cfg.SlowAccept, cfg.ClientTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	dir, err := os.MkdirTemp("", "wacamp-bench-faults-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	rp, err := redisproc.Start(ctx, dir)
	if err != nil {
		return res, err
	}
	defer rp.Stop()

	counts := &eventCounts{n: map[[2]string]int{}}
	base := Config{Concurrency: cfg.Concurrency, RedisURL: "redis://" + rp.Addr, RedisDB: 1, DatabaseURL: cfg.DatabaseURL, Timeout: cfg.Timeout}.withDefaults()
	w, closeWorld, err := newWorld(ctx, base, progress)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, closeWorld()) }()
	log := slog.New(&countingHandler{next: w.log.Handler(), c: counts})
	log.InfoContext(ctx, "bench: faults: private redis and database", slog.String("redis", rp.Addr), slog.String("database", w.dbName))

	// Status polls come seconds apart, not the production minutes and
	// hours: the run waits for every message to be delivered.
	opts := delivery.Options{SettleWindow: cfg.SettleWindow, AmbiguousDelay: cfg.AmbiguousDelay, StaleAfter: cfg.StaleAfter, Logger: log,
		Polls: delivery.PollPlan{First: 5 * time.Second, Offline: 20 * time.Second, ReadWindow: 20 * time.Second, Retry: 5 * time.Second}}
	res = FaultsResult{CPUs: runtime.GOMAXPROCS(0), Concurrency: base.Concurrency, Rate: cfg.Rate,
		SlowAccept: cfg.SlowAccept.Seconds(), ClientTimeout: cfg.ClientTimeout.Seconds(),
		SettleWindow: cmp.Or(cfg.SettleWindow, 3*time.Minute).Seconds()}

	textSim, textURL, stopText, err := startSim(botsailorsim.Options{Knobs: sim.Knobs{Seed: 1}, SlowAcceptRate: slowShare, SlowAccept: cfg.SlowAccept})
	if err != nil {
		return res, err
	}
	defer stopText()
	tplSim, tplURL, stopTpl, err := startSim(botsailorsim.Options{Knobs: sim.Knobs{Seed: 2, DropAfterAcceptRate: dropShare}, ConvNoWAMIDRate: noWAMIDShare})
	if err != nil {
		return res, err
	}
	defer stopTpl()
	path, err := writeFaultCampaign(dir, textURL, tplURL, cfg)
	if err != nil {
		return res, err
	}
	bundle, err := spec.Load(path, getenv, drivers.Catalog{})
	if err != nil {
		return res, fmt.Errorf("faults: load generated campaign: %w", err)
	}
	if _, err := w.db.Apply(ctx, bundle, time.Now()); err != nil {
		return res, fmt.Errorf("faults: %w", err)
	}
	var ids [2]int64
	for i, name := range []string{"faults-text", "faults-template"} {
		b, err := w.db.BroadcastByName(ctx, name)
		if err != nil {
			return res, fmt.Errorf("faults: %w", err)
		}
		ids[i] = b.ID
	}

	// The worker and the scheduler as `worker` and `scheduler run` build
	// them (internal/cli), on the private Redis.
	conns := &app.Conns{Redis: w.rds.opt, RedisClient: w.rds.data, Store: w.db}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	runs := &runLog{}
	srv := app.NewWorker(conns, app.WorkerConfig{
		Concurrency: base.Concurrency,
		Senders:     &app.Senders{Getenv: getenv, Logger: log, HTTPClient: &http.Client{Timeout: cfg.ClientTimeout, Transport: t}},
		Limiter:     throttle.NewFleet(w.rds.data),
		Outcomes:    throttle.NewOutcomes(w.rds.data),
		Recipients:  throttle.NewRecipients(w.rds.data),
		Campaign:    opts,
		Logger:      log,
	})
	srv.UseOnSends(runs.middleware)
	if err := srv.Start(); err != nil {
		return res, fmt.Errorf("faults: start worker: %w", err)
	}
	defer srv.Shutdown()
	schedCtx, stopSched := context.WithCancel(ctx)
	var scheduling sync.WaitGroup
	scheduling.Go(func() { _ = cli.RunScheduler(schedCtx, conns, opts, schedulerInterval) })
	defer func() { stopSched(); scheduling.Wait() }()

	start := time.Now()
	total := cfg.Texts + cfg.Templates
	var restarted time.Time
	check := time.NewTicker(200 * time.Millisecond)
	defer check.Stop()
	lastLog, settled := time.Now(), time.Time{}
	var timedOut error
wait:
	for {
		select {
		case <-ctx.Done():
			// Count what happened all the same: what is still pending is
			// reported with its history.
			timedOut = fmt.Errorf("faults: still pending after -timeout: %w", ctx.Err())
			break wait
		case <-check.C:
		}
		var accepted, pending, final int
		queued := 0
		for _, id := range ids {
			byStatus, err := w.db.CountByStatus(ctx, id)
			if err != nil {
				return res, fmt.Errorf("faults: %w", err)
			}
			for st, n := range byStatus {
				switch {
				case st == delivery.Delivered || st == delivery.Read:
					final += n
					accepted += n
				case st.Accepted():
					accepted += n
				case st.Pending():
					pending += n
				}
				if st == delivery.Queued {
					queued += n
				}
			}
		}
		if restarted.IsZero() && accepted*3 >= total {
			res.Restart.AtAccepted, res.Restart.Queued = accepted, queued
			log.InfoContext(ctx, "bench: faults: killing redis (SIGKILL, no persistence) and starting it again empty", slog.Int("accepted", accepted), slog.Int("queued", queued))
			killed := time.Now()
			if err := rp.Restart(ctx); err != nil {
				return res, err
			}
			restarted = time.Now()
			res.Restart.DownSeconds = restarted.Sub(killed).Seconds()
		}
		if time.Since(lastLog) >= 5*time.Second {
			lastLog = time.Now()
			log.InfoContext(ctx, "bench: faults: running", slog.Int("accepted", accepted), slog.Int("delivered", final), slog.Int("pending", pending), slog.Int("of", total))
		}
		held := textSim.Stats().SlowHeld + tplSim.Stats().SlowHeld
		if pending > 0 || held > 0 || restarted.IsZero() {
			continue
		}
		if settled.IsZero() {
			settled = time.Now()
			res.Seconds = settled.Sub(start).Seconds()
			log.InfoContext(ctx, "bench: faults: nothing pending; waiting for the statuses", slog.Int("accepted", accepted), slog.Int("delivered", final))
		}
		if final == accepted || time.Since(settled) > trackWait {
			break wait
		}
	}
	if restarted.IsZero() {
		return res, errors.Join(timedOut, errors.New("faults: redis was never restarted"))
	}
	if res.Seconds == 0 {
		res.Seconds = time.Since(start).Seconds()
	}
	res.Restart.ResumeSeconds = runs.firstAfter(restarted).Seconds()
	stopSched()
	scheduling.Wait()
	ctx, cancelCount := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancelCount()

	var problems []string
	res.Text, problems, err = faultPart(ctx, w.db, ids[0], textSim, 0, cfg.Texts, counts, "faults-text")
	if err != nil {
		return res, err
	}
	res.Problems = append(res.Problems, problems...)
	res.Template, problems, err = faultPart(ctx, w.db, ids[1], tplSim, cfg.Texts, cfg.Templates, counts, "faults-template")
	if err != nil {
		return res, err
	}
	res.Problems = append(res.Problems, problems...)
	res.Text.Faulted = textSim.Stats().Slowed
	res.Template.Faulted = tplSim.Stats().Dropped
	res.Holds = res.Text.Duplicates+res.Text.Lost+res.Template.Duplicates+res.Template.Lost == 0 &&
		res.Restart.ResumeSeconds > 0 && res.Restart.ResumeSeconds <= MaxResumeSeconds
	if !res.Holds {
		return res, errors.Join(timedOut, fmt.Errorf("faults: %d+%d duplicated, %d+%d lost, resumed after %.1f s: %w", res.Text.Duplicates, res.Template.Duplicates,
			res.Text.Lost, res.Template.Lost, res.Restart.ResumeSeconds, ErrMismatch))
	}
	return res, timedOut
}

// startSim serves a simulator with opts (accepting simToken) on a loopback
// port.
func startSim(opts botsailorsim.Options) (*botsailorsim.Server, string, func(), error) {
	opts.Tokens = []string{simToken}
	sim := botsailorsim.New(opts)
	url, stop, err := serve(sim)
	return sim, url, stop, err
}

// writeFaultCampaign writes the two accounts and broadcasts into dir.
func writeFaultCampaign(dir, textURL, tplURL string, cfg FaultsConfig) (string, error) {
	for _, a := range []struct {
		name     string
		from, to int
	}{{"faults-text", 0, cfg.Texts}, {"faults-template", cfg.Texts, cfg.Texts + cfg.Templates}} {
		var csv strings.Builder
		csv.WriteString("phone,name\n")
		for i := a.from; i < a.to; i++ {
			fmt.Fprintf(&csv, "%s,Person %d\n", phone(i), i)
		}
		if err := os.WriteFile(filepath.Join(dir, a.name+".csv"), []byte(csv.String()), 0o600); err != nil {
			return "", fmt.Errorf("write audience: %w", err)
		}
	}
	yaml := fmt.Sprintf(`accounts:
  - {name: text, provider: botsailor, customer_service_window: not_enforced, base_url: %[1]s, api_token: "${%[3]s}", phone_number_id: "119060000040020", whatsapp_bot_id: 123,
     rate_per_second: %[4]g, daily_unique_limit: unlimited}
  - {name: template, provider: botsailor, customer_service_window: not_enforced, base_url: %[2]s, api_token: "${%[3]s}", phone_number_id: "119060000040021", whatsapp_bot_id: 124,
     rate_per_second: %[4]g, daily_unique_limit: unlimited}
broadcasts:
  - name: faults-text
    account: text
    audience: {csv: faults-text.csv}
    message: {text: "Hello {{name}}, this is a fault benchmark."}
  - name: faults-template
    account: template
    audience: {csv: faults-template.csv}
    message: {template: {id: "313823", vars: {name: "{{name}}"}}}
`, textURL, tplURL, tokenVar, cfg.Rate)
	path := filepath.Join(dir, "faults.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		return "", fmt.Errorf("write campaign: %w", err)
	}
	return path, nil
}

// faultPart counts one broadcast's outcome: recipients phone(from) …
// phone(from+n-1) at sim and in the database.
func faultPart(ctx context.Context, db *store.DB, broadcastID int64, sim *botsailorsim.Server, from, n int, counts *eventCounts, name string) (FaultPart, []string, error) {
	p := FaultPart{Recipients: n,
		Found:  counts.get(name, "delivery: reconciled send found at provider"),
		Resent: counts.get(name, "delivery: reconciled send not found at provider within the settle window; sending again")}
	sends := map[string][]botsailorsim.Send{}
	for _, s := range sim.Sends() {
		sends[s.Phone] = append(sends[s.Phone], s)
	}
	var rows []struct {
		ID     int64
		Phone  string
		Status string
		WAMID  *string `gorm:"column:wamid"`
	}
	if err := db.Gorm().WithContext(ctx).Raw(`SELECT id, phone, status, wamid FROM deliveries WHERE broadcast_id = ?`, broadcastID).Scan(&rows).Error; err != nil {
		return p, nil, fmt.Errorf("faults: %w", err)
	}
	final := map[string]bool{}
	for _, r := range rows {
		final[r.Phone] = r.Status == string(delivery.Delivered) || r.Status == string(delivery.Read)
		if delivery.Status(r.Status).Accepted() && (r.WAMID == nil || *r.WAMID == "") {
			p.NoWAMID++
		}
	}
	var bad []string
	for i := from; i < from+n; i++ {
		ph := phone(i)
		k := len(sends[ph])
		if k > 0 {
			p.Accepted++
		}
		switch {
		case k > 1:
			p.Duplicates++
			bad = append(bad, ph)
		case k == 0 || !final[ph]:
			p.Lost++
			bad = append(bad, ph)
		}
	}
	var problems []string
	for _, ph := range bad[:min(len(bad), 20)] {
		desc, err := history(ctx, db, broadcastID, ph)
		if err != nil {
			return p, nil, err
		}
		var at []string
		for _, s := range sends[ph] {
			at = append(at, s.At.Format("15:04:05.000")+" "+s.WAMID)
		}
		problems = append(problems, fmt.Sprintf("%s %s: %d accepted at the simulator [%s]; %s", name, ph, len(sends[ph]), strings.Join(at, ", "), desc))
	}
	if len(bad) > 20 {
		problems = append(problems, fmt.Sprintf("%s: and %d more", name, len(bad)-20))
	}
	return p, problems, nil
}

// history describes phone's deliveries in the broadcast with their
// delivery_events.
func history(ctx context.Context, db *store.DB, broadcastID int64, ph string) (string, error) {
	var evs []struct {
		ID, Attempts int64
		Status, Ev   string
		At           time.Time
		Detail       string
	}
	err := db.Gorm().WithContext(ctx).Raw(`SELECT d.id, d.attempts, d.status, e.status AS ev, e.at, e.detail
		FROM deliveries d LEFT JOIN delivery_events e ON e.delivery_id = d.id
		WHERE d.broadcast_id = ? AND d.phone = ? ORDER BY d.id, e.id`, broadcastID, ph).Scan(&evs).Error
	if err != nil {
		return "", fmt.Errorf("faults: history of %s: %w", ph, err)
	}
	var b strings.Builder
	last := int64(-1)
	for _, e := range evs {
		if e.ID != last {
			last = e.ID
			fmt.Fprintf(&b, "delivery %d (%s, %d attempts):", e.ID, e.Status, e.Attempts)
		}
		if e.Ev != "" {
			fmt.Fprintf(&b, " %s %s %q;", e.At.Local().Format("15:04:05.000"), e.Ev, e.Detail)
		}
	}
	return b.String(), nil
}

// runLog is worker middleware recording when successful send runs began
// and ended.
type runLog struct {
	mu   sync.Mutex
	runs [][2]time.Time
}

func (l *runLog) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if delivery.SendsIn(t) == 0 {
			return next.ProcessTask(ctx, t)
		}
		start := time.Now()
		err := next.ProcessTask(ctx, t)
		if err == nil {
			l.mu.Lock()
			l.runs = append(l.runs, [2]time.Time{start, time.Now()})
			l.mu.Unlock()
		}
		return err
	})
}

// firstAfter is how long after t the first successful send run that began
// after t ended; 0 if none did.
func (l *runLog) firstAfter(t time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ends []time.Time
	for _, r := range l.runs {
		if r[0].After(t) {
			ends = append(ends, r[1])
		}
	}
	if len(ends) == 0 {
		return 0
	}
	return slices.MinFunc(ends, func(a, b time.Time) int { return a.Compare(b) }).Sub(t)
}

// eventCounts counts the engine's log messages per broadcast.
type eventCounts struct {
	mu sync.Mutex
	n  map[[2]string]int // (broadcast, message)
}

func (c *eventCounts) get(broadcast, msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[[2]string{broadcast, msg}]
}

// countingHandler is a slog.Handler counting every record by its
// "broadcast" attribute and message before passing it on.
type countingHandler struct {
	next      slog.Handler
	c         *eventCounts
	broadcast string
}

func (h *countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || h.next.Enabled(ctx, l)
}

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	b := h.broadcast
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "broadcast" {
			b = a.Value.String()
		}
		return true
	})
	h.c.mu.Lock()
	h.c.n[[2]string{b, r.Message}]++
	h.c.mu.Unlock()
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	out := *h
	for _, a := range as {
		if a.Key == "broadcast" {
			out.broadcast = a.Value.String()
		}
	}
	out.next = h.next.WithAttrs(as)
	return &out
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	out := *h
	out.next = h.next.WithGroup(name)
	return &out
}
