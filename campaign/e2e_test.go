package campaign_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/store"
	"github.com/wacamp/wacamp/throttle"
)

const testToken = "test-token-0123456789abcdef"

func getenv(k string) string {
	if k == "SIM_TOKEN" {
		return testToken
	}
	return ""
}

// fastOpts are engine options scaled down so a test runs in seconds.
func fastOpts() delivery.Options {
	return delivery.Options{
		Lease:          3 * time.Second,
		AmbiguousDelay: 300 * time.Millisecond,
		SettleWindow:   1500 * time.Millisecond,
		// The production plan's shape (delivery.DefaultPollPlan) in
		// fractions of a second: the simulators deliver within 200 ms.
		Polls:       delivery.PollPlan{First: 300 * time.Millisecond, Offline: time.Second, ReadWindow: time.Second, Retry: 300 * time.Millisecond},
		TrackFor:    time.Minute,
		StaleAfter:  3 * time.Second,
		FeedAhead:   2 * time.Second,
		TaskTimeout: 20 * time.Second,
	}
}

// checkEvery is how often a test's workers look for tasks whose wait or
// retry delay has passed (1 s in production).
const checkEvery = 100 * time.Millisecond

// fastRetry is delivery.RetryDelay with the back-off of failures (and a
// provider's Retry-After) a twentieth as long: the tests count tries, not
// seconds. Waits (a lease, a pair interval, a budget, a step not due) keep
// their length, as a shorter one would only run the task again to wait.
func fastRetry(n int, err error, t *asynq.Task) time.Duration {
	d := delivery.RetryDelay(n, err, t)
	if delivery.IsFailure(err) {
		return d / 20
	}
	return d
}

// bench is one test's world: a store, a Redis database, a simulator.
type bench struct {
	t     *testing.T
	db    *store.DB
	rds   testenv.Redis
	sim   *botsailorsim.Server
	url   string
	dir   string
	opts  delivery.Options
	conns *app.Conns
	// accountYAML and broadcastYAML are extra lines for the account and
	// broadcast writeCampaign writes (indented 4 spaces).
	accountYAML, broadcastYAML string
	// serviceWindow is the account's customer_service_window in
	// writeCampaign ("" = not_enforced: the simulators enforce no window).
	serviceWindow string
	// firstPhone offsets the phone numbers writeCampaign generates;
	// phones, when set, are its first recipients instead.
	firstPhone int
	phones     []string
	// recipients, when set, replaces the workers' recipient limits.
	recipients delivery.RecipientLimits
	// fastChecks makes runProviderYAML's worker look for due tasks every
	// checkEvery and back off failures per fastRetry, as startWorker's
	// always do. Off, it keeps the production cadence (the settle-window
	// tests, whose webhooks race the window's end, run so).
	fastChecks bool
	// client and insp serve every service call of the test.
	queueOnce sync.Once
	client    *asynq.Client
	insp      *asynq.Inspector
}

// deployment is what the end-to-end tests run on.
type deployment struct {
	name  string
	redis func(testing.TB) testenv.Redis
	store func(testing.TB) *store.DB
}

// deployments are run through the same code: one Redis database and
// Postgres directly; and a fleet's, a private Redis Cluster of three
// masters and Postgres through PgBouncer in transaction mode (the store
// migrated through it too).
var deployments = []deployment{
	{"single", testenv.NewRedis, testenv.NewStore},
	{"fleet", testenv.NewRedisCluster, testenv.NewStoreThroughPgBouncer},
}

// onEachDeployment runs test as a parallel subtest on each of deployments.
func onEachDeployment(t *testing.T, test func(t *testing.T, d deployment)) {
	t.Helper()
	for _, d := range deployments {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			test(t, d)
		})
	}
}

// newBenchIn is newBench in deployment d.
func newBenchIn(t *testing.T, simOpts botsailorsim.Options, d deployment) *bench {
	t.Helper()
	return newBenchWith(t, simOpts, d.redis(t), d.store(t))
}

func newBench(t *testing.T, simOpts botsailorsim.Options) *bench {
	t.Helper()
	return newBenchOn(t, simOpts, testenv.NewRedis(t))
}

// newBenchOn is newBench on a given Redis.
func newBenchOn(t *testing.T, simOpts botsailorsim.Options, rds testenv.Redis) *bench {
	t.Helper()
	return newBenchWith(t, simOpts, rds, testenv.NewStore(t))
}

// newBenchWith is newBench on a given Redis and store.
func newBenchWith(t *testing.T, simOpts botsailorsim.Options, rds testenv.Redis, db *store.DB) *bench {
	t.Helper()
	simOpts.Tokens = []string{testToken}
	sim := botsailorsim.New(simOpts)
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	b := &bench{t: t, db: db, rds: rds, sim: sim, url: ts.URL + "/api/v1", dir: t.TempDir(), opts: fastOpts()}
	// What the engine logs shows when a test fails.
	b.opts.Logger = testenv.Logger(t, slog.LevelInfo)
	b.conns = &app.Conns{Redis: b.rds.Opt, RedisClient: b.rds.Client, Store: b.db}
	return b
}

// writeCampaign writes a YAML file with one account and one broadcast of n
// recipients (in a CSV) and returns its path.
func (b *bench) writeCampaign(name string, n int, rate int, message string) string {
	b.t.Helper()
	var csv strings.Builder
	csv.WriteString("phone,name,code\n")
	for i := range n {
		if i < len(b.phones) {
			fmt.Fprintf(&csv, "%s,Person %d,C%d\n", b.phones[i], i, i)
			continue
		}
		fmt.Fprintf(&csv, "49151%08d,Person %d,C%d\n", b.firstPhone+i, i, i)
	}
	require.NoError(b.t, os.WriteFile(filepath.Join(b.dir, name+".csv"), []byte(csv.String()), 0o600))
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: %s
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: %d
%s
broadcasts:
  - name: %s
    account: main
%s
    audience:
      csv: %s.csv
    message:
%s
`, cmp.Or(b.serviceWindow, "not_enforced"), b.url, rate, b.accountYAML, name, b.broadcastYAML, name, message)
	p := filepath.Join(b.dir, name+".yaml")
	require.NoError(b.t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

func (b *bench) apply(path string) []store.Change {
	b.t.Helper()
	bundle, err := spec.Load(path, getenv, drivers.Catalog{})
	require.NoError(b.t, err)
	ch, err := b.db.Apply(context.Background(), bundle, time.Now())
	require.NoError(b.t, err)
	return ch
}

// startWorker runs one worker (its send and poll servers) until the test ends.
func (b *bench) startWorker(concurrency int) *app.Worker {
	b.t.Helper()
	recipients := b.recipients
	if recipients == nil {
		recipients = throttle.NewRecipients(b.rds.Client)
	}
	srv := app.NewWorker(b.conns, app.WorkerConfig{
		Concurrency: concurrency,
		Senders:     &app.Senders{Getenv: getenv},
		Limiter:     throttle.NewFleet(b.rds.NewClient(b.t)),
		Outcomes:    throttle.NewOutcomes(b.rds.Client),
		Recipients:  recipients,
		Campaign:    b.opts,
		Logger:      b.opts.Logger,
		CheckEvery:  checkEvery,
		RetryDelay:  fastRetry,
	})
	require.NoError(b.t, srv.Start())
	b.t.Cleanup(srv.Shutdown)
	return srv
}

// startScheduler runs a feeder loop until stop is called or the test ends.
func (b *bench) startScheduler() (stop func()) {
	b.t.Helper()
	f, _ := b.feeder() // its cleanup runs after stop's (last in, first out)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = f.Run(ctx, 100*time.Millisecond)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// service is a Service on the bench with b.opts as they are now. Its
// queue client and inspector are the bench's, made at the first call and
// closed when the test ends: waits call this every few milliseconds.
func (b *bench) service() *campaign.Service {
	b.queueOnce.Do(func() {
		b.client, b.insp = asynq.NewClient(b.rds.Opt), asynq.NewInspector(b.rds.Opt)
		b.t.Cleanup(func() { _ = b.client.Close(); _ = b.insp.Close() })
	})
	return campaign.NewService(b.db, b.client, b.insp, b.opts)
}

func (b *bench) counts(name string) map[string]int {
	b.t.Helper()
	r, err := b.service().Status(context.Background(), name)
	require.NoError(b.t, err)
	return r.Counts
}

// minWait is the least time waitFor gives a condition: what takes 10 s
// alone took 80 s when the whole suite and a browser shared the two cores.
// A wait only ends sooner when the condition holds, so a longer one costs
// nothing unless the test fails.
const minWait = 3 * time.Minute

// waitFor polls cond (a database condition: there is no event to wait on
// across the worker pool) until it holds or timeout (at least minWait)
// passes; on a timeout the test fails with what and what each of explain
// returns.
func (b *bench) waitFor(timeout time.Duration, what string, cond func() bool, explain ...func() string) {
	b.t.Helper()
	if assert.Eventually(b.t, cond, max(timeout, minWait), 50*time.Millisecond, what) {
		return
	}
	for _, e := range explain {
		b.t.Log(e())
	}
	b.t.FailNow()
}

// stuck describes a broadcast's deliveries that have not reached a final
// status (at most five), for a failure message.
func (b *bench) stuck(name string) string {
	var out []string
	for _, r := range b.export(name) {
		switch r.Status {
		case "delivered", "read", "failed", "skipped", "expired":
			continue
		}
		if len(out) < 5 {
			out = append(out, fmt.Sprintf("%+v", r))
		}
	}
	return "not final: " + strings.Join(out, "; ")
}

func (b *bench) export(name string) []delivery.Row {
	b.t.Helper()
	var rows []delivery.Row
	require.NoError(b.t, b.service().Export(context.Background(), name, func(r delivery.Row) error {
		rows = append(rows, r)
		return nil
	}))
	return rows
}

// requireOncePerPhone asserts the simulator accepted exactly one message
// for every recipient, and nothing else.
func (b *bench) requireOncePerPhone(rows []delivery.Row) {
	b.t.Helper()
	seen := map[string]int{}
	for _, s := range b.sim.Sends() {
		seen[s.Phone]++
	}
	for _, r := range rows {
		if r.Status.Accepted() || r.Status == delivery.Failed && r.WAMID != "" {
			require.Equal(b.t, 1, seen[r.Phone], "phone %s got %d messages", r.Phone, seen[r.Phone])
		}
	}
	for p, n := range seen {
		require.Equal(b.t, 1, n, "phone %s got %d messages", p, n)
	}
}

func TestBroadcastEndToEnd(t *testing.T) {
	t.Parallel()
	onEachDeployment(t, func(t *testing.T, d deployment) {
		b := newBenchIn(t, botsailorsim.Options{
			Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 200 * time.Millisecond, ReadAfter: 300 * time.Millisecond, ReadShare: 0.5, FailShare: 0.02, Seed: 7, RatePerSecond: 250}}, d)
		const n = 500
		path := b.writeCampaign("bf", n, 250, `      text: "Hi {{name}}, your code is {{code}}"`)
		ch := b.apply(path)
		require.Equal(t, "created", ch[1].Action)

		b.startWorker(20)
		b.startWorker(20)
		stop := b.startScheduler()

		// Mid-run: stop the scheduler, re-apply the same YAML, start another.
		b.waitFor(30*time.Second, "a third sent", func() bool { return b.sim.Stats().Accepted >= n/3 })
		stop()
		for _, c := range b.apply(path) {
			require.Equal(t, "unchanged", c.Action, "%s %s", c.Kind, c.Name)
		}
		b.startScheduler()

		var c map[string]int
		b.waitFor(120*time.Second, "every delivery final", func() bool {
			c = b.counts("bf")
			return c["delivered"]+c["read"]+c["failed"] == n
		}, func() string { return fmt.Sprintf("counts %v; %s", c, b.stuck("bf")) })
		rows := b.export("bf")
		require.Len(t, rows, n)
		wamids := map[string]bool{}
		for _, r := range rows {
			require.NotEmpty(t, r.WAMID, "delivery %d (%s) has no wamid", r.ID, r.Status)
			require.False(t, wamids[r.WAMID], "wamid %s recorded twice", r.WAMID)
			wamids[r.WAMID] = true
			require.NotNil(t, r.SentAt)
			if r.Status == delivery.Failed {
				require.Equal(t, "131026", r.ErrorCode)
			}
		}
		require.Equal(t, n, b.sim.Stats().Accepted)
		b.requireOncePerPhone(rows)
		// The simulator enforces the account's rate per phone number: two
		// workers sharing the fleet limiter never hit it.
		require.Zero(t, b.sim.Stats().RateLimited, "rate-limit answers from the provider")
		t.Logf("worst one-second window at the provider: %d sends (limit 250)", worstSecond(b.sim.Sends()))
		st, err := b.service().Status(context.Background(), "bf")
		require.NoError(t, err)
		require.Equal(t, campaign.StatusCompleted, st.Status)
		// Every message text was rendered for its recipient.
		for _, s := range b.sim.Sends()[:10] {
			require.Regexp(t, `^Hi Person \d+, your code is C\d+$`, s.Text)
		}
	})
}

func TestDroppedConnectionsNeverDuplicate(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{
		Knobs: sim.Knobs{DropAfterAcceptRate: 0.2, Fail5xxRate: 0.05, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 3}})
	b.accountYAML = "    pair_interval: 0s" // a retry after a 5xx goes at once
	const n = 300
	b.apply(b.writeCampaign("drops", n, 300, `      text: "Hello {{name}}"`))
	b.startWorker(10)
	b.startWorker(10)
	b.startScheduler()
	var c map[string]int
	b.waitFor(120*time.Second, "every delivery final", func() bool {
		c = b.counts("drops")
		return c["delivered"]+c["failed"] == n
	}, func() string { return fmt.Sprintf("counts %v; %s", c, b.stuck("drops")) })
	require.Greater(t, b.sim.Stats().Dropped, 20, "the simulator should have dropped answers")
	rows := b.export("drops")
	require.Len(t, rows, n)
	b.requireOncePerPhone(rows)
	require.Equal(t, n, b.sim.Stats().Accepted)
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }

func startServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// worstSecond is the most sends the simulator accepted in any one-second
// window.
func worstSecond(sends []botsailorsim.Send) int {
	worst := 0
	for i := range sends {
		n := 0
		for j := i; j < len(sends) && sends[j].At.Sub(sends[i].At) < time.Second; j++ {
			n++
		}
		worst = max(worst, n)
	}
	return worst
}

// exportPlanned plans a broadcast's deliveries without starting it (one
// feeder tick would start it) and lists its recipients by delivery id.
func (b *bench) exportPlanned(name string) []delivery.Row {
	b.t.Helper()
	br, err := b.db.BroadcastByName(context.Background(), name)
	require.NoError(b.t, err)
	_, _, err = b.db.PlanBatch(context.Background(), br.ID, 0, 1_000_000, time.Now())
	require.NoError(b.t, err)
	return b.export(name)
}

// interceptSends puts a handler in front of the simulator for text sends:
// answer gets the recipient's phone and returns the JSON to answer with, or
// "" to let the simulator take the send. It is called concurrently. Call it
// before writing the campaign, which takes b.url.
func (b *bench) interceptSends(answer func(phone string) string) {
	b.interceptSendsHTTP(func(p string) (int, string) { return http.StatusOK, answer(p) })
}

// interceptSendsHTTP is interceptSends with the answer's HTTP status.
func (b *bench) interceptSendsHTTP(answer func(phone string) (status int, body string)) {
	inner := b.sim
	b.url = startServer(b.t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/whatsapp/send") {
			_ = r.ParseForm()
			if status, body := answer(r.PostForm.Get("phone_number")); body != "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = w.Write([]byte(body))
				return
			}
		}
		inner.ServeHTTP(w, r)
	})) + "/api/v1"
}

// feeder returns a Feeder on the bench, with b.opts as they are now and
// Redis data loss detection, and an inspector of its Redis; both close when
// the test ends.
func (b *bench) feeder() (*campaign.Feeder, *asynq.Inspector) {
	client := asynq.NewClient(b.rds.Opt)
	insp := asynq.NewInspector(b.rds.Opt)
	b.t.Cleanup(func() { _ = client.Close(); _ = insp.Close() })
	f := campaign.NewFeeder(b.db, client, insp, b.opts)
	f.DetectLoss(app.NewRedisLoss(b.rds.Client)) // as `scheduler run` does
	return f, insp
}

// firstQueued runs one tick of f and returns the first delivery of the
// broadcast name, which that tick queued.
func (b *bench) firstQueued(f *campaign.Feeder, name string) delivery.Job {
	b.t.Helper()
	ctx := context.Background()
	require.NoError(b.t, f.Tick(ctx))
	rows := b.export(name)
	job, err := b.db.Job(ctx, rows[0].ID)
	require.NoError(b.t, err)
	require.Equal(b.t, delivery.Queued, job.Status)
	return job
}
