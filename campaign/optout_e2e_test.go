package campaign_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/sequence"
)

// optoutSim is a simulator as the opt-out tests use it: what it accepted,
// and a subscriber writing to the business.
type optoutSim struct {
	sends func() []string
	reply func(phone, text string)
}

// optoutCase is one provider that reports what subscribers write: the
// webhook providers through their webhook receiver, the BotSailor family
// through the conversation history read before a send.
type optoutCase struct {
	name string
	// start serves the simulator (webhook providers push to hook); nil:
	// the bench's own BotSailor-family simulator, in shape.
	start   func(hook string) (http.Handler, optoutSim, func())
	shape   string
	account string // YAML lines after "provider:", indented 4 spaces
	first   string // the first broadcast's message (a YAML flow mapping)
	path    string
}

var optoutCases = []optoutCase{
	{name: "botsailor", shape: botsailorsim.ShapeBotSailor, first: `{template: {id: "313823", vars: {name: "{{name}}"}}}`, path: "/api/v1"},
	{name: "wabotick", shape: botsailorsim.ShapeWabotick, first: `{text: "Sale starts now, {{name}}"}`, path: "/api/v1"},
	{
		name: "sobot",
		start: func(hook string) (http.Handler, optoutSim, func()) {
			s := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
				Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hook})
			return s, optoutSim{sends: func() []string { return phonesOf(s.Sends(), func(x sobotsim.Send) string { return x.Phone }) },
				reply: func(p, text string) { s.Reply(p, text) }}, s.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    api_secret: ${SIM_SECRET}`,
		first: `{template: {name: order_update, language: en, category: utility, vars: {1: "{{name}}"}}}`,
	},
	{
		name: "salebot",
		start: func(hook string) (http.Handler, optoutSim, func()) {
			s := salebotsim.New(salebotsim.Options{APIKeys: []string{testToken}, WhatsAppBotIDs: []int64{77},
				Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hook})
			return s, optoutSim{sends: func() []string { return phonesOf(s.Sends(), func(x salebotsim.Send) string { return x.Phone }) },
				reply: func(p, text string) { s.Reply(p, text) }}, s.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    whatsapp_bot_id: 77`,
		first: `{text: "Sale starts now, {{name}}"}`,
	},
	{
		name: "waapi",
		start: func(hook string) (http.Handler, optoutSim, func()) {
			s := waapisim.New(waapisim.Options{BearerTokens: []string{testToken}, Sessions: []waapisim.Session{{ID: sessionID, AccessToken: testToken}},
				Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond}, WebhookURL: hook})
			return s, optoutSim{sends: func() []string { return phonesOf(s.Sends(), func(x waapisim.Send) string { return x.Phone }) },
				reply: func(p, text string) { s.Reply(p, text) }}, s.Close
		},
		account: `    api_token: ${SIM_TOKEN}
    session_id: ` + sessionID,
		first: `{text: "Sale starts now, {{name}}"}`,
	},
}

// The phone_number_id of the BotSailor-family account the opt-out tests use.
const optoutNumberID = "119060000040020"

// A STOP written while a broadcast runs and a sequence is under way stops
// every later send to that person, through each provider that reports
// what subscribers write: Ann writes STOP after the first broadcast and the
// sequence's first step, and gets neither the second step nor the second
// broadcast (skipped, reason opted_out, counted by status); Ben writes
// "please stop sending", which is no opt-out, and gets everything; Cleo
// writes STOP, then START, and gets the second broadcast. Webhook providers
// report the replies as they come; the BotSailor family's are read from
// the conversation before the next send to the person.
func TestOptOutByKeywordEndToEnd(t *testing.T) {
	t.Parallel()
	for _, oc := range optoutCases {
		t.Run(oc.name, func(t *testing.T) {
			t.Parallel()
			runOptoutCase(t, oc)
		})
	}
}

func runOptoutCase(t *testing.T, oc optoutCase) {
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{Shape: oc.shape, Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, ReadAfter: -1}})
	b.fastChecks = true
	b.opts.Lease = 30 * time.Second // a send under load must not outlive its lease (see runProviderCase)
	var (
		s      optoutSim
		apiURL string
	)
	account, provider := oc.account, oc.name
	if oc.start == nil {
		apiURL = strings.TrimSuffix(b.url, "/api/v1")
		s = optoutSim{sends: func() []string { return phonesOf(b.sim.Sends(), func(x botsailorsim.Send) string { return x.Phone }) },
			reply: func(p, text string) { b.sim.Reply(optoutNumberID, p, text) }}
		account = `    api_token: ${SIM_TOKEN}
    phone_number_id: "` + optoutNumberID + `"
    whatsapp_bot_id: 123`
	} else {
		apiURL, s = webhookWorld(b, oc.start, nil)
		account += "\n    webhook_secret: ${HOOK_SECRET}"
	}
	head := fmt.Sprintf(`accounts:
  - name: main
    provider: %s
    customer_service_window: not_enforced
    base_url: %s
%s
    rate_per_second: 50
    pair_interval: 0s
    daily_unique_limit: unlimited
`, provider, apiURL+oc.path, account)
	ann, ben, cleo := "4915100000001", "4915100000002", "4915100000003"
	audience := `    audience: {recipients: [{phone: "` + ann + `", name: Ann}, {phone: "` + ben + `", name: Ben}, {phone: "` + cleo + `", name: Cleo}]}`
	b.runProviderYAML(head+`broadcasts:
  - name: first
    account: main
`+audience+`
    message: `+oc.first+`
sequences:
  - name: drip
    account: main
    steps:
      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1h, message: {text: "Day two, {{name}}"}}
`, 4)
	people := []sequence.Enrollee{{Phone: ann, Name: "Ann"}, {Phone: ben, Name: "Ben"}, {Phone: cleo, Name: "Cleo"}}
	_, err := b.db.Enroll(ctx, "drip", people, time.Now())
	require.NoError(t, err)
	sent := func(phone string) int {
		n := 0
		for _, p := range s.sends() {
			if p == phone {
				n++
			}
		}
		return n
	}
	b.waitFor(60*time.Second, "the first broadcast and step 1 sent to everyone, step 2 planned", func() bool {
		planned := 0
		for _, r := range b.sequenceRows("drip") {
			if r.Step == 2 {
				planned++
			}
		}
		return sent(ann) == 2 && sent(ben) == 2 && sent(cleo) == 2 && planned == 3
	})

	acct, err := b.db.OptOutAccountByName(ctx, "main")
	require.NoError(t, err)
	suppressed := func(phone string) bool {
		got, err := b.db.Suppressed(ctx, consent.Check{Lists: acct.Lists()}, []string{phone})
		require.NoError(t, err)
		return got[phone]
	}
	wrote := func(phone string) bool {
		_, ok, err := b.db.LastInbound(ctx, acct.ID, phone)
		require.NoError(t, err)
		return ok
	}
	s.reply(ann, "STOP")
	s.reply(ben, "please stop sending")
	s.reply(cleo, " Stop ")
	webhooks := oc.start != nil
	if webhooks {
		b.waitFor(30*time.Second, "the webhooks applied", func() bool {
			return suppressed(ann) && suppressed(cleo) && wrote(ben)
		})
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		require.NoError(t, err)
		require.Equal(t, 2, enr[sequence.EnrollExited], "opting out ended Ann's and Cleo's enrollments")
	}
	// An hour passes: step 2 falls due. (The BotSailor family reads each
	// person's conversation before sending it, and finds the STOPs then.)
	b.stepsDueNow()
	b.waitFor(60*time.Second, "step 2 sent to Ben, Ann's and Cleo's enrollments ended", func() bool {
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		require.NoError(t, err)
		return sent(ben) == 3 && enr[sequence.EnrollCompleted] == 1 && enr[sequence.EnrollExited] == 2
	})
	require.True(t, suppressed(ann))
	require.True(t, suppressed(cleo))
	require.False(t, suppressed(ben), "a sentence with stop in it is no opt-out")
	require.True(t, wrote(ben))

	s.reply(cleo, "start")
	if webhooks {
		b.waitFor(30*time.Second, "Cleo's START applied", func() bool { return !suppressed(cleo) })
	}
	b.applyProviderYAML(head + `broadcasts:
  - name: second
    account: main
` + audience + `
    message: {text: "Last chance, {{name}}"}
`)
	b.waitFor(60*time.Second, "the second broadcast done", func() bool {
		return b.counts("second")[string(delivery.Skipped)] == 1 && sent(ben) == 4 && sent(cleo) == 3
	})
	require.Equal(t, 2, sent(ann), "nothing after STOP")
	require.False(t, suppressed(cleo), "START restored her")
	for _, r := range b.export("second") {
		if r.Phone == ann {
			require.Equal(t, delivery.Skipped, r.Status)
			require.Equal(t, consent.ReasonOptedOut, r.ErrorCode)
		}
	}
	require.Equal(t, map[string]int{consent.ReasonOptedOut: 1}, b.status("second").Skips)
	for _, r := range b.sequenceRows("drip") {
		if r.Step == 2 && r.Phone != ben {
			require.Equal(t, string(delivery.Skipped), r.Status, "%+v", r)
			require.Equal(t, consent.ReasonOptedOut, r.ErrorCode, "%+v", r)
		}
	}
	require.Equal(t, 2, sent(ann), "nothing after STOP")
}

// stepsDueNow makes every planned sequence step due now, as if the time
// until it had passed.
func (b *bench) stepsDueNow() {
	b.t.Helper()
	require.NoError(b.t, b.db.Gorm().Exec(`UPDATE deliveries SET due_at = ? WHERE enrollment_id IS NOT NULL AND status = 'planned'`,
		time.Now().UTC()).Error)
}

// A marketing template refused with 131050 (the user stopped marketing
// messages) puts its recipient on the list for marketing: the next
// marketing broadcast skips them, a utility template still reaches them.
func TestProviderRefusalSuppressesMarketing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, ReadAfter: -1}})
	dan := "4915100000004"
	inner := b.sim
	b.url = startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/whatsapp/send/template") {
			_ = r.ParseForm()
			if r.PostForm.Get("phone_number") == dan && r.PostForm.Get("template_id") == "1" {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"status":"0","message":"(#131050) Unable to deliver message: the user has stopped marketing messages"}`))
				return
			}
		}
		inner.ServeHTTP(w, r)
	})) + "/api/v1"
	b.phones = []string{dan, "4915100000005"}
	b.accountYAML = "    pair_interval: 0s\n    daily_unique_limit: unlimited"
	b.apply(b.writeCampaign("promo", 2, 50, `      template: {id: "1"}`))
	b.startWorker(4)
	b.startScheduler()
	b.waitFor(60*time.Second, "the first promotion done", func() bool {
		c := b.counts("promo")
		return c[string(delivery.Failed)] == 1 && c[string(delivery.Delivered)] == 1
	})
	got, err := b.db.Suppressed(ctx, consent.Check{Lists: []string{"account:main"}, Marketing: true}, []string{dan})
	require.NoError(t, err)
	require.True(t, got[dan])

	b.apply(b.writeCampaign("promo2", 2, 50, `      template: {id: "2", category: marketing}`))
	b.apply(b.writeCampaign("receipt", 2, 50, `      template: {id: "3", category: utility}`))
	b.waitFor(60*time.Second, "the second promotion and the receipt done", func() bool {
		p, r := b.counts("promo2"), b.counts("receipt")
		return p[string(delivery.Skipped)] == 1 && p[string(delivery.Delivered)] == 1 && r[string(delivery.Delivered)] == 2
	})
	for _, r := range b.export("promo2") {
		if r.Phone == dan {
			require.Equal(t, consent.ReasonOptedOut, r.ErrorCode)
		}
	}
	n := 0
	for _, s := range inner.Sends() {
		if s.Phone == dan {
			n++
		}
	}
	require.Equal(t, 1, n, "Dan got the receipt only")
}
