package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/api"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	_ "github.com/wacamp/wacamp/store/sqlite" // the embedded database
	"github.com/wacamp/wacamp/throttle"
)

// Run runs the demo: embedded Redis and database (or REDIS_URL /
// DATABASE_URL), a provider's simulator, a worker, the scheduler and the
// web UI, and sends an example broadcast with live progress.
func Run(ctx context.Context, args []string, io cli.IO) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	n := fs.Int("recipients", 1000, "audience size of the example broadcast")
	rate := fs.Float64("rate", 80, "rate_per_second of the example account")
	uiAddr := fs.String("ui", "127.0.0.1:8080", "web UI listen address (port 0 picks a free one)")
	apiAddr := fs.String("api", "127.0.0.1:8092", "HTTP API listen address (port 0 picks a free one)")
	exit := fs.Bool("exit", false, "exit when the broadcast is done instead of keeping the web UI up")
	dataDir := fs.String("data", "", "directory for the embedded database and example files (default: a temporary one)")
	prov := fs.String("provider", "botsailor", "the simulated provider: "+demoProviders)
	metricsAddr := fs.String("metrics-addr", "127.0.0.1:0", "serve /metrics, /healthz and /readyz (worker and scheduler in one) on this loopback address")
	if _, err := cli.ParseFlags(fs, args); err != nil {
		return cli.FlagError()
	}
	// The flags first, before anything starts.
	switch {
	case *n < 1 || *n > maxDemoRecipients:
		return cli.UsageError("-recipients %d: want 1 to %d", *n, maxDemoRecipients)
	case !(*rate > 0) || *rate > spec.MaxRatePerSecond:
		return cli.UsageError("-rate %g: want more than 0 and at most %d (messages a second)", *rate, spec.MaxRatePerSecond)
	case !knownDemoProvider(*prov):
		return cli.UsageError("-provider %q: want one of %s", *prov, demoProviders)
	}
	if io.Getenv("WACAMP_LOG_LEVEL") == "" {
		orig := io.Getenv
		io.Getenv = func(k string) string {
			if k == "WACAMP_LOG_LEVEL" {
				return "warn" // keep the progress readable
			}
			return orig(k)
		}
	}
	if isTerminal(io.Stdout) && isTerminal(io.Stderr) {
		// The progress line is rewritten in place; a log line written
		// into it starts on a cleared line instead, and the next tick
		// writes the progress again below it.
		io.Stderr = clearLine{io.Stderr}
	}
	log := cli.Logger(io)
	out := io.Stdout

	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "wacamp-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg, err := config.FromEnv(io.Getenv)
	if err != nil {
		return err
	}
	conns, closeEmbedded, err := open(ctx, cfg, dir, log)
	if err != nil {
		return err
	}
	defer closeEmbedded()
	defer conns.Close()
	if err := refuseShared(ctx, conns); err != nil {
		return err
	}
	// One registry for the worker and the scheduler the demo runs.
	conns.Metrics = ops.New()
	fmt.Fprintf(out, "wacamp demo\n  redis     %s\n  database  %s\n", describeRedis(cfg), describeDB(cfg, dir))

	// The status webhook receiver (for the providers that push statuses).
	token, secret, hookSecret := randomHex(16), randomHex(16), randomHex(16)
	getenv := func(k string) string {
		switch k {
		case "DEMO_API_TOKEN":
			return token
		case "DEMO_API_SECRET":
			return secret
		case "DEMO_HOOK_SECRET":
			return hookSecret
		}
		return io.Getenv(k)
	}
	hookCtx, stopHooks := context.WithCancel(ctx)
	defer stopHooks()
	hookAddr := make(chan net.Addr, 1)
	hookErr := make(chan error, 1)
	go func() {
		hookErr <- app.ServeWebhooks(hookCtx, conns, "127.0.0.1:0", getenv, log, func(a net.Addr) { hookAddr <- a })
	}()
	var hookURL string
	select {
	case a := <-hookAddr:
		hookURL = "http://" + a.String() + "/webhooks/demo/" + hookSecret
	case err := <-hookErr:
		return err
	}

	// The simulator, with a few realistic faults.
	sim, err := newDemoSim(*prov, token, secret, *rate, hookURL)
	if err != nil {
		return cli.UsageError("%v", err)
	}
	defer sim.close()
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	simSrv := &http.Server{Handler: sim.handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()
	fmt.Fprintf(out, "  provider  %s simulator at http://%s%s (1%% HTTP 503, 0.5%% dropped answers, 2%% undeliverable)\n", sim.label, simLn.Addr(), sim.path)
	if sim.webhooks {
		fmt.Fprintf(out, "  webhooks  statuses pushed to http://%s/webhooks/demo/<secret> (5%% pushed twice)\n", strings.TrimSuffix(strings.TrimPrefix(hookURL, "http://"), "/webhooks/demo/"+hookSecret))
	}

	// The example campaign, written as a user would.
	name := "demo-" + time.Now().Format("20060102-150405")
	path, err := writeDemoCampaign(filepath.Join(dir, "campaigns"), name, "http://"+simLn.Addr().String()+sim.path, sim.account, sim.outside, *n, *rate)
	if err != nil {
		return err
	}
	bundle, err := spec.LoadWith(ctx, path, getenv, drivers.Catalog{}, spec.LoadOptions{Progress: cli.CSVProgress(out)})
	if err != nil {
		return fmt.Errorf("example campaign: %w", err)
	}
	if _, err := conns.Store.Apply(ctx, bundle, time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(out, "  campaign  %s (%d recipients, %g msg/s) — applied from %s\n", name, *n, *rate, path)
	// A drip sequence alongside: new sign-ups, two steps.
	enrolled := demoEnrolled(*n)
	var people []sequence.Enrollee
	for i := range enrolled {
		people = append(people, sequence.Enrollee{Phone: fmt.Sprintf("4917%09d", 100000000+i), Name: "Newcomer " + strconv.Itoa(i+1)})
	}
	if _, err := conns.Store.Enroll(ctx, "welcome", people, time.Now()); err != nil {
		return err
	}
	second := "the second 10 s after the first"
	if sim.outside != "" {
		second += ", only to people who wrote in the last 24 h: the simulated ones never write, so it is skipped"
	}
	fmt.Fprintf(out, "  sequence  welcome (2 steps, %s) — %d people enrolled\n", second, enrolled)

	opts := delivery.Options{Logger: log, Polls: demoPolls,
		TrackFor: 10 * time.Minute, AmbiguousDelay: 2 * time.Second, StaleAfter: 30 * time.Second}
	srv := app.NewWorker(conns, app.WorkerConfig{Concurrency: 30, Senders: &app.Senders{Getenv: getenv, Logger: log},
		Limiter: throttle.NewFleet(conns.RedisClient), Outcomes: throttle.NewOutcomes(conns.RedisClient), Recipients: throttle.NewRecipients(conns.RedisClient), Campaign: opts, Logger: log})
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	defer srv.Shutdown()
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go func() { _ = cli.RunScheduler(runCtx, conns, opts, 200*time.Millisecond) }()

	// The web UI, behind basic auth.
	creds, err := cli.UICredentials(cfg)
	generated := false
	if err != nil {
		creds, generated = cli.Credentials{User: "demo", Password: randomHex(8)}, true
	}
	ui := cli.UIHandler(conns.Redis, false)
	defer ui.Close()
	uiLn, err := net.Listen("tcp", *uiAddr)
	if err != nil {
		uiLn, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
	}
	console, closeConsole := cli.NewConsole(conns, false, log)
	defer closeConsole()
	uiSrv := cli.ServeUIOn(uiLn, cli.BasicAuth(cli.WithConsole(ui, console), creds, log))
	defer uiSrv.Close()
	login := "user " + creds.User + ", password from ASYNQMON_PASSWORD"
	if generated {
		login = "user " + creds.User + ", password " + creds.Password + " (set ASYNQMON_USER/ASYNQMON_PASSWORD to choose)"
	}
	fmt.Fprintf(out, "  web UI    http://%s/ (%s)\n", uiLn.Addr(), login)
	fmt.Fprintf(out, "  console   http://%s%s/ (the campaign console; same login)\n", uiLn.Addr(), cli.ConsolePath)
	insp := asynq.NewInspector(conns.Redis)
	defer insp.Close()
	app.CollectFleet(conns.Metrics, conns, insp)
	metricsAt := make(chan net.Addr, 1)
	metricsErr := make(chan error, 1)
	go func() {
		metricsErr <- ops.Serve(runCtx, ops.Server{Addr: *metricsAddr, Gatherer: conns.Metrics.Registry(), Checks: app.ReadyChecks(conns),
			Logger: log, Listening: func(a net.Addr) { metricsAt <- a }})
	}()
	select {
	case a := <-metricsAt:
		fmt.Fprintf(out, "  metrics   http://%s/metrics (and /healthz, /readyz)\n", a)
	case err := <-metricsErr:
		return err
	}
	apiIO := io
	apiIO.Getenv = getenv // the demo account's secrets, for test sends
	apiURL, closeAPI, err := serveAPI(conns, apiIO, *apiAddr, log, out)
	if err != nil {
		return err
	}
	defer closeAPI()
	fmt.Fprintln(out)

	svc := campaign.NewService(conns.Store, nil, nil, opts)
	svc.UseBudgets(throttle.NewRecipients(conns.RedisClient))
	start := time.Now()
	tty := isTerminal(out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last campaign.Report
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return nil
		case <-tick.C:
		}
		r, err := svc.Status(ctx, name)
		if ctx.Err() != nil {
			return nil // stopped (Ctrl-C) while reading
		}
		if err != nil {
			return err
		}
		last = r
		seq, err := conns.Store.SequenceReport(ctx, "welcome")
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		line := cli.ProgressLine(r) + " | welcome: " + cli.SequenceLine(seq)
		if tty {
			fmt.Fprintf(out, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(out, line)
		}
		if r.Status == campaign.StatusCompleted && r.Counts["sent"] == 0 && seq.Enrollments[sequence.EnrollActive] == 0 {
			break
		}
		if r.Status == campaign.StatusCancelled {
			// Nothing more will happen: stop, and say why. (A pause shows
			// in the line with its reason, and may be resumed.)
			fmt.Fprintln(out)
			return fmt.Errorf("the demo's broadcast %s is cancelled: %s", name, cmp.Or(r.Reason, "by an operator"))
		}
	}
	if tty {
		fmt.Fprintln(out)
	}
	took := time.Since(start)
	// The read checks come a few seconds after the last deliveries: wait
	// for them (a minute at most), so that the counts cover every
	// message's whole life.
	ps, err := conns.Store.PollSummary(ctx)
	if err == nil && ps.Pending > 0 {
		fmt.Fprintf(out, "waiting for the last status polls of %d messages (the read checks)\n", ps.Pending)
	}
	for waitUntil := time.Now().Add(time.Minute); err == nil && ps.Pending > 0 && time.Now().Before(waitUntil); {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		ps, err = conns.Store.PollSummary(ctx)
	}
	if err != nil {
		return err
	}
	if r, err := svc.Status(ctx, name); err == nil {
		last = r
	}
	accepted, rejected, dropped := sim.stats()
	perPhone := map[string]int{}
	for _, p := range sim.phones() {
		perPhone[p]++
	}
	dups := 0
	for p, c := range perPhone {
		if want := 1; c > want && !(strings.HasPrefix(p, "4917") && c <= 2) { // sequence people get two steps
			dups++
		}
	}
	c := last.Counts
	fmt.Fprintf(out, "\ndone in %s: %d delivered (%d read), %d failed, %d skipped, %d expired\n",
		took.Round(100*time.Millisecond), c["delivered"]+c["read"], c["read"], c["failed"], c["skipped"], c["expired"])
	droppedHow := "reconciled"
	if sim.webhooks {
		droppedHow = "settled from the provider's webhooks"
	}
	fmt.Fprintf(out, "provider saw %d accepted sends for %d recipients (%d answered 503, %d answers dropped and %s); recipients sent a message twice: %d\n",
		accepted, len(perPhone), rejected, dropped, droppedHow, dups)
	if sim.webhooks {
		fmt.Fprintln(out, "status polls: none (statuses come by webhook)")
	} else {
		life := "over their whole life"
		if ps.Pending > 0 {
			life = fmt.Sprintf("so far, %d still to poll", ps.Pending)
		}
		fmt.Fprintf(out, "status polls: %d for %d messages %s (%.2f per message, at most %d for one)\n",
			ps.Polls, ps.Messages, life, float64(ps.Polls)/float64(max(ps.Messages, 1)), ps.Most)
	}
	dsn := "$DATABASE_URL"
	if cfg.DatabaseURL == "" {
		dsn = "sqlite:" + filepath.Join(dir, "wacamp.db")
	}
	inspect := "go run ./cmd/scheduler" // Postgres: the real scheduler
	if cfg.DatabaseURL == "" {
		inspect = "go run ./cmd/demo scheduler" // the embedded SQLite: only the demo links it
	}
	if *exit && cfg.DatabaseURL == "" && *dataDir == "" {
		fmt.Fprintln(out, "(the embedded database is removed on exit: -data DIR keeps it, to inspect afterwards)")
	} else {
		when := " (while this runs)"
		if *exit {
			when = ""
		}
		fmt.Fprintf(out, "inspect%s: DATABASE_URL=%s %s status %s   (or: export %s)\n", when, dsn, inspect, name, name)
	}
	if dups > 0 {
		return errors.New("a recipient got more than one message")
	}
	if *exit {
		return nil
	}
	fmt.Fprintf(out, "web UI still at http://%s/ (campaign console at http://%s%s/), the API at %s — press Ctrl-C to stop\n", uiLn.Addr(), uiLn.Addr(), cli.ConsolePath, apiURL)
	<-ctx.Done()
	return nil
}

// demoPolls is the production poll plan (delivery.DefaultPollPlan: +1 min,
// +24 h if still only sent, 48 h after delivery) with minutes and hours made
// seconds, for the simulator's lifecycle (delivered 1 s after the send,
// read 2 s after that): the same shape, at most delivery.MaxPolls polls a
// message.
var demoPolls = delivery.PollPlan{First: 2 * time.Second, Offline: 10 * time.Second, ReadWindow: 4 * time.Second, Retry: time.Second}

// demoEnrolled is how many people the demo enrolls in its sequence beside a
// broadcast to n recipients: 50, or fewer for a smaller broadcast.
func demoEnrolled(n int) int { return min(50, max(n/2, 1)) }

// demoTier is the smallest messaging tier that lets n recipients through.
func demoTier(n int) string {
	for _, t := range spec.MessagingTiers {
		if t >= max(n, 10000) {
			return strconv.Itoa(t)
		}
	}
	return "unlimited"
}

func writeDemoCampaign(dir, name, baseURL, account, outside string, n int, rate float64) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	var csv strings.Builder
	csv.WriteString("phone,name,code\n")
	first := []string{"Ann", "Ben", "Cleo", "Dev", "Eva", "Finn", "Gia", "Hugo", "Ines", "Jon"}
	for i := range n {
		fmt.Fprintf(&csv, "4915%09d,%s,BF%04d\n", 100000000+i, first[i%len(first)], i)
	}
	if err := os.WriteFile(filepath.Join(dir, "customers.csv"), []byte(csv.String()), 0o600); err != nil {
		return "", err
	}
	yaml := fmt.Sprintf(`# The demo's example campaign; the same format works with scheduler apply -f.
accounts:
  - name: demo
    base_url: %s
%s
    rate_per_second: %g
    pair_interval: 6s            # WhatsApp's pair rate (the default)
    daily_unique_limit: %s    # the portfolio's messaging limit: unique recipients per rolling 24 h

broadcasts:
  - name: %s
    account: demo
    audience:
      csv: customers.csv
    message:
      text: "Hi {{name}}, Black Friday is here: use code {{code}} for 20%% off."%[6]s

sequences:
  - name: welcome
    account: demo
    steps:
      - after: 0s
        message:
          text: "Welcome, {{name}}!"%[7]s
      - after: 10s
        message:          # the free-form follow-up: only to people who replied to the welcome
          text: "{{name}}, here is how to get started: …"%[8]s
`, baseURL, account, rate, demoTier(n), name, outsideLine(outside, "      "), outsideLine(outside, "          "), skipLine(outside, "          "))
	path := filepath.Join(dir, "demo.yaml")
	return path, os.WriteFile(path, []byte(yaml), 0o600)
}

// outsideLine is the example's outside_window line for a free-form
// message at indent: the fallback template outside (send it to people
// outside the 24-hour window), or nothing where no window is enforced.
func outsideLine(outside, indent string) string {
	if outside == "" {
		return ""
	}
	return "\n" + indent + "outside_window: " + outside + "   # people outside the 24-hour window get this template"
}

// skipLine is outside_window: skip at indent where a window is enforced.
func skipLine(outside, indent string) string {
	if outside == "" {
		return ""
	}
	return "\n" + indent + "outside_window: skip"
}

// demoAccount is the name of the example campaign's account.
const demoAccount = "demo"

// refuseShared refuses a database or Redis that holds someone else's work:
// the demo's worker takes every send task in the queues, and would send
// (or, lacking their tokens, pause) other accounts' broadcasts, and its own
// campaign would land beside them.
func refuseShared(ctx context.Context, conns *app.Conns) error {
	accounts, err := conns.Store.Accounts(ctx)
	if err != nil {
		return fmt.Errorf("look for other accounts in the database: %w", err)
	}
	var others []string
	for _, a := range accounts {
		if a.Name != demoAccount {
			others = append(others, a.Name)
		}
	}
	if len(others) > 0 {
		return cli.UsageError("the database holds other accounts (%s): the demo's worker would send their broadcasts too; point DATABASE_URL and REDIS_URL at an empty database and Redis database, or unset them to use the embedded ones", strings.Join(others, ", "))
	}
	insp := asynq.NewInspector(conns.Redis)
	defer insp.Close()
	queues, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("look for queued tasks in Redis: %w", err)
	}
	for _, q := range queues {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return fmt.Errorf("look for queued tasks in Redis: %w", err)
		}
		if n := info.Size - info.Completed - info.Archived; n > 0 {
			return cli.UsageError("Redis holds %d unfinished task(s) in queue %q: the demo's worker would run them; point REDIS_URL at an empty Redis database, or unset it to use the embedded one", n, q)
		}
	}
	return nil
}

func describeRedis(env config.Config) string {
	if env.RedisURL == "" {
		return "embedded (miniredis, in this process)"
	}
	return "REDIS_URL"
}

func describeDB(env config.Config, dir string) string {
	if env.DatabaseURL == "" {
		return "embedded (SQLite at " + filepath.Join(dir, "wacamp.db") + ")"
	}
	return "DATABASE_URL"
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// clearLine writes each write at the start of a cleared terminal line.
type clearLine struct{ w io.Writer }

func (c clearLine) Write(p []byte) (int, error) {
	if _, err := c.w.Write([]byte("\r\033[K")); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// open connects to REDIS_URL and DATABASE_URL, starting an embedded Redis
// (miniredis, in this process) for a missing REDIS_URL and an embedded
// SQLite database in dir for a missing DATABASE_URL; closeEmbedded stops
// what it started.
func open(ctx context.Context, env config.Config, dir string, log *slog.Logger) (conns *app.Conns, closeEmbedded func(), err error) {
	closeEmbedded = func() {}
	if env.RedisURL == "" {
		mr, err := miniredis.Run()
		if err != nil {
			return nil, nil, fmt.Errorf("start embedded redis: %w", err)
		}
		closeEmbedded = mr.Close
		env.RedisURL = "redis://" + mr.Addr() + "/0"
		log.InfoContext(ctx, "using embedded redis (miniredis)", slog.String("addr", mr.Addr()))
	}
	if env.DatabaseURL == "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			closeEmbedded()
			return nil, nil, fmt.Errorf("embedded database: %w", err)
		}
		env.DatabaseURL = "sqlite:" + filepath.Join(dir, "wacamp.db")
		log.InfoContext(ctx, "using embedded database (sqlite)", slog.String("path", filepath.Join(dir, "wacamp.db")))
	}
	conns, err = app.Open(ctx, env, log)
	if err != nil {
		closeEmbedded()
		return nil, nil, err
	}
	return conns, closeEmbedded, nil
}

// serveAPI serves the HTTP API on addr (or a free port) with the tokens
// of the environment (WACAMP_API_TOKENS_FILE, WACAMP_API_TOKEN_RW/_RO),
// or a generated read-write token named demo, and prints its URL and how
// to call it.
func serveAPI(conns *app.Conns, cio cli.IO, addr string, log *slog.Logger, out io.Writer) (string, func(), error) {
	tokens, err := api.LoadTokens(cio.Getenv)
	if err != nil {
		return "", nil, err
	}
	value := ""
	if len(tokens) == 0 {
		value = randomHex(16)
		t, err := api.NewToken("demo", api.ReadWrite, value)
		if err != nil {
			return "", nil, err
		}
		tokens = []api.Token{t}
	}
	h, closeAPI, err := cli.APIHandler(conns, cio, tokens, false, log)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			closeAPI()
			return "", nil, err
		}
	}
	srv := cli.ServeUIOn(ln, h)
	url := "http://" + ln.Addr().String() + "/v1"
	if value != "" {
		fmt.Fprintf(out, "  API       %s (read-write token %s; set WACAMP_API_TOKEN_RW to choose)\n", url, value)
		fmt.Fprintf(out, "            curl -H 'Authorization: Bearer %s' %s/broadcasts\n", value, url)
	} else {
		fmt.Fprintf(out, "  API       %s (tokens from the environment)\n", url)
	}
	return url, func() { _ = srv.Close(); closeAPI() }, nil
}
