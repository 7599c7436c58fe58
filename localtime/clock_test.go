package localtime

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseClockAndDate(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]int{"09:00": 540, "00:00": 0, "23:59": 1439, "24:00": 1440, " 7:05 ": 425} {
		got, err := ParseClock(s)
		require.NoError(t, err, s)
		require.Equal(t, want, got, s)
	}
	for _, bad := range []string{"", "9", "09:0", "9am", "25:00", "24:01", "12:60", "-1:00", "09:00:00"} {
		_, err := ParseClock(bad)
		require.ErrorContains(t, err, "is not a time of day", bad)
	}
	d, err := ParseDate("2027-01-15")
	require.NoError(t, err)
	require.Equal(t, time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC), d)
	for _, bad := range []string{"", "2027-1-15", "15.01.2027", "2027-02-30", "tomorrow"} {
		_, err := ParseDate(bad)
		require.ErrorContains(t, err, "is not a date", bad)
	}
}

// On's rule for the times daylight saving skips or repeats: the first
// instant at or after which the wall clock reads that time. The instants
// are fixed: these are pure functions of the tz database.
func TestOnDaylightSavingRule(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	day := func(s string) time.Time {
		d, err := ParseDate(s)
		require.NoError(t, err)
		return d
	}
	for _, c := range []struct {
		name, zone, date, clock, want string
	}{
		{"ordinary winter day", "Europe/Berlin", "2030-01-15", "09:00", "2030-01-15T08:00:00Z"},
		{"the day summer time starts: 09:00 CEST", "Europe/Berlin", "2030-03-31", "09:00", "2030-03-31T07:00:00Z"},
		{"the day before: 09:00 CET", "Europe/Berlin", "2030-03-30", "09:00", "2030-03-30T08:00:00Z"},
		{"skipped 02:30: the moment the clocks jump (03:00 CEST)", "Europe/Berlin", "2030-03-31", "02:30", "2030-03-31T01:00:00Z"},
		{"skipped 02:00 itself: the same moment", "Europe/Berlin", "2030-03-31", "02:00", "2030-03-31T01:00:00Z"},
		{"03:00 exists, and is that moment", "Europe/Berlin", "2030-03-31", "03:00", "2030-03-31T01:00:00Z"},
		{"repeated 02:30: the first, in summer time", "Europe/Berlin", "2030-10-27", "02:30", "2030-10-27T00:30:00Z"},
		{"after the repeat: 09:00 CET", "Europe/Berlin", "2030-10-27", "09:00", "2030-10-27T08:00:00Z"},
		{"New York skips 02:30 in March", "America/New_York", "2030-03-10", "02:30", "2030-03-10T07:00:00Z"},
		{"New York repeats 01:30 in November: the first (EDT)", "America/New_York", "2030-11-03", "01:30", "2030-11-03T05:30:00Z"},
		{"Lord Howe moves by half an hour", "Australia/Lord_Howe", "2030-10-06", "02:15", "2030-10-05T15:30:00Z"},
		{"Samoa skipped 2011-12-30: its next midnight", "Pacific/Apia", "2011-12-30", "09:00", "2011-12-30T10:00:00Z"},
		{"Tokyo has no daylight saving", "Asia/Tokyo", "2030-03-31", "09:00", "2030-03-31T00:00:00Z"},
		{"24:00 is the next midnight", "Europe/Berlin", "2030-01-15", "24:00", "2030-01-15T23:00:00Z"},
	} {
		loc := mustLoad(t, c.zone)
		minute, err := ParseClock(c.clock)
		require.NoError(t, err)
		got := On(day(c.date), minute, loc)
		require.Equal(t, utc(c.want), got.UTC(), "%s: %s", c.name, got)
		require.Equal(t, loc, got.Location(), c.name)
	}
}

func TestNextAt(t *testing.T) {
	t.Parallel()
	berlin := mustLoad(t, "Europe/Berlin")
	nine := 9 * 60
	sat := time.Date(2030, 3, 30, 10, 0, 0, 0, berlin)
	require.Equal(t, "2030-03-31T09:00:00+02:00", NextAt(sat, nine, berlin).Format(time.RFC3339), "tomorrow, in summer time")
	require.Equal(t, "2030-03-30T09:00:00+01:00", NextAt(sat.Add(-time.Hour), nine, berlin).Format(time.RFC3339), "at exactly 09:00: now")
	require.Equal(t, "2030-03-30T09:00:00+01:00", NextAt(sat.Add(-90*time.Minute), nine, berlin).Format(time.RFC3339))
	// Read in the zone asked, not in from's.
	tokyo := mustLoad(t, "Asia/Tokyo")
	require.Equal(t, "2030-03-31T09:00:00+09:00", NextAt(sat, nine, tokyo).Format(time.RFC3339), "10:00 Berlin is 18:00 Tokyo")
	// From just after the skipped 02:30's moment, the next is a day on.
	jump := time.Date(2030, 3, 31, 1, 0, 0, 0, time.UTC)
	require.Equal(t, jump, NextAt(jump, 150, berlin).UTC())
	require.Equal(t, "2030-04-01T02:30:00+02:00", NextAt(jump.Add(time.Second), 150, berlin).Format(time.RFC3339))
}

func TestEarliestOn(t *testing.T) {
	t.Parallel()
	d, err := ParseDate("2027-01-15")
	require.NoError(t, err)
	first := EarliestOn(d, 9*60)
	require.Equal(t, "2027-01-14T19:00:00Z", first.Format(time.RFC3339))
	kiritimati := mustLoad(t, "Pacific/Kiritimati")
	require.Equal(t, "2027-01-15 09:00", first.In(kiritimati).Format("2006-01-02 15:04"), "the zone furthest ahead")
}
