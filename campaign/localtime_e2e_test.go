package campaign_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/app"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/throttle"
)

// writeLocalCampaign writes one account and one broadcast (lines, indented
// four spaces, after its name and account) and returns the file's path.
func (b *bench) writeLocalCampaign(name, lines string) string {
	b.t.Helper()
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    rate_per_second: 50
    pair_interval: 0s
broadcasts:
  - name: %s
    account: main
%s
    message: {text: "Good morning {{name}}"}
`, b.url, name, lines)
	p := filepath.Join(b.dir, name+".yaml")
	require.NoError(b.t, os.WriteFile(p, []byte(yaml), 0o600))
	return p
}

// A broadcast at 09:00 local time on the day Berlin's clocks go forward,
// to recipients in Tokyo (one by their number, one by their timezone
// variable), Berlin and New York, with the clock injected: each zone's
// recipients get it at 09:00 on their own wall clock (Berlin's in summer
// time since 02:00 that night: an hour earlier in UTC than the day before)
// and not a second before, each zone planned only when its time comes;
// the broadcast completes when the last zone has sent. The day is the next
// spring-forward from now, and from a year ahead.
func TestLocalTimeBroadcastAcrossZonesAndDST(t *testing.T) {
	t.Parallel()
	testclock.NowAndAYearAhead(t, localTimeAcrossZones)
}

func localTimeAcrossZones(t *testing.T, base time.Time) {
	berlin, tokyo, newYork := testclock.Zone(t, "Europe/Berlin"), testclock.Zone(t, "Asia/Tokyo"), testclock.Zone(t, "America/New_York")
	day := testclock.ClocksForward(t, base, berlin).In(berlin)
	nine := func(loc *time.Location) time.Time {
		return time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, loc)
	}
	require.Equal(t, 7, nine(berlin).UTC().Hour(), "09:00 CEST")
	require.Equal(t, 8, nine(berlin).AddDate(0, 0, -1).UTC().Hour(), "09:00 CET the day before")

	b := newBench(t, botsailorsim.Options{})
	zoneOf := map[string]*time.Location{
		"819012345601": tokyo, "4915100000009": tokyo, // by number; by the variable
		"4915100000001": berlin, "4915100000002": berlin,
		"12125550101": newYork, "12125550102": newYork,
	}
	b.apply(b.writeLocalCampaign("morning", `    local_time: "09:00"
    date: `+day.Format(localtime.DateLayout)+`
    audience:
      recipients:
        - {phone: "4915100000001", name: B1}
        - {phone: "819012345601", name: T1}
        - {phone: "12125550101", name: N1}
        - {phone: "4915100000009", name: T2, vars: {timezone: Asia/Tokyo}}
        - {phone: "4915100000002", name: B2}
        - {phone: "12125550102", name: N2}`))

	start, _ := localtime.Timing{LocalTime: "09:00", Date: day.Format(localtime.DateLayout)}.DefaultStart()
	clk := testclock.New(start.Add(-time.Minute))
	b.opts.Now = clk.Now
	f, _ := b.feeder()
	svc := b.service()
	b.startWorker(4)
	ctx := context.Background()
	tick := func(at time.Time) {
		t.Helper()
		clk.Set(at)
		require.NoError(t, f.Tick(ctx))
	}
	// sent counts the zone's recipients whose send is recorded (sent_at is
	// the injected clock's when the worker recorded it: the clock moves on
	// only after that).
	sent := func(loc *time.Location) int {
		n := 0
		for _, r := range b.export("morning") {
			if zoneOf[r.Phone] == loc && r.SentAt != nil {
				n++
			}
		}
		return n
	}

	tick(start.Add(-time.Minute))
	st, err := svc.Status(ctx, "morning")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusScheduled, st.Status)

	// Started when 09:00 first comes on that date anywhere (UTC+14): no
	// recipient's 09:00 has come yet; nothing is planned or queued.
	tick(start)
	st, err = svc.Status(ctx, "morning")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, st.Status)
	require.Len(t, st.Zones, 3)
	for i, want := range []struct {
		loc   *time.Location
		local string
	}{{tokyo, "09:00 JST"}, {berlin, "09:00 CEST"}, {newYork, "09:00 EDT"}} {
		z := st.Zones[i]
		require.Equal(t, want.loc.String(), z.Zone)
		require.True(t, nine(want.loc).Equal(z.Due), "%s due %s", z.Zone, z.Due)
		require.Contains(t, z.Local, want.local)
		require.Equal(t, 2, z.Recipients)
		require.Equal(t, campaign.ZoneWaiting, z.State)
	}
	require.Zero(t, pendingSends(t, b))

	// Each zone: a second before its 09:00 nothing of it is queued; at
	// 09:00 it goes, and only it.
	for i, loc := range []*time.Location{tokyo, berlin, newYork} {
		tick(nine(loc).Add(-time.Second))
		require.Zero(t, pendingSends(t, b), "%s: nothing queued before 09:00", loc)
		require.Equal(t, 2*i, b.sim.Stats().Accepted, "%s: only the earlier zones sent", loc)
		tick(nine(loc))
		b.waitFor(30*time.Second, loc.String()+" sent", func() bool { return sent(loc) == 2 })
		require.Equal(t, 2*(i+1), b.sim.Stats().Accepted, "%s: no other zone sent", loc)
		// Its batch task may still be finishing (active) once both sends
		// are recorded: the next zone's "nothing queued" counts tasks.
		b.waitFor(30*time.Second, loc.String()+" task done", func() bool { return pendingSends(t, b) == 0 })
	}

	tick(nine(newYork).Add(time.Second))
	st, err = svc.Status(ctx, "morning")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, st.Status)
	for _, z := range st.Zones {
		require.Equal(t, campaign.ZoneDone, z.State, z.Zone)
		require.Equal(t, 2, z.Handed, z.Zone)
	}
	rows := b.export("morning")
	require.Len(t, rows, 6)
	for _, r := range rows {
		require.NotNil(t, r.SentAt, r.Phone)
		want := nine(zoneOf[r.Phone])
		require.True(t, want.Equal(*r.SentAt), "%s sent at %s, want 09:00 %s (%s)", r.Phone, r.SentAt.In(zoneOf[r.Phone]), zoneOf[r.Phone], want.UTC())
	}
	b.requireOncePerPhone(rows)
}

// Quiet hours for broadcasts: a delivery a throttle held past its window's
// close (17:00 in the recipient's zone) waits for the next opening (09:00
// the next day) back in the plan, holding no queued task, and goes then;
// one whose deadline comes before that opening expires instead. The clock
// is injected; the days are from now and a year ahead.
func TestBroadcastQuietHoursHoldThenReleaseOrExpire(t *testing.T) {
	t.Parallel()
	testclock.NowAndAYearAhead(t, quietHours)
}

func quietHours(t *testing.T, base time.Time) {
	berlin := testclock.Zone(t, "Europe/Berlin")
	start := testclock.Next(base, berlin, 16, 50).UTC().Truncate(time.Second)
	opens := testclock.Next(start, berlin, 9, 0)
	b := newBench(t, botsailorsim.Options{})
	audience := func(first int) string {
		return fmt.Sprintf(`    audience: {recipients: [{phone: "49151000000%02d", name: A}, {phone: "49151000000%02d", name: B}]}`, first, first+1)
	}
	b.apply(b.writeLocalCampaign("patient", `    start_at: `+start.Format(time.RFC3339)+`
    deadline: 24h
    window: {from: "09:00", to: "17:00"}
`+audience(10)))
	b.apply(b.writeLocalCampaign("hasty", `    start_at: `+start.Format(time.RFC3339)+`
    deadline: 2h
    window: {from: "09:00", to: "17:00"}
`+audience(20)))

	clk := testclock.New(start)
	b.opts.Now = clk.Now
	f, _ := b.feeder()
	svc := b.service()
	h := campaign.NewSendHandler(campaign.SendDeps{Store: b.db, Senders: &app.Senders{Getenv: getenv}, Limiter: throttle.NewLocal()}, b.opts)
	ctx := context.Background()

	queuedOf := func(name string) int {
		t.Helper()
		st, err := svc.Status(ctx, name)
		require.NoError(t, err)
		return st.Counts[string(delivery.Queued)]
	}

	// 16:50: inside the window, both broadcasts queue their recipients.
	require.NoError(t, f.Tick(ctx))
	require.Equal(t, 2, queuedOf("patient"))
	require.Equal(t, 2, queuedOf("hasty"))
	queued := func(name string) []delivery.Job {
		var jobs []delivery.Job
		for _, r := range b.export(name) {
			j, err := b.db.Job(ctx, r.ID)
			require.NoError(t, err)
			jobs = append(jobs, j)
		}
		return jobs
	}
	patient, hasty := queued("patient"), queued("hasty")

	// Their tasks run at 17:30 (a throttle held them): past the close.
	clk.Set(start.Add(40 * time.Minute))
	for _, j := range append(patient, hasty...) {
		require.Equal(t, delivery.Queued, j.Status)
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(j.Ref, time.Minute)))
	}
	require.Zero(t, b.sim.Stats().Accepted, "nothing goes outside the window")
	for _, r := range b.export("hasty") {
		require.Equal(t, delivery.Expired, r.Status, r.Phone)
		require.Equal(t, localtime.ReasonWindowExpired, r.Error)
	}
	for i, r := range b.export("patient") {
		require.Equal(t, delivery.Planned, r.Status, r.Phone)
		require.Contains(t, r.Error, "outside the broadcast's send window")
		j, err := b.db.Job(ctx, r.ID)
		require.NoError(t, err)
		require.Equal(t, patient[i].Gen+1, j.Gen, "its old task is void")
		require.True(t, opens.Equal(j.DueAt), "due at the next opening, %s", j.DueAt)
	}
	st, err := svc.Status(ctx, "patient")
	require.NoError(t, err)
	require.Equal(t, []campaign.ZoneReport{{Zone: "Europe/Berlin", Due: start, Local: start.In(berlin).Format("Mon 2006-01-02 15:04 MST"),
		Recipients: 2, Counts: st.Zones[0].Counts, Handed: 0, State: campaign.ZoneHeld}}, st.Zones)

	// Through the night nothing is queued; the broadcast waits, running.
	for _, at := range []time.Time{start.Add(41 * time.Minute), opens.Add(-time.Second)} {
		clk.Set(at)
		require.NoError(t, f.Tick(ctx))
		require.Zero(t, queuedOf("patient"), "at %s", at.In(berlin))
	}
	st, err = svc.Status(ctx, "patient")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, st.Status)
	st, err = svc.Status(ctx, "hasty")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, st.Status, "everything expired: it is over")

	// 09:00: released, sent then.
	clk.Set(opens)
	require.NoError(t, f.Tick(ctx))
	require.Equal(t, 2, queuedOf("patient"))
	for _, r := range b.export("patient") {
		j, err := b.db.Job(ctx, r.ID)
		require.NoError(t, err)
		require.NoError(t, h.ProcessTask(ctx, delivery.NewSendTask(j.Ref, time.Minute)))
	}
	require.NoError(t, f.Tick(ctx))
	rows := b.export("patient")
	for _, r := range rows {
		require.Equal(t, delivery.Sent, r.Status, r.Phone)
		require.True(t, opens.Equal(*r.SentAt), "sent at %s", r.SentAt)
	}
	b.requireOncePerPhone(rows)
	st, err = svc.Status(ctx, "patient")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCompleted, st.Status)
}
