package localtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The zone fan-out of a 09:00 broadcast started on the Saturday evening
// before Europe's clocks go forward (2030-03-31), across three zones: each
// zone's next 09:00 after the start, Berlin's in summer time.
func TestFanOutAcrossZonesAndDST(t *testing.T) {
	t.Parallel()
	start := time.Date(2030, 3, 30, 20, 0, 0, 0, time.UTC) // Sat 21:00 CET, Sun 05:00 JST, Sat 16:00 EDT
	got := Timing{LocalTime: "09:00"}.FanOut(start, map[string]int{"Europe/Berlin": 5, "Asia/Tokyo": 2, "America/New_York": 1, "Bad/Zone": 1})
	require.Equal(t, []ZoneDue{
		{Zone: "Asia/Tokyo", Due: time.Date(2030, 3, 31, 0, 0, 0, 0, time.UTC), Recipients: 2},
		{Zone: "Europe/Berlin", Due: time.Date(2030, 3, 31, 7, 0, 0, 0, time.UTC), Recipients: 5},
		{Zone: "Bad/Zone", Due: time.Date(2030, 3, 31, 9, 0, 0, 0, time.UTC), Recipients: 1},
		{Zone: "America/New_York", Due: time.Date(2030, 3, 31, 13, 0, 0, 0, time.UTC), Recipients: 1},
	}, got, "an unknown zone is read as UTC")

	// Started at 08:30 Berlin: Berlin's 09:00 is in half an hour; Tokyo's
	// passed (17:30 there), so tomorrow.
	start = time.Date(2030, 4, 1, 6, 30, 0, 0, time.UTC)
	due := Timing{LocalTime: "09:00"}.FanOut(start, map[string]int{"Europe/Berlin": 1, "Asia/Tokyo": 1})
	require.Equal(t, time.Date(2030, 4, 1, 7, 0, 0, 0, time.UTC), due[0].Due)
	require.Equal(t, time.Date(2030, 4, 2, 0, 0, 0, 0, time.UTC), due[1].Due)
}

func TestDue(t *testing.T) {
	t.Parallel()
	berlin, tokyo := mustLoad(t, "Europe/Berlin"), mustLoad(t, "Asia/Tokyo")
	start := time.Date(2030, 3, 30, 20, 0, 0, 0, time.UTC)
	weekdays, err := ParseWindow([]string{"mon", "tue", "wed", "thu", "fri"}, "10:00", "18:00")
	require.NoError(t, err)

	require.Equal(t, start, Timing{}.Due(start, berlin), "nothing set: the start")
	require.False(t, Timing{}.Zoned())
	require.True(t, Timing{Window: weekdays}.Zoned())
	require.True(t, Timing{LocalTime: "09:00"}.Zoned())

	// A date: that day's 09:00, DST-correct.
	dated := Timing{LocalTime: "09:00", Date: "2030-03-31"}
	require.Equal(t, time.Date(2030, 3, 31, 7, 0, 0, 0, time.UTC), dated.Due(start, berlin))
	// A date whose 09:00 passed before the start: at the start, not before.
	require.Equal(t, start, Timing{LocalTime: "09:00", Date: "2030-03-30"}.Due(start, berlin))

	// A window alone: its next opening in the recipient's zone (Saturday
	// evening waits for Monday 10:00 there).
	require.Equal(t, time.Date(2030, 4, 1, 8, 0, 0, 0, time.UTC), Timing{Window: weekdays}.Due(start, berlin))
	require.Equal(t, time.Date(2030, 4, 1, 1, 0, 0, 0, time.UTC), Timing{Window: weekdays}.Due(start, tokyo))
	// Both: 09:00 on a Sunday, outside the window: Monday 10:00.
	both := Timing{LocalTime: "09:00", Window: weekdays}
	require.Equal(t, time.Date(2030, 4, 1, 8, 0, 0, 0, time.UTC), both.Due(start, berlin))

	s, ok := dated.DefaultStart()
	require.True(t, ok)
	require.Equal(t, time.Date(2030, 3, 30, 19, 0, 0, 0, time.UTC), s)
	_, ok = Timing{LocalTime: "09:00"}.DefaultStart()
	require.False(t, ok, "no date, no default start")
}

func TestWindowHold(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	w, err := ParseWindow(nil, "09:00", "20:00")
	require.NoError(t, err)
	evening := time.Date(2030, 1, 15, 21, 0, 0, 0, berlin)
	morning := time.Date(2030, 1, 16, 9, 0, 0, 0, berlin)

	next, expire := w.Hold(evening, time.Time{}, berlin)
	require.Equal(t, morning, next)
	require.False(t, expire, "no deadline")
	next, expire = w.Hold(evening, morning, berlin)
	require.Equal(t, morning, next)
	require.False(t, expire, "opens exactly at the deadline: still in time")
	_, expire = w.Hold(evening, morning.Add(-time.Second), berlin)
	require.True(t, expire, "opens after the deadline")
	open := time.Date(2030, 1, 15, 12, 0, 0, 0, berlin)
	next, expire = w.Hold(open, open.Add(time.Minute), berlin)
	require.Equal(t, open, next)
	require.False(t, expire)
	next, expire = Window{}.Hold(evening, evening.Add(-time.Hour), berlin)
	require.Equal(t, evening, next)
	require.True(t, expire, "past the deadline even when always open")
}
