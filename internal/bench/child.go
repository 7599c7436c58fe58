package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/throttle"
)

// WorkerEnv, when set (to the worker's number, 1 or more), makes a process
// that calls [IsWorkerChild] first run as one of RunThrottle's worker
// processes instead of doing its usual work. The other settings come in
// these variables too, so the mechanism works the same for cmd/bench and
// for a test binary (whose TestMain checks it).
const WorkerEnv = "WACAMP_BENCH_WORKER"

// The other variables RunThrottle sets for a worker child.
const (
	childRedisURLEnv    = "WACAMP_BENCH_REDIS_URL"    // redis://host:port/<db>
	childDatabaseURLEnv = "WACAMP_BENCH_DATABASE_URL" // the scenario's Postgres database
	childConcurrencyEnv = "WACAMP_BENCH_CONCURRENCY"  // send tasks at once
)

// workerHeader names, on every provider request a child makes, which child
// made it, so the parent can show that all processes shared the work.
const workerHeader = "X-Wacamp-Bench-Worker"

// readyLine is what a child writes to its stdout once its servers run.
const readyLine = "ready"

// childStopTimeout is how long a child may take to shut down after SIGTERM
// before it is killed: the worker's own shutdown timeout (40 s) and a margin.
const childStopTimeout = 50 * time.Second

// IsWorkerChild reports whether getenv (os.Getenv) says this process is a
// worker child started by RunThrottle.
func IsWorkerChild(getenv func(string) string) bool { return getenv(WorkerEnv) != "" }

// WorkerChildMain runs this process as a worker child (see [RunWorkerChild])
// on the real environment and standard streams until SIGTERM or SIGINT, and
// returns the process's exit code.
func WorkerChildMain() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv(WorkerEnv) == simRole {
		if err := RunSimChild(ctx, os.Getenv, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "bench simulator: %v\n", err)
			return 1
		}
		return 0
	}
	if err := RunWorkerChild(ctx, os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "bench worker %s: %v\n", os.Getenv(WorkerEnv), err)
		return 1
	}
	return 0
}

// RunWorkerChild is one worker process of the throttle benchmark, wired as
// cmd/worker wires production: app.Open on the Redis database and Postgres
// database named by getenv, and app.NewWorker with the fleet-wide limiter
// (throttle.NewFleet, wrapped to note when it grants each token),
// error-storm outcomes and recipient limits, all on its own Redis client.
// It writes "ready" to stdout once its servers run and logs to stderr. When
// ctx ends or stdin reaches its end (the parent is gone: its end of the pipe
// closed) it shuts the worker down gracefully and writes the grants to
// stdout, one "grant <key> <unix ns>" line each.
func RunWorkerChild(ctx context.Context, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	id := getenv(WorkerEnv)
	concurrency, err := strconv.Atoi(getenv(childConcurrencyEnv))
	if err != nil || concurrency < 1 {
		return fmt.Errorf("%s must be a positive number, got %q", childConcurrencyEnv, getenv(childConcurrencyEnv))
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With(slog.String("worker", id))

	ctx, cancel := untilParentGone(ctx, stdin)
	defer cancel()

	cfg, err := config.FromEnv(getenv)
	if err != nil {
		return fmt.Errorf("open connections: %w", err)
	}
	cfg.RedisURL, cfg.DatabaseURL = getenv(childRedisURLEnv), getenv(childDatabaseURLEnv)
	conns, err := app.Open(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("open connections: %w", err)
	}
	defer conns.Close()

	// Only the simulator's token variable is visible to the account
	// resolution, as in production where it comes from the environment.
	tokenEnv := func(k string) string {
		if k == tokenVar {
			return getenv(tokenVar)
		}
		return ""
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency
	client := &http.Client{Timeout: 30 * time.Second, Transport: tagged{worker: id, next: t}}

	calls := &throttleCalls{}
	conns.RedisClient.AddHook(calls)
	grants := &grantRecorder{fleet: throttle.NewFleet(conns.RedisClient)}
	srv := app.NewWorker(conns, app.WorkerConfig{
		Concurrency: concurrency,
		Senders:     &app.Senders{Getenv: tokenEnv, HTTPClient: client, Logger: log},
		Limiter:     grants,
		Outcomes:    throttle.NewOutcomes(conns.RedisClient),
		Recipients:  throttle.NewRecipients(conns.RedisClient),
		Campaign:    throttleCampaignOptions(),
		Logger:      log,
	})
	if err := srv.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.InfoContext(ctx, "bench worker: running", slog.Int("concurrency", concurrency))
	if _, err := fmt.Fprintln(stdout, readyLine); err != nil {
		srv.Shutdown()
		return fmt.Errorf("report ready: %w", err)
	}
	<-ctx.Done()
	start := time.Now()
	srv.Shutdown()
	log.Info("bench worker: stopped", slog.Duration("took", time.Since(start).Round(time.Millisecond)))
	if err := grants.report(stdout); err != nil {
		return fmt.Errorf("report rate grants: %w", err)
	}
	if _, err := fmt.Fprintf(stdout, "%s %d\n", callsWord, calls.lua.Load()); err != nil {
		return fmt.Errorf("report throttle calls: %w", err)
	}
	return nil
}

// untilParentGone returns a context that also ends when stdin (a child's
// end of the pipe from its parent; nil: none) reaches its end: the parent
// closed it or is gone.
func untilParentGone(ctx context.Context, stdin io.Reader) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if stdin != nil {
		go func() {
			_, _ = io.Copy(io.Discard, stdin)
			cancel()
		}()
	}
	return ctx, cancel
}

// throttleCalls counts the Lua script calls of the per-number rate limit
// (its keys start with throttleKeyPrefix or penaltyKeyPrefix) that go
// through a Redis client.
type throttleCalls struct{ lua atomic.Int64 }

// The keys of the rate limit: its own state (redis_rate prefixes it with
// "rate:") and the penalty after a 130429.
const (
	throttleKeyPrefix = "wacamp:throttle:"
	penaltyKeyPrefix  = "wacamp:penalty:"
)

func (c *throttleCalls) note(cmd redis.Cmder) {
	switch cmd.Name() {
	case "eval", "evalsha", "eval_ro", "evalsha_ro":
	default:
		return
	}
	args := cmd.Args() // the command, the script or its sha, the key count, the keys
	if len(args) < 4 {
		return
	}
	key, _ := args[3].(string)
	key = strings.TrimPrefix(key, "rate:")
	if strings.HasPrefix(key, throttleKeyPrefix) || strings.HasPrefix(key, penaltyKeyPrefix) {
		c.lua.Add(1)
	}
}

func (c *throttleCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *throttleCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.note(cmd)
		return next(ctx, cmd)
	}
}

func (c *throttleCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			c.note(cmd)
		}
		return next(ctx, cmds)
	}
}

// callsWord starts the line of a child's stdout that counts its throttle
// Lua calls.
const callsWord = "throttle-lua-calls"

// grantRecorder is the worker's limiter, the fleet-wide one, noting when
// each rate token was granted: the worst one-second window at the grants
// tells the throttle's own pacing apart from the jitter between a grant and
// the request reaching the provider.
type grantRecorder struct {
	fleet *throttle.Fleet

	mu     sync.Mutex
	grants []grant
}

// grant is one rate token granted to a worker.
type grant struct {
	key string // the account's rate key, "phone:<phone_number_id>"
	at  time.Time
	// left is when the request was let go (Depart returned); zero for a
	// token taken by Wait. A caller that came to Depart late for at went
	// at another slot (throttle.Fleet.Depart): at is the slot it was
	// granted first, which the scheduled departures are counted by.
	left time.Time
}

var (
	_ delivery.Penalizer = (*grantRecorder)(nil) // a 130429 answer must still slow the number down
	_ delivery.Departer  = (*grantRecorder)(nil) // the request leaves at its slot, after the claim
)

func (g *grantRecorder) Wait(ctx context.Context, key string, perSecond float64) error {
	if err := g.fleet.Wait(ctx, key, perSecond); err != nil {
		return err
	}
	now := time.Now()
	g.mu.Lock()
	g.grants = append(g.grants, grant{key: key, at: now})
	g.mu.Unlock()
	return nil
}

func (g *grantRecorder) WaitAhead(ctx context.Context, key string, perSecond float64, ahead time.Duration) (time.Time, error) {
	return g.fleet.WaitAhead(ctx, key, perSecond, ahead)
}

// Depart notes the slot the request leaves at as the grant.
func (g *grantRecorder) Depart(ctx context.Context, key string, perSecond float64, at time.Time) error {
	if err := g.fleet.Depart(ctx, key, perSecond, at); err != nil {
		return err
	}
	left := time.Now()
	g.mu.Lock()
	g.grants = append(g.grants, grant{key: key, at: at, left: left})
	g.mu.Unlock()
	return nil
}

func (g *grantRecorder) Penalize(ctx context.Context, key string) (throttle.Penalty, error) {
	return g.fleet.Penalize(ctx, key)
}

// report writes one "grant <key> <slot> <left>" line per grant, the times
// in Unix nanoseconds (left is the slot for a token taken by Wait).
func (g *grantRecorder) report(w io.Writer) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, gr := range g.grants {
		left := cmp.Or(gr.left, gr.at)
		fmt.Fprintf(bw, "%s %s %d %d\n", grantWord, gr.key, gr.at.UnixNano(), left.UnixNano())
	}
	return bw.Flush()
}

// leftLate counts the grants with a departure noted (Depart's; a worker
// child reports a Wait's token as leaving at its grant) and those of them
// whose request left more than throttle.Late after the slot.
func leftLate(grants []grant) (departures, late int) {
	for _, g := range grants {
		if g.left.IsZero() {
			continue
		}
		departures++
		if g.left.Sub(g.at) > throttle.Late {
			late++
		}
	}
	return departures, late
}

// parseGrant reads the fields of a line report wrote; ok is false for any
// other line.
func parseGrant(f []string) (g grant, ok bool) {
	if len(f) != 4 || f[0] != grantWord {
		return grant{}, false
	}
	at, err1 := strconv.ParseInt(f[2], 10, 64)
	left, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil {
		return grant{}, false
	}
	return grant{key: f[1], at: time.Unix(0, at), left: time.Unix(0, left)}, true
}

// grantWord starts a grant line on a child's stdout.
const grantWord = "grant"

// tagged marks every request with the worker that sends it.
type tagged struct {
	worker string
	next   http.RoundTripper
}

func (t tagged) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(workerHeader, t.worker)
	return t.next.RoundTrip(r)
}

// child is one running worker (or simulator) process.
type child struct {
	id     int    // the worker's number; 0 for the simulator
	name   string // "worker <id>" or "simulator"
	cmd    *exec.Cmd
	stdin  *os.File // the parent's end of the child's stdin
	ready  chan struct{}
	done   chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's answer; read after done
	stdout *childStdout
	stderr *prefixWriter
}

// startChildren starts n worker processes of this very binary and waits
// until each has reported it is running (or ctx ends, or one exits).
func startChildren(ctx context.Context, log *slog.Logger, progress io.Writer, n int, env []string) ([]*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable: %w", err)
	}
	var kids []*child
	for i := 1; i <= n; i++ {
		c, err := startChild(exe, i, progress, env)
		if err != nil {
			_ = stopChildren(log, kids) // the start's error is the one to report
			return nil, err
		}
		kids = append(kids, c)
	}
	if err := awaitReady(ctx, log, kids); err != nil {
		return nil, err
	}
	log.InfoContext(ctx, "bench: throttle: worker processes running", slog.Int("processes", n))
	return kids, nil
}

// awaitReady waits until each of kids has reported it is running; when
// one exits first, or ctx ends, it stops them all and says why.
func awaitReady(ctx context.Context, log *slog.Logger, kids []*child) error {
	for _, c := range kids {
		select {
		case <-c.ready:
		case <-c.done:
			err := fmt.Errorf("%s exited before it was ready: %w", c.name, exitErr(c.err))
			return errors.Join(err, stopChildren(log, kids))
		case <-ctx.Done():
			err := fmt.Errorf("waiting for %s to start: %w", c.name, ctx.Err())
			return errors.Join(err, stopChildren(log, kids))
		}
	}
	return nil
}

func startChild(exe string, id int, progress io.Writer, env []string) (*child, error) {
	return startProcess(exe, id, "worker "+strconv.Itoa(id), strconv.Itoa(id), progress, env)
}

// startProcess starts exe as the child called name, told what it is by
// WorkerEnv=role.
func startProcess(exe string, id int, name, role string, progress io.Writer, env []string) (*child, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("%s: stdin pipe: %w", name, err)
	}
	c := &child{id: id, name: name, stdin: w, ready: make(chan struct{}), done: make(chan struct{}),
		stderr: &prefixWriter{prefix: name + ": ", w: progress}}
	c.stdout = &childStdout{ready: c.ready}
	c.cmd = exec.Command(exe)
	c.cmd.Env = append(append(os.Environ(), env...), WorkerEnv+"="+role)
	c.cmd.Stdin = r
	c.cmd.Stdout = c.stdout
	c.cmd.Stderr = c.stderr
	err = c.cmd.Start()
	_ = r.Close() // the child holds its own copy
	if err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.stderr.flush()
		close(c.done)
	}()
	return c, nil
}

// stopChildren sends every child SIGTERM and waits for it to exit, killing
// one that takes longer than childStopTimeout. It returns an error for every
// child that did not exit cleanly.
func stopChildren(log *slog.Logger, kids []*child) error {
	for _, c := range kids {
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			_ = c.cmd.Process.Kill() // no SIGTERM on this platform
		}
	}
	var errs []error
	for _, c := range kids {
		t := time.NewTimer(childStopTimeout)
		select {
		case <-c.done:
			t.Stop()
			if c.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", c.name, exitErr(c.err)))
			}
		case <-t.C:
			log.Error("bench: child did not stop; killing it", slog.String("child", c.name), slog.Duration("after", childStopTimeout))
			_ = c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, fmt.Errorf("%s did not stop within %s after SIGTERM and was killed", c.name, childStopTimeout))
		}
		_ = c.stdin.Close()
	}
	return errors.Join(errs...)
}

// stopOnce returns a function that stops kids (stopChildren), called what
// in the log, the first time it is called, and does nothing after: the
// caller stops them when it needs what they report, and defers it too.
func stopOnce(ctx context.Context, log *slog.Logger, what string, kids []*child) func() error {
	stopped := false
	return func() error {
		if stopped {
			return nil
		}
		stopped = true
		log.InfoContext(ctx, "bench: throttle: stopping the "+what)
		return stopChildren(log, kids)
	}
}

// exited returns a channel receiving the first child that exits.
func exited(kids []*child) <-chan *child {
	ch := make(chan *child, len(kids))
	for _, c := range kids {
		go func() {
			<-c.done
			ch <- c
		}()
	}
	return ch
}

func exitErr(err error) error {
	if err == nil {
		return errors.New("exit status 0")
	}
	return err
}

// childStdout reads a child's stdout: it closes ready at the first "ready"
// line and collects the grant lines.
type childStdout struct {
	ready chan struct{}
	once  sync.Once

	mu       sync.Mutex
	buf      []byte
	grants   []grant
	luaCalls int
	url      string // the simulator's base URL, from its ready line
	sim      simReport
}

func (c *childStdout) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(bytes.TrimSpace(c.buf[:i]))
		c.buf = c.buf[i+1:]
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == readyLine {
			if len(f) > 1 {
				c.url = f[1]
			}
			c.once.Do(func() { close(c.ready) })
			continue
		}
		if c.simLine(f) {
			continue
		}
		if len(f) == 2 && f[0] == callsWord {
			c.luaCalls, _ = strconv.Atoi(f[1])
			continue
		}
		if g, ok := parseGrant(f); ok {
			c.grants = append(c.grants, g)
		}
	}
}

// collectGrants returns the grants every child reported and the sum of
// their throttle Lua calls; call it after the children have exited.
func collectGrants(kids []*child) (grants []grant, luaCalls int) {
	for _, c := range kids {
		c.stdout.mu.Lock()
		grants = append(grants, c.stdout.grants...)
		luaCalls += c.stdout.luaCalls
		c.stdout.mu.Unlock()
	}
	return grants, luaCalls
}

// prefixWriter copies a child's stderr to w a whole line at a time, each
// line prefixed.
type prefixWriter struct {
	prefix string
	w      io.Writer

	mu  sync.Mutex
	buf []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := io.WriteString(p.w, p.prefix+string(p.buf[:i+1])); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		_, _ = io.WriteString(p.w, p.prefix+string(p.buf)+"\n")
		p.buf = nil
	}
}

// lockedWriter serialises writes from the parent's logger and the
// children's output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
