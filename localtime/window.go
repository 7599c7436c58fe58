package localtime

import (
	"fmt"
	"strings"
	"time"
)

// Window is a weekly send window in wall-clock time: the days of the week
// it is open and, on each, from From to To (minutes after midnight, From <
// To). The zero Window (no days) means "always open".
type Window struct {
	Days     [7]bool // indexed by time.Weekday
	From, To int     // minutes after local midnight
}

// String writes w as a campaign file does: "mon, tue 09:00-20:00",
// "daily 09:00-20:00"; "always" for the zero Window.
func (w Window) String() string {
	if w.Always() {
		return "always"
	}
	var days []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w.Days[(d+1)%7] { // Monday first
			days = append(days, strings.ToLower(((d + 1) % 7).String()[:3]))
		}
	}
	if len(days) == 7 {
		days = []string{"daily"}
	}
	return fmt.Sprintf("%s %02d:%02d-%02d:%02d", strings.Join(days, ", "), w.From/60, w.From%60, w.To/60, w.To%60)
}

// Always reports whether w puts no restriction on sending.
func (w Window) Always() bool { return w == Window{} }

// dayNames maps the YAML day names to weekdays.
var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseWindow builds a Window from day names (mon … sun, or "daily") and
// "HH:MM" bounds. An empty days list means every day.
func ParseWindow(days []string, from, to string) (Window, error) {
	var w Window
	if len(days) == 0 {
		days = []string{"daily"}
	}
	for _, d := range days {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "daily" {
			for i := range w.Days {
				w.Days[i] = true
			}
			continue
		}
		wd, ok := dayNames[d[:min(3, len(d))]]
		if !ok || (len(d) > 3 && !strings.HasPrefix(strings.ToLower(wd.String()), d)) {
			return Window{}, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun or daily)", d)
		}
		w.Days[wd] = true
	}
	var err error
	if w.From, err = ParseClock(from); err != nil {
		return Window{}, fmt.Errorf("from: %w", err)
	}
	if w.To, err = ParseClock(to); err != nil {
		return Window{}, fmt.Errorf("to: %w", err)
	}
	if w.To <= w.From {
		return Window{}, fmt.Errorf("to %s must be after from %s (windows across midnight are not supported)", to, from)
	}
	return w, nil
}

// Next returns the earliest instant at or after t at which w is open, in
// loc's wall-clock time. Days are walked as calendar dates in loc, so a DST
// change moves the window with the wall clock (09:00 stays 09:00); a bound
// the clocks skip or repeat that night is read by [On]'s rule.
func (w Window) Next(t time.Time, loc *time.Location) time.Time {
	if w.Always() {
		return t
	}
	lt := t.In(loc)
	y, m, d := lt.Date()
	for i := 0; i < 8; i++ {
		day := time.Date(y, m, d+i, 12, 0, 0, 0, loc) // noon: never in a DST gap
		if !w.Days[day.Weekday()] {
			continue
		}
		open, close := On(day, w.From, loc), On(day, w.To, loc)
		switch {
		case t.Before(open):
			return open
		case t.Before(close):
			return t
		}
	}
	panic("localtime: a window with an open day is open within 8 days") // unreachable: Always covers no days
}

// Open reports whether w is open at t in loc.
func (w Window) Open(t time.Time, loc *time.Location) bool { return w.Next(t, loc).Equal(t) }
