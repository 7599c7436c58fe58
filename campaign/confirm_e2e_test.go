package campaign_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/sequence"
)

// The confirmation texts of the confirmation tests.
const (
	confirmStop  = "You will get no more messages. Reply START to undo."
	confirmStart = "Welcome back."
)

// twice delivers every webhook to next twice, as a provider that retries a
// webhook it thinks was lost does (the provider sees the second answer).
func twice(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		first := httptest.NewRecorder()
		r1 := r.Clone(r.Context())
		r1.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(first, r1)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// A STOP is confirmed once, with the account's text, through the real
// send path: Ann writes STOP after the first broadcast and gets the
// confirmation — though she is on the suppression list now — and nothing
// else; Ben, who writes a sentence with "stop" in it, gets no
// confirmation; Ann's START gets the opt-in confirmation. On Sobot every
// webhook comes twice (the duplicate acts on nothing); on BotSailor the
// STOP is read from the conversation history before each later send to
// Ann (the second broadcast's, the confirmation's own, the third
// broadcast's), and acted on, and confirmed, once. The confirmations are
// counted in no broadcast, and `status` and `export` show them under the
// account's reply sequences.
func TestOptOutConfirmationEndToEnd(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sobot", "botsailor"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			runConfirmCase(t, name)
		})
	}
}

func runConfirmCase(t *testing.T, name string) {
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, ReadAfter: -1}})
	b.fastChecks = true
	b.opts.Lease = 30 * time.Second
	var (
		texts   func(phone string) []string
		reply   func(phone, text string)
		account string
		first   string
	)
	if name == "sobot" {
		var s *sobotsim.Server
		apiURL, _ := webhookWorld(b, func(hook string) (http.Handler, struct{}, func()) {
			s = sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
				Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hook})
			return s, struct{}{}, s.Close
		}, twice)
		texts = func(phone string) []string {
			var out []string
			for _, x := range s.Sends() {
				if x.Phone == phone {
					out = append(out, x.Text)
				}
			}
			return out
		}
		reply = func(p, text string) { s.Reply(p, text) }
		account = `    provider: sobot
    customer_service_window: enforced
    base_url: ` + apiURL + `
    api_token: ${SIM_TOKEN}
    api_secret: ${SIM_SECRET}
    webhook_secret: ${HOOK_SECRET}`
		first = `{template: {name: order_update, language: en, category: utility, vars: {1: "{{name}}"}}}`
	} else {
		texts = func(phone string) []string {
			var out []string
			for _, x := range b.sim.Sends() {
				if x.Phone == phone {
					out = append(out, x.Text)
				}
			}
			return out
		}
		reply = func(p, text string) { b.sim.Reply(optoutNumberID, p, text) }
		account = `    provider: botsailor
    base_url: ` + b.url + `
    api_token: ${SIM_TOKEN}
    phone_number_id: "` + optoutNumberID + `"
    whatsapp_bot_id: 123`
		first = `{template: {id: "313823", vars: {name: "{{name}}"}}}`
	}
	head := `accounts:
  - name: main
` + account + `
    rate_per_second: 50
    pair_interval: 0s
    daily_unique_limit: unlimited
    frequency_cap: {messages: 1, per: 24h}
    opt_out: {confirmation: "` + confirmStop + `", opt_in_confirmation: "` + confirmStart + `"}
`
	ann, ben := "4915100000001", "4915100000002"
	audience := `    audience: {recipients: [{phone: "` + ann + `", name: Ann}, {phone: "` + ben + `", name: Ben}]}`
	campaignYAML := func(names ...string) string {
		y := head + "broadcasts:\n"
		for _, n := range names {
			y += "  - name: " + n + "\n    account: main\n" + audience + "\n    message: " + first + "\n"
		}
		return y
	}
	b.runProviderYAML(campaignYAML("first"), 4)
	count := func(phone, text string) int {
		n := 0
		for _, x := range texts(phone) {
			if x == text {
				n++
			}
		}
		return n
	}
	b.waitFor(60*time.Second, "the first broadcast sent", func() bool { return len(texts(ann)) == 1 && len(texts(ben)) == 1 })

	reply(ann, "STOP")
	reply(ben, "please stop texting me")
	if name == "sobot" {
		// Pushed at once (twice): the confirmation goes without a send
		// to read a history first.
		b.waitFor(60*time.Second, "Ann's confirmation sent", func() bool { return count(ann, confirmStop) == 1 })
		b.waitFor(30*time.Second, "every webhook applied (each twice)", func() bool { return b.queueEmpty(delivery.QueueStatus) })
	}
	// The frequency cap (1 a day) was spent by the first broadcast: on
	// Sobot the confirmation went nonetheless (it is no business-initiated
	// message). The cap is raised now, so the later broadcasts' sends to
	// Ann read the BotSailor history (a send held by the cap reads none).
	b.applyProviderYAML(strings.Replace(campaignYAML("first", "second"), "frequency_cap: {messages: 1, per: 24h}", "frequency_cap: {messages: 10, per: 24h}", 1))
	b.waitFor(60*time.Second, "the second broadcast done and Ann's confirmation sent", func() bool {
		c := b.counts("second")
		return c[string(delivery.Skipped)] == 1 && len(texts(ben)) == 2 && count(ann, confirmStop) == 1 &&
			b.enrollments(consent.ReplySequence("main", consent.OptOut))[sequence.EnrollCompleted] == 1
	}, func() string { return fmt.Sprintf("second %v; Ann got %q", b.counts("second"), texts(ann)) })
	b.applyProviderYAML(strings.Replace(campaignYAML("first", "second", "third"), "frequency_cap: {messages: 1, per: 24h}", "frequency_cap: {messages: 10, per: 24h}", 1))
	b.waitFor(60*time.Second, "the third broadcast done", func() bool {
		c := b.counts("third")
		return c[string(delivery.Skipped)] == 1 && len(texts(ben)) == 3
	})
	if name == "sobot" {
		b.waitFor(30*time.Second, "every webhook applied", func() bool { return b.queueEmpty(delivery.QueueStatus) })
	}
	require.Len(t, texts(ann), 2, "Ann: the first broadcast and one confirmation, nothing more: %q", texts(ann))
	require.Equal(t, confirmStop, texts(ann)[1])
	require.Zero(t, count(ben, confirmStop), "no keyword, no confirmation")
	for _, bc := range []string{"second", "third"} {
		require.Equal(t, map[string]int{consent.ReasonOptedOut: 1}, b.status(bc).Skips, bc)
		require.Equal(t, 2, sumCounts(b.counts(bc)), "%s counts its two recipients, no confirmation", bc)
	}
	rows := b.sequenceRows(consent.ReplySequence("main", consent.OptOut))
	require.Len(t, rows, 1)
	require.Equal(t, ann, rows[0].Phone)
	require.Contains(t, []string{string(delivery.Sent), string(delivery.Delivered), string(delivery.Read)}, rows[0].Status)

	// START: she is back, and told so, once.
	reply(ann, "START")
	if name == "sobot" {
		b.waitFor(60*time.Second, "Ann's opt-in confirmation sent", func() bool { return count(ann, confirmStart) == 1 })
	} else {
		// The history is read before the next send to her.
		b.applyProviderYAML(strings.Replace(campaignYAML("first", "second", "third", "fourth"), "frequency_cap: {messages: 1, per: 24h}", "frequency_cap: {messages: 10, per: 24h}", 1))
		b.waitFor(60*time.Second, "the fourth broadcast sent to Ann, and her opt-in confirmed", func() bool {
			return b.counts("fourth")[string(delivery.Skipped)] == 0 && len(texts(ben)) == 4 && count(ann, confirmStart) == 1
		}, func() string { return fmt.Sprintf("fourth %v; Ann got %q", b.counts("fourth"), texts(ann)) })
	}
	b.waitFor(30*time.Second, "the opt-in confirmation recorded", func() bool {
		return b.enrollments(consent.ReplySequence("main", consent.OptIn))[sequence.EnrollCompleted] == 1
	})
	require.Equal(t, 1, count(ann, confirmStop))
	require.Equal(t, 1, count(ann, confirmStart))
}

// enrollments counts a sequence's enrollments by state.
func (b *bench) enrollments(name string) map[string]int {
	b.t.Helper()
	enr, err := b.db.EnrollmentCounts(context.Background(), name)
	require.NoError(b.t, err)
	return enr
}

// queueEmpty reports whether asynq's queue holds no task (pending, active,
// scheduled or to retry).
func (b *bench) queueEmpty(queue string) bool {
	b.t.Helper()
	insp := asynq.NewInspector(b.rds.Opt)
	defer insp.Close()
	info, err := insp.GetQueueInfo(queue)
	if err != nil {
		return false // not created yet
	}
	return info.Pending+info.Active+info.Scheduled+info.Retry == 0
}

// sumCounts adds up a broadcast's counts by state.
func sumCounts(c map[string]int) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
