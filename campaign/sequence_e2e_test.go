package campaign_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/sequence"
	"github.com/wacamp/wacamp/throttle"
)

// writeSequence writes a YAML file with the bench's account and one
// sequence (steps: YAML lines indented 6 spaces) and returns its path.
func (b *bench) writeSequence(name, extra, steps string) string {
	b.t.Helper()
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: %s
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: 200
    daily_unique_limit: unlimited
%s
sequences:
  - name: %s
    account: main
%s
    steps:
%s
`, cmp.Or(b.serviceWindow, "not_enforced"), b.url, b.accountYAML, name, extra, steps)
	p := filepath.Join(b.dir, name+".yaml")
	require.NoError(b.t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

// people returns n enrollees with phones from b.firstPhone on.
func (b *bench) people(n int) []sequence.Enrollee {
	out := make([]sequence.Enrollee, n)
	for i := range out {
		out[i] = sequence.Enrollee{Phone: fmt.Sprintf("49151%08d", b.firstPhone+i), Name: fmt.Sprintf("Person %d", i),
			Vars: map[string]string{"code": fmt.Sprintf("C%d", i)}}
	}
	return out
}

func (b *bench) sequenceRows(name string) []sequence.Row {
	b.t.Helper()
	var rows []sequence.Row
	require.NoError(b.t, b.db.ExportSequence(context.Background(), name, func(r sequence.Row) error {
		rows = append(rows, r)
		return nil
	}))
	return rows
}

// A 3-step sequence runs end to end for 100 enrollments: every recipient
// gets the steps in order, spaced by at least each step's delay, each once;
// the enrollments complete.
func TestSequenceEndToEnd(t *testing.T) {
	t.Parallel()
	onEachDeployment(t, func(t *testing.T, d deployment) {
		b := newBenchIn(t, botsailorsim.Options{Knobs: sim.Knobs{Latency: 2 * time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 11}}, d)
		b.accountYAML = "    pair_interval: 0s"
		const n = 100
		delays := []time.Duration{0, 2 * time.Second, 3 * time.Second}
		b.apply(b.writeSequence("drip", "", `      - {after: 0s, message: {text: "Welcome {{name}}"}}
      - {after: 2s, message: {template: {id: "313823", vars: {name: "{{name}}", code: "{{code}}"}}}}
      - {after: 3s, message: {text: "Last one, {{name}}: {{code}}"}}`))
		res, err := b.db.Enroll(context.Background(), "drip", b.people(n), time.Now())
		require.NoError(t, err)
		require.Equal(t, n, res.Enrolled)

		b.startWorker(20)
		b.startWorker(20)
		b.startScheduler()
		b.startScheduler() // two replicas feed the same steps

		b.waitFor(90*time.Second, "every enrollment completed", func() bool {
			c, err := b.db.EnrollmentCounts(context.Background(), "drip")
			return err == nil && c[sequence.EnrollCompleted] == n
		})

		// What the provider received, per phone, in order.
		got := map[string][]botsailorsim.Send{}
		for _, s := range b.sim.Sends() {
			got[s.Phone] = append(got[s.Phone], s)
		}
		require.Len(t, got, n)
		for i, p := range b.people(n) {
			sends := got[p.Phone]
			require.Len(t, sends, 3, "phone %s", p.Phone)
			sort.SliceStable(sends, func(a, c int) bool { return sends[a].At.Before(sends[c].At) })
			require.Equal(t, "Welcome Person "+fmt.Sprint(i), sends[0].Text)
			require.Equal(t, "313823", sends[1].Text)
			require.Equal(t, map[string]string{"name-1": fmt.Sprintf("Person %d", i), "code-2": fmt.Sprintf("C%d", i)}, sends[1].TemplateVars)
			require.Equal(t, fmt.Sprintf("Last one, Person %d: C%d", i, i), sends[2].Text)
			for k := 1; k < 3; k++ {
				require.GreaterOrEqual(t, sends[k].At.Sub(sends[k-1].At), delays[k],
					"phone %s: step %d came %s after step %d", p.Phone, k+1, sends[k].At.Sub(sends[k-1].At), k)
			}
		}
		rows := b.sequenceRows("drip")
		require.Len(t, rows, 3*n)
		var worst time.Duration
		for _, r := range rows {
			if r.SentAt != nil && r.DueAt != nil && r.SentAt.Sub(*r.DueAt) > worst {
				worst = r.SentAt.Sub(*r.DueAt)
			}
		}
		t.Logf("the latest step left %s after its due time", worst)
		wamids := map[string]bool{}
		for _, r := range rows {
			require.Contains(t, []string{"sent", "delivered", "read"}, r.Status, "%+v", r)
			require.NotEmpty(t, r.WAMID, "%+v", r)
			require.False(t, wamids[r.WAMID], "wamid %s twice", r.WAMID)
			wamids[r.WAMID] = true
		}
		rep, err := b.db.SequenceReport(context.Background(), "drip")
		require.NoError(t, err)
		require.Equal(t, map[string]int{"completed": n}, rep.Enrollments)
	})
}

// Unenroll and exit rules stop pending steps: once someone is unenrolled,
// or replied to a sequence that exits on reply, nothing more is sent to
// them; an event the sequence does not exit on changes nothing.
func TestSequenceUnenrollAndExitStopPendingSteps(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{Knobs: sim.Knobs{Latency: time.Millisecond, DeliverAfter: 100 * time.Millisecond, ReadAfter: -1, Seed: 5}})
	b.accountYAML = "    pair_interval: 0s"
	const n = 30
	b.apply(b.writeSequence("exits", "    exit_on: [reply]", `      - {after: 0s, message: {text: "One {{name}}"}}
      - {after: 5s, message: {text: "Two {{name}}"}}
      - {after: 0s, message: {text: "Three {{name}}"}}`))
	people := b.people(n)
	_, err := b.db.Enroll(context.Background(), "exits", people, time.Now())
	require.NoError(t, err)
	b.startWorker(10)
	b.startScheduler()
	b.waitFor(30*time.Second, "step 1 sent to everyone", func() bool {
		rep, err := b.db.SequenceReport(context.Background(), "exits")
		return err == nil && rep.Steps[0].Counts["sent"]+rep.Steps[0].Counts["delivered"] == n
	})
	ctx := context.Background()
	for _, p := range people[:10] {
		ok, err := b.db.Unenroll(ctx, "exits", p.Phone, "asked to stop", time.Now())
		require.NoError(t, err)
		require.True(t, ok)
	}
	for _, p := range people[10:20] {
		b.sim.Reply("119060000040020", p.Phone, "stop please") // found by the send path before step 2
	}
	for _, p := range people[20:25] {
		names, err := b.db.Exit(ctx, p.Phone, "unsubscribe", time.Now())
		require.NoError(t, err)
		require.Empty(t, names, "the sequence does not exit on unsubscribe")
	}
	b.waitFor(60*time.Second, "every enrollment ended", func() bool {
		c, err := b.db.EnrollmentCounts(ctx, "exits")
		return err == nil && c[sequence.EnrollActive] == 0
	})
	c, err := b.db.EnrollmentCounts(ctx, "exits")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"unenrolled": 10, "exited": 10, "completed": 10}, c)
	for i, p := range people {
		want := 3
		if i < 20 {
			want = 1
		}
		require.Equal(t, want, b.sim.SendCount(p.Phone), "phone %s (person %d)", p.Phone, i)
	}
	for _, r := range b.sequenceRows("exits") {
		if r.Step > 1 && r.Status == "skipped" {
			require.Contains(t, r.Error, "enrollment ", "%+v", r)
		}
	}
}

// calendars are the "nows" a clock-driven scenario runs at: today, a year
// ahead and a year ago (the same assertions must hold whatever the date; a
// clock in the past is what broke the send path when these tests were
// pinned to dates that passed).
var calendars = []struct {
	name  string
	years int
}{{"now", 0}, {"a year ahead", 1}, {"a year ago", -1}}

// A step that a throttle held past its window's close waits for the next
// opening in the recipient's zone, or expires if that is past its deadline
// (which stops the enrollment). The clock is injected: no waiting. It runs
// from today, a year ahead and a year ago.
func TestStepOutsideItsWindowWaitsOrExpires(t *testing.T) {
	t.Parallel()
	for _, cal := range calendars {
		t.Run(cal.name, func(t *testing.T) {
			t.Parallel()
			stepOutsideItsWindow(t, time.Now().AddDate(cal.years, 0, 0))
		})
	}
}

func stepOutsideItsWindow(t *testing.T, base time.Time) {
	b := newBench(t, botsailorsim.Options{})
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("windowed", `    window: {days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}`,
		`      - {after: 0s, deadline: 96h, message: {text: "Hi"}}
      - {after: 0s, deadline: 1h, message: {text: "Hi"}}`))
	berlin := testclock.Zone(t, "Europe/Berlin")
	friday := testclock.Next(base, berlin, 16, 0, time.Friday) // in the window
	monday := testclock.Next(friday, berlin, 9, 0, time.Monday)
	ctx := context.Background()
	people := b.people(2) // German numbers: Europe/Berlin
	_, err := b.db.Enroll(ctx, "windowed", people, friday)
	require.NoError(t, err)
	due, err := b.db.DueSteps(ctx, friday, nil, 10)
	require.NoError(t, err)
	require.Len(t, due, 2)
	require.True(t, due[0].DueAt.Equal(friday))

	clk := &setClock{}
	b.opts.Now = clk.Now
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal()}, b.opts)

	// Held until 17:30 Friday: the window opens again Monday 09:00 Berlin.
	// A wait that long is parked in Postgres, due then; the task ends.
	clk.Set(friday.Add(90 * time.Minute))
	require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[0].Ref, time.Minute)))
	ref, at := b.parked(due[0].ID, clk.Now())
	require.True(t, at.Equal(monday), "due when the window opens: %s", at)
	require.Equal(t, due[0].Gen+1, ref.Gen)
	require.Zero(t, b.sim.Stats().Accepted)

	// The same for a step whose deadline (18:00) comes before the window
	// opens again: expired now, not sent late.
	err = b.db.Gorm().Exec(`UPDATE deliveries SET send_by = ? WHERE id = ?`, friday.Add(2*time.Hour), due[1].ID).Error
	require.NoError(t, err)
	require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[1].Ref, time.Minute)))
	rows := b.sequenceRows("windowed")
	byPhone := map[string]sequence.Row{}
	for _, r := range rows {
		byPhone[r.Phone] = r
	}
	require.Equal(t, "expired", byPhone[people[1].Phone].Status)
	require.Contains(t, byPhone[people[1].Phone].Error, "window does not open again before its deadline")
	c, err := b.db.EnrollmentCounts(ctx, "windowed")
	require.NoError(t, err)
	require.Equal(t, map[string]int{"active": 1, "stopped": 1}, c)

	// Monday 09:00: it goes; the task of the generation before does not.
	clk.Set(monday)
	require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(due[0].Ref, time.Minute)))
	require.Zero(t, b.sim.SendCount(people[0].Phone))
	require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(ref, time.Minute)))
	require.Equal(t, 1, b.sim.SendCount(people[0].Phone))
}

// A step refused for account-level reasons waits for the account up to its
// deadline, then expires; its tries are not used up meanwhile (review
// finding: it failed after 10 tries, 2.5 h into a 24 h deadline). It runs
// from today, a year ahead and a year ago.
func TestHaltedAccountStepWaitsUntilItsDeadline(t *testing.T) {
	t.Parallel()
	for _, cal := range calendars {
		t.Run(cal.name, func(t *testing.T) {
			t.Parallel()
			haltedAccountStep(t, time.Now().AddDate(cal.years, 0, 0))
		})
	}
}

func haltedAccountStep(t *testing.T, start time.Time) {
	b := newBench(t, botsailorsim.Options{})
	b.interceptSends(func(string) string { return `{"status":"0","message":"(#131048) Spam rate limit hit"}` })
	b.accountYAML = "    pair_interval: 0s"
	b.apply(b.writeSequence("halt", "", `      - {after: 0s, deadline: 24h, message: {text: "Hi"}}`))
	ctx := context.Background()
	_, err := b.db.Enroll(ctx, "halt", b.people(1), start)
	require.NoError(t, err)
	due, err := b.db.DueSteps(ctx, start, nil, 10)
	require.NoError(t, err)
	clk := &setClock{}
	clk.Set(start)
	b.opts.Now = clk.Now
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal()}, b.opts)
	// Each try waits for the account (15 min), parked in Postgres.
	ref := due[0].Ref
	for range 200 {
		err := h.ProcessTask(ctx, delivery.NewSendTask(ref, time.Minute))
		var we *delivery.WaitError
		if errors.As(err, &we) {
			clk.Set(clk.Now().Add(we.After))
			continue
		}
		require.NoError(t, err)
		if b.step(ref.ID).Status != string(delivery.Planned) {
			break
		}
		var at time.Time
		ref, at = b.parked(ref.ID, clk.Now())
		clk.Set(at)
	}
	r := b.sequenceRows("halt")[0]
	require.Equal(t, "expired", r.Status, r.Error)
	require.GreaterOrEqual(t, clk.Now().Sub(start), 24*time.Hour)
}

// historyOf describes every delivery to phone and its events, for a
// failure message: what the engine did to a recipient the provider saw
// more (or fewer) sends for than expected.
func (b *bench) historyOf(phone string) string {
	b.t.Helper()
	var ds []struct {
		ID, Gen, Attempts                                  int64
		Step                                               *int
		Status, Wamid, Settle, ErrorCode, Error            string
		SendingAt, SentAt, LeaseUntil, UpdatedAt, QueuedAt *time.Time
	}
	require.NoError(b.t, b.db.Gorm().Raw(`SELECT id, gen, attempts, step, status, COALESCE(wamid, '') AS wamid, COALESCE(settle, '') AS settle,
		error_code, error, sending_at, sent_at, lease_until, updated_at, queued_at FROM deliveries WHERE phone = ? ORDER BY id`, phone).Scan(&ds).Error)
	var out strings.Builder
	fmt.Fprintf(&out, "deliveries to %s:", phone)
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Local().Format("15:04:05.000")
	}
	for _, d := range ds {
		step := "broadcast"
		if d.Step != nil {
			step = fmt.Sprintf("step %d", *d.Step+1)
		}
		fmt.Fprintf(&out, "\n  #%d %s gen %d attempts %d: %s wamid %q settle %q error %q %q; queued %s sending %s lease %s sent %s updated %s",
			d.ID, step, d.Gen, d.Attempts, d.Status, d.Wamid, d.Settle, d.ErrorCode, d.Error,
			at(d.QueuedAt), at(d.SendingAt), at(d.LeaseUntil), at(d.SentAt), at(d.UpdatedAt))
		var evs []struct {
			Status, Detail string
			At             time.Time
		}
		require.NoError(b.t, b.db.Gorm().Raw(`SELECT status, detail, at FROM delivery_events WHERE delivery_id = ? ORDER BY id`, d.ID).Scan(&evs).Error)
		for _, e := range evs {
			fmt.Fprintf(&out, "\n    %s %s %q", e.At.Local().Format("15:04:05.000"), e.Status, e.Detail)
		}
	}
	return out.String()
}
