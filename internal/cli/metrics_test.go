package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

// metricsURL waits for a daemon's log line naming its metrics URL; the
// nth such line (0-based) in the world's output.
func (w *world) metricsURL(n int) string {
	re := regexp.MustCompile(`metrics: serving [^\n]*url=(http://\S+)/metrics`)
	var url string
	require.Eventually(w.t, func() bool {
		m := re.FindAllStringSubmatch(w.all.String(), -1)
		if len(m) <= n {
			return false
		}
		url = m[n][1]
		return true
	}, 30*time.Second, 20*time.Millisecond)
	return url
}

// scrapeSum sums the samples of family whose labels include want (0 when
// the family has none yet).
func scrapeSum(t *testing.T, base, family string, want map[string]string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	sum := 0.0
	f, ok := fams[family]
	if !ok {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A worker's /metrics, scraped over HTTP while it sends a broadcast to the
// simulator (which refuses some requests with 5xx), counts exactly the
// sends Postgres records as accepted, and the refusals apart; the
// scheduler's gauges show the broadcast's deliveries per state as
// `status` does; both are ready.
func TestMetricsCountWhatTheWorkerSent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Answers lost after acceptance would be found by reconciliation (no
	// accepted answer to count): only refusals here.
	w.sim.SetOptions(func(o *botsailorsim.Options) { o.DropAfterAcceptRate = 0 })
	path := w.campaign(120)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)

	w.daemon(cli.Worker, "-concurrency", "10", "-metrics-addr", "127.0.0.1:0", "-webhook-addr", "127.0.0.1:0")
	worker := w.metricsURL(0)
	w.daemon(cli.Scheduler, "run", "-interval", "100ms", "-metrics-addr", "127.0.0.1:0")
	sched := w.metricsURL(1)

	var st struct {
		Status string         `json:"status"`
		Counts map[string]int `json:"counts"`
	}
	require.Eventually(t, func() bool {
		code, out := w.run("status", "promo", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Status == "completed" && st.Counts["delivered"]+st.Counts["failed"] == 120
	}, 90*time.Second, 200*time.Millisecond)
	accepted := st.Counts["sent"] + st.Counts["delivered"] + st.Counts["read"]
	require.Equal(t, 120, accepted)

	// (wabotick is a name of the botsailor driver.)
	byResult := map[string]string{"provider": "botsailor", "account": "main"}
	sends := func(result string) float64 {
		byResult["result"] = result
		return scrapeSum(t, worker, "wacamp_sends_total", byResult)
	}
	require.Equal(t, float64(accepted), sends("accepted"), "accepted sends counted = deliveries Postgres records as accepted")
	require.Equal(t, float64(w.sim.Stats().Accepted), sends("accepted"))
	refused := float64(w.sim.Stats().Rejected5xx)
	require.Positive(t, refused, "the simulator refused some sends")
	require.Equal(t, refused, sends("transient")+sends("ambiguous"), "each refusal is counted once, apart")
	require.Equal(t, float64(accepted)+refused, scrapeSum(t, worker, "wacamp_send_duration_seconds", map[string]string{"account": "main"}), "every request is timed")
	require.GreaterOrEqual(t, scrapeSum(t, worker, "wacamp_rate_limit_wait_seconds", map[string]string{"account": "main"}), float64(accepted))
	// Every wait the engine returned said what it was for (retries after
	// a refusal meet the pair interval, say): none is counted as "other".
	require.Zero(t, scrapeSum(t, worker, "wacamp_deferrals_total", map[string]string{"reason": "other"}))

	// The scheduler's gauges agree with `status` (read at the scrape).
	for _, state := range []string{"delivered", "failed", "planned"} {
		require.Equal(t, float64(st.Counts[state]), scrapeSum(t, sched, "wacamp_deliveries", map[string]string{"campaign": "promo", "state": state}), state)
	}
	require.Equal(t, 1.0, scrapeSum(t, sched, "wacamp_broadcast_status", map[string]string{"campaign": "promo", "status": "completed"}))
	require.Equal(t, 0.0, scrapeSum(t, sched, "wacamp_queue_tasks", map[string]string{"queue": "broadcast", "state": "pending"}))

	for _, base := range []string{worker, sched} {
		code, body := get(t, base+"/readyz")
		require.Equal(t, http.StatusOK, code, body)
		require.Equal(t, "redis: ok\npostgres: ok\nmigrations: ok\n", body)
		code, body = get(t, base+"/healthz")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "ok\n", body)
	}
	code, body := get(t, worker+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.NotContains(t, body, "31610000", "no phone number in a label")

	// The worker's webhook receiver counts its answers: a stranger's
	// request is refused, and counted as such.
	var hooks string
	require.Eventually(t, func() bool {
		m := regexp.MustCompile(`webhooks: listening"? addr=(\S+)`).FindStringSubmatch(w.all.String())
		if m != nil {
			hooks = m[1]
		}
		return m != nil
	}, 30*time.Second, 20*time.Millisecond)
	resp, err := http.Post("http://"+hooks+"/webhooks/nobody/not-the-secret", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, 1.0, scrapeSum(t, worker, "wacamp_webhook_requests_total", map[string]string{"result": "unauthorized"}))
	require.Equal(t, 0.0, scrapeSum(t, worker, "wacamp_webhook_requests_total", map[string]string{"result": "accepted"}))
}

// The commands refuse to serve metrics beyond loopback without a token,
// before connecting to anything; with WACAMP_METRICS_TOKEN the endpoints
// need it.
func TestMetricsBeyondLoopbackNeedAToken(t *testing.T) {
	t.Parallel()
	for name, run := range map[string]func(ctx context.Context, args []string, io cli.IO) error{
		"worker": cli.Worker,
		"scheduler run": func(ctx context.Context, args []string, io cli.IO) error {
			return cli.Scheduler(ctx, append([]string{"run"}, args...), io)
		},
		"asynqmon": cli.Asynqmon,
	} {
		out := &syncBuf{}
		env := map[string]string{"REDIS_URL": "redis://" + testenv.ClosedAddr(t) + "/0", "DATABASE_URL": "postgres://u@" + testenv.ClosedAddr(t) + "/x"}
		err := run(context.Background(), []string{"-metrics-addr", "0.0.0.0:0"}, cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return env[k] }})
		require.Equal(t, 2, cli.Exit(err, out), "%s: %s", name, out)
		require.Contains(t, out.String(), "WACAMP_METRICS_TOKEN", name)
		require.NotContains(t, out.String(), "connection refused", "%s: refused before connecting", name)
	}

	w := newWorld(t)
	const token = "metrics-token-5d1e"
	w.env["WACAMP_METRICS_TOKEN"] = token
	w.daemon(cli.Worker, "-concurrency", "2", "-metrics-addr", "0.0.0.0:0")
	base := w.metricsURL(0)
	base = strings.Replace(base, "0.0.0.0", "127.0.0.1", 1)
	base = strings.Replace(base, "[::]", "127.0.0.1", 1)
	code, _ := get(t, base+"/metrics")
	require.Equal(t, http.StatusUnauthorized, code)
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", fmt.Sprintf("Bearer %s", token))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, w.all.String(), token, "the token is never logged")
}
