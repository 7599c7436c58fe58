package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/internal/phone"
	"github.com/wacamp/wacamp/internal/service"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/spec"
)

const schedulerUsage = `usage: scheduler COMMAND [flags]

Commands:
  validate -f PATH [--offline]
                         check campaign YAML (a file or a directory) without writing;
                         --offline reads no secret and calls no provider (for CI)
  apply -f PATH          validate and load accounts, broadcasts and sequences
  run                    plan due broadcasts and steps, feed workers, track statuses (daemon)
  status [NAME] [--json] [--watch 2s]
                         progress of one broadcast or sequence, or a list of all;
                         --watch prints it again every interval until it is over
  export NAME [--format jsonl|csv]
                         one row per recipient, or per (enrollment, step), streamed
  pause NAME             stop sending; in-flight sends finish
  resume NAME            continue a paused broadcast
  cancel NAME            stop for good; unsent recipients become skipped
  retry-failed NAME [--json]
                         send again the failed deliveries whose failure was
                         transient and that never reached the provider; says
                         how many, and why the others are not retried
  enroll SEQUENCE --phone NUMBER [--name NAME] [--var key=value]…
  enroll SEQUENCE -f people.csv
                         start a sequence for people (already active: no-op)
  unenroll SEQUENCE --phone NUMBER [--reason TEXT]
                         end someone's enrollment; pending steps are skipped
  exit --phone NUMBER --on reply|unsubscribe
                         end enrollments in every sequence that exits on it
  optout add|remove|list|import|export
                         the suppression list: who is sent nothing (or no
                         marketing); see scheduler optout help
  test-send NAME --phone NUMBER [--step N] [--name NAME] [--var key=value]…
                         send one rendered message of a broadcast (or a sequence's
                         step N) to a test phone, through the account's limits;
                         recorded as a test, never counted in the campaign
  api [--addr 127.0.0.1:8092] [--insecure-no-auth] [--metrics-addr 127.0.0.1:9473]
                         serve the HTTP API (JSON under /v1) with bearer tokens
                         from WACAMP_API_TOKENS_FILE (lines name:ro|rw:token),
                         WACAMP_API_TOKEN_RW or WACAMP_API_TOKEN_RO

Environment: DATABASE_URL (postgres://...), REDIS_URL (redis://...),
WACAMP_LOG_LEVEL (debug|info|warn|error). API tokens are read from the
variables or files the YAML references, never from the command line.
`

// Scheduler runs the scheduler command.
func Scheduler(ctx context.Context, args []string, io IO) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(io.Stdout, schedulerUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "validate", "apply":
		return schedApply(ctx, cmd, rest, io)
	case "run":
		return schedRun(ctx, rest, io)
	case "status":
		return schedStatus(ctx, rest, io)
	case "export":
		return schedExport(ctx, rest, io)
	case "retry-failed":
		return schedRetryFailed(ctx, rest, io)
	case "test-send":
		return schedTestSend(ctx, rest, io)
	case "api":
		return schedAPI(ctx, rest, io)
	case "pause", "resume", "cancel":
		return schedLifecycle(ctx, cmd, rest, io)
	case "enroll":
		return schedEnroll(ctx, rest, io)
	case "unenroll":
		return schedUnenroll(ctx, rest, io)
	case "exit":
		return schedExit(ctx, rest, io)
	case "optout":
		return schedOptout(ctx, rest, io)
	}
	return UsageError("unknown command %q\n\n%s", cmd, schedulerUsage)
}

func newFlags(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet("scheduler "+name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	return fs
}

func schedApply(ctx context.Context, cmd string, args []string, io IO) error {
	fs := newFlags(cmd, io)
	path := fs.String("f", "", "campaign YAML file or directory")
	var offline *bool
	if cmd == "validate" {
		offline = fs.Bool("offline", false, "check without secrets: read no token and call no provider (for CI on pull requests)")
	} else {
		offline = new(bool)
	}
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	if *path == "" {
		return UsageError("%s needs -f PATH", cmd)
	}
	// apply needs the database first: a broadcast already stored with its
	// start may keep a start whose deadline has passed (it ran).
	var conns *app.Conns
	if cmd == "apply" {
		cfg, err := settings(io)
		if err != nil {
			return err
		}
		if conns, err = app.Open(ctx, cfg, Logger(io)); err != nil {
			return err
		}
		defer conns.Close()
	}
	svc, closeSvc := service.New(conns, io.Getenv, io.now)
	defer closeSvc()
	// Large CSV audiences show their progress on stderr, while they are
	// validated and, by apply, copied into the database.
	chk, err := svc.Check(ctx, service.Source{Path: *path}, service.CheckOptions{Offline: *offline, Apply: cmd == "apply",
		Progress: newCSVProgress(io.Stderr).report})
	if err != nil {
		return err
	}
	defer chk.Close()
	for _, w := range chk.Warnings {
		fmt.Fprintln(io.Stderr, "warning:", w)
	}
	if len(chk.Problems) > 0 {
		for _, p := range chk.Problems {
			fmt.Fprintln(io.Stderr, p.Text)
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); nothing was written", *path, len(chk.Problems))}
	}
	bundle := chk.Bundle
	rates := map[string]float64{}
	for _, a := range bundle.Accounts {
		rates[a.Name] = a.RatePerSecond
	}
	if cmd == "validate" {
		notes, seqWindowNotes, warnings := estimateNotes(ctx, io, bundle, *offline)
		for _, w := range warnings {
			fmt.Fprintln(io.Stderr, "warning:", w)
		}
		fmt.Fprintf(io.Stdout, "%s: OK — %d account(s), %d broadcast(s), %d sequence(s)\n", *path, len(bundle.Accounts), len(bundle.Broadcasts), len(bundle.Sequences))
		if *offline {
			fmt.Fprintln(io.Stdout, "offline: secrets were not read and no provider was asked; run validate without --offline where the secrets are to check them")
		}
		for _, b := range bundle.Broadcasts {
			printEstimate(io, b, rates[b.Account])
			printZonePlan(io, bundle, b)
			for _, note := range notes[b.Name] {
				fmt.Fprintf(io.Stdout, "  %s\n", note)
			}
		}
		for _, sq := range bundle.Sequences {
			fmt.Fprintf(io.Stdout, "sequence %s: %d steps%s\n", sq.Name, len(sq.Steps), needsLine(sq))
			if note, ok := seqWindowNotes[sq.Name]; ok {
				fmt.Fprintf(io.Stdout, "  %s\n", note)
			}
		}
		return nil
	}
	changes, err := svc.Apply(ctx, chk)
	if err != nil {
		return &exitError{code: 1, msg: err.Error() + "\nnothing was written"}
	}
	unchanged := map[string]bool{}
	for _, c := range changes {
		line := fmt.Sprintf("%-9s %-9s %s", c.Kind, c.Action, c.Name)
		if c.Detail != "" {
			line += " (" + c.Detail + ")"
		}
		fmt.Fprintln(io.Stdout, line)
		if c.Kind == "broadcast" && c.Action == "unchanged" {
			unchanged[c.Name] = true
		}
	}
	for _, b := range bundle.Broadcasts {
		if unchanged[b.Name] {
			continue // as it was: possibly running or over already, so no "starts …"
		}
		printEstimate(io, b, rates[b.Account])
		printZonePlan(io, bundle, b)
	}
	return nil
}

func printEstimate(io IO, b spec.Broadcast, rate float64) {
	est := "unknown rate"
	if rate > 0 {
		est = "≈" + (time.Duration(math.Ceil(float64(b.RecipientCount())/rate)) * time.Second).String() + fmt.Sprintf(" at %g/s", rate)
	}
	start := "as soon as applied"
	if b.StartAt != nil {
		start = b.StartAt.Format(time.RFC3339)
	}
	fmt.Fprintf(io.Stdout, "broadcast %s: %d recipients", b.Name, b.RecipientCount())
	if b.Duplicates > 0 {
		fmt.Fprintf(io.Stdout, " (%d duplicates removed)", b.Duplicates)
	}
	fmt.Fprintf(io.Stdout, ", %s %s, starts %s\n", b.Message.Kind, est, start)
}

// printZonePlan says, for a broadcast sent at a local time or inside a
// window, when its first and last zones send.
func printZonePlan(io IO, bundle *spec.Bundle, b spec.Broadcast) {
	plan, ok := bundle.ZonePlan(b, io.now())
	if !ok || len(plan.Zones) == 0 {
		return
	}
	what := "local time " + b.Timing.LocalTime
	if b.Timing.Date != "" {
		what += " on " + b.Timing.Date
	}
	if b.Timing.LocalTime == "" {
		what = "its window"
	}
	first, last := plan.Zones[0], plan.Zones[len(plan.Zones)-1]
	zone := func(z localtime.ZoneDue) string {
		return fmt.Sprintf("%s at %s (%s there, %d recipients)", z.Zone, z.Due.Format(time.RFC3339),
			z.Due.In(localtime.AccountZone(z.Zone)).Format("Mon 15:04 MST"), z.Recipients)
	}
	if len(plan.Zones) == 1 {
		fmt.Fprintf(io.Stdout, "broadcast %s: %s in each recipient's zone: one zone, %s\n", b.Name, what, zone(first))
		return
	}
	fmt.Fprintf(io.Stdout, "broadcast %s: %s in each recipient's zone: %d zones, first %s, last %s\n",
		b.Name, what, len(plan.Zones), zone(first), zone(last))
}

func schedRun(ctx context.Context, args []string, io IO) error {
	fs := newFlags("run", io)
	interval := fs.Duration("interval", 500*time.Millisecond, "how often to plan, feed and sweep")
	mf := addMetricsFlags(fs, DefaultSchedulerMetricsAddr)
	if _, err := ParseFlags(fs, args); err != nil {
		return &exitError{code: 2}
	}
	cfg, err := settings(io)
	if err != nil {
		return err
	}
	token, err := mf.check(cfg)
	if err != nil {
		return err
	}
	log := Logger(io)
	opts := campaignOptions(cfg, log)
	conns, err := app.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer conns.Close()
	if err := conns.PingRedis(ctx); err != nil {
		return err
	}
	// The fleet-wide gauges (campaigns, status-poll lag, queues) come from
	// the scheduler, read at each scrape.
	m := ops.New()
	insp := asynq.NewInspector(conns.Redis)
	defer insp.Close()
	app.CollectFleet(m, conns, insp)
	if err := mf.serve(ctx, token, m, app.ReadyChecks(conns), log); err != nil {
		return err
	}
	return RunScheduler(ctx, conns, opts, *interval)
}

// RunScheduler runs the feeder loop until ctx ends.
func RunScheduler(ctx context.Context, conns *app.Conns, opts delivery.Options, interval time.Duration) error {
	client := asynq.NewClient(conns.Redis)
	defer client.Close()
	insp := asynq.NewInspector(conns.Redis)
	defer insp.Close()
	if opts.Logger != nil {
		opts.Logger.InfoContext(ctx, "scheduler: running", slog.Duration("interval", interval))
	}
	f := campaign.NewFeeder(conns.Store, client, insp, opts)
	if conns.RedisClient != nil {
		f.DetectLoss(app.NewRedisLoss(conns.RedisClient))
	}
	return f.Run(ctx, interval)
}

// dbOnly is cfg for commands that read only the database: app.Open needs
// a Redis URL, and the default one is never used by them.
func dbOnly(cfg config.Config) config.Config {
	if cfg.RedisURL == "" {
		cfg.RedisURL = "redis://127.0.0.1:6379/0"
	}
	return cfg
}

// openService opens the connections and the service over them; without
// needRedis only the database is reached.
func openService(ctx context.Context, io IO, needRedis bool) (*service.Service, func(), error) {
	cfg, err := settings(io)
	if err != nil {
		return nil, nil, err
	}
	noRedis := !needRedis && cfg.RedisURL == ""
	if !needRedis {
		cfg = dbOnly(cfg)
	}
	conns, err := app.Open(ctx, cfg, Logger(io))
	if err != nil {
		return nil, nil, err
	}
	sc := conns
	if noRedis {
		// No REDIS_URL: what lives in Redis (the unique-recipient budget)
		// is not read from whatever Redis happens to run on the default
		// address, where it would be wrong; it is left out.
		c := *conns
		c.RedisClient = nil
		sc = &c
	}
	svc, closeSvc := service.New(sc, io.Getenv, io.now)
	return svc, func() { closeSvc(); conns.Close() }, nil
}

// redisUnsetNote is what status says when REDIS_URL is not set.
const redisUnsetNote = "note: REDIS_URL is not set: the daily unique-recipient budget (kept in Redis) is not shown"

func schedStatus(ctx context.Context, args []string, io IO) error {
	fs := newFlags("status", io)
	asJSON := fs.Bool("json", false, "print JSON")
	watch := fs.Duration("watch", 0, "print the status again every interval (e.g. 2s) until interrupted or the broadcast is over")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if *watch < 0 || (*watch > 0 && len(pos) == 0) {
		return UsageError("status --watch needs a NAME and an interval above 0")
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	if len(pos) == 0 {
		return listBroadcasts(ctx, io, svc, *asJSON)
	}
	if io.Getenv("REDIS_URL") == "" && !*asJSON {
		fmt.Fprintln(io.Stderr, redisUnsetNote)
	}
	for {
		st, err := svc.StatusOf(ctx, pos[0])
		if err != nil && *watch > 0 && ctx.Err() != nil {
			return nil // interrupted while reading: the watch ends there
		}
		if err != nil {
			return err
		}
		if err := printStatus(io, st, *asJSON); err != nil {
			return err
		}
		if *watch == 0 || (st.Broadcast != nil && st.Broadcast.Status.Final()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil // interrupted: the watch ends there
		case <-time.After(*watch):
		}
	}
}

// printStatus prints a broadcast's or a sequence's report.
func printStatus(io IO, st service.Status, asJSON bool) error {
	var v any = st.Sequence
	if st.Broadcast != nil {
		v = st.Broadcast
	}
	if asJSON {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	if st.Broadcast != nil {
		printReport(io.Stdout, *st.Broadcast)
	} else {
		printSequenceReport(io.Stdout, *st.Sequence, io.now())
	}
	return nil
}

func listBroadcasts(ctx context.Context, io IO, svc *service.Service, asJSON bool) error {
	reports, err := svc.Campaigns.All(ctx)
	if err != nil {
		return err
	}
	sort.Slice(reports, func(i, j int) bool { return reports[i].Name < reports[j].Name })
	if asJSON {
		return json.NewEncoder(io.Stdout).Encode(reports)
	}
	if len(reports) == 0 {
		fmt.Fprintln(io.Stdout, "no broadcasts; load some with: scheduler apply -f campaigns/")
	}
	for _, r := range reports {
		fmt.Fprintf(io.Stdout, "%-10s %s\n", r.Status, ProgressLine(r))
	}
	return listSequences(ctx, io, svc)
}

func schedExport(ctx context.Context, args []string, io IO) error {
	fs := newFlags("export", io)
	format := fs.String("format", "jsonl", "jsonl (one JSON object a line) or csv")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		return UsageError("export needs exactly one broadcast or sequence NAME")
	}
	enc, ok := service.Encoders[*format]
	if !ok {
		return UsageError("export --format %q: want jsonl or csv", *format)
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	return svc.ExportTo(ctx, pos[0], enc(io.Stdout))
}

func schedRetryFailed(ctx context.Context, args []string, io IO) error {
	fs := newFlags("retry-failed", io)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		return UsageError("retry-failed needs exactly one broadcast NAME")
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	r, err := svc.RetryFailed(ctx, pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(io.Stdout).Encode(r)
	}
	fmt.Fprintf(io.Stdout, "broadcast %s: %d failed deliveries planned again; it is %s\n", r.Broadcast, r.Replanned, r.Status)
	for _, reason := range slices.Sorted(maps.Keys(r.NotRetried)) {
		fmt.Fprintf(io.Stdout, "  not retried: %d %s (%s)\n", r.NotRetried[reason], reason, delivery.NotRetriedWhy[reason])
	}
	return nil
}

func schedLifecycle(ctx context.Context, cmd string, args []string, io IO) error {
	fs := newFlags(cmd, io)
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		return UsageError("%s needs exactly one broadcast NAME", cmd)
	}
	svc, closeAll, err := openService(ctx, io, true)
	if err != nil {
		return err
	}
	defer closeAll()
	b, err := svc.Lifecycle(ctx, service.Verb(cmd), pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "broadcast %s is %s\n", b.Name, b.Status)
	return nil
}

func schedTestSend(ctx context.Context, args []string, io IO) error {
	fs := newFlags("test-send", io)
	ph := fs.String("phone", "", "the test phone (E.164, + optional)")
	step := fs.Int("step", 0, "the sequence's step, 1-based (none for a broadcast)")
	name := fs.String("name", "", "the name to render for {{name}}")
	vars := varsFlag{}
	fs.Var(vars, "var", "a value for a placeholder, key=value (repeatable)")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 || *ph == "" {
		return UsageError("usage: scheduler test-send NAME --phone NUMBER [--step N] [--name NAME] [--var key=value]…")
	}
	p, err := phone.Normalize(*ph)
	if err != nil {
		return UsageError("--phone %q: %v", *ph, err)
	}
	svc, closeAll, err := openService(ctx, io, true)
	if err != nil {
		return err
	}
	defer closeAll()
	t, err := svc.TestSend(ctx, service.TestSendRequest{Campaign: pos[0], Step: *step, Phone: p, Name: *name, Vars: vars, RequestedBy: "cli"})
	if err != nil {
		return err
	}
	line := fmt.Sprintf("test send %d of %s to %s: %s", t.ID, t.Campaign, t.Phone, t.Status)
	if t.WAMID != "" {
		line += " (" + t.WAMID + ")"
	}
	if t.Error != "" {
		line += ": " + t.Error
	}
	fmt.Fprintln(io.Stdout, line)
	if t.Status != "sent" {
		return &exitError{code: 1}
	}
	return nil
}

// needsLine says which values every enrollment of sq must give beyond its
// phone and name (its steps' other placeholders), so that a typo in one
// shows at validate, not when the first sign-up is refused.
func needsLine(sq spec.Sequence) string {
	var vars []string
	for _, st := range sq.Steps {
		for _, v := range st.Message.Variables() {
			if v != "name" && v != "phone" && !slices.Contains(vars, v) {
				vars = append(vars, v)
			}
		}
	}
	if len(vars) == 0 {
		return ""
	}
	for i, v := range vars {
		vars[i] = "{{" + v + "}}"
	}
	return "; every enrollment must give " + strings.Join(vars, ", ") + " (--var NAME=value or a column of that name)"
}
