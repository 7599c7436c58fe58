package campaign_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/provider/sobot/sobotsim"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/throttle"
)

// capLedger is the ledger of the bench's account (its number).
const capLedger = "number:119060000040020"

// sendsPerPhone counts what the simulator accepted, per phone.
func (b *bench) sendsPerPhone() map[string][]botsailorsim.Send {
	out := map[string][]botsailorsim.Send{}
	for _, s := range b.sim.Sends() {
		out[s.Phone] = append(out[s.Phone], s)
	}
	return out
}

// capCount is how many messages to phone the cap of messages per per
// counts at now.
func (b *bench) capCount(phone string, per time.Duration, now time.Time) int {
	b.t.Helper()
	n, err := throttle.NewRecipients(b.rds.Client).CapCount(context.Background(),
		throttle.Gate{Ledger: capLedger, Recipient: phone, Cap: throttle.Cap{Messages: 1, Per: per}}, now)
	require.NoError(b.t, err)
	return n
}

// TestFrequencyCapAcrossBroadcastsAndSequences: an account capped at two
// messages per hour to one person; three broadcasts to the same twelve
// people run at once on two workers (two processes' worth of send servers
// sharing Redis and Postgres; on one Redis, and as a fleet on a Redis
// Cluster with Postgres through PgBouncer). Nobody gets more than two: each person gets
// exactly two, and the third broadcast's delivery to them, whichever came
// last, is skipped with the reason code frequency_cap (status and export
// say so).
// A sequence step to each of them is then deferred, not skipped: it waits
// (held by the cap again and again) until the engine's clock moves past
// the window, and then goes out, once.
func TestFrequencyCapAcrossBroadcastsAndSequences(t *testing.T) {
	t.Parallel()
	onEachDeployment(t, func(t *testing.T, d deployment) { capAcrossBroadcastsAndSequences(t, d) })
}

func capAcrossBroadcastsAndSequences(t *testing.T, d deployment) {
	b := newBenchIn(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}}, d)
	clk := &offsetClock{}
	b.opts.Now = clk.Now
	b.opts.CapRecheck = 200 * time.Millisecond // a deferred step looks again soon (15 min in production)
	limits := newCountingLimits(b, throttle.HoldCap)
	b.recipients = limits
	b.accountYAML = "    pair_interval: 100ms\n    frequency_cap: {messages: 2, per: 1h}"
	const n, cap = 12, 2
	names := []string{"one", "two", "three"}
	for _, name := range names {
		b.apply(b.writeCampaign(name, n, 50, `      text: "`+name+` {{name}}"`))
	}
	b.startWorker(5)
	b.startWorker(5)
	b.startScheduler()
	ctx := context.Background()

	b.waitFor(60*time.Second, "every broadcast ended", func() bool {
		for _, name := range names {
			if c := b.counts(name); c["delivered"]+c["skipped"] != n {
				return false
			}
		}
		return true
	})
	perPhone := b.sendsPerPhone()
	require.Len(t, perPhone, n)
	for phone, sends := range perPhone {
		require.Len(t, sends, cap, "phone %s", phone)
	}
	skipped := 0
	for _, name := range names {
		st := b.status(name)
		require.Zero(t, st.Counts["failed"], name)
		require.Equal(t, campaign.StatusCompleted, st.Status, name)
		if st.Counts["skipped"] > 0 {
			require.Equal(t, map[string]int{delivery.ReasonFrequencyCap: st.Counts["skipped"]}, st.Skips, name)
		}
		skipped += st.Counts["skipped"]
		for _, r := range b.export(name) {
			if r.Status == delivery.Skipped {
				require.Equal(t, delivery.ReasonFrequencyCap, r.ErrorCode, "%+v", r)
				require.Contains(t, r.Error, "frequency cap: this person had 2 message(s) in the last 1h;", "%+v", r)
			}
		}
	}
	require.Equal(t, n, skipped, "one of the three broadcasts' deliveries per person")

	// A sequence step to each of them waits for room.
	limits.reset()
	b.apply(b.writeSequence("drip", "", `      - {after: 0s, deadline: 48h, message: {text: "Drip {{name}}"}}`))
	people := b.people(n)
	_, err := b.db.Enroll(ctx, "drip", people, clk.Now())
	require.NoError(t, err)
	phones := make([]string, n)
	for i, p := range people {
		phones[i] = p.Phone
	}
	// Each is held once and parked in Postgres until the cap has room
	// (within the hour), not re-checked in a task meanwhile.
	b.waitFor(30*time.Second, "every step held by the cap and parked", func() bool {
		var parked int
		err := b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries WHERE enrollment_id IS NOT NULL AND status = 'planned' AND gen > 0
			AND due_at > ? AND due_at <= ?`, clk.Now(), clk.Now().Add(time.Hour)).Scan(&parked).Error
		return err == nil && parked == n && limits.heldAtLeast(phones, 1)
	})
	require.Len(t, b.sim.Sends(), n*cap, "nothing more went out")
	rep, err := b.db.SequenceReport(ctx, "drip")
	require.NoError(t, err)
	require.Equal(t, map[string]int{sequence.EnrollActive: n}, rep.Enrollments)
	pending := 0
	for _, s := range []delivery.Status{delivery.Planned, delivery.Queued, delivery.Sending} {
		pending += rep.Steps[0].Counts[string(s)]
	}
	require.Equal(t, n, pending, "deferred, not skipped: %v", rep.Steps[0].Counts)
	for _, p := range phones {
		require.Equal(t, cap, b.capCount(p, time.Hour, clk.Now()), p)
	}

	// The window moves past the broadcasts' sends: every step goes, once.
	clk.Add(time.Hour + time.Second)
	b.waitFor(60*time.Second, "every enrollment completed", func() bool {
		c, err := b.db.EnrollmentCounts(ctx, "drip")
		return err == nil && c[sequence.EnrollCompleted] == n
	})
	perPhone = b.sendsPerPhone()
	for phone, sends := range perPhone {
		require.Len(t, sends, cap+1, "phone %s", phone)
		require.True(t, strings.HasPrefix(sends[cap].Text, "Drip "), "phone %s: the step came last: %q", phone, sends[cap].Text)
	}
	for _, r := range b.sequenceRows("drip") {
		require.Empty(t, r.ErrorCode, "%+v", r)
		require.Contains(t, []string{"sent", "delivered"}, r.Status, "%+v", r)
	}
}

// TestFrequencyCapSkipsStepsWhenTheAccountSaysSo: with sequences: skip, a
// step over the cap is skipped (code frequency_cap) and its enrollment
// goes on with its next step, which the cap skips too; the enrollments
// complete and nobody gets more than the cap.
func TestFrequencyCapSkipsStepsWhenTheAccountSaysSo(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
	b.accountYAML = "    pair_interval: 0s\n    frequency_cap: {messages: 1, per: 1h, sequences: skip}"
	const n = 3
	b.apply(b.writeCampaign("first", n, 50, `      text: "First {{name}}"`))
	b.startWorker(3)
	b.startScheduler()
	b.waitFor(30*time.Second, "the broadcast delivered", func() bool { return b.counts("first")["delivered"] == n })

	b.apply(b.writeSequence("drip", "", `      - {after: 0s, message: {text: "One"}}
      - {after: 1s, message: {text: "Two"}}`))
	_, err := b.db.Enroll(context.Background(), "drip", b.people(n), time.Now())
	require.NoError(t, err)
	b.waitFor(30*time.Second, "every enrollment completed", func() bool {
		c, err := b.db.EnrollmentCounts(context.Background(), "drip")
		return err == nil && c[sequence.EnrollCompleted] == n
	})
	for phone, sends := range b.sendsPerPhone() {
		require.Len(t, sends, 1, phone)
	}
	rows := b.sequenceRows("drip")
	require.Len(t, rows, 2*n)
	for _, r := range rows {
		require.Equal(t, "skipped", r.Status, "%+v", r)
		require.Equal(t, delivery.ReasonFrequencyCap, r.ErrorCode, "%+v", r)
	}
	rep, err := b.db.SequenceReport(context.Background(), "drip")
	require.NoError(t, err)
	for _, st := range rep.Steps {
		require.Equal(t, map[string]int{delivery.ReasonFrequencyCap: n}, st.Skips, "step %d", st.Step)
	}
}

// marketingCap is a BotSailor answer carrying Meta's 131049.
const marketingCap = `{"status":"0","message":"(#131049) This message was not delivered to maintain healthy ecosystem engagement."}`

// TestMarketingCapRefusal: Meta's own per-user marketing limit (131049)
// is counted as the frequency cap. A broadcast's delivery it refuses ends
// failed (the provider refused it: no retry) with code 131049, counted by
// status beside the cap's skips, and is no error storm;
// the refused send is handed back from the cap (nothing reached the
// person). A sequence step it refuses is sent again 24 h later, within its
// deadline, or expires when its deadline comes first.
func TestMarketingCapRefusal(t *testing.T) {
	t.Parallel()
	t.Run("broadcast", func(t *testing.T) {
		t.Parallel()
		b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{DeliverAfter: 100 * time.Millisecond, ReadAfter: -1}})
		const victim = "4915100000000" // the first recipient
		b.interceptSends(func(p string) string {
			if p == victim {
				return marketingCap
			}
			return ""
		})
		b.accountYAML = "    pair_interval: 0s\n    frequency_cap: {messages: 2, per: 1h}"
		b.broadcastYAML = "    error_storm: {share: 0.1, window: 10}" // one failure in three would pause it
		b.apply(b.writeCampaign("b1", 3, 20, `      text: "Hi {{name}}"`))
		b.startWorker(3)
		b.startScheduler()
		b.waitFor(30*time.Second, "settled", func() bool { c := b.counts("b1"); return c["delivered"] == 2 && c["failed"] == 1 })
		st := b.status("b1")
		require.Equal(t, campaign.StatusCompleted, st.Status, st.Reason)
		require.Equal(t, 1, st.MarketingCapRefused)
		for _, r := range b.export("b1") {
			if r.Phone == victim {
				require.Equal(t, delivery.Failed, r.Status)
				require.Equal(t, delivery.CodeMarketingCap, r.ErrorCode)
				require.Contains(t, r.Error, "frequency cap: refused under Meta's per-user marketing limit")
				require.Equal(t, 1, r.Attempts, "not retried")
				require.Zero(t, b.capCount(r.Phone, time.Hour, time.Now()), "handed back")
				continue
			}
			require.Empty(t, r.ErrorCode)
			require.Equal(t, 1, b.capCount(r.Phone, time.Hour, time.Now()), r.Phone)
		}
	})
	t.Run("sequence step", func(t *testing.T) {
		t.Parallel()
		b := newBench(t, botsailorsim.Options{})
		var mu sync.Mutex
		refused := 0
		b.interceptSends(func(string) string {
			mu.Lock()
			defer mu.Unlock()
			if refused < 2 { // each person's first try
				refused++
				return marketingCap
			}
			return ""
		})
		b.accountYAML = "    pair_interval: 0s\n    frequency_cap: {messages: 2, per: 168h}"
		b.apply(b.writeSequence("drip", "", `      - {after: 0s, deadline: 48h, message: {text: "Hi"}}`))
		start := time.Now()
		ctx := context.Background()
		people := b.people(2)
		_, err := b.db.Enroll(ctx, "drip", people, start)
		require.NoError(t, err)
		due, err := b.db.DueSteps(ctx, start, nil, 10)
		require.NoError(t, err)
		require.Len(t, due, 2)
		// The second person's step has 12 h left: no room for a retry. The
		// first's 25 h: its retry comes within them, not in the 24–30 h the
		// spread would give.
		require.NoError(t, b.db.Gorm().Exec(`UPDATE deliveries SET send_by = ? WHERE id = ?`, start.Add(12*time.Hour), due[1].ID).Error)
		require.NoError(t, b.db.Gorm().Exec(`UPDATE deliveries SET send_by = ? WHERE id = ?`, start.Add(25*time.Hour), due[0].ID).Error)
		clk := &setClock{}
		clk.Set(start)
		b.opts.Now = clk.Now
		h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv},
			Limiter: throttle.NewLocal(), Recipients: throttle.NewRecipients(b.rds.Client)}, b.opts)

		// The first waits a day or more, parked in Postgres.
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[0].Ref, time.Minute)))
		again, at := b.parked(due[0].ID, clk.Now())
		require.False(t, at.Before(start.Add(delivery.MarketingCapWait)), "due %s", at)
		require.False(t, at.After(start.Add(25*time.Hour)), "due %s, after its deadline", at)
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[1].Ref, time.Minute)))
		byPhone := map[string]sequence.Row{}
		for _, r := range b.sequenceRows("drip") {
			byPhone[r.Phone] = r
		}
		waiting, expired := byPhone[people[0].Phone], byPhone[people[1].Phone]
		require.Equal(t, "planned", waiting.Status, "%+v", waiting)
		require.Equal(t, delivery.CodeMarketingCap, waiting.ErrorCode)
		require.Contains(t, waiting.Error, "Meta's per-user marketing limit")
		require.Equal(t, "expired", expired.Status, "%+v", expired)
		require.Equal(t, delivery.CodeMarketingCap, expired.ErrorCode)
		require.Zero(t, b.capCount(people[0].Phone, 168*time.Hour, clk.Now()), "the refused send was handed back")

		clk.Set(at)
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(again, time.Minute)))
		require.Equal(t, 1, b.sim.SendCount(people[0].Phone))
		require.Zero(t, b.sim.SendCount(people[1].Phone))
		require.Equal(t, 1, b.capCount(people[0].Phone, 168*time.Hour, clk.Now()))
		c, err := b.db.EnrollmentCounts(ctx, "drip")
		require.NoError(t, err)
		require.Equal(t, map[string]int{sequence.EnrollCompleted: 1, sequence.EnrollStopped: 1}, c)
	})
}

// A 131049 that comes as a status after the send was accepted — a Sobot
// webhook saying the message failed, with the code or with Meta's title
// alone — is classified as the send's error is: failed with code 131049,
// counted by status as refused under Meta's marketing limit, no error
// storm (the broadcast completes).
func TestMarketingCapAsAStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, from, to string }{
		{"code", "131026", "131049"},
		{"title only", `"code":131026`, `"code":""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newBench(t, botsailorsim.Options{})
			b.fastChecks = true
			// The simulator fails every message with 131026; the webhook's
			// body is rewritten on its way to the receiver into Meta's
			// marketing limit.
			rewrite := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					body, err := io.ReadAll(r.Body)
					if err != nil {
						http.Error(w, err.Error(), http.StatusBadRequest)
						return
					}
					s := strings.ReplaceAll(string(body), tc.from, tc.to)
					s = strings.ReplaceAll(s, "Message undeliverable.", "This message was not delivered to maintain healthy ecosystem engagement.")
					r.Body, r.ContentLength = io.NopCloser(strings.NewReader(s)), int64(len(s))
					next.ServeHTTP(w, r)
				})
			}
			apiURL, _ := webhookWorld(b, func(hook string) (http.Handler, struct{}, func()) {
				s := sobotsim.New(sobotsim.Options{Credentials: []sobotsim.Credential{{Key: testToken, Secret: simSecret}},
					Knobs: sim.Knobs{DeliverAfter: 50 * time.Millisecond, FailShare: 1}, WebhookURL: hook})
				return s, struct{}{}, s.Close
			}, rewrite)
			b.runProviderYAML(sobotAccount(apiURL)+`    frequency_cap: {messages: 2, per: 1h}
broadcasts:
  - name: promo
    account: main
    error_storm: {share: 0.1, window: 10}
    audience: {recipients: [{phone: "4915100000001", name: A}, {phone: "4915100000002", name: B}, {phone: "4915100000003", name: C}]}
    message: {template: {name: promo, language: en}}
`, 3)
			b.waitFor(60*time.Second, "every message failed by its status", func() bool { return b.counts("promo")["failed"] == 3 })
			st := b.status("promo")
			require.Equal(t, 3, st.MarketingCapRefused)
			for _, r := range b.export("promo") {
				require.Equal(t, delivery.CodeMarketingCap, r.ErrorCode, "%+v", r)
			}
			b.waitFor(30*time.Second, "completed, no error storm", func() bool { return b.status("promo").Status == campaign.StatusCompleted })
		})
	}
}
