package campaign_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/sequence"
)

// windowPhones are the recipients of the window tests: the first wrote to
// the number an hour ago (inside the 24-hour window), the second 30 hours
// ago (outside), the last two never.
var windowPhones = []string{"4915100000100", "4915100000101", "4915100000102", "4915100000103"}

// windowBench is a bench whose account enforces the 24-hour window, whose
// simulator shares the engine's clock, and whose first two recipients
// wrote to the number 1 h and 30 h before that clock's now, as the
// conversation history shows.
func windowBench(t *testing.T) *bench {
	t.Helper()
	clk := &offsetClock{}
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Now: clk.Now}})
	b.opts.Now = clk.Now
	b.serviceWindow = "enforced"
	b.accountYAML = "    pair_interval: 0s"
	b.phones = windowPhones
	clk.Add(-time.Hour)
	b.sim.Reply("119060000040020", windowPhones[0], "hello")
	clk.Add(-29 * time.Hour)
	b.sim.Reply("119060000040020", windowPhones[1], "hello")
	clk.Add(30 * time.Hour)
	return b
}

// sentKinds maps each phone to the kinds of what the simulator accepted
// for it ("text", "template: <id>").
func (b *bench) sentKinds() map[string][]string {
	out := map[string][]string{}
	for _, s := range b.sim.Sends() {
		k := s.Kind
		if k == "template" {
			k += ": " + s.Text
		}
		out[s.Phone] = append(out[s.Phone], k)
	}
	return out
}

// TestWindowFallbackTemplateBotSailor: a text broadcast with a fallback
// template on a BotSailor account (which enforces the window; the
// conversation history shows who wrote): the person who wrote an hour ago
// gets the text, the one who wrote 30 h ago and those who never wrote get
// the template, with the same variables, each once; every delivery is
// delivered (the fallback's status found by its template's place in the
// conversation).
func TestWindowFallbackTemplateBotSailor(t *testing.T) {
	t.Parallel()
	b := windowBench(t)
	n := len(windowPhones)
	b.apply(b.writeCampaign("win", n, 50, `      text: "Hi {{name}}, code {{code}}"
      outside_window: {template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}}`))
	b.startWorker(3)
	b.startScheduler()
	b.waitFor(30*time.Second, "every delivery delivered", func() bool { return b.counts("win")["delivered"] == n }, func() string { return b.stuck("win") })
	want := map[string][]string{windowPhones[0]: {"text"}}
	for _, p := range windowPhones[1:] {
		want[p] = []string{"template: 313823"}
	}
	require.Equal(t, want, b.sentKinds())
	for _, s := range b.sim.Sends() {
		if s.Kind == "template" {
			i := indexOf(windowPhones, s.Phone)
			require.Equal(t, map[string]string{"name-1": fmt.Sprintf("Person %d", i), "code-2": fmt.Sprintf("C%d", i)}, s.TemplateVars)
		}
	}
	b.requireOncePerPhone(b.export("win"))
}

// TestWindowSkipBotSailor: outside_window: skip sends the text to the
// person inside the window and skips the others with the reason code
// outside_window, which status counts.
func TestWindowSkipBotSailor(t *testing.T) {
	t.Parallel()
	b := windowBench(t)
	n := len(windowPhones)
	b.apply(b.writeCampaign("skip", n, 50, `      text: "Hi {{name}}"
      outside_window: skip`))
	b.startWorker(3)
	b.startScheduler()
	b.waitFor(30*time.Second, "the broadcast settled", func() bool {
		c := b.counts("skip")
		return c["delivered"] == 1 && c["skipped"] == n-1
	}, func() string { return b.stuck("skip") })
	require.Equal(t, map[string][]string{windowPhones[0]: {"text"}}, b.sentKinds())
	r, err := b.service().Status(context.Background(), "skip")
	require.NoError(t, err)
	require.Equal(t, map[string]int{delivery.ReasonOutsideWindow: n - 1}, r.Skips)
	for _, row := range b.export("skip") {
		if row.Phone != windowPhones[0] {
			require.Equal(t, delivery.ReasonOutsideWindow, row.ErrorCode, "%+v", row)
		}
	}
}

// TestWindowSequenceFollowUpAfterAReply: "reply to the welcome, get the
// free-form follow-up". The welcome is a template (never restricted); the
// follow-up is free-form with outside_window: skip. The person who replied
// to the welcome gets the follow-up; the one who did not has it skipped
// (outside_window), and the enrollment goes on to complete.
func TestWindowSequenceFollowUpAfterAReply(t *testing.T) {
	t.Parallel()
	clk := &offsetClock{}
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Now: clk.Now}})
	b.opts.Now = clk.Now
	b.serviceWindow = "enforced"
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("drip", "", `      - {after: 0s, message: {template: {id: "313823", vars: {name: "{{name}}"}}}}
      - after: 2s
        message: {text: "Thanks for writing, {{name}}", outside_window: skip}`))
	b.startWorker(3)
	b.startScheduler()
	people := b.people(2)
	_, err := b.db.Enroll(context.Background(), "drip", people, time.Now())
	require.NoError(t, err)
	replier := people[0].Phone
	b.waitFor(30*time.Second, "the welcome sent to the replier", func() bool { return len(b.sentKinds()[replier]) > 0 })
	b.sim.Reply("119060000040020", replier, "thanks!")
	b.waitFor(30*time.Second, "every enrollment completed", func() bool {
		c, err := b.db.EnrollmentCounts(context.Background(), "drip")
		return err == nil && c[sequence.EnrollCompleted] == 2
	})
	require.Equal(t, map[string][]string{replier: {"template: 313823", "text"}, people[1].Phone: {"template: 313823"}}, b.sentKinds())
	for _, r := range b.sequenceRows("drip") {
		if r.Phone == people[1].Phone && r.Step == 2 {
			require.Equal(t, "skipped", r.Status, "%+v", r)
			require.Equal(t, delivery.ReasonOutsideWindow, r.ErrorCode, "%+v", r)
		}
	}
}

func indexOf(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// windowAudience is an inline audience of windowPhones, with names (Sobot
// needs one per recipient).
func windowAudience() string {
	var rs []string
	for i, p := range windowPhones {
		rs = append(rs, fmt.Sprintf("{phone: %q, name: P%d}", p, i))
	}
	return "    audience: {recipients: [" + strings.Join(rs, ", ") + "]}\n"
}

// TestWindowFallbackTemplateSobot: a webhook provider (Sobot, which
// enforces the window). The first recipient writes to the number (its
// webhook, through the receiver, records the time), the second wrote 30 h
// before the engine's now; then a text broadcast with a fallback template
// gives the text to the first and the template to everyone else.
func TestWindowFallbackTemplateSobot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clk := &offsetClock{}
	b := newBench(t, botsailorsim.Options{})
	b.fastChecks = true
	b.opts.Now = clk.Now
	var s *sobotsim.Server
	apiURL, _ := webhookWorld(b, func(hook string) (http.Handler, struct{}, func()) {
		s = sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
			Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, Now: clk.Now}, WebhookURL: hook})
		return s, struct{}{}, s.Close
	}, nil)
	account := strings.Replace(sobotAccount(apiURL), "customer_service_window: not_enforced", "customer_service_window: enforced", 1)
	b.runProviderYAML(account, 4)
	acct, ok, err := b.db.AccountID(ctx, "main")
	require.NoError(t, err)
	require.True(t, ok)
	wrote := func(phone string) {
		t.Helper()
		s.Reply(phone, "hello")
		b.waitFor(30*time.Second, "the reply recorded", func() bool {
			_, ok, err := b.db.LastInbound(ctx, acct, phone)
			return err == nil && ok
		})
	}
	clk.Add(-30 * time.Hour)
	wrote(windowPhones[1])
	clk.Add(30 * time.Hour)
	wrote(windowPhones[0])

	b.applyProviderYAML(account + `broadcasts:
  - name: win
    account: main
` + windowAudience() + `    message:
      text: "Hi {{name}}"
      outside_window: {template: {name: hello_again, language: en_US, vars: {1: "{{name}}"}}}
`)
	n := len(windowPhones)
	b.waitFor(30*time.Second, "every delivery delivered", func() bool { return b.counts("win")["delivered"] == n }, func() string { return b.stuck("win") })
	kinds := map[string][]string{}
	for _, x := range s.Sends() {
		k := x.Kind
		if k == "template" {
			k += ": " + x.Text
		}
		kinds[x.Phone] = append(kinds[x.Phone], k)
	}
	want := map[string][]string{windowPhones[0]: {"text"}}
	for _, p := range windowPhones[1:] {
		want[p] = []string{"template: hello_again"}
	}
	require.Equal(t, want, kinds)
}

// TestWindowNotEnforcedWaapi: the session API enforces no window, so a
// text broadcast that says outside_window: skip reaches everyone, whether
// or not they ever wrote, and nothing is skipped.
func TestWindowNotEnforcedWaapi(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	b.fastChecks = true
	var s *waapisim.Server
	apiURL, _ := webhookWorld(b, func(hook string) (http.Handler, struct{}, func()) {
		s = waapisim.New(waapisim.Options{BearerTokens: []string{testToken}, Sessions: []waapisim.Session{{ID: "win-session", AccessToken: testToken}},
			Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hook})
		return s, struct{}{}, s.Close
	}, nil)
	b.runProviderYAML(`accounts:
  - name: main
    provider: waapi
    base_url: `+apiURL+`
    api_token: ${SIM_TOKEN}
    session_id: win-session
    webhook_secret: ${HOOK_SECRET}
    pair_interval: 0s
    daily_unique_limit: unlimited
broadcasts:
  - name: win
    account: main
`+windowAudience()+`    message:
      text: "Hi {{name}}"
      outside_window: skip
`, 4)
	n := len(windowPhones)
	b.waitFor(30*time.Second, "every delivery delivered", func() bool { return b.counts("win")["delivered"] == n }, func() string { return b.stuck("win") })
	require.Zero(t, b.counts("win")["skipped"])
	got := map[string]int{}
	for _, x := range s.Sends() {
		got[x.Phone]++
	}
	for _, p := range windowPhones {
		require.Equal(t, 1, got[p], p)
	}
}
