package testclock

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Fixed instants in, fixed instants out: these are pure functions of their
// arguments and of the tz database, not of the day the test runs.
func TestNext(t *testing.T) {
	t.Parallel()
	berlin := Zone(t, "Europe/Berlin")
	fri := time.Date(2026, 11, 27, 17, 30, 0, 0, berlin)
	require.Equal(t, time.Date(2026, 11, 30, 9, 0, 0, 0, berlin), Next(fri, berlin, 9, 0, time.Monday))
	require.Equal(t, time.Date(2026, 11, 28, 9, 0, 0, 0, berlin), Next(fri, berlin, 9, 0))
	require.Equal(t, time.Date(2026, 11, 27, 18, 0, 0, 0, berlin), Next(fri, berlin, 18, 0))
	require.Equal(t, time.Date(2026, 12, 4, 17, 30, 0, 0, berlin), Next(fri, berlin, 17, 30, time.Friday), "strictly after")
	require.Equal(t, time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC), Next(fri, time.UTC, 8, 0), "read in loc, not in from's zone")
	// Spring forward: 02:30 does not exist that night in Berlin.
	require.Equal(t, "2027-03-28T03:30:00+02:00", Next(time.Date(2027, 3, 28, 0, 0, 0, 0, berlin), berlin, 2, 30).Format(time.RFC3339))
}

func TestClocksBackAndForward(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	ny, berlin := Zone(t, "America/New_York"), Zone(t, "Europe/Berlin")
	require.Equal(t, "2027-11-07T06:00:00Z", ClocksBack(t, from, ny).UTC().Format(time.RFC3339), "02:00 EDT becomes 01:00 EST")
	require.Equal(t, "2027-03-14T07:00:00Z", ClocksForward(t, from, ny).UTC().Format(time.RFC3339), "02:00 EST becomes 03:00 EDT")
	require.Equal(t, "2027-10-31T01:00:00Z", ClocksBack(t, from, berlin).UTC().Format(time.RFC3339))
	require.Equal(t, "2027-03-28T01:00:00Z", ClocksForward(t, from, berlin).UTC().Format(time.RFC3339))
	back := ClocksBack(t, from, ny)
	require.Equal(t, "2028-11-05T06:00:00Z", ClocksBack(t, back, ny).UTC().Format(time.RFC3339), "strictly after")

	for _, zone := range []string{"UTC", "Asia/Tokyo"} {
		ft := &fatalTB{TB: t}
		func() {
			defer func() { _ = recover() }()
			ClocksBack(ft, from, Zone(t, zone))
		}()
		require.Contains(t, ft.msg, "clocks do not go back", zone)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	var c Clock
	require.True(t, c.Now().IsZero())
	at := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	c.Set(at)
	c.Add(time.Hour)
	require.Equal(t, at.Add(time.Hour), c.Now())
	require.Equal(t, at, New(at).Now())
}

// fatalTB records Fatalf's message and stops the call as t.Fatalf would.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f.msg)
}
