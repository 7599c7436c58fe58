package sequence

import (
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// The rules of a running sequence are decided here, in Go, and carried out
// by the store in the same transaction that records what happened (a step
// sent, failed or expired; a reply; an unsubscribe): a crash can neither
// lose the next step nor plan it twice, and an enrollment ended meanwhile
// is never planned again.

// Action is what an enrollment does next.
type Action int

const (
	// Continue: plan the step Plan.Step, due at Plan.Due.
	Continue Action = iota
	// Complete: the last step was sent; the enrollment is completed.
	Complete
	// Stop: a step failed or expired; the enrollment stops (its later
	// steps may build on the one that did not go out), with Plan.Reason.
	Stop
	// Pass: the step was passed over (the account's frequency cap skips
	// sequence steps over it); the enrollment goes on as if it had gone
	// out when it ended: its next step, or complete after the last
	// (Spec.Sent).
	Pass
)

// Plan is what follows an event in one enrollment.
type Plan struct {
	Action Action
	// Step (0-based), Due and SendBy (zero: no deadline) are the step to
	// plan, for Continue.
	Step        int
	Due, SendBy time.Time
	// Reason is why the enrollment stops, for Stop.
	Reason string
}

// Start is the plan of a new enrollment, made at enrolled for a recipient
// whose windows are read in loc: its first step.
func (s Spec) Start(enrolled time.Time, loc *time.Location) Plan {
	return s.plan(0, enrolled, loc)
}

// Sent is the plan after step i went out at sentAt: the next step, due its
// delay after sentAt in its window, or Complete after the last.
func (s Spec) Sent(i int, sentAt time.Time, loc *time.Location) Plan {
	if i+1 >= len(s.Steps) {
		return Plan{Action: Complete}
	}
	return s.plan(i+1, sentAt, loc)
}

// Ended is the plan after a step ended without going out, code being its
// error code: a step the frequency cap skipped (delivery.ReasonFrequencyCap)
// or that was skipped outside its recipient's 24-hour window
// (delivery.ReasonOutsideWindow, its message saying outside_window: skip),
// or that Meta refused under its own per-user marketing limit
// (delivery.CodeMarketingCap: a step fails so only where the account's cap
// skips sequence steps; elsewhere it waits, or expires), is passed over;
// otherwise failed or expired stops the enrollment (reason says why the
// step ended) and skipped changes nothing (a step is skipped because its
// enrollment already ended). ok is false when the end changes nothing.
func Ended(end delivery.Status, code, reason string) (p Plan, ok bool) {
	if end == delivery.Skipped && (code == delivery.ReasonFrequencyCap || code == delivery.ReasonOutsideWindow) ||
		end == delivery.Failed && code == delivery.CodeMarketingCap {
		return Plan{Action: Pass}, true
	}
	switch end {
	case delivery.Failed, delivery.Expired:
		return Plan{Action: Stop, Reason: fmt.Sprintf("a step %s: %s", end, reason)}, true
	}
	return Plan{}, false
}

func (s Spec) plan(i int, prev time.Time, loc *time.Location) Plan {
	due, sendBy := s.Schedule(i, prev, loc)
	return Plan{Action: Continue, Step: i, Due: due, SendBy: sendBy}
}
