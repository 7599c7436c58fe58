package localtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func TestWindowNext(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	w, err := ParseWindow([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "20:00")
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct{ name, t, want string }{
		{"inside stays", "2026-11-23 10:15", "2026-11-23 10:15"}, // Monday
		{"before opens", "2026-11-23 07:00", "2026-11-23 09:00"},
		{"at close moves to next day", "2026-11-23 20:00", "2026-11-24 09:00"},
		{"friday evening waits for monday", "2026-11-27 21:00", "2026-11-30 09:00"},
		{"saturday waits for monday", "2026-11-28 09:30", "2026-11-30 09:00"},
	} {
		require.Equal(t, at(tc.want), w.Next(at(tc.t), berlin), tc.name)
	}
	require.True(t, w.Open(at("2026-11-23 19:59"), berlin))
	require.False(t, w.Open(at("2026-11-28 12:00"), berlin))

	// The same instant is inside the window in Berlin and outside it in
	// New York (04:15 there).
	ny := mustLoad(t, "America/New_York")
	require.Equal(t, time.Date(2026, 11, 23, 9, 0, 0, 0, ny), w.Next(at("2026-11-23 10:15"), ny))
}

// Across a DST change the window keeps its wall-clock hours: the day after
// Europe's clocks go forward (2026-03-29) it opens at 09:00 CEST, one hour
// earlier in UTC than the day before.
func TestWindowFollowsDST(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	w, err := ParseWindow(nil, "09:00", "20:00")
	require.NoError(t, err)
	sat := w.Next(time.Date(2026, 3, 28, 21, 0, 0, 0, time.UTC), berlin).UTC() // from Sat 22:00 CET
	require.Equal(t, time.Date(2026, 3, 29, 7, 0, 0, 0, time.UTC), sat, "09:00 CEST on the day of the change")
	fri := w.Next(time.Date(2026, 3, 27, 6, 0, 0, 0, time.UTC), berlin).UTC()
	require.Equal(t, time.Date(2026, 3, 27, 8, 0, 0, 0, time.UTC), fri, "09:00 CET the day before")
	// Autumn: clocks go back on 2026-10-25; 09:00 CET is 08:00 UTC.
	require.Equal(t, time.Date(2026, 10, 25, 8, 0, 0, 0, time.UTC),
		w.Next(time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), berlin).UTC())

	// A window opening inside the spring gap (02:00–03:00 does not exist
	// that night) opens when the clocks jump over its opening (On's rule:
	// the first instant at or after 02:30 on the wall clock).
	night, err := ParseWindow(nil, "02:30", "04:00")
	require.NoError(t, err)
	got := night.Next(time.Date(2026, 3, 28, 23, 0, 0, 0, time.UTC), berlin).UTC()
	require.Equal(t, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), got, "03:00 CEST")
	// Delays are elapsed time: 24 h after Saturday 10:00 CET is Sunday
	// 11:00 CEST, inside the window.
	require.Equal(t, "11:00", w.Next(time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC).Add(24*time.Hour), berlin).In(berlin).Format("15:04"))
}

func TestParseWindowRefusesNonsense(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		days     []string
		from, to string
		want     string
	}{
		{[]string{"mon", "funday"}, "09:00", "17:00", `unknown day "funday"`},
		{nil, "9", "17:00", `from: "9" is not a time of day`},
		{nil, "09:00", "25:00", `to: "25:00" is not a time of day`},
		{nil, "20:00", "09:00", "must be after from"},
	} {
		_, err := ParseWindow(tc.days, tc.from, tc.to)
		require.ErrorContains(t, err, tc.want)
	}
	w, err := ParseWindow([]string{"Monday", "SAT"}, "00:00", "24:00")
	require.NoError(t, err)
	require.True(t, w.Days[time.Monday] && w.Days[time.Saturday] && !w.Days[time.Sunday])
	require.True(t, Window{}.Always())
}
