package campaign_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
	"github.com/wacamp/wacamp/provider/drivers"
	"github.com/wacamp/wacamp/spec"
)

// setClock is a clock that stays where a test puts it.
type setClock = testclock.Clock

// Two scheduler replicas plan each cron occurrence once; occurrences missed
// while no scheduler ran follow the policy: the latest runs if its deadline
// has not passed, older ones are skipped. The days are a fortnight into the
// next winter time in Berlin, then summer time, counted from now.
func TestCronOccurrencesPlannedOnceByTwoReplicas(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	clk := &setClock{}
	b.opts.Now = clk.Now
	berlin := testclock.Zone(t, "Europe/Berlin")
	applied := testclock.Next(testclock.ClocksBack(t, time.Now(), berlin).AddDate(0, 0, 14), time.UTC, 12, 0)
	ctx := context.Background()
	b.applyCron("0 9 * * *", "Europe/Berlin", applied)
	first := testclock.Next(applied, berlin, 9, 0)
	// nine is 09:00 Berlin, days after the first occurrence.
	nine := func(days int) time.Time { return first.AddDate(0, 0, days) }
	name := func(at time.Time) string { return campaign.OccurrenceName("daily", at) }

	f1, _ := b.feeder()
	f2, _ := b.feeder()
	tickBoth := func(at time.Time) {
		t.Helper()
		clk.Set(at)
		for range 3 {
			var wg sync.WaitGroup
			for _, f := range []*campaign.Feeder{f1, f2} {
				wg.Add(1)
				go func() { defer wg.Done(); require.NoError(t, f.Tick(ctx)) }()
			}
			wg.Wait()
		}
	}
	occurrences := func() []string {
		var names []string
		require.NoError(t, b.db.Gorm().Raw(`SELECT name FROM broadcasts WHERE parent_id IS NOT NULL ORDER BY start_at`).Scan(&names).Error)
		return names
	}

	// The first two days were missed beyond their 2 h deadline: skipped.
	// The third is planned a minute ahead.
	tickBoth(nine(2).Add(-30 * time.Second))
	require.Equal(t, []string{name(nine(2))}, occurrences())
	var n int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id WHERE b.name = ?`,
		name(nine(2))).Scan(&n).Error)
	require.Equal(t, int64(3), n, "the occurrence has its own copy of the audience")

	// Back 30 min after the fourth day's occurrence: still within its
	// deadline, so it runs, late.
	tickBoth(nine(3).Add(30 * time.Minute))
	require.Equal(t, []string{name(nine(2)), name(nine(3))}, occurrences())
	occ, err := b.db.BroadcastByName(ctx, name(nine(3)))
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, occ.Status)

	// Down for two days, back after the sixth day's deadline: both skipped.
	tickBoth(nine(5).Add(4 * time.Hour))
	require.Len(t, occurrences(), 2)
	// Summer time: 09:00 Berlin is 07:00 UTC, not 08:00.
	summer := testclock.Next(testclock.ClocksForward(t, applied, berlin).AddDate(0, 0, 7), berlin, 9, 0)
	tickBoth(summer.Add(-30 * time.Second))
	require.Equal(t, name(summer), occurrences()[2])
	require.Len(t, occurrences(), 3)
}

// applyCron applies one recurring broadcast "daily" (deadline 2h) at `at`.
func (b *bench) applyCron(cronSpec, tz string, at time.Time) {
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
    customer_service_window: not_enforced
    base_url: %s
    api_token: ${SIM_TOKEN}
    phone_number_id: "119060000040020"
    whatsapp_bot_id: 123
    daily_unique_limit: unlimited
broadcasts:
  - name: daily
    account: main
    cron: %q
    timezone: %s
    deadline: 2h
    audience:
      recipients: [{phone: "4915100000001"}, {phone: "4915100000002"}, {phone: "4915100000003"}]
    message: {text: "Good morning"}
`, b.url, cronSpec, tz)
	p := filepath.Join(b.dir, "cron.yaml")
	require.NoError(b.t, os.WriteFile(p, []byte(yaml), 0o600))
	bundle, err := spec.Load(p, getenv, drivers.Catalog{})
	require.NoError(b.t, err)
	_, err = b.db.Apply(context.Background(), bundle, at)
	require.NoError(b.t, err)
}

// Cancelling a recurring broadcast stops its occurrences and plans nothing
// on it (review finding: it used to be refused, after planning deliveries
// on the template that would never send).
func TestCancelRecurringStopsOccurrences(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	clk := &setClock{}
	b.opts.Now = clk.Now
	applied := time.Now()
	b.applyCron("0 9 * * *", "Europe/Berlin", applied)
	clk.Set(applied)
	got, err := b.service().Cancel(context.Background(), "daily")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCancelled, got.Status)
	var n int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id WHERE b.name = 'daily'`).Scan(&n).Error)
	require.Zero(t, n)
	f, _ := b.feeder()
	clk.Set(testclock.Next(applied, testclock.Zone(t, "Europe/Berlin"), 9, 0).Add(-30 * time.Second))
	require.NoError(t, f.Tick(context.Background()))
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM broadcasts WHERE parent_id IS NOT NULL`).Scan(&n).Error)
	require.Zero(t, n, "no occurrence after cancel")
}

// Without any time zone a schedule is read in UTC, whatever the host's zone
// or the location of the time it starts from (review finding: robfig reads
// it in the input's location).
func TestCronWithoutZoneIsUTC(t *testing.T) {
	t.Parallel()
	s, loc, err := campaign.ParseCron("0 9 * * *", "")
	require.NoError(t, err)
	require.Equal(t, time.UTC, loc)
	from := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	require.True(t, s.Next(from).Equal(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)))
	require.True(t, s.Next(from.In(tokyo)).Equal(s.Next(from)))
}
