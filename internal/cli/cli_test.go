package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/cli"
	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
)

const secret = "SECRET-token-7f3a9c1e5b2d"

// syncBuf is a goroutine-safe buffer for command output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type world struct {
	t      *testing.T
	env    map[string]string
	all    *syncBuf // everything any command printed
	dir    string
	simURL string
	sim    *botsailorsim.Server
	now    func() time.Time // the commands' clock; nil is the wall clock
}

func newWorld(t *testing.T) *world {
	sim := botsailorsim.New(botsailorsim.Options{Tokens: []string{secret}, Knobs: sim.Knobs{DropAfterAcceptRate: 0.1, Fail5xxRate: 0.1, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 5}})
	ts := httptest.NewServer(sim)
	t.Cleanup(ts.Close)
	w := &world{t: t, all: &syncBuf{}, dir: t.TempDir(), simURL: ts.URL + "/api/v1", sim: sim, env: map[string]string{
		"DATABASE_URL":     testenv.NewMigratedDatabase(t),
		"REDIS_URL":        testenv.NewRedis(t).URL,
		"SIM_TOKEN":        secret,
		"WACAMP_LOG_LEVEL": "debug",
		// Small pools: several tests run at once against one Postgres
		// that allows 100 connections in all.
		"WACAMP_DB_MAX_CONNS": "4",
		// Deliveries are confirmed by a status poll: the first comes 1 s
		// after the send, not a minute.
		"WACAMP_FIRST_POLL": "1s",
	}}
	return w
}

func (w *world) io(out *syncBuf) cli.IO {
	return cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string { return w.env[k] }, Now: w.now}
}

// run runs a scheduler command to completion and returns its exit code and output.
func (w *world) run(args ...string) (int, string) {
	out := &syncBuf{}
	code := cli.Exit(cli.Scheduler(context.Background(), args, w.io(out)), out)
	w.all.Write([]byte(out.String()))
	return code, out.String()
}

// daemon starts a long-running command until the test ends.
func (w *world) daemon(f func(context.Context, []string, cli.IO) error, args ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f(ctx, args, w.io(w.all))
	}()
	w.t.Cleanup(func() { cancel(); <-done })
}

func (w *world) write(name, content string) string {
	p := filepath.Join(w.dir, name)
	require.NoError(w.t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// sequence writes s.yaml: an account on the simulator and the sequence
// onboarding with steps (each a YAML flow mapping), and returns its path.
func (w *world) sequence(steps ...string) string {
	return w.write("s.yaml", `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: `+w.simURL+`
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    daily_unique_limit: unlimited
sequences:
  - name: onboarding
    account: main
    steps:
      - `+strings.Join(steps, "\n      - ")+"\n")
}

func (w *world) campaign(n int) string {
	var csv strings.Builder
	csv.WriteString("phone,name\n")
	for i := range n {
		fmt.Fprintf(&csv, "3161%07d,P%d\n", i, i)
	}
	w.write("people.csv", csv.String())
	return w.write("c.yaml", `accounts:
  - name: main
    provider: wabotick
    customer_service_window: not_enforced
    base_url: `+w.simURL+`
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
    rate_per_second: 200
    daily_unique_limit: 2000
broadcasts:
  - name: promo
    account: main
    audience: {csv: people.csv}
    message: {text: "Hello {{name}}"}
`)
}

func TestCommandsEndToEndNeverPrintTheToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.campaign(150)

	code, out := w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "broadcast promo: 150 recipients")

	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "created")
	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "created")
	require.NotContains(t, out, "updated")

	w.daemon(cli.Worker, "-concurrency", "10")
	w.daemon(cli.Worker, "-concurrency", "10")
	w.daemon(cli.Scheduler, "run", "-interval", "100ms")

	var st struct {
		Status string         `json:"status"`
		Counts map[string]int `json:"counts"`
	}
	require.Eventually(t, func() bool {
		code, out := w.run("status", "promo", "--json")
		return code == 0 && json.Unmarshal([]byte(out), &st) == nil && st.Counts["delivered"]+st.Counts["failed"] == 150
	}, 90*time.Second, 200*time.Millisecond)
	require.Equal(t, "completed", st.Status)
	for _, k := range []string{"planned", "queued", "sending", "sent", "delivered", "read", "failed", "skipped", "expired"} {
		require.Contains(t, st.Counts, k)
	}

	code, out = w.run("status", "promo")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "progress")
	require.Contains(t, out, "100.0%")
	require.Contains(t, out, "budget     150 of 2000 unique recipients in the last 24 h (number:1190600)\n")
	// Without REDIS_URL the budget is not read from whatever Redis runs
	// on the default address: it is left out, and status says so.
	env := maps.Clone(w.env)
	delete(env, "REDIS_URL")
	noRedis := &syncBuf{}
	code = cli.Exit(cli.Scheduler(context.Background(), []string{"status", "promo"},
		cli.IO{Stdout: noRedis, Stderr: noRedis, Getenv: func(k string) string { return env[k] }, Now: w.now}), noRedis)
	require.Equal(t, 0, code, noRedis.String())
	require.Contains(t, noRedis.String(), "REDIS_URL is not set: the daily unique-recipient budget (kept in Redis) is not shown")
	require.Contains(t, noRedis.String(), "100.0%")
	require.NotContains(t, noRedis.String(), "budget     ")

	code, out = w.run("export", "promo")
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 150)
	for _, l := range lines {
		var row map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &row))
		for _, k := range []string{"phone", "status", "wamid", "error", "sent_at", "updated_at"} {
			require.Contains(t, row, k)
		}
		require.NotEmpty(t, row["wamid"])
	}
	require.Equal(t, 150, w.sim.Stats().Accepted)
	require.Greater(t, w.sim.Stats().Dropped+w.sim.Stats().Rejected5xx, 0, "faults were exercised")

	code, out = w.run("pause", "promo")
	require.Equal(t, 2-1, code, out) // completed broadcasts cannot be paused
	require.Contains(t, out, "invalid state transition")

	require.NotContains(t, w.all.String(), secret, "the API token appeared in command output or logs")
	require.Contains(t, w.all.String(), "level=DEBUG", "debug logging was on")
}

func TestBadInputIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.write("people.csv", "phone,name\n4915112345678,Ann\n12,Bob\n")
	path := w.write("bad.yaml", `accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: https://example.invalid/api/v1
    api_token: ${SIM_TOKEN}
    phone_number_id: "1190600"
    whatsapp_bot_id: 7
broadcasts:
  - name: promo
    account: main
    audience: {csv: people.csv}
    message: {text: "Hello {{name}}"}
`)
	code, out := w.run("apply", "-f", path)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "people.csv:3")
	require.Contains(t, out, "phone")
	require.Contains(t, out, "nothing was written")
	code, out = w.run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "no broadcasts")
}

func TestAsynqmonRefusesToStartWithoutCredentials(t *testing.T) {
	t.Parallel()
	out := &syncBuf{}
	io := cli.IO{Stdout: out, Stderr: out, Getenv: func(k string) string {
		if k == "REDIS_URL" {
			return testenv.RedisURL()
		}
		return ""
	}}
	code := cli.Exit(cli.Asynqmon(context.Background(), []string{"-addr", "127.0.0.1:0"}, io), out)
	require.Equal(t, 2, code)
	require.Contains(t, out.String(), "ASYNQMON_USER")

	// A password anyone could guess is refused too, without showing it.
	out = &syncBuf{}
	weak := map[string]string{"REDIS_URL": testenv.RedisURL(), "ASYNQMON_USER": "ops", "ASYNQMON_PASSWORD": "hunter2"}
	io.Stdout, io.Stderr, io.Getenv = out, out, func(k string) string { return weak[k] }
	code = cli.Exit(cli.Asynqmon(context.Background(), []string{"-addr", "127.0.0.1:0"}, io), out)
	require.Equal(t, 2, code)
	require.Contains(t, out.String(), "has 7 characters: use at least 12")
	require.NotContains(t, out.String(), "hunter2")
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ui")) })
	ts := httptest.NewServer(cli.BasicAuth(ok, cli.Credentials{User: "ops", Password: "pw"}, nil))
	defer ts.Close()
	for _, c := range []struct {
		user, pass string
		auth       bool
		want       int
	}{{"", "", false, 401}, {"ops", "nope", true, 401}, {"nope", "pw", true, 401}, {"ops", "pw", true, 200}} {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/api/queues", nil)
		if c.auth {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, c.want, resp.StatusCode, "%s:%s", c.user, c.pass)
	}
}

// With --read-only the web UI serves views but refuses every change.
func TestUIReadOnlyRefusesChanges(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	for _, ro := range []bool{true, false} {
		ui := cli.UIHandler(rds.Opt, ro)
		ts := httptest.NewServer(ui)
		resp, err := http.Get(ts.URL + "/api/queues")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/queues/broadcast:pause", nil)
		resp, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		if ro {
			require.GreaterOrEqual(t, resp.StatusCode, 400, "read-only UI accepted a change")
		} else {
			require.NotEqual(t, http.StatusMethodNotAllowed, resp.StatusCode)
		}
		ts.Close()
		_ = ui.Close()
	}
}

// validate reads the provider's plan and warns when a broadcast would need
// more subscribers than are left; an unreachable provider is a warning, not
// an error.
func TestValidateWarnsAboutPlanLimits(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.sim.SetOptions(func(o *botsailorsim.Options) { o.SubscriberLimit = 100 })
	path := w.campaign(150)
	code, out := w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "warning: promo: up to 150 recipients may be new subscribers, but the plan has 100 left")

	w.sim.SetOptions(func(o *botsailorsim.Options) { o.SubscriberLimit = 0 })
	code, out = w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "warning")

	w.simURL = "http://127.0.0.1:1/api/v1" // nothing listens there
	code, out = w.run("validate", "-f", w.campaign(10))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "warning: account main: cannot check plan limits")
	require.NotContains(t, out, secret)
}

// validate warns of a phone_number_id the provider does not list for the
// token (every send would be refused), and says of a myInfo the host has
// no path for (HTTP 404) to check base_url.
func TestValidateWarnsAboutNumberAndPath(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	listed := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/user/myInfo" {
			http.NotFound(rw, r)
			return
		}
		_, _ = rw.Write([]byte(`{"status":"1","message":{"whatsapp_bots_details":[{"phone_number_id":"119060000040020"},{"phone_number_id":"119060000040021"}]}}`))
	}))
	t.Cleanup(listed.Close)
	w.simURL = listed.URL + "/api/v1"
	code, out := w.run("validate", "-f", w.campaign(10))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "warning: account main: phone_number_id 1190600 is not among the numbers the provider lists for this api_token (119060000040020, 119060000040021): its sends will be refused")

	w.simURL = listed.URL // without /api/v1
	code, out = w.run("validate", "-f", w.campaign(10))
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "warning: account main: cannot check plan limits: the provider has no such path (HTTP 404): check base_url")
	require.NotContains(t, out, secret)
}

// Sequences are validated; until they can run, apply refuses a file with
// any rather than write the rest and drop them.
func TestSequenceCommands(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	path := w.sequence(`{after: 0s, message: {text: "Welcome {{name}}!"}}`, `{after: 24h, message: {text: "Day two {{code}}"}}`)
	people := w.write("people.csv", "phone,name,code\n+49 151 0000 0002,Ben,B2\n4915100000003,Cy,C3\n4915100000003,Cy,C3\n")
	code, out := w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "OK — 1 account(s), 0 broadcast(s), 1 sequence(s)")
	require.Contains(t, out, "sequence onboarding: 2 steps; every enrollment must give {{code}} (--var NAME=value or a column of that name)",
		"a placeholder's typo shows at validate, not at the first sign-up")

	code, out = w.run("apply", "-f", path)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "sequence  created   onboarding (version 1, 2 steps)")

	code, out = w.run("enroll", "onboarding", "--phone", "+49 151 0000 0001", "--name", "Ann", "--var", "code=A1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "1 enrolled, 0 skipped")
	code, out = w.run("enroll", "onboarding", "-f", people)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "2 enrolled, 0 skipped")
	code, out = w.run("enroll", "onboarding", "--phone", "4915100000001", "--name", "Ann", "--var", "code=A1")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "0 enrolled, 1 skipped", "already active")
	code, out = w.run("enroll", "nope", "--phone", "4915100000001")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, `sequence "nope": not found`)
	for _, cmd := range []string{"status", "export"} {
		code, out = w.run(cmd, "nope")
		require.Equal(t, 1, code, out)
		require.Contains(t, out, `no broadcast or sequence named "nope"`, cmd)
	}

	code, out = w.run("unenroll", "onboarding", "--phone", "4915100000002")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "4915100000002 unenrolled; pending steps skipped")

	code, out = w.run("status", "onboarding")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "enrollments: 2 active, 1 unenrolled")
	require.Contains(t, out, "step 1: 2 planned, 1 skipped; next due")
	require.Contains(t, out, "step 2: none")

	code, out = w.run("status")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "sequence   onboarding (version 1): 2 active, 1 unenrolled")

	code, out = w.run("export", "onboarding")
	require.Equal(t, 0, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	require.Contains(t, lines[0], `"phone":"4915100000001","name":"Ann","step":1,"status":"planned"`)
	require.Contains(t, lines[1], `"phone":"4915100000002","name":"Ben","step":1,"status":"skipped"`)
}

// validate on a provider whose API tells nothing about the plan checks no
// plan limits and warns about nothing it could not check.
func TestValidateWebhookProviderAccount(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env["HOOK"] = "hook-secret"
	w.env["SOBOT_SECRET"] = "sobot-secret"
	path := w.write("sobot.yaml", `accounts:
  - name: shop
    provider: sobot
    customer_service_window: not_enforced
    base_url: http://127.0.0.1:1
    api_token: ${SIM_TOKEN}
    api_secret: ${SOBOT_SECRET}
    webhook_secret: ${HOOK}
    daily_unique_limit: unlimited
broadcasts:
  - name: hello
    account: shop
    audience: {recipients: [{phone: "4915112345678", name: Ann}]}
    message: {template: {name: order_update, language: en, vars: {1: "{{name}}"}}}
`)
	code, out := w.run("validate", "-f", path)
	if code != 1 || strings.Contains(out, "cannot check plan limits") || strings.Contains(out, "hook-secret") || strings.Contains(out, "sobot-secret") {
		t.Fatalf("validate = %d:\n%s", code, out)
	}
	// The receiver refuses a secret under 16 characters: validate refuses
	// it too (every status would be lost), without showing it, and says
	// nothing once it is long enough.
	require.Contains(t, out, "account shop: webhook_secret is shorter than 16 characters")
	require.Contains(t, out, "nothing was written")
	w.env["HOOK"] = "hook-secret-0123456789"
	code, out = w.run("validate", "-f", path)
	require.Equal(t, 0, code, out)
	require.NotContains(t, out, "webhook_secret")
}
