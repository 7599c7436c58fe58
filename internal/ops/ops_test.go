package ops_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/templates"
)

// fakeSender answers sends with the errors in errs, in turn.
type fakeSender struct {
	delivery.Sender
	errs []error
}

func (f *fakeSender) Send(context.Context, string, templates.Message) (provider.SendResult, error) {
	err := f.errs[0]
	f.errs = f.errs[1:]
	return provider.SendResult{WAMID: "w"}, err
}

func (f *fakeSender) MessageStatus(context.Context, string) (provider.StatusReport, error) {
	return provider.StatusReport{}, nil
}

type fakeSenders struct{ s delivery.Sender }

func (f fakeSenders) Sender(context.Context, delivery.Account) (delivery.Sender, error) {
	return f.s, nil
}

type fakeInspector struct{ err error }

func (f fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &asynq.QueueInfo{Queue: q, Pending: 3, Latency: 2 * time.Second}, nil
}

// scrape returns /metrics of h as text.
func scrape(t *testing.T, h http.Handler, token string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// exercised returns metrics each of which has been touched once (a
// scheduler's collectors included), so that every family is gathered.
func exercised(t *testing.T) *ops.Metrics {
	t.Helper()
	m := ops.New()
	acct := delivery.Account{Name: "main", Provider: "botsailor"}
	ss := m.Senders(fakeSenders{&fakeSender{errs: []error{nil, &provider.Error{HTTPStatus: 429, Class: provider.ClassTransient}}}})
	s, err := ss.Sender(context.Background(), acct)
	require.NoError(t, err)
	again, _ := ss.Sender(context.Background(), acct)
	require.Same(t, s, again, "an account's counting client is built once")
	_, _ = s.Send(context.Background(), "4915100000001", templates.Message{})
	_, _ = s.Send(context.Background(), "4915100000001", templates.Message{})
	_, _ = s.MessageStatus(context.Background(), "w")
	m.RateWaited("main", 30*time.Millisecond)
	m.Deferred("main", delivery.WaitPair)
	m.Deferred("main", delivery.WaitPair)
	hook := m.Webhooks(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusUnauthorized) }))
	hook.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/webhooks/x", nil))
	m.CollectCampaigns(func(context.Context) ([]ops.Campaign, error) {
		return []ops.Campaign{{Name: "promo", Status: "running", Counts: map[string]int{"sent": 7}}}, nil
	})
	m.CollectPollLag(func(context.Context) (time.Time, bool, error) { return time.Now().Add(-time.Minute), true, nil }, nil)
	m.CollectSequences(func(context.Context) ([]ops.Sequence, error) {
		return []ops.Sequence{{Name: "welcome", InFlight: 12, OldestDue: time.Now().Add(-time.Minute)}, {Name: "later", OldestDue: time.Now().Add(time.Hour)}}, nil
	}, nil)
	m.CollectQueues(fakeInspector{}, "broadcast", "status")
	return m
}

// Every family in Names is what a process exports once each metric has
// been touched, and nothing else of ours: the list the dashboard test
// checks against is the truth. A failed scrape-time read is counted.
func TestNamesAreTheRegisteredFamilies(t *testing.T) {
	t.Parallel()
	m := exercised(t)
	bad := ops.New()
	bad.CollectQueues(fakeInspector{err: errors.New("redis down")}, "broadcast")
	_, _ = bad.Registry().Gather()

	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	var ours []string
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "wacamp_") {
			ours = append(ours, f.GetName())
		}
	}
	badFams, err := bad.Registry().Gather()
	require.NoError(t, err)
	for _, f := range badFams {
		if f.GetName() == ops.NameCollectErrors {
			ours = append(ours, f.GetName())
		}
	}
	want := slices.Clone(ops.Names)
	slices.Sort(want)
	slices.Sort(ours)
	require.Equal(t, want, slices.Compact(ours))

	code, body := scrape(t, ops.Server{Gatherer: m.Registry()}.Handler(), "")
	require.Equal(t, http.StatusOK, code)
	for _, line := range []string{
		`wacamp_sends_total{account="main",provider="botsailor",result="accepted"} 1`,
		`wacamp_sends_total{account="main",provider="botsailor",result="rate_limited"} 1`,
		`wacamp_sends_total{account="main",provider="botsailor",result="permanent"} 0`,
		`wacamp_send_duration_seconds_count{account="main",provider="botsailor"} 2`,
		`wacamp_status_polls_total{account="main",provider="botsailor",result="ok"} 1`,
		`wacamp_rate_limit_wait_seconds_count{account="main"} 1`,
		`wacamp_deferrals_total{account="main",reason="pair_interval"} 2`,
		`wacamp_webhook_requests_total{result="unauthorized"} 1`,
		`wacamp_webhook_requests_total{result="accepted"} 0`,
		`wacamp_deliveries{campaign="promo",state="sent"} 7`,
		`wacamp_deliveries{campaign="promo",state="failed"} 0`,
		`wacamp_broadcast_status{campaign="promo",status="running"} 1`,
		`wacamp_queue_tasks{queue="status",state="pending"} 3`,
		`wacamp_queue_oldest_task_age_seconds{queue="broadcast"} 2`,
	} {
		require.Contains(t, body, line+"\n")
	}
	require.Regexp(t, `wacamp_status_poll_lag_seconds (5\d|6\d)(\.\d+)?(e\+\d+)?\n`, body)
	require.Contains(t, body, `wacamp_sequence_steps_in_flight{sequence="welcome"} 12`+"\n")
	require.Contains(t, body, `wacamp_sequence_steps_in_flight{sequence="later"} 0`+"\n")
	require.Regexp(t, `wacamp_sequence_step_lag_seconds\{sequence="welcome"\} (5\d|6\d)(\.\d+)?(e\+\d+)?\n`, body)
	require.Contains(t, body, `wacamp_sequence_step_lag_seconds{sequence="later"} 0`+"\n", "not due yet: no lag")
	_, body = scrape(t, ops.Server{Gatherer: bad.Registry()}.Handler(), "")
	require.Contains(t, body, `wacamp_collect_errors_total{collector="queues"} `)
}

// Beyond loopback the server needs a token or an explicit opt-out; with a
// token, /metrics and /readyz need it (compared exactly) and /healthz
// does not.
func TestAuthRule(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr, token string
		noAuth      bool
		ok          bool
	}{
		{"127.0.0.1:9470", "", false, true},
		{"[::1]:9470", "", false, true},
		{"localhost:9470", "", false, true},
		{":9470", "", false, false},
		{"0.0.0.0:9470", "", false, false},
		{"10.1.2.3:9470", "", false, false},
		{"0.0.0.0:9470", "t0ken", false, true},
		{"0.0.0.0:9470", "", true, true},
	} {
		err := ops.CheckAuth(c.addr, c.token, c.noAuth)
		require.Equal(t, c.ok, err == nil, "%+v: %v", c, err)
		if !c.ok {
			require.ErrorIs(t, err, ops.ErrNoToken)
		}
	}
	// Serve refuses at once, without listening.
	err := ops.Serve(context.Background(), ops.Server{Addr: "0.0.0.0:0"})
	require.ErrorIs(t, err, ops.ErrNoToken)

	const token = "s3cret-metrics-token"
	ts := httptest.NewServer(ops.Server{Gatherer: ops.New().Registry(), Token: token,
		Checks: []ops.Check{{Name: "always", Func: func(context.Context) error { return nil }}}}.Handler())
	defer ts.Close()
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", 401}, {"/metrics", "Bearer wrong", 401}, {"/metrics", "Bearer " + token + "x", 401},
		{"/metrics", token, 401}, {"/metrics", "Basic " + token, 401}, {"/metrics", "Bearer " + token, 200},
		{"/readyz", "", 401}, {"/readyz", "Bearer " + token, 200},
		{"/healthz", "", 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+c.path, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, c.want, resp.StatusCode, "%s with %q", c.path, c.auth)
		require.NotContains(t, string(body), token)
	}
}

// Serve listens, serves until its context ends, and then returns nil.
func TestServeStopsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- ops.Serve(ctx, ops.Server{Addr: "127.0.0.1:0", Gatherer: ops.New().Registry(), Listening: func(a net.Addr) { addrs <- a }})
	}()
	addr := <-addrs
	resp, err := http.Get("http://" + addr.String() + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "ok\n", string(body))
	resp, err = http.Get("http://" + addr.String() + "/metrics")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "go_goroutines ")
	require.Contains(t, string(body), "process_start_time_seconds ")
	cancel()
	require.NoError(t, <-done)
}

// /readyz is 503 naming each check that fails, 200 when all pass.
func TestReadyzNamesWhatIsNotReady(t *testing.T) {
	t.Parallel()
	var redisDown = errors.New("connection refused")
	s := ops.Server{Checks: []ops.Check{
		{Name: "redis", Func: func(context.Context) error { return redisDown }},
		{Name: "postgres", Func: func(context.Context) error { return nil }},
	}}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "redis: not ready: connection refused\npostgres: ok\n", rec.Body.String())

	redisDown = nil
	rec = httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	require.Equal(t, http.StatusOK, rec.Code)
}

// The token is WACAMP_METRICS_TOKEN, else the trimmed content of the
// secret file; an empty or missing file is an error that does not quote it.
func TestLoadToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	for _, c := range []struct{ value, file, want string }{
		{"", "", ""}, {"from-env", file, "from-env"}, {"", file, "from-file"},
	} {
		got, err := ops.LoadToken(c.value, c.file)
		require.NoError(t, err)
		require.Equal(t, c.want, got)
	}
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte(" \n"), 0o600))
	_, err := ops.LoadToken("", empty)
	require.ErrorContains(t, err, "WACAMP_METRICS_TOKEN_FILE: the file is empty")
	_, err = ops.LoadToken("", filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "WACAMP_METRICS_TOKEN_FILE")
}
