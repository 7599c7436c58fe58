package campaign_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/salebot/salebotsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/provider/waapi/waapisim"
	"github.com/wacamp/wacamp/sequence"
)

// lossyNet stands between a provider's webhook pushes and wacamp's
// receiver: it acknowledges every push at once, drops a share of them for
// good and forwards a share only after a random delay of up to maxDelay
// (the rest at once). It logs when each push about a phone reached wacamp.
type lossyNet struct {
	target     http.Handler
	loss, late float64
	maxDelay   time.Duration

	mu        sync.Mutex
	rng       *rand.Rand
	wg        sync.WaitGroup
	lost      int
	delayed   int
	forwarded []forward
}

type forward struct {
	at   time.Time
	body []byte
}

func (n *lossyNet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	x, d := n.rng.Float64(), time.Duration(n.rng.Int64N(int64(n.maxDelay)))
	drop, late := x < n.loss, x >= n.loss && x < n.loss+n.late
	if drop {
		n.lost++
	}
	if late {
		n.delayed++
	} else {
		d = 0
	}
	n.mu.Unlock()
	w.WriteHeader(http.StatusOK) // the provider sees it taken either way
	if drop {
		return
	}
	n.wg.Go(func() {
		time.Sleep(d) // the network's delay (not a synchronisation)
		req := httptest.NewRequest(r.Method, r.URL.String(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		rec := httptest.NewRecorder()
		n.target.ServeHTTP(rec, req)
		if rec.Code/100 != 2 {
			return // refused: no trace reached wacamp (the provider was told it was taken)
		}
		n.mu.Lock()
		n.forwarded = append(n.forwarded, forward{at: time.Now(), body: body})
		n.mu.Unlock()
	})
}

// about lists when each push mentioning phone reached wacamp, and its
// body, for a failure message.
func (n *lossyNet) about(phone string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out strings.Builder
	for _, f := range n.forwarded {
		if bytes.Contains(f.body, []byte(phone)) {
			fmt.Fprintf(&out, "\n  %s %s", f.at.Format("15:04:05.000"), f.body)
		}
	}
	return out.String()
}

// reachedAbout reports whether a push naming the message id (as a whole
// token) reached wacamp between from and to; a push about phone, when
// phone is not "" (Salebot's ids are small numbers, found in any push).
func (n *lossyNet) reachedAbout(phone, id string, from, to time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, f := range n.forwarded {
		if !f.at.Before(from) && !f.at.After(to) && bytes.Contains(f.body, []byte(phone)) && hasToken(f.body, id) {
			return true
		}
	}
	return false
}

// reachedShowing is reachedAbout for a push that also shows text (the
// message's content).
func (n *lossyNet) reachedShowing(phone, id, text string, from, to time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, f := range n.forwarded {
		if !f.at.Before(from) && !f.at.After(to) && bytes.Contains(f.body, []byte(phone)) && hasToken(f.body, id) && bytes.Contains(f.body, []byte(text)) {
			return true
		}
	}
	return false
}

// hasToken reports whether tok occurs in b with no letter or digit right
// before or after it.
func hasToken(b []byte, tok string) bool {
	word := func(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(tok))
		if j < 0 {
			return false
		}
		at, end := i+j, i+j+len(tok)
		if (at == 0 || !word(b[at-1])) && (end == len(b) || !word(b[end])) {
			return true
		}
		i = at + 1
	}
}

// simSend is one message a simulator accepted.
type simSend struct {
	phone, id, text string
	at              time.Time
}

// sendsText lists sends, one a line, for a failure message.
func sendsText(sends []simSend) string {
	var out strings.Builder
	for _, s := range sends {
		fmt.Fprintf(&out, "\n  %s %s %q", s.at.Format("15:04:05.000"), s.id, s.text)
	}
	return out.String()
}

// faultCase is one webhook provider under the fault mix.
type faultCase struct {
	name    string
	start   func(hook string) (h http.Handler, sends func() []simSend, closeSim func())
	account string
	// provider is the account's provider: name's when "".
	provider string
	// idOnly: a push may name a message by its id alone (the doc's Sobot
	// statuses: their wamid carries the recipient, the body does not).
	idOnly bool
}

// sobotFaultCase is Sobot under the fault mix, its statuses pushed in
// Meta's shape (with recipient_id) or as the doc shows them (bare
// {"id","status","timestamp"}: only the wamid says who it is about).
func sobotFaultCase(name string, metaStyle bool) faultCase {
	return faultCase{
		name: name,
		start: func(hook string) (http.Handler, func() []simSend, func()) {
			sim := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
				Knobs: sim.Knobs{Fail5xxRate: fault503, DropAfterAcceptRate: faultDrop, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.05, Seed: 11}, Fail500Rate: fault500, WebhookURL: hook, WebhookMetaStyle: metaStyle, WebhookEarly: true})
			return sim, func() []simSend {
				var out []simSend
				for _, s := range sim.Sends() {
					out = append(out, simSend{s.Phone, s.WAMID, s.Text, s.At})
				}
				return out
			}, sim.Close
		},
		account:  "    api_token: ${SIM_TOKEN}\n    api_secret: ${SIM_SECRET}",
		provider: "sobot",
		idOnly:   !metaStyle,
	}
}

// The fault mix: 5% 5xx (half bare 500s after the message was accepted,
// half 503s before), 2% answers dropped after acceptance.
const (
	fault503, fault500, faultDrop = 0.025, 0.025, 0.02
)

var faultCases = []faultCase{
	sobotFaultCase("sobot", true),
	sobotFaultCase("sobot-doc-statuses", false),
	{
		name: "salebot",
		start: func(hook string) (http.Handler, func() []simSend, func()) {
			sim := salebotsim.New(salebotsim.Options{APIKeys: []string{testToken}, WhatsAppBotIDs: []int64{77},
				Knobs: sim.Knobs{Fail5xxRate: fault503, DropAfterAcceptRate: faultDrop, DeliverAfter: 100 * time.Millisecond, FailShare: 0.05, Seed: 12}, Fail500Rate: fault500, WebhookURL: hook, WebhookReorder: true})
			return sim, func() []simSend {
				var out []simSend
				for _, s := range sim.Sends() {
					out = append(out, simSend{s.Phone, s.WAMID, s.Text, s.At})
				}
				return out
			}, sim.Close
		},
		account: "    api_token: ${SIM_TOKEN}\n    whatsapp_bot_id: 77",
	},
	{
		name: "waapi",
		start: func(hook string) (http.Handler, func() []simSend, func()) {
			sim := waapisim.New(waapisim.Options{BearerTokens: []string{testToken}, Sessions: []waapisim.Session{{ID: sessionID, AccessToken: testToken}},
				Knobs: sim.Knobs{Fail5xxRate: fault503, DropAfterAcceptRate: faultDrop, DeliverAfter: 100 * time.Millisecond, ReadAfter: 100 * time.Millisecond, ReadShare: 0.5, FailShare: 0.05, Seed: 13}, Fail500Rate: fault500, DocTextAnswers: true, WebhookEcho: true,
				WebhookURL: hook})
			return sim, func() []simSend {
				var out []simSend
				for _, s := range sim.Sends() {
					out = append(out, simSend{s.Phone, s.ID, s.Text, s.At})
				}
				return out
			}, sim.Close
		},
		account: "    api_token: ${SIM_TOKEN}\n    session_id: " + sessionID,
	},
}

// Issue 11 items 3 and 4, end to end per webhook provider: a broadcast and
// a two-step sequence (two texts to one phone a second apart) through a
// simulator answering 5% of sends with a 5xx (bare 500s after accepting,
// 503s before) and dropping 2% of answers after accepting, its webhooks
// going through a network that loses 5% and delays 5% by up to 10 s.
//
//   - Every recipient is accepted by the provider once: 503s are retried,
//     500s and dropped answers wait for the provider's webhooks and are
//     settled from them; a send is sent again only when no webhook about
//     its recipient reached wacamp within the settle window (counted, and
//     checked to be so).
//   - Nothing is lost: no delivery fails as "outcome unknown".
//   - Each status is on its own message: every recorded id is the id the
//     provider gave the message with that delivery's text to that phone
//     (the two steps to one phone never swap).
func TestWebhookProvidersSettleUnknownOutcomes(t *testing.T) {
	t.Parallel()
	for _, fc := range faultCases {
		t.Run(fc.name, func(t *testing.T) {
			t.Parallel()
			runFaultCase(t, fc)
		})
	}
}

func runFaultCase(t *testing.T, fc faultCase) {
	ctx := context.Background()
	b := newBench(t, botsailorsim.Options{})
	b.opts.Lease = 30 * time.Second
	b.fastChecks = true
	var net *lossyNet
	apiURL, sends := webhookWorld(b, fc.start, func(recv http.Handler) http.Handler {
		net = &lossyNet{target: recv, loss: 0.05, late: 0.05, maxDelay: 10 * time.Second, rng: rand.New(rand.NewPCG(1, 2))}
		t.Cleanup(net.wg.Wait)
		return net
	})
	const recipients, enrollments = 120, 30
	b.writePeople(recipients)
	b.runProviderYAML(fmt.Sprintf(`accounts:
  - name: main
    provider: %s
    customer_service_window: not_enforced
    base_url: %s
%s
    webhook_secret: ${HOOK_SECRET}
    rate_per_second: 200
    pair_interval: 0s
    daily_unique_limit: unlimited
    settle_window: 20s
broadcasts:
  - name: sale
    account: main
    audience: {csv: people.csv}
    message: {text: "Sale starts now, {{name}}: {{code}}"}
sequences:
  - name: drip
    account: main
    steps:
      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 1s, message: {text: "Still there, {{name}}?"}}
`, cmp.Or(fc.provider, fc.name), apiURL, fc.account), 20)
	people := make([]sequence.Enrollee, enrollments)
	for i := range people {
		people[i] = sequence.Enrollee{Phone: fmt.Sprintf("49152%08d", i), Name: fmt.Sprintf("Member %d", i)}
	}
	_, err := b.db.Enroll(ctx, "drip", people, time.Now())
	require.NoError(t, err)

	// Done when nothing is planned, queued or sending and no enrollment is
	// active (a step whose status failed does not stop the next).
	open := func() int {
		var n int64
		require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries WHERE status IN ('planned', 'queued', 'sending')`).Scan(&n).Error)
		enr, err := b.db.EnrollmentCounts(ctx, "drip")
		require.NoError(t, err)
		return int(n) + enr[sequence.EnrollActive]
	}
	deadline := time.Now().Add(4 * time.Minute)
	for open() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not done after 4 minutes: %d deliveries or enrollments open", open())
		}
		time.Sleep(200 * time.Millisecond) // a database condition: no event to wait on across the worker pool
	}

	// What the provider accepted, per phone, in order.
	byPhone := map[string][]simSend{}
	byID := map[string]simSend{}
	for _, s := range sends() {
		byPhone[s.phone] = append(byPhone[s.phone], s)
		byID[s.id] = s
	}
	want := map[string]int{}
	for i := range recipients {
		want[fmt.Sprintf("49151%08d", i)] = 1
	}
	for _, p := range people {
		want[p.Phone] = 2
	}
	duplicates, lost := 0, 0
	for phone, n := range want {
		got := byPhone[phone]
		if len(got) < n {
			lost += n - len(got)
			continue
		}
		// A message accepted twice was sent again only if no trace of its
		// first acceptance (a push naming its id) reached wacamp within
		// the settle window after it.
		first := map[string]simSend{} // text → its first acceptance
		for _, s := range got {
			f, ok := first[s.text]
			if !ok {
				first[s.text] = s
				continue
			}
			duplicates++
			// The window runs from when wacamp's request began, a little
			// before the simulator took it: a second less here.
			about := phone
			if fc.idOnly {
				about = ""
			}
			traced := net.reachedAbout(about, f.id, f.at, f.at.Add(19*time.Second))
			// A push that shows no content cannot tell two messages to one
			// phone apart while wacamp knows neither's id (waapi's status
			// updates; the README's known limits): with another such message
			// to the phone, only a push showing this one's text is a trace.
			var idless int64
			require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries WHERE phone = ? AND COALESCE(wamid, '') = ''
				AND status IN ('sent', 'delivered', 'read')`, phone).Scan(&idless).Error)
			if idless > 1 {
				traced = net.reachedShowing(about, f.id, s.text, f.at, f.at.Add(19*time.Second))
			}
			require.False(t, traced,
				"%s: %q sent again although a webhook about it had come within the settle window\nprovider accepted: %s\nwebhooks that reached wacamp: %s\n%s",
				phone, s.text, sendsText(got), net.about(phone), b.historyOf(phone))
		}
	}
	require.Zero(t, lost, "every recipient accepted")
	require.Len(t, byPhone, len(want), "nothing sent to anyone else")

	var unknown int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries WHERE error LIKE '%outcome unknown%'`).Scan(&unknown).Error)
	require.Zero(t, unknown, "no delivery failed as outcome unknown")

	// Each recorded id is the provider's id of the message with this
	// delivery's text to this phone.
	check := func(phone, text, wamid string, what string) {
		t.Helper()
		if wamid == "" {
			return // no status ever came (all its webhooks lost): stays sent
		}
		s, ok := byID[wamid]
		require.True(t, ok, "%s: id %s is no message the provider accepted", what, wamid)
		require.Equal(t, phone, s.phone, "%s: id %s is another phone's message", what, wamid)
		require.Equal(t, text, s.text, "%s: id %s is another message to this phone", what, wamid)
	}
	noID := 0
	for _, r := range b.export("sale") {
		require.Contains(t, []delivery.Status{delivery.Sent, delivery.Delivered, delivery.Read, delivery.Failed}, r.Status)
		i, err := strconv.Atoi(r.Phone[5:])
		require.NoError(t, err)
		check(r.Phone, fmt.Sprintf("Sale starts now, Person %d: C%d", i, i), r.WAMID, "broadcast")
		if r.WAMID == "" {
			noID++
		}
	}
	names := map[string]string{}
	for _, p := range people {
		names[p.Phone] = p.Name
	}
	for _, r := range b.sequenceRows("drip") {
		text := "Welcome " + names[r.Phone]
		if r.Step == 2 {
			text = "Still there, " + names[r.Phone] + "?"
		}
		check(r.Phone, text, r.WAMID, fmt.Sprintf("step %d", r.Step))
		if r.WAMID == "" {
			noID++
		}
	}
	counts := map[string]int{}
	var rows []struct {
		Settle string
		N      int
	}
	require.NoError(t, b.db.Gorm().Raw(`SELECT settle, COUNT(*) AS n FROM deliveries GROUP BY settle`).Scan(&rows).Error)
	for _, r := range rows {
		counts[r.Settle] = r.N
	}
	net.mu.Lock()
	lostHooks, delayedHooks := net.lost, net.delayed
	net.mu.Unlock()
	t.Logf("%s: %d messages planned; accepted %d, duplicates %d, lost %d; settled from webhooks %d, resent after the settle window %d; "+
		"ids never learned (every webhook lost) %d; webhooks lost %d, delayed %d",
		fc.name, recipients+2*enrollments, len(sends()), duplicates, lost, counts[delivery.SettleSettled], counts[delivery.SettleResent],
		noID, lostHooks, delayedHooks)
	require.NotZero(t, counts[delivery.SettleSettled], "some unknown outcomes were settled from webhooks")
}

// A send answered with a bare 500 waits, visibly, for the provider's
// webhooks; when none comes within the settle window it is sent again,
// once, and marked resent (before, it failed as "outcome unknown" and the
// recipient was never messaged).
func TestUnknownOutcomeWithoutTraceIsResentAfterTheWindow(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	b.opts.Lease = 30 * time.Second
	sim, apiURL := sobotAlways500(t)
	require.NoError(t, os.WriteFile(filepath.Join(b.dir, "people.csv"), []byte("phone,name,code\n4915100000001,Ann,C1\n"), 0o600))
	b.runProviderYAML(sobotAccount(apiURL)+`    settle_window: 5s
broadcasts:
  - name: one
    account: main
    audience: {csv: people.csv}
    message: {text: "Hi {{name}}"}
`, 2)
	b.waitFor(30*time.Second, "the send awaits the provider's confirmation", func() bool {
		rows := b.export("one")
		return len(rows) == 1 && rows[0].Status == delivery.Sending && rows[0].Settle == delivery.SettleAwaiting &&
			strings.Contains(rows[0].Error, delivery.ReasonAwaiting)
	})
	sim.SetOptions(func(o *sobotsim.Options) { o.Fail500Rate = 0 })
	b.waitFor(30*time.Second, "sent again after the window", func() bool {
		rows := b.export("one")
		return len(rows) == 1 && rows[0].Status == delivery.Sent
	})
	row := b.export("one")[0]
	require.Equal(t, delivery.SettleResent, row.Settle)
	require.NotEmpty(t, row.WAMID)
	require.Len(t, sim.Sends(), 2, "the 500's message and the one sent again")
	require.Equal(t, 1, b.status("one").Settle[delivery.SettleResent])
}
