package localtime

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseClock parses a time of day "HH:MM" (24 h; "24:00" is the end of the
// day) into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day such as 09:00 or 20:30", s)
	}
	return hh*60 + mm, nil
}

// DateLayout is how a date is written: 2027-01-15.
const DateLayout = "2006-01-02"

// ParseDate parses a calendar date "YYYY-MM-DD"; the result is that day's
// midnight in UTC, of which only the date counts.
func ParseDate(s string) (time.Time, error) {
	d, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date such as 2027-01-15", s)
	}
	return d, nil
}

// On returns the instant at which the wall clock in loc reads minute
// (minutes after midnight) on day's date, as day's own location reads it.
//
// The rule for the times daylight saving makes ambiguous is "the first
// instant at or after which the wall clock reads that time":
//
//   - a time the clocks skip that day (they go forward over it: 02:30 on
//     the night Berlin's summer time starts) is the moment they jump, 03:00
//     CEST — not an hour after it;
//   - a time that happens twice (the clocks go back over it: 02:30 on the
//     night summer time ends) is the first of the two, 02:30 CEST.
//
// A whole day a zone skipped (Samoa's 2011-12-30) is its next midnight.
func On(day time.Time, minute int, loc *time.Location) time.Time {
	y, m, d := day.Date()
	want := time.Date(y, m, d, 0, minute, 0, 0, time.UTC) // the wall time, written as if in UTC
	guess := time.Date(y, m, d, 0, minute, 0, 0, loc)
	// The wall time is want minus the offset in effect then: try the offset
	// of the period the guess is in and of the periods on either side.
	start, end := guess.ZoneBounds()
	offsets := []time.Time{guess}
	if !start.IsZero() {
		offsets = append(offsets, start.Add(-time.Nanosecond))
	}
	if !end.IsZero() {
		offsets = append(offsets, end)
	}
	var first time.Time
	for _, o := range offsets {
		_, off := o.Zone()
		t := want.Add(-time.Duration(off) * time.Second).In(loc)
		if wallOf(t).Equal(want) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first
	}
	// Skipped: the clocks jump over it at one of the guess's period bounds.
	for _, b := range []time.Time{start, end} {
		if !b.IsZero() && wallOf(b.Add(-time.Nanosecond)).Before(want) && !wallOf(b).Before(want) {
			return b.In(loc)
		}
	}
	return guess // not reached with the tz database's zones
}

// wallOf is t's wall-clock reading in its own location, written as if in UTC.
func wallOf(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// NextAt returns the first instant at or after from at which the wall
// clock in loc reads minute (by [On]'s rule on each day).
func NextAt(from time.Time, minute int, loc *time.Location) time.Time {
	l := from.In(loc)
	y, m, d := l.Date()
	for i := -1; ; i++ {
		if t := On(time.Date(y, m, d+i, 12, 0, 0, 0, loc), minute, loc); !t.Before(from) {
			return t
		}
	}
}

// EarliestOn is when the wall clock first reads minute on date anywhere on
// Earth: in UTC+14 (Kiribati's Line Islands), the zone furthest ahead.
func EarliestOn(date time.Time, minute int) time.Time {
	y, m, d := date.Date()
	return time.Date(y, m, d, 0, minute, 0, 0, time.UTC).Add(-14 * time.Hour)
}
