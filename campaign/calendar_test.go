package campaign_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider/botsailor/botsailorsim"
)

// When the clocks go back, 01:30 comes twice in New York: the daily
// schedule fires once (review finding: it fired at both). The scenario is
// built on the first fall-back after its base and runs from now and from a
// year ahead with the same assertions: no test depends on the calendar
// date it runs on.
func TestCronFiresOnceWhenClocksGoBack(t *testing.T) {
	t.Parallel()
	testclock.NowAndAYearAhead(t, cronFiresOnceWhenClocksGoBack)
}

func cronFiresOnceWhenClocksGoBack(t *testing.T, base time.Time) {
	ny := testclock.Zone(t, "America/New_York")
	back := testclock.ClocksBack(t, base, ny) // 02:00 EDT becomes 01:00 EST
	// The same wall-clock time (01:30) half an hour before and after.
	first, again := back.Add(-30*time.Minute), back.Add(30*time.Minute)
	wall := first.In(ny)
	require.Equal(t, wall.Format("15:04"), again.In(ny).Format("15:04"))
	nextDay := testclock.Next(again, ny, wall.Hour(), wall.Minute())

	b := newBench(t, botsailorsim.Options{})
	clk := &setClock{}
	b.opts.Now = clk.Now
	b.applyCron(fmt.Sprintf("%d %d * * *", wall.Minute(), wall.Hour()), "America/New_York", back.Add(-18*time.Hour))
	f, _ := b.feeder()
	for _, at := range []time.Time{first.Add(-30 * time.Second), again.Add(-30 * time.Second), back.Add(time.Hour), nextDay.Add(-30 * time.Second)} {
		clk.Set(at)
		require.NoError(t, f.Tick(context.Background()))
	}
	var names []string
	require.NoError(t, b.db.Gorm().Raw(`SELECT name FROM broadcasts WHERE parent_id IS NOT NULL ORDER BY start_at`).Scan(&names).Error)
	require.Equal(t, []string{campaign.OccurrenceName("daily", first), campaign.OccurrenceName("daily", nextDay)}, names)
}
