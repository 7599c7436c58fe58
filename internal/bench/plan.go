package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"

	"github.com/wacamp/wacamp/delivery"
)

// audienceBroadcast is the broadcast writeAudience's campaign defines.
const audienceBroadcast = "audience-bench"

// planSamples is how many times, at least, `scheduler status` and
// `scheduler export` are timed while the scheduler runs.
const planSamples = 5

// AudiencePlan is what the planning phase of an audience run measured:
// `scheduler run` (a process of its own) from its start until the
// broadcast runs with its first window of sends in Redis, while `scheduler
// status` and `scheduler export` are run again and again beside it.
type AudiencePlan struct {
	// Seconds from the scheduler's start until the broadcast was running
	// with sends queued in Redis; PeakRSSMiB is the scheduler's.
	Seconds    float64 `json:"seconds"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// PostgresBackendMiB is as AudienceStep's, while the scheduler ran.
	PostgresBackendMiB float64 `json:"postgres_backend_mib"`
	// Deliveries is how many delivery rows existed when the scheduler
	// stopped, Queued how many of them were queued, and Tasks the send
	// tasks in Redis.
	Deliveries int64 `json:"deliveries"`
	Queued     int64 `json:"queued"`
	Tasks      int   `json:"tasks"`
	// RedisBeforeMiB is the Redis server's used_memory before the
	// scheduler started, RedisPeakMiB the most it used while it ran
	// (sampled every 200 ms; the server is shared with whatever else
	// runs on it).
	RedisBeforeMiB float64 `json:"redis_before_mib"`
	RedisPeakMiB   float64 `json:"redis_peak_mib"`
	// Status and Export are the commands' wall times while the scheduler
	// ran; Export's is until its first row arrived.
	Status Latencies `json:"status"`
	Export Latencies `json:"export_first_row"`
}

// Latencies are the wall times of a command run several times.
type Latencies struct {
	Runs    int     `json:"runs"`
	Median  float64 `json:"median_seconds"`
	Slowest float64 `json:"slowest_seconds"`
}

func latencies(ds []time.Duration) Latencies {
	if len(ds) == 0 {
		return Latencies{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Latencies{Runs: len(s), Median: s[len(s)/2].Seconds(), Slowest: s[len(s)-1].Seconds()}
}

// writeTable adds what the audience table's scheduler run row does not
// show.
func (p AudiencePlan) writeTable(w io.Writer) {
	fmt.Fprintf(w, "run: %d delivery rows, %d queued, %d send tasks in Redis; Redis used_memory %.1f MiB before, %.1f MiB at most (+%.1f)\n",
		p.Deliveries, p.Queued, p.Tasks, p.RedisBeforeMiB, p.RedisPeakMiB, p.RedisPeakMiB-p.RedisBeforeMiB)
	fmt.Fprintf(w, "while it ran: scheduler status %d× median %.2f s, slowest %.2f s; scheduler export to its first row %d× median %.2f s, slowest %.2f s\n",
		p.Status.Runs, p.Status.Median, p.Status.Slowest, p.Export.Runs, p.Export.Median, p.Export.Slowest)
}

// runPlan runs `scheduler run` on the applied database until the broadcast
// runs with sends queued in Redis, timing `scheduler status` and
// `scheduler export` meanwhile, and measures it.
func runPlan(ctx context.Context, cfg AudienceConfig, dbURL string, progress io.Writer) (AudiencePlan, error) {
	var res AudiencePlan
	// The scheduler's output, this function's and its logger's meet there.
	progress = &lockedWriter{w: progress}
	log := slog.New(slog.NewTextHandler(progress, nil))
	rds, err := openRedis(ctx, log, Config{RedisURL: cfg.RedisURL, RedisDB: cfg.RedisDB, RedisLeased: cfg.RedisLeased, Timeout: cfg.Timeout})
	if err != nil {
		return res, err
	}
	defer rds.close()
	redisURL, err := redisURLWithDB(cfg.RedisURL, rds.db)
	if err != nil {
		return res, err
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return res, fmt.Errorf("connect: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	if _, err := conn.Exec(ctx, `UPDATE broadcasts SET start_at = now()`); err != nil {
		return res, fmt.Errorf("start the broadcast now: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	env := append(os.Environ(), SchedulerEnv+"=1", "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL,
		"BENCH_TOKEN=bench-token", "WACAMP_LOG_LEVEL=warn")
	before, err := usedMemoryMiB(ctx, rds)
	if err != nil {
		return res, err
	}
	res.RedisBeforeMiB, res.RedisPeakMiB = before, before

	fmt.Fprintln(progress, "bench: scheduler run")
	sched := exec.Command(self, "run") // #nosec G204 -- this very executable
	sched.Env, sched.Stdout, sched.Stderr = env, progress, progress
	start := time.Now()
	if err := sched.Start(); err != nil {
		return res, fmt.Errorf("start scheduler: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sched.Wait() }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = sched.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(childStopTimeout):
			_ = sched.Process.Kill()
			<-exited
			return errors.New("scheduler did not stop within " + childStopTimeout.String() + " after SIGTERM")
		}
	}
	defer func() { _ = stop() }()

	// Beside the scheduler: Redis memory every 200 ms, and the status and
	// export commands one after the other.
	sctx, cancelSamples := context.WithCancel(ctx)
	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		statuses, exports []time.Duration
		sampleErr         error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := usedMemoryMiB(sctx, rds); err == nil {
				mu.Lock()
				res.RedisPeakMiB = max(res.RedisPeakMiB, m)
				mu.Unlock()
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			st, err := timeCommand(sctx, self, env, false, "status", audienceBroadcast)
			if err == nil {
				var ex time.Duration
				ex, err = timeCommand(sctx, self, env, true, "export", audienceBroadcast)
				if err == nil {
					mu.Lock()
					statuses, exports = append(statuses, st), append(exports, ex)
					mu.Unlock()
				}
			}
			if err != nil && sctx.Err() == nil {
				mu.Lock()
				sampleErr = err
				mu.Unlock()
				return
			}
			select {
			case <-sctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()

	done := false
	for !done {
		select {
		case err := <-exited:
			stopped = true
			cancelSamples()
			wg.Wait()
			return res, fmt.Errorf("scheduler exited before the broadcast started: %w", exitErr(err))
		case <-ctx.Done():
			cancelSamples()
			wg.Wait()
			return res, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		var status string
		var queued bool
		if err := conn.QueryRow(ctx, `SELECT status, EXISTS (SELECT 1 FROM deliveries d WHERE d.broadcast_id = b.id AND d.status = 'queued')
			FROM broadcasts b WHERE name = $1`, audienceBroadcast).Scan(&status, &queued); err != nil {
			cancelSamples()
			wg.Wait()
			return res, fmt.Errorf("read the broadcast: %w", err)
		}
		if !done && status == "running" && queued {
			done = true
			res.Seconds = time.Since(start).Seconds()
			fmt.Fprintf(progress, "bench: broadcast running with sends queued after %.1f s\n", res.Seconds)
		}
	}
	// Enough samples of the commands, then stop.
	for {
		mu.Lock()
		n, serr := len(statuses), sampleErr
		mu.Unlock()
		if n >= planSamples || serr != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		if ctx.Err() != nil {
			break
		}
	}
	cancelSamples()
	wg.Wait()
	serr := stop()
	res.PeakRSSMiB = peakRSSMiB(sched.ProcessState)
	res.Status, res.Export = latencies(statuses), latencies(exports)
	if sampleErr != nil {
		return res, fmt.Errorf("while the scheduler ran: %w", sampleErr)
	}
	if serr != nil {
		return res, fmt.Errorf("scheduler: %w", serr)
	}
	if err := conn.QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE status = 'queued') FROM deliveries`).Scan(&res.Deliveries, &res.Queued); err != nil {
		return res, fmt.Errorf("count deliveries: %w", err)
	}
	insp := asynq.NewInspector(rds.opt)
	defer insp.Close()
	if q, err := insp.GetQueueInfo(delivery.QueueBroadcast); err == nil {
		res.Tasks = q.Size
	}
	return res, nil
}

// timeCommand runs the scheduler command args as a child process and
// returns its wall time; with firstLine, the time until it wrote its first
// line to stdout (or ended without one), after which it is stopped.
func timeCommand(ctx context.Context, self string, env []string, firstLine bool, args ...string) (time.Duration, error) {
	c := exec.CommandContext(ctx, self, args...) // #nosec G204 -- this very executable
	c.Env = env
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := c.Start(); err != nil {
		return 0, fmt.Errorf("scheduler %s: %w", args[0], err)
	}
	r := bufio.NewReader(out)
	_, rerr := r.ReadString('\n')
	took := time.Since(start)
	if firstLine && rerr == nil {
		_ = c.Process.Kill()
		_ = c.Wait()
		return took, nil
	}
	_, _ = io.Copy(io.Discard, r)
	if err := c.Wait(); err != nil {
		return 0, fmt.Errorf("scheduler %s: %w: %s", args[0], err, stderr.String())
	}
	if rerr != nil && !firstLine {
		return 0, fmt.Errorf("scheduler %s printed nothing: %s", args[0], stderr.String())
	}
	// An export with no rows yet (nothing planned) counts until its end.
	return time.Since(start), nil
}

// usedMemoryMiB is the Redis server's used_memory.
func usedMemoryMiB(ctx context.Context, rds *benchRedis) (float64, error) {
	info, err := rds.data.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("redis info: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("redis used_memory %q: %w", v, err)
			}
			return n / (1 << 20), nil
		}
	}
	return 0, errors.New("redis info has no used_memory")
}
