package sequence

import (
	"slices"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Location returns the time zone a sequence's windows are read in for one
// recipient. An IANA zone in the sequence wins; with "recipient" it is the
// recipient's "timezone" variable if that is a valid IANA zone, else the
// zone of the phone number (country, or area code where it decides one),
// else fallback (the account's zone). Where a number spans several zones
// (a US area code rarely does; +7 Russia does) the first listed is used.
func Location(setting, phone string, vars map[string]string, fallback *time.Location) *time.Location {
	if fallback == nil {
		fallback = time.UTC
	}
	if setting != "" && setting != "recipient" {
		if loc, err := Zone(setting); err == nil {
			return loc
		}
		return fallback
	}
	if tz := vars["timezone"]; tz != "" {
		if loc, err := Zone(tz); err == nil {
			return loc
		}
	}
	if num, err := phonenumbers.Parse("+"+phone, ""); err == nil {
		if zones, err := phonenumbers.GetTimezonesForNumber(num); err == nil {
			for _, z := range zones {
				if loc, err := Zone(z); err == nil && z != "Etc/Unknown" {
					return loc
				}
			}
		}
	}
	return fallback
}

var zones sync.Map // IANA name → *time.Location

// Zone is time.LoadLocation with a cache: loading reads the time zone
// database, and enrolling or sending steps asks for the same few zones
// again and again. "" is UTC.
func Zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

// WindowOf is the send window of step i: its own, else the sequence's.
func (s Spec) WindowOf(i int) Window {
	if w := s.Steps[i].Window; w != nil {
		return *w
	}
	return s.Window
}

// Schedule returns when step i falls due for a recipient in loc whose
// previous step was sent at prev (for step 0: the enrollment time): prev +
// the step's delay, moved to the next moment its window is open; and the
// time after which it is expired instead of sent (due + the step's
// deadline, 0 = never).
func (s Spec) Schedule(i int, prev time.Time, loc *time.Location) (due, sendBy time.Time) {
	st := s.Steps[i]
	due = s.WindowOf(i).Next(prev.Add(st.After), loc)
	if st.Deadline > 0 {
		sendBy = due.Add(st.Deadline)
	}
	return due.UTC(), sendBy.UTC()
}

// Exits reports whether the sequence ends an enrollment on event ("reply",
// "unsubscribe").
func (s Spec) Exits(event string) bool { return slices.Contains(s.ExitOn, event) }
