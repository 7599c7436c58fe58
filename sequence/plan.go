package sequence

import (
	"slices"
	"time"

	"github.com/wacamp/wacamp/localtime"
)

// WindowOf is the send window of step i: its own, else the sequence's.
func (s Spec) WindowOf(i int) localtime.Window {
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
