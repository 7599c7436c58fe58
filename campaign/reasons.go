package campaign

import (
	"fmt"
	"strings"

	"github.com/wacamp/wacamp/delivery"
)

// BudgetHeld says, when the unique-recipient budget holds back a running
// broadcast's pending sends, until when; else "".
func (r Report) BudgetHeld() string {
	c := r.Counts
	// Full and nothing going out: the pending sends are waiting for room
	// (while sends to recipients already counted go on, the ETA stands).
	if r.Budget == nil || !r.Budget.Full || r.Status != StatusRunning || r.Rate > 0 || c["planned"]+c["queued"] == 0 {
		return ""
	}
	s := fmt.Sprintf("deferred: daily unique-recipient budget full (%d of %d)", r.Budget.Used, r.Budget.Limit)
	if r.Budget.NextRoom != nil {
		s += ", room from " + r.Budget.NextRoom.Local().Format("2006-01-02 15:04:05")
	}
	return s
}

// Reasons says, one short line each, why the broadcast is where it is or
// is not sending as fast as it could: paused and why, deferred by its
// budget, zones waiting for their time or held outside the send window,
// sends awaiting the provider's confirmation. Empty when nothing holds it.
func (r Report) Reasons() []string {
	var out []string
	switch r.Status {
	case StatusPaused:
		switch why := r.Reason; {
		case why == "":
			out = append(out, "paused")
		case strings.HasPrefix(why, "paused") || strings.HasPrefix(why, "auto-paused"):
			out = append(out, why)
		default:
			out = append(out, "paused: "+why)
		}
	case StatusScheduled:
		out = append(out, "scheduled: starts "+r.StartAt.Local().Format("2006-01-02 15:04:05"))
	case StatusCancelled, StatusFailed:
		if r.Reason != "" {
			out = append(out, string(r.Status)+": "+r.Reason)
		}
	}
	if held := r.BudgetHeld(); held != "" {
		out = append(out, held)
	} else if b := r.Budget; b != nil && b.Error != "" {
		out = append(out, "budget use unknown: "+b.Error)
	}
	zones := map[string]int{}
	for _, z := range r.Zones {
		zones[z.State]++
	}
	if n := zones[ZoneHeld]; n > 0 && !r.Status.Final() {
		out = append(out, fmt.Sprintf("held: %d zone(s) outside the send window %s", n, r.Window))
	}
	if n := zones[ZoneWaiting]; n > 0 && !r.Status.Final() {
		for _, z := range r.Zones {
			if z.State == ZoneWaiting {
				out = append(out, fmt.Sprintf("waiting: %d zone(s) for their local time, the next %s at %s", n, z.Zone, z.Local))
				break
			}
		}
	}
	if n := zones[ZoneLate]; n > 0 && !r.Status.Final() {
		out = append(out, fmt.Sprintf("late: %d zone(s) due after the deadline will expire", n))
	}
	if n := r.Settle[delivery.SettleAwaiting]; n > 0 {
		out = append(out, fmt.Sprintf("unknown outcome: %d send(s) awaiting the provider's confirmation", n))
	}
	return out
}
