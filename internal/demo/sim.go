package demo

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
)

// demoSim is the demo's provider simulator, whichever API it plays.
type demoSim struct {
	handler http.Handler
	path    string // appended to the simulator's address to make base_url
	account string // the account's provider lines of the example YAML
	// outside is what the example's free-form messages do outside the
	// 24-hour window: a fallback template the provider can send (a flow
	// mapping), or "" where the account's channel does not enforce the
	// window (waapi) or the account says it does not (Salebot, which
	// cannot send templates and whose simulator enforces no window).
	outside string
	label   string
	phones  func() []string
	stats   func() (accepted, rejected5xx, dropped int)
	close   func()
	// webhooks says statuses come by webhook (lost answers are settled
	// from them, not reconciled from a history).
	webhooks bool
}

// demoProviders are the -provider values.
const demoProviders = "botsailor, sobot, salebot, waapi"

// knownDemoProvider reports whether p is one of demoProviders.
func knownDemoProvider(p string) bool {
	return slices.Contains(strings.Split(demoProviders, ", "), p)
}

// maxDemoRecipients bounds -recipients: the demo's audience is written to
// a CSV and kept in memory by its simulator.
const maxDemoRecipients = 1_000_000

// newDemoSim builds the simulator of provider with the demo's faults; the
// webhook providers push statuses to hookURL.
func newDemoSim(provider, token, secret string, rate float64, hookURL string) (demoSim, error) {
	const (
		latency, fail5xx, drop         = 15 * time.Millisecond, 0.01, 0.005
		deliver, read, readShare, fail = time.Second, 2 * time.Second, 0.6, 0.02
	)
	seed := time.Now().UnixNano()
	// The simulator pushes a message's statuses within seconds: a lost
	// answer is settled from them well inside a 30 s window.
	hook := `
    webhook_secret: ${DEMO_HOOK_SECRET}
    settle_window: 30s`
	switch provider {
	case "botsailor":
		sim := botsailorsim.New(botsailorsim.Options{Tokens: []string{token}, Knobs: sim.Knobs{Latency: latency, Fail5xxRate: fail5xx, DropAfterAcceptRate: drop, RatePerSecond: rate, DeliverAfter: deliver, ReadAfter: read, ReadShare: readShare, FailShare: fail, Seed: seed}})
		return demoSim{handler: sim, path: "/api/v1", label: "BotSailor", close: func() {},
			account: `    provider: botsailor
    api_token: ${DEMO_API_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123`,
			outside: `{template: {id: "313823", vars: {name: "{{name}}"}}}`,
			phones: func() []string {
				return phonesOfSends(sim.Sends(), func(s botsailorsim.Send) string { return s.Phone })
			},
			stats: func() (int, int, int) { st := sim.Stats(); return st.Accepted, st.Rejected5xx, st.Dropped }}, nil
	case "sobot":
		sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: token, Secret: secret}}, Knobs: sim.Knobs{Latency: latency, Fail5xxRate: fail5xx, DropAfterAcceptRate: drop, RatePerSecond: rate, DeliverAfter: deliver, ReadAfter: read, ReadShare: readShare, FailShare: fail, Seed: seed}, WebhookURL: hookURL, WebhookDuplicateRate: 0.05, WebhookMetaStyle: true})
		return demoSim{handler: sim, label: "Sobot", close: sim.Close, webhooks: true,
			account: `    provider: sobot
    api_token: ${DEMO_API_TOKEN}
    api_secret: ${DEMO_API_SECRET}` + hook,
			outside: `{template: {name: hello_again, language: en_US, vars: {1: "{{name}}"}}}`,
			phones:  func() []string { return phonesOfSends(sim.Sends(), func(s sobotsim.Send) string { return s.Phone }) },
			stats:   func() (int, int, int) { st := sim.Stats(); return st.Accepted, st.Rejected5xx, st.Dropped }}, nil
	case "salebot":
		sim := salebotsim.New(salebotsim.Options{APIKeys: []string{token}, WhatsAppBotIDs: []int64{123}, Knobs: sim.Knobs{Latency: latency, Fail5xxRate: fail5xx, DropAfterAcceptRate: drop, RatePerSecond: rate, DeliverAfter: deliver, FailShare: fail, Seed: seed}, WebhookURL: hookURL, WebhookDuplicateRate: 0.05})
		return demoSim{handler: sim, label: "Salebot", close: sim.Close, webhooks: true,
			account: `    provider: salebot
    api_token: ${DEMO_API_TOKEN}
    whatsapp_bot_id: 123
    customer_service_window: not_enforced   # its simulator has no window; Salebot sends no templates` + hook,
			phones: func() []string { return phonesOfSends(sim.Sends(), func(s salebotsim.Send) string { return s.Phone }) },
			stats:  func() (int, int, int) { st := sim.Stats(); return st.Accepted, st.Rejected5xx, st.Dropped }}, nil
	case "waapi":
		sim := waapisim.New(waapisim.Options{BearerTokens: []string{token}, Sessions: []waapisim.Session{{ID: "demo-session", AccessToken: token}},
			Knobs: sim.Knobs{Latency: latency, Fail5xxRate: fail5xx, DropAfterAcceptRate: drop, RatePerSecond: rate, DeliverAfter: deliver, ReadAfter: read, ReadShare: readShare, FailShare: fail, Seed: seed}, WebhookURL: hookURL, WebhookDuplicateRate: 0.05})
		return demoSim{handler: sim, label: "session API (waapi)", close: sim.Close, webhooks: true,
			account: `    provider: waapi
    api_token: ${DEMO_API_TOKEN}
    session_id: demo-session` + hook,
			phones: func() []string { return phonesOfSends(sim.Sends(), func(s waapisim.Send) string { return s.Phone }) },
			stats:  func() (int, int, int) { st := sim.Stats(); return st.Accepted, st.Rejected5xx, st.Dropped }}, nil
	}
	return demoSim{}, fmt.Errorf("-provider %q: want one of %s", provider, demoProviders)
}

func phonesOfSends[S any](sends []S, phone func(S) string) []string {
	out := make([]string, len(sends))
	for i, s := range sends {
		out[i] = phone(s)
	}
	return out
}
