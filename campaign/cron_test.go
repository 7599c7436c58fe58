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
	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

// setClock is a clock that stays where a test puts it.
type setClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *setClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *setClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// Two scheduler replicas plan each cron occurrence once; occurrences missed
// while no scheduler ran follow the policy: the latest runs if its deadline
// has not passed, older ones are skipped.
func TestCronOccurrencesPlannedOnceByTwoReplicas(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	clk := &setClock{}
	b.opts.Now = clk.Now
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	ctx := context.Background()
	b.applyCron("0 9 * * *", "Europe/Berlin", utc("2026-11-20T12:00:00Z"))

	f1, _ := b.feeder()
	f2, _ := b.feeder()
	tickBoth := func(at string) {
		t.Helper()
		clk.Set(utc(at))
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

	// 09:00 Berlin is 08:00 UTC in November. The 21st and 22nd were missed
	// beyond their 2 h deadline: skipped. The 23rd is planned a minute ahead.
	tickBoth("2026-11-23T07:59:30Z")
	require.Equal(t, []string{"daily@2026-11-23T08:00Z"}, occurrences())
	var n int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM recipients r JOIN broadcasts b ON b.id = r.broadcast_id WHERE b.name = ?`,
		"daily@2026-11-23T08:00Z").Scan(&n).Error)
	require.Equal(t, int64(3), n, "the occurrence has its own copy of the audience")

	// Back 30 min after the 24th's occurrence: still within its deadline, so
	// it runs, late.
	tickBoth("2026-11-24T08:30:00Z")
	require.Equal(t, []string{"daily@2026-11-23T08:00Z", "daily@2026-11-24T08:00Z"}, occurrences())
	occ, err := b.db.BroadcastByName(ctx, "daily@2026-11-24T08:00Z")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusRunning, occ.Status)

	// Down for two days, back after the 26th's deadline: both skipped.
	tickBoth("2026-11-26T12:00:00Z")
	require.Len(t, occurrences(), 2)
	// Summer time: 09:00 Berlin is 07:00 UTC.
	tickBoth("2027-06-01T06:59:30Z")
	require.Equal(t, "daily@2027-06-01T07:00Z", occurrences()[2])
	require.Len(t, occurrences(), 3)
}

// applyCron applies one recurring broadcast "daily" (deadline 2h) at `at`.
func (b *bench) applyCron(cronSpec, tz string, at time.Time) {
	yaml := fmt.Sprintf(`accounts:
  - name: main
    provider: botsailor
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
	bundle, err := config.Load(p, getenv)
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
	b.applyCron("0 9 * * *", "Europe/Berlin", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	clk.Set(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
	got, err := b.service().Cancel(context.Background(), "daily")
	require.NoError(t, err)
	require.Equal(t, campaign.StatusCancelled, got.Status)
	var n int64
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM deliveries d JOIN broadcasts b ON b.id = d.broadcast_id WHERE b.name = 'daily'`).Scan(&n).Error)
	require.Zero(t, n)
	f, _ := b.feeder()
	clk.Set(time.Date(2026, 11, 21, 7, 59, 30, 0, time.UTC))
	require.NoError(t, f.Tick(context.Background()))
	require.NoError(t, b.db.Gorm().Raw(`SELECT COUNT(*) FROM broadcasts WHERE parent_id IS NOT NULL`).Scan(&n).Error)
	require.Zero(t, n, "no occurrence after cancel")
}

// When the clocks go back, 01:30 comes twice in New York: the daily
// schedule fires once (review finding: it fired at both).
func TestCronFiresOnceWhenClocksGoBack(t *testing.T) {
	t.Parallel()
	b := newBench(t, botsailorsim.Options{})
	clk := &setClock{}
	b.opts.Now = clk.Now
	b.applyCron("30 1 * * *", "America/New_York", time.Date(2025, 11, 1, 12, 0, 0, 0, time.UTC))
	f, _ := b.feeder()
	for _, at := range []time.Time{time.Date(2025, 11, 2, 5, 29, 30, 0, time.UTC), time.Date(2025, 11, 2, 6, 29, 30, 0, time.UTC),
		time.Date(2025, 11, 2, 7, 0, 0, 0, time.UTC), time.Date(2025, 11, 3, 6, 29, 30, 0, time.UTC)} {
		clk.Set(at)
		require.NoError(t, f.Tick(context.Background()))
	}
	var names []string
	require.NoError(t, b.db.Gorm().Raw(`SELECT name FROM broadcasts WHERE parent_id IS NOT NULL ORDER BY start_at`).Scan(&names).Error)
	require.Equal(t, []string{"daily@2025-11-02T05:30Z", "daily@2025-11-03T06:30Z"}, names)
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
