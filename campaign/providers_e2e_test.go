package campaign_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/spec"
	"github.com/wacamp/wacamp/throttle"
)

const (
	hookSecret = "hook-secret-0123456789"
	simSecret  = "sim-secret-0123456789"
	sessionID  = "2ad8-07c9-447b-994d-eb8b"
)

func providerEnv(k string) string {
	switch k {
	case "SIM_TOKEN":
		return testToken
	case "SIM_SECRET":
		return simSecret
	case "HOOK_SECRET":
		return hookSecret
	}
	return ""
}

// providerCase is one webhook provider: its simulator, the account lines
// that point at it, and the messages its broadcast and 3-step sequence send.
type providerCase struct {
	name      string
	start     func(webhookURL string) (h http.Handler, sends func() []string, closeSim func())
	account   string // YAML lines after "provider:", indented 4 spaces
	broadcast string // the broadcast's message, indented 6 spaces
	steps     string // the sequence's steps, indented 6 spaces
	// noRead: the provider reports delivered or failed, never read.
	noRead bool
	// path is appended to the simulator's address to make base_url.
	path string
}

var providerCases = []providerCase{
	botsailorCase("botsailor", botsailorsim.ShapeBotSailor), botsailorCase("wabotick", botsailorsim.ShapeWabotick),
	{
		name: "sobot",
		start: func(hook string) (http.Handler, func() []string, func()) {
			sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
				Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.1, Seed: 5}, WebhookURL: hook, WebhookDuplicateRate: 0.2, WebhookReorder: true, WebhookEarly: true,
				WebhookMetaStyle: true, WebhookAttempts: 10})
			return sim, func() []string { return phonesOf(sim.Sends(), func(s sobotsim.Send) string { return s.Phone }) }, sim.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    api_secret: ${SIM_SECRET}`,
		broadcast: `      template: {name: order_update, language: en, vars: {1: "{{name}}", 2: "{{code}}"}}`,
		steps: `      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1s, message: {media: {url: "https://cdn.example.com/c/{{code}}.jpg", type: image, caption: "For {{name}}"}}}
      - {after: 1s, message: {template: {name: last_call, language: en_US, vars: {1: "{{code}}"}}}}`,
	},
	{
		name: "salebot",
		start: func(hook string) (http.Handler, func() []string, func()) {
			sim := salebotsim.New(salebotsim.Options{APIKeys: []string{testToken}, WhatsAppBotIDs: []int64{77},
				Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, FailShare: 0.1, Seed: 6}, WebhookURL: hook, WebhookDuplicateRate: 0.2, WebhookEarly: true, WebhookRetries: 10})
			return sim, func() []string { return phonesOf(sim.Sends(), func(s salebotsim.Send) string { return s.Phone }) }, sim.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    whatsapp_bot_id: 77`,
		broadcast: `      text: "Sale starts now, {{name}}: {{code}}"`,
		steps: `      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1s, message: {media: {url: "https://cdn.example.com/c/{{code}}.pdf", type: document}}}
      - {after: 1s, message: {bot_flow: "start_survey"}}`,
		noRead: true,
	},
	{
		name: "waapi",
		start: func(hook string) (http.Handler, func() []string, func()) {
			sim := waapisim.New(waapisim.Options{BearerTokens: []string{testToken}, Sessions: []waapisim.Session{{ID: sessionID, AccessToken: testToken}},
				Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.1, Seed: 7}, WebhookURL: hook, WebhookDuplicateRate: 0.2, WebhookReorder: true, WebhookEarly: true,
				WebhookRetries: 10})
			return sim, func() []string { return phonesOf(sim.Sends(), func(s waapisim.Send) string { return s.Phone }) }, sim.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    session_id: ` + sessionID,
		broadcast: `      text: "Sale starts now, {{name}}: {{code}}"`,
		steps: `      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1s, message: {media: {url: "https://cdn.example.com/c/{{code}}.jpg", type: image, caption: "For {{name}}"}}}
      - {after: 1s, message: {location: {latitude: 52.52, longitude: 13.405, name: "Our shop"}}}`,
	},
}

// botsailorCase is the BotSailor family (statuses polled, lost answers
// reconciled from the history) answering in one of its shapes.
func botsailorCase(name, shape string) providerCase {
	return providerCase{
		name: name, path: "/api/v1",
		start: func(string) (http.Handler, func() []string, func()) {
			sim := botsailorsim.New(botsailorsim.Options{Tokens: []string{testToken}, Shape: shape, Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.1, DropAfterAcceptRate: 0.04, Seed: 4}})
			return sim, func() []string { return phonesOf(sim.Sends(), func(s botsailorsim.Send) string { return s.Phone }) }, func() {}
		},
		account: `    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123`,
		broadcast: `      template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}`,
		steps: `      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1s, message: {media: {url: "https://cdn.example.com/c/{{code}}.jpg", type: image, caption: "For {{name}}"}}}
      - {after: 1s, message: {bot_flow: "FLOW-1"}}`,
	}
}

func phonesOf[S any](sends []S, phone func(S) string) []string {
	out := make([]string, len(sends))
	for i, s := range sends {
		out[i] = phone(s)
	}
	return out
}

// The same 100-recipient broadcast and 3-step sequence run through each
// provider's simulator — BotSailor and Wabotick (polled, some answers
// dropped and reconciled) and Sobot, Salebot and waapi (webhooks
// duplicated, reordered and early): every message ends in a terminal state
// with its id recorded, each sent once.
func TestProvidersEndToEnd(t *testing.T) {
	t.Parallel()
	for _, pc := range providerCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			runProviderCase(t, pc)
		})
	}
}

func runProviderCase(t *testing.T, pc providerCase) {
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	// A send may take long on a loaded machine (the webhook is pushed, and
	// answered, before the send is): give it the time a real lease and a
	// real task deadline would, so no answer is cut off and left of
	// unknown outcome (the tests' 20 s task deadline cut one off).
	b.opts.Lease = 30 * time.Second
	b.opts.TaskTimeout = time.Minute
	// An answer cut off all the same (the simulators push the webhook
	// before answering, one push at a time, so a backlog of pushes on a
	// starved machine delays answers) settles from the provider's
	// webhooks, which reach wacamp in the end in this world: it must not
	// be sent again after the tests' 1.5 s window (fastOpts) as if no
	// trace of it had come.
	b.opts.SettleWindow = 2 * time.Minute
	b.fastChecks = true
	apiURL, sends := webhookWorld(b, pc.start, nil)
	const recipients, enrollments = 100, 20
	b.writePeople(recipients)
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: %s
    customer_service_window: not_enforced
    base_url: %s
%s
    webhook_secret: ${HOOK_SECRET}
    rate_per_second: 200
    pair_interval: 0s
    daily_unique_limit: unlimited
broadcasts:
  - name: sale
    account: main
    audience: {csv: people.csv}
    message:
%s
sequences:
  - name: drip
    account: main
    steps:
%s
`, pc.name, apiURL+pc.path, pc.account, pc.broadcast, pc.steps)
	b.runProviderYAML(yaml, 20)
	people := make([]sequence.Enrollee, enrollments)
	for i := range people {
		people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49152%08d", i), Name: fmt.Sprintf("Member %d", i), Vars: map[string]string{"code": fmt.Sprintf("M%d", i)}}
	}
	_, err := b.db.Enroll(ctx, "drip", people, time.Now())
	require.NoError(t, err)

	terminal := func(s delivery.Status) bool {
		return s == delivery.Delivered || s == delivery.Read || s == delivery.Failed
	}
	// Done when every broadcast message and every planned step is terminal
	// and no enrollment is active (a step that fails stops its enrollment,
	// so later steps are never planned).
	done := func() (bool, string) {
		pending := map[string]int{}
		for _, r := range b.export("sale") {
			if !terminal(r.Status) {
				pending["broadcast "+string(r.Status)]++
			}
		}
		for _, r := range b.sequenceRows("drip") {
			if s := delivery.Status(r.Status); !terminal(s) && s != delivery.Skipped {
				pending["step "+r.Status]++
			}
		}
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		require.NoError(t, err)
		if enr[sequence.EnrollActive] > 0 {
			pending["enrollment active"] = enr[sequence.EnrollActive]
		}
		return len(pending) == 0, fmt.Sprint(pending)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ok, pending := done()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done after 3 minutes; still pending: %s", pending)
		}
		time.Sleep(250 * time.Millisecond) // a database condition: no event to wait on across the worker pool
	}

	counts := map[delivery.Status]int{}
	for _, r := range b.export("sale") {
		require.NotEmpty(t, r.WAMID, "broadcast message to %s has no id", r.Phone)
		counts[r.Status]++
	}
	require.Equal(t, recipients, counts[delivery.Delivered]+counts[delivery.Read]+counts[delivery.Failed])
	require.NotZero(t, counts[delivery.Failed], "the simulator fails some")
	if pc.noRead {
		require.Zero(t, counts[delivery.Read])
	} else {
		require.NotZero(t, counts[delivery.Read])
	}
	steps := map[string][]sequence.Row{}
	for _, r := range b.sequenceRows("drip") {
		if r.SentAt != nil {
			require.NotEmpty(t, r.WAMID, "step %d to %s has no id", r.Step, r.Phone)
		}
		steps[r.Phone] = append(steps[r.Phone], r)
	}
	seen := map[string]int{}
	for _, p := range sends() {
		seen[p]++
	}
	for i := range recipients {
		phone := fmt.Sprintf("49151%08d", i)
		require.Equal(t, 1, seen[phone], "broadcast recipient %d\n%s", i, b.historyOf(phone))
	}
	for _, p := range people {
		rows := steps[p.Phone]
		// A failed step stops its enrollment: later steps are skipped
		// (terminal too, but never sent).
		sent := 0
		for _, r := range rows {
			if r.WAMID != "" {
				sent++
			}
		}
		require.Equal(t, sent, seen[p.Phone], "%s: each step sent once\n%s", p.Phone, b.historyOf(p.Phone))
	}
	require.Equal(t, len(sends()), recipients+countSent(steps), "nothing sent beyond the deliveries")
}

func countSent(steps map[string][]sequence.Row) int {
	n := 0
	for _, rows := range steps {
		for _, r := range rows {
			if r.WAMID != "" {
				n++
			}
		}
	}
	return n
}

// A template (or bot flow) whose answer is lost, on a provider without a
// conversation history, on an account that chose at-most-once
// (on_unknown_outcome: fail), is never sent again: it fails as "outcome
// unknown" (review finding: it was resent up to 7 times).
func TestLostAnswerWithoutHistoryIsNeverResent(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
		Knobs: sim.Knobs{DropAfterAcceptRate: 1, DeliverAfter: -1}})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "people.csv"), []byte("phone,name,code\n4915100000001,Ann,C1\n4915100000002,Ben,C2\n"), 0o600))
	yaml := sobotAccount(api.URL) + `    on_unknown_outcome: fail
broadcasts:
  - name: tpl
    account: main
    audience: {csv: people.csv}
    message:
      template: {name: order_update, language: en, vars: {1: "{{name}}"}}
`
	b.runProviderYAML(yaml, 4)
	b.waitFor(60*time.Second, "both deliveries failed as outcome unknown", func() bool {
		return b.counts("tpl")[string(delivery.Failed)] == 2
	})
	for _, r := range b.export("tpl") {
		require.Contains(t, r.Error, "outcome unknown")
	}
	require.Len(t, sim.Sends(), 2, "each template reached the provider exactly once")
}

// applyProviderYAML writes a campaign file, loads it (secrets from
// providerEnv) and applies it.
func (b *bench) applyProviderYAML(yaml string) {
	b.t.Helper()
	path := filepath.Join(b.dir, "campaign.yaml")
	require.NoError(b.t, os.WriteFile(path, []byte(yaml), 0o600))
	bundle, err := spec.Load(path, providerEnv, drivers.Catalog{})
	require.NoError(b.t, err)
	_, err = b.db.Apply(context.Background(), bundle, time.Now())
	require.NoError(b.t, err)
}

// sobotAccount is the YAML of account "main" on a Sobot simulator at
// baseURL (secrets from providerEnv), with no pair interval and no budget:
// the head of a campaign file, to which a test adds its own lines.
func sobotAccount(baseURL string) string {
	return `accounts:
  - name: main
    provider: sobot
    customer_service_window: not_enforced
    base_url: ` + baseURL + `
    api_token: ${SIM_TOKEN}
    api_secret: ${SIM_SECRET}
    webhook_secret: ${HOOK_SECRET}
    pair_interval: 0s
    daily_unique_limit: unlimited
`
}

// sobotAlways500 serves, until the test ends, a Sobot simulator that
// accepts every send and answers it with a bare HTTP 500 (the outcome
// unknown), never delivering; it returns the simulator and its URL.
func sobotAlways500(t *testing.T) (*sobotsim.Server, string) {
	t.Helper()
	s := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
		Fail500Rate: 1, Knobs: sim.Knobs{DeliverAfter: -1}})
	t.Cleanup(s.Close)
	api := httptest.NewServer(s)
	t.Cleanup(api.Close)
	return s, api.URL
}

// runProviderYAML applies a campaign file (secrets from providerEnv) and
// runs a worker of the given concurrency and a scheduler until the test
// ends.
func (b *bench) runProviderYAML(yaml string, concurrency int) {
	b.t.Helper()
	b.applyProviderYAML(yaml)
	cfg := app.WorkerConfig{Concurrency: concurrency, Senders: &app.Senders{Getenv: providerEnv},
		Limiter: throttle.NewFleet(b.rds.Client), Recipients: throttle.NewRecipients(b.rds.Client), Campaign: b.opts}
	if b.fastChecks {
		cfg.CheckEvery, cfg.RetryDelay = checkEvery, fastRetry
	}
	srv := app.NewWorker(b.conns, cfg)
	require.NoError(b.t, srv.Start())
	b.t.Cleanup(srv.Shutdown)
	b.startScheduler()
}

// A reply pushed by the provider's webhook ends the replier's enrollment:
// the later steps are never sent to them, while the others get every step.
func TestWebhookReplyExitsEnrollment(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.fastChecks = true
	recv, closeRecv := app.NewReceiver(b.conns, providerEnv, nil)
	t.Cleanup(closeRecv)
	hooks := httptest.NewServer(recv)
	t.Cleanup(hooks.Close)
	sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
		Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hooks.URL + "/webhooks/main/" + hookSecret})
	t.Cleanup(sim.Close)
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	b.runProviderYAML(sobotAccount(api.URL)+`sequences:
  - name: drip
    account: main
    exit_on: [reply]
    steps:
      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 6s, message: {text: "Still there, {{name}}?"}}
`, 4)
	people := []sequence.Enrollee{{Phone: "4915100000001", Name: "Ann"}, {Phone: "4915100000002", Name: "Ben"}, {Phone: "4915100000003", Name: "Cleo"}}
	_, err := b.db.Enroll(ctx, "drip", people, time.Now())
	require.NoError(t, err)
	b.waitFor(30*time.Second, "step 1 sent to everyone", func() bool { return len(sim.Sends()) == 3 })
	sim.Reply("4915100000001", "stop")
	b.waitFor(30*time.Second, "Ann's enrollment exited", func() bool {
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		return err == nil && enr[sequence.EnrollExited] == 1
	})
	b.waitFor(30*time.Second, "the others completed", func() bool {
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		return err == nil && enr[sequence.EnrollCompleted] == 2
	})
	require.Equal(t, 1, sim.SendCount("4915100000001"), "no step after the reply")
	require.Equal(t, 2, sim.SendCount("4915100000002"))
	require.Equal(t, 2, sim.SendCount("4915100000003"))
}

// webhookWorld serves the bench's status-webhook receiver (behind wrap, if
// not nil: a lossy network, say) and the simulator start builds to push to
// it, both until the test ends, and returns the simulator's URL and its
// record of sends.
func webhookWorld[S any](b *bench, start func(hookURL string) (http.Handler, S, func()), wrap func(http.Handler) http.Handler) (string, S) {
	b.t.Helper()
	recv, closeRecv := app.NewReceiver(b.conns, providerEnv, nil)
	b.t.Cleanup(closeRecv)
	var h http.Handler = recv
	if wrap != nil {
		h = wrap(recv)
	}
	hooks := httptest.NewServer(h)
	b.t.Cleanup(hooks.Close)
	sim, sends, closeSim := start(hooks.URL + "/webhooks/main/" + hookSecret)
	b.t.Cleanup(closeSim)
	api := httptest.NewServer(sim)
	b.t.Cleanup(api.Close)
	return api.URL, sends
}

// writePeople writes people.csv with n recipients (phone, name, code).
func (b *bench) writePeople(n int) {
	b.t.Helper()
	var csv strings.Builder
	csv.WriteString("phone,name,code\n")
	for i := range n {
		fmt.Fprintf(&csv, "49151%08d,Person %d,C%d\n", i, i, i)
	}
	require.NoError(b.t, os.WriteFile(filepath.Join(b.dir, "people.csv"), []byte(csv.String()), 0o600))
}
