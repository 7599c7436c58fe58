package testclock

import (
	"sync"
	"testing"
	"time"
)

// Clock is a clock that stays where a test puts it, safe for concurrent
// use. The zero Clock reads the zero time until Set.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Add moves the clock on by d and returns its new time.
func (c *Clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// Zone loads the time zone name or fails the test.
func Zone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("testclock: time zone %q: %v", name, err)
	}
	return loc
}

// Next returns the first instant strictly after from at which the wall
// clock in loc reads hour:min, on one of days (any day when none are
// given). Next(now, berlin, 9, 0, time.Monday) is "next Monday 09:00 in
// Berlin". A wall-clock time skipped by a DST change is normalised by
// time.Date (02:30 on the spring-forward night is 03:30).
func Next(from time.Time, loc *time.Location, hour, min int, days ...time.Weekday) time.Time {
	l := from.In(loc)
	for i := 0; ; i++ {
		at := time.Date(l.Year(), l.Month(), l.Day()+i, hour, min, 0, 0, loc)
		if at.After(from) && (len(days) == 0 || hasDay(days, at.Weekday())) {
			return at
		}
	}
}

func hasDay(days []time.Weekday, d time.Weekday) bool {
	for _, x := range days {
		if x == d {
			return true
		}
	}
	return false
}

// ClocksBack returns the next instant after from at which loc's clocks go
// back (its UTC offset falls: the end of summer time), or fails the test
// when loc has none in the next two years.
func ClocksBack(t testing.TB, from time.Time, loc *time.Location) time.Time {
	t.Helper()
	return offsetChange(t, from, loc, "back", func(before, after int) bool { return after < before })
}

// ClocksForward returns the next instant after from at which loc's clocks
// go forward (its UTC offset rises: the start of summer time), or fails the
// test when loc has none in the next two years.
func ClocksForward(t testing.TB, from time.Time, loc *time.Location) time.Time {
	t.Helper()
	return offsetChange(t, from, loc, "forward", func(before, after int) bool { return after > before })
}

// offsetChange walks loc's zone changes after from to the first that want
// accepts (offsets in seconds east of UTC).
func offsetChange(t testing.TB, from time.Time, loc *time.Location, what string, want func(before, after int) bool) time.Time {
	t.Helper()
	at := from.In(loc)
	limit := from.AddDate(2, 0, 0)
	for at.Before(limit) {
		_, end := at.ZoneBounds()
		if end.IsZero() {
			break // the zone in effect at `at` never ends
		}
		_, before := at.Zone()
		_, after := end.Zone()
		if want(before, after) {
			return end
		}
		at = end
	}
	t.Fatalf("testclock: %s's clocks do not go %s within two years of %s", loc, what, from.Format(time.RFC3339))
	return time.Time{}
}

// NowAndAYearAhead runs scenario as the parallel subtests "Now" and
// "AYearAhead", from time.Now() and from the same moment a year later. A
// scenario that builds every instant from its base passes both, which
// shows it depends on no calendar date.
func NowAndAYearAhead(t *testing.T, scenario func(t *testing.T, base time.Time)) {
	t.Helper()
	now := time.Now()
	for _, run := range []struct {
		name string
		base time.Time
	}{{"Now", now}, {"AYearAhead", now.AddDate(1, 0, 0)}} {
		t.Run(run.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, run.base)
		})
	}
}
