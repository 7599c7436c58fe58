package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wacamp/wacamp/internal/cli"
)

// Defaults of AudienceConfig's zero fields.
const (
	DefaultAudienceRows    = 10_000_000
	DefaultAudienceTimeout = 30 * time.Minute
)

// SchedulerEnv, when set, makes a process that calls [IsSchedulerChild]
// first run as the scheduler command (its arguments being the command's)
// instead of doing its usual work: RunAudience measures `scheduler
// validate` and `scheduler apply` as processes of their own.
const SchedulerEnv = "WACAMP_BENCH_SCHEDULER"

// IsSchedulerChild reports whether getenv (os.Getenv) says this process is
// a scheduler child started by RunAudience.
func IsSchedulerChild(getenv func(string) string) bool { return getenv(SchedulerEnv) != "" }

// SchedulerChildMain runs this process as the scheduler command and exits.
func SchedulerChildMain() { cli.Main(cli.Scheduler) }

// AudienceConfig is one run of the audience benchmark: a broadcast whose
// CSV audience has Rows rows (one in a hundred repeating an earlier
// number) is validated and applied by the scheduler command, each run as
// a process of its own.
type AudienceConfig struct {
	Rows        int
	DatabaseURL string // as Config's: a fresh database is created through it and dropped
	RedisURL    string // given to apply, which does not use it; the scheduler's with Plan
	// Plan runs `scheduler run` after apply, until the broadcast is
	// running with its first sends queued, in Redis database RedisDB
	// (flushed; default DefaultRedisDB), taking its lease as Config does
	// unless RedisLeased.
	Plan        bool
	RedisDB     int
	RedisLeased bool
	// Dir is where the CSV file is written (and removed at the end); ""
	// is a temporary directory.
	Dir     string
	Timeout time.Duration
}

// AudienceResult is what one audience run measured.
type AudienceResult struct {
	CPUs       int   `json:"cpus"`
	Rows       int   `json:"rows"`
	Recipients int   `json:"recipients"` // after duplicates
	FileBytes  int64 `json:"file_bytes"`
	// Validate and Apply are the two commands; Stored is the recipients
	// rows apply wrote.
	Validate AudienceStep `json:"validate"`
	Apply    AudienceStep `json:"apply"`
	Stored   int64        `json:"stored"`
	// Plan is the scheduler's run, with AudienceConfig.Plan.
	Plan *AudiencePlan `json:"plan,omitempty"`
}

// AudienceStep is one scheduler command: its wall time and the peak
// resident memory of its process (getrusage's ru_maxrss), and the most
// private memory a Postgres backend of the run's database had meanwhile
// (0 when Postgres runs on another machine).
type AudienceStep struct {
	Seconds            float64 `json:"seconds"`
	PeakRSSMiB         float64 `json:"peak_rss_mib"`
	PostgresBackendMiB float64 `json:"postgres_backend_mib"`
}

// WriteTable prints the result for people.
func (r AudienceResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "audience: %d CSV rows (%d MiB), %d recipients after duplicates, %d CPUs\n", r.Rows, r.FileBytes>>20, r.Recipients, r.CPUs)
	fmt.Fprintln(tw, "command\tseconds\trows/s\tpeak RSS MiB\tPostgres backend MiB\t")
	steps := []struct {
		name string
		st   AudienceStep
	}{{"scheduler validate", r.Validate}, {"scheduler apply", r.Apply}}
	if r.Plan != nil {
		steps = append(steps, struct {
			name string
			st   AudienceStep
		}{"scheduler run (plan, start)", AudienceStep{Seconds: r.Plan.Seconds, PeakRSSMiB: r.Plan.PeakRSSMiB, PostgresBackendMiB: r.Plan.PostgresBackendMiB}})
	}
	for _, s := range steps {
		pg := "-" // no connection, or Postgres on another machine
		if s.st.PostgresBackendMiB > 0 {
			pg = fmt.Sprintf("%.0f", s.st.PostgresBackendMiB)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.0f\t%.0f\t%s\t\n", s.name, s.st.Seconds, float64(r.Rows)/s.st.Seconds, s.st.PeakRSSMiB, pg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "apply stored %d recipients\n", r.Stored); err != nil {
		return err
	}
	if r.Plan != nil {
		r.Plan.writeTable(w)
	}
	return nil
}

// ErrAudienceMismatch is returned (wrapped) when apply did not store every
// recipient exactly once.
var ErrAudienceMismatch = errors.New("apply did not store the audience")

// RunAudience writes the CSV file and its campaign, then runs `scheduler
// validate` and `scheduler apply` on them as child processes (this
// executable started again, see SchedulerEnv) against a fresh database,
// and measures each. progress gets what the commands print on stderr.
func RunAudience(ctx context.Context, cfg AudienceConfig, progress io.Writer) (AudienceResult, error) {
	cfg.Rows = cmp.Or(cfg.Rows, DefaultAudienceRows)
	cfg.DatabaseURL = cmp.Or(cfg.DatabaseURL, DefaultDatabaseURL)
	cfg.RedisURL = cmp.Or(cfg.RedisURL, DefaultRedisURL)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultAudienceTimeout)
	cfg.RedisDB = cmp.Or(cfg.RedisDB, DefaultRedisDB)
	res := AudienceResult{CPUs: runtime.NumCPU(), Rows: cfg.Rows}
	if cfg.Rows < 100 || cfg.Rows > 99_999_999 {
		return res, fmt.Errorf("rows must be between 100 and 99999999, got %d", cfg.Rows)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp(cfg.Dir, "wacamp-audience-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(progress, "bench: writing %d rows to %s\n", cfg.Rows, dir)
	if res.FileBytes, res.Recipients, err = writeAudience(dir, cfg.Rows); err != nil {
		return res, err
	}

	name, dbURL, drop, err := createDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer func() {
		if err := drop(); err != nil {
			fmt.Fprintf(progress, "bench: %v\n", err)
		} else {
			fmt.Fprintf(progress, "bench: dropped database %s\n", name)
		}
	}()
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	backends, err := watchBackends(ctx, cfg.DatabaseURL, name)
	if err != nil {
		return res, err
	}
	defer backends.close()
	for _, step := range []struct {
		cmd string
		out *AudienceStep
	}{{"validate", &res.Validate}, {"apply", &res.Apply}} {
		fmt.Fprintf(progress, "bench: scheduler %s\n", step.cmd)
		c := exec.CommandContext(ctx, self, step.cmd, "-f", dir) // #nosec G204 -- this very executable, with the run's own arguments
		c.Env = append(os.Environ(), SchedulerEnv+"=1", "DATABASE_URL="+dbURL, "REDIS_URL="+cfg.RedisURL,
			"BENCH_TOKEN=bench-token", "WACAMP_LOG_LEVEL=warn")
		var stdout bytes.Buffer
		c.Stdout, c.Stderr = &stdout, progress
		start := time.Now()
		err := c.Run()
		step.out.Seconds = time.Since(start).Seconds()
		step.out.PeakRSSMiB = peakRSSMiB(c.ProcessState)
		step.out.PostgresBackendMiB = backends.take()
		if err != nil {
			return res, fmt.Errorf("scheduler %s: %w\n%s", step.cmd, err, stdout.String())
		}
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return res, fmt.Errorf("connect to %s: %w", name, err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM recipients").Scan(&res.Stored); err != nil {
		return res, fmt.Errorf("count recipients: %w", err)
	}
	if res.Stored != int64(res.Recipients) {
		return res, fmt.Errorf("%d recipients stored, %d expected: %w", res.Stored, res.Recipients, ErrAudienceMismatch)
	}
	if cfg.Plan {
		p, err := runPlan(ctx, cfg, dbURL, progress)
		if err != nil {
			return res, fmt.Errorf("plan: %w", err)
		}
		p.PostgresBackendMiB = backends.take()
		res.Plan = &p
	}
	return res, nil
}

// writeAudience writes dir/audience.csv with rows rows, the last of every
// hundred repeating the row before it, and dir/campaign.yaml sending to
// it, and returns the CSV file's size and how many distinct numbers it
// holds.
func writeAudience(dir string, rows int) (size int64, recipients int, err error) {
	f, err := os.Create(filepath.Join(dir, "audience.csv")) // #nosec G304 -- in the run's own temporary directory
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	_, _ = w.WriteString("phone,name,code\n")
	var line []byte
	for i := range rows {
		n := i
		if i%100 == 99 {
			n-- // a repeat: dropped
		} else {
			recipients++
		}
		line = append(line[:0], "4915"...)
		line = strconv.AppendInt(line, 100_000_000+int64(n), 10)
		line = append(line, ",Person "...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, ",CODE-"...)
		line = strconv.AppendInt(line, int64(i), 10)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return 0, 0, err
		}
	}
	if err := w.Flush(); err != nil {
		return 0, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		return 0, 0, err
	}
	campaign := `accounts:
  - name: bench
    provider: botsailor
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1/api/v1   # nothing listens: the plan check is a warning
    api_token: ${BENCH_TOKEN}
    phone_number_id: "1"
    whatsapp_bot_id: 1
    rate_per_second: 1000
    daily_unique_limit: unlimited
broadcasts:
  - name: ` + audienceBroadcast + `
    account: bench
    deadline: 10000h
    audience: {csv: audience.csv}
    message: {text: "Hi {{name}}, your code is {{code}}"}
`
	if err := os.WriteFile(filepath.Join(dir, "campaign.yaml"), []byte(campaign), 0o600); err != nil {
		return 0, 0, err
	}
	return info.Size(), recipients, nil
}
