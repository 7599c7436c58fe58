package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/throttle"
)

const schedulerUsage = `usage: scheduler COMMAND [flags]

Commands:
  validate -f PATH [--offline]
                         check campaign YAML (a file or a directory) without writing;
                         --offline reads no secret and calls no provider (for CI)
  apply -f PATH          validate and load accounts, broadcasts and sequences
  run                    plan due broadcasts and steps, feed workers, track statuses (daemon)
  status [NAME] [--json] progress of one broadcast or sequence, or a list of all
  export NAME            one JSON object per recipient, or per (enrollment, step)
  pause NAME             stop sending; in-flight sends finish
  resume NAME            continue a paused broadcast
  cancel NAME            stop for good; unsent recipients become skipped
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
	refused := func(ve *spec.ValidationError) error {
		fmt.Fprintln(io.Stderr, ve.Error())
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); nothing was written", *path, len(ve.Problems))}
	}
	// Large CSV audiences show their progress on stderr, while they are
	// validated and, by apply, copied into the database.
	bundle, err := spec.LoadWith(ctx, *path, io.Getenv, drivers.Catalog{}, spec.LoadOptions{Offline: *offline, Progress: newCSVProgress(io.Stderr).report})
	var ve *spec.ValidationError
	if errors.As(err, &ve) {
		return refused(ve)
	}
	if err != nil {
		return err
	}
	// apply needs the database first: a broadcast already stored with its
	// start may keep a start whose deadline has passed (it ran).
	var conns *app.Conns
	applied := func(spec.Broadcast) bool { return false }
	if cmd == "apply" {
		cfg, err := settings(io)
		if err != nil {
			return err
		}
		if conns, err = app.Open(ctx, cfg, Logger(io)); err != nil {
			return err
		}
		defer conns.Close()
		applied = func(b spec.Broadcast) bool {
			cur, err := conns.Store.BroadcastByName(ctx, b.Name)
			return err == nil && cur.StartAt.Equal(*b.StartAt)
		}
	}
	startWarnings, err := bundle.CheckStarts(io.now(), applied)
	if errors.As(err, &ve) {
		return refused(ve)
	}
	for _, ws := range [][]string{bundle.Warnings, startWarnings} {
		for _, w := range ws {
			fmt.Fprintln(io.Stderr, "warning:", w)
		}
	}
	rates := map[string]float64{}
	for _, a := range bundle.Accounts {
		rates[a.Name] = a.RatePerSecond
	}
	var planWarnings, planProblems []string
	if !*offline {
		planWarnings, planProblems = checkPlans(ctx, io, bundle)
		// The receiver refuses a weak webhook secret: every status of that
		// account would be lost, so it is a problem, not a warning.
		planProblems = append(planProblems, weakWebhookSecrets(bundle, io.Getenv)...)
	}
	for _, w := range planWarnings {
		fmt.Fprintln(io.Stderr, "warning:", w)
	}
	if len(planProblems) > 0 {
		fmt.Fprintln(io.Stderr, strings.Join(planProblems, "\n"))
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %d problem(s); nothing was written", *path, len(planProblems))}
	}
	if cmd == "validate" {
		capNotes, capWarnings := capEstimates(ctx, io, bundle, *offline)
		windowNotes, seqWindowNotes, windowWarnings := windowEstimates(ctx, io, bundle, *offline)
		for _, w := range append(capWarnings, windowWarnings...) {
			fmt.Fprintln(io.Stderr, "warning:", w)
		}
		fmt.Fprintf(io.Stdout, "%s: OK — %d account(s), %d broadcast(s), %d sequence(s)\n", *path, len(bundle.Accounts), len(bundle.Broadcasts), len(bundle.Sequences))
		if *offline {
			fmt.Fprintln(io.Stdout, "offline: secrets were not read and no provider was asked; run validate without --offline where the secrets are to check them")
		}
		for _, b := range bundle.Broadcasts {
			printEstimate(io, b, rates[b.Account])
			printZonePlan(io, bundle, b)
			for _, notes := range []map[string]string{capNotes, windowNotes} {
				if note, ok := notes[b.Name]; ok {
					fmt.Fprintf(io.Stdout, "  %s\n", note)
				}
			}
		}
		for _, sq := range bundle.Sequences {
			fmt.Fprintf(io.Stdout, "sequence %s: %d steps\n", sq.Name, len(sq.Steps))
			if note, ok := seqWindowNotes[sq.Name]; ok {
				fmt.Fprintf(io.Stdout, "  %s\n", note)
			}
		}
		return nil
	}
	changes, err := conns.Store.Apply(ctx, bundle, io.now())
	if err != nil {
		return &exitError{code: 1, msg: err.Error() + "\nnothing was written"}
	}
	for _, c := range changes {
		line := fmt.Sprintf("%-9s %-9s %s", c.Kind, c.Action, c.Name)
		if c.Detail != "" {
			line += " (" + c.Detail + ")"
		}
		fmt.Fprintln(io.Stdout, line)
	}
	for _, b := range bundle.Broadcasts {
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

// openService opens the connections and a campaign.Service over them.
func openService(ctx context.Context, io IO, needRedis bool) (*campaign.Service, func(), error) {
	cfg, err := settings(io)
	if err != nil {
		return nil, nil, err
	}
	if !needRedis {
		cfg = dbOnly(cfg)
	}
	conns, err := app.Open(ctx, cfg, Logger(io))
	if err != nil {
		return nil, nil, err
	}
	client := asynq.NewClient(conns.Redis)
	insp := asynq.NewInspector(conns.Redis)
	closeAll := func() { _ = client.Close(); _ = insp.Close(); conns.Close() }
	svc := campaign.NewService(conns.Store, client, insp, delivery.Options{Now: io.now})
	svc.UseBudgets(throttle.NewRecipients(conns.RedisClient))
	return svc, closeAll, nil
}

func schedStatus(ctx context.Context, args []string, io IO) error {
	fs := newFlags("status", io)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	if len(pos) == 0 {
		return listBroadcasts(ctx, io, svc, *asJSON)
	}
	r, err := svc.Status(ctx, pos[0])
	if errors.Is(err, campaign.ErrNotFound) {
		if found, serr := sequenceStatus(ctx, io, pos[0], *asJSON); found || serr != nil {
			return serr
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(io.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	printReport(io.Stdout, r)
	return nil
}

func listBroadcasts(ctx context.Context, io IO, svc *campaign.Service, asJSON bool) error {
	reports, err := svc.All(ctx)
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
	return listSequences(ctx, io)
}

func schedExport(ctx context.Context, args []string, io IO) error {
	fs := newFlags("export", io)
	pos, err := ParseFlags(fs, args)
	if err != nil {
		return &exitError{code: 2}
	}
	if len(pos) != 1 {
		return UsageError("export needs exactly one broadcast or sequence NAME")
	}
	svc, closeAll, err := openService(ctx, io, false)
	if err != nil {
		return err
	}
	defer closeAll()
	enc := json.NewEncoder(io.Stdout)
	err = svc.Export(ctx, pos[0], func(r delivery.Row) error { return enc.Encode(r) })
	if errors.Is(err, campaign.ErrNotFound) {
		if found, serr := sequenceExport(ctx, io, pos[0]); found || serr != nil {
			return serr
		}
	}
	return err
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
	var b campaign.Broadcast
	switch cmd {
	case "pause":
		b, err = svc.Pause(ctx, pos[0])
	case "resume":
		b, err = svc.Resume(ctx, pos[0])
	case "cancel":
		b, err = svc.Cancel(ctx, pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Stdout, "broadcast %s is %s\n", b.Name, b.Status)
	return nil
}

// accountInfoer is a provider client that can read the account's plan.
type accountInfoer interface {
	AccountInfo(ctx context.Context) (provider.AccountInfo, error)
}

// checkPlans asks each account's provider for its plan limits and warns
// about broadcasts that would exceed them. An account the provider refuses
// (an invalid or expired token, an unknown or disconnected account: an
// account-level answer) is a problem: nothing of it could be sent. Not
// reaching the provider is a warning: validation must not depend on the
// provider being up.
func checkPlans(ctx context.Context, io IO, b *spec.Bundle) (warnings, problems []string) {
	senders := &app.Senders{Getenv: io.Getenv}
	infos := map[string]provider.AccountInfo{}
	for _, a := range b.Accounts {
		if caps, ok := drivers.CapabilitiesOf(a.Provider); !ok || !caps.AccountInfo {
			continue // the API tells nothing about the plan
		}
		s, err := senders.Sender(ctx, delivery.Account{Name: a.Name, Provider: a.Provider, BaseURL: a.BaseURL,
			TokenRef: a.TokenRef, SecretRef: a.SecretRef, SessionID: a.SessionID, PhoneNumberID: a.PhoneNumberID, WhatsAppBotID: a.WhatsAppBotID})
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("account %s: cannot check plan limits: %v", a.Name, err))
			continue
		}
		ai, ok := s.(accountInfoer)
		if !ok {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		info, err := ai.AccountInfo(cctx)
		cancel()
		var pe *provider.Error
		switch {
		case errors.As(err, &pe) && pe.Class == provider.ClassHaltAccount:
			problems = append(problems, fmt.Sprintf("%s: account %s: the provider refuses the account (check api_token and the account's ids): %v", a.Pos, a.Name, err))
		case err != nil:
			warnings = append(warnings, fmt.Sprintf("account %s: cannot check plan limits: %v", a.Name, err))
		default:
			infos[a.Name] = info
		}
	}
	for _, bc := range b.Broadcasts {
		if info, ok := infos[bc.Account]; ok {
			warnings = append(warnings, campaign.LimitWarnings(bc.Name, bc.RecipientCount(), info)...)
		}
	}
	return warnings, problems
}
