package localtime

import (
	"cmp"
	"slices"
	"time"
)

// Timing says when a broadcast reaches each recipient, by the recipient's
// time zone. The zero Timing sends to everyone from the start.
type Timing struct {
	// LocalTime is the wall-clock time of day, "HH:MM", at which each
	// recipient gets the message in their own zone; "" = at the start.
	LocalTime string
	// Date is the day, "YYYY-MM-DD", of LocalTime in every zone; "" = the
	// first LocalTime at or after the start in each zone.
	Date string
	// Window is the quiet hours' complement: when a message may reach a
	// recipient, read in their zone. The zero Window is always open.
	Window Window
}

// Zoned reports whether the recipients' zones matter: a local time or a
// window.
func (t Timing) Zoned() bool { return t.LocalTime != "" || !t.Window.Always() }

// Local returns the local time the recipients in loc are meant to get a
// broadcast that starts at start: LocalTime on Date, or the first
// LocalTime at or after start; start itself without a LocalTime. Times
// daylight saving skips or repeats follow [On]'s rule. With a Date it
// may lie before start.
func (t Timing) Local(start time.Time, loc *time.Location) time.Time {
	minute, err := ParseClock(t.LocalTime)
	if t.LocalTime == "" || err != nil {
		return start
	}
	if date, err := ParseDate(t.Date); t.Date != "" && err == nil {
		return On(date, minute, loc)
	}
	return NextAt(start, minute, loc)
}

// Due returns when the recipients in loc may first get a broadcast that
// starts at start: their [Timing.Local] time, never before start, moved to
// the window's next opening; in UTC.
func (t Timing) Due(start time.Time, loc *time.Location) time.Time {
	at := t.Local(start, loc)
	if at.Before(start) {
		at = start
	}
	return t.Window.Next(at, loc).UTC()
}

// DefaultStart is when a broadcast with a Date and no start of its own
// starts: when LocalTime first comes on Date anywhere on Earth
// ([EarliestOn]); ok is false without a date.
func (t Timing) DefaultStart() (time.Time, bool) {
	minute, err := ParseClock(t.LocalTime)
	if err != nil {
		return time.Time{}, false
	}
	date, err := ParseDate(t.Date)
	if err != nil {
		return time.Time{}, false
	}
	return EarliestOn(date, minute), true
}

// ZoneDue is one time zone of an audience and when its recipients are due.
type ZoneDue struct {
	Zone       string    `json:"zone"`
	Due        time.Time `json:"due"` // UTC
	Recipients int       `json:"recipients"`
}

// FanOut returns when each zone of an audience (IANA name → recipients) is
// due for a broadcast starting at start, earliest first, then by name. A
// name that is not a zone is read as UTC.
func (t Timing) FanOut(start time.Time, zones map[string]int) []ZoneDue {
	out := make([]ZoneDue, 0, len(zones))
	for name, n := range zones {
		out = append(out, ZoneDue{Zone: name, Due: t.Due(start, AccountZone(name)), Recipients: n})
	}
	slices.SortFunc(out, func(a, b ZoneDue) int {
		return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.Zone, b.Zone))
	})
	return out
}

// Hold is what a send that may go from at on does under w, read in loc,
// given its deadline sendBy (zero = none): it goes at next (next == at:
// w is open then), or it expires (expire is true: next comes after the
// deadline).
func (w Window) Hold(at, sendBy time.Time, loc *time.Location) (next time.Time, expire bool) {
	next = w.Next(at, loc)
	return next, !sendBy.IsZero() && next.After(sendBy)
}

// ReasonWindowExpired is why a send held outside its window expired.
const ReasonWindowExpired = "its send window does not open again before its deadline"
