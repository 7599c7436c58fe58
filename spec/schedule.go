package spec

import (
	"cmp"
	"fmt"
	"math"
	"time"

	"github.com/wacamp/wacamp/localtime"
)

// CheckStarts checks each one-off broadcast's start_at against now, which
// [Load] cannot (it does not read the clock):
//
//   - a broadcast whose whole window, start_at plus deadline, has passed
//     could send nothing: every delivery would expire the moment it is
//     planned. It is a problem, named by file, line and field, unless
//     applied(b) says the broadcast is already stored with this very start
//     (it ran, or is running, and applying it again changes nothing);
//     applied may be nil.
//   - a broadcast whose start_at has passed but whose deadline has not
//     starts at once, with less time than its deadline: a warning, naming
//     what is left, and whether the audience fits into it at the account's
//     rate.
//
// The error is a *[ValidationError], nil without problems.
func (b *Bundle) CheckStarts(now time.Time, applied func(Broadcast) bool) (warnings []string, err error) {
	var probs problems
	rates := b.rates()
	for _, bc := range b.Broadcasts {
		if bc.Cron == "" {
			warnings = append(warnings, b.zoneWarnings(bc, now)...)
		}
		if bc.StartAt == nil || bc.Cron != "" {
			continue
		}
		start := *bc.StartAt
		end := start.Add(bc.Deadline)
		if !start.Before(now) {
			continue
		}
		if !end.After(now) {
			if applied != nil && applied(bc) {
				continue
			}
			if bc.StartField == "date" {
				probs.add(bc.StartPos.File, bc.StartPos.Line, subfield(bc.Field, "date"),
					"%s at %s has passed everywhere, and the deadline (%s) after its first zone ended %s, %s ago: every delivery would expire at once; choose a later date or lengthen deadline",
					bc.Timing.Date, bc.Timing.LocalTime, ago(bc.Deadline), end.Format(time.RFC3339), ago(now.Sub(end)))
				continue
			}
			probs.add(bc.StartPos.File, bc.StartPos.Line, subfield(bc.Field, "start_at"),
				"%s plus the deadline (%s) ended %s, %s ago: every delivery would expire at once; set a later start_at, leave it out to start when applied, or lengthen deadline",
				start.Format(time.RFC3339), ago(bc.Deadline), end.Format(time.RFC3339), ago(now.Sub(end)))
			continue
		}
		left := end.Sub(now)
		w := fmt.Sprintf("%s: broadcast %s: %s %s is %s in the past: it starts at once, with %s of its %s deadline left",
			bc.StartPos, bc.Name, startName(bc), start.Format(time.RFC3339), ago(now.Sub(start)), ago(left), ago(bc.Deadline))
		if need, ok := sendTime(bc.RecipientCount(), rates[bc.Account]); ok && need > left {
			w += fmt.Sprintf("; its %d recipients need ≈%s at %g/s, so some would expire", bc.RecipientCount(), ago(need), rates[bc.Account])
		}
		warnings = append(warnings, w)
	}
	return warnings, probs.err()
}

// startName names where a broadcast's start comes from, for messages.
func startName(bc Broadcast) string {
	if bc.StartField == "date" {
		return "its start (" + bc.Timing.LocalTime + " on " + bc.Timing.Date + " in the first zone on Earth)"
	}
	return "start_at"
}

// ZonePlan is when a broadcast whose recipients' zones matter (a
// local_time or a window) reaches each zone of its audience, if it were
// applied at now: its start (start_at, or now), its deadline, and its
// zones, earliest first. Recipients whose zone neither their variable nor
// their number tells are in the account's zone (UTC when the account is
// not in the bundle).
type ZonePlan struct {
	Start  time.Time
	SendBy time.Time // zero: no deadline
	Zones  []localtime.ZoneDue
}

// ZonePlan returns bc's zone plan as of now; ok is false when bc's
// recipients' zones do not matter, or it is recurring (each occurrence
// has its own).
func (b *Bundle) ZonePlan(bc Broadcast, now time.Time) (plan ZonePlan, ok bool) {
	if !bc.Timing.Zoned() || bc.Cron != "" {
		return ZonePlan{}, false
	}
	plan.Start = now
	if bc.StartAt != nil {
		plan.Start = *bc.StartAt
	}
	if bc.Deadline > 0 {
		plan.SendBy = plan.Start.Add(bc.Deadline)
	}
	fallback := "UTC"
	for _, a := range b.Accounts {
		if a.Name == bc.Account && a.Timezone != "" {
			fallback = a.Timezone
		}
	}
	zones := make(map[string]int, len(bc.Zones))
	for name, n := range bc.Zones {
		zones[cmp.Or(name, fallback)] += n
	}
	plan.Zones = bc.Timing.FanOut(plan.Start, zones)
	return plan, true
}

// zoneWarnings warns about the zones of a local-time or windowed broadcast
// that would expire (due after the deadline) or get it late (their local
// time on the date comes before the start).
func (b *Bundle) zoneWarnings(bc Broadcast, now time.Time) []string {
	plan, ok := b.ZonePlan(bc, now)
	if !ok {
		return nil
	}
	var warnings []string
	var late, early []localtime.ZoneDue
	for _, z := range plan.Zones {
		if !plan.SendBy.IsZero() && z.Due.After(plan.SendBy) {
			late = append(late, z)
		}
		if bc.Timing.Date != "" && bc.Timing.Local(plan.Start, localtime.AccountZone(z.Zone)).Before(plan.Start) {
			early = append(early, z)
		}
	}
	if n, first := zoneSum(late); n > 0 {
		warnings = append(warnings, fmt.Sprintf(
			"%s: broadcast %s: %d recipients in %d zones (first %s, due %s) come after the deadline (%s): they would expire; lengthen deadline or start later",
			bc.Pos, bc.Name, n, len(late), first.Zone, first.Due.Format(time.RFC3339), plan.SendBy.Format(time.RFC3339)))
	}
	if n, first := zoneSum(early); n > 0 {
		warnings = append(warnings, fmt.Sprintf(
			"%s: broadcast %s: %d recipients in %d zones (first %s) are past %s on %s when it starts (%s): they get it at the start, late; choose a later date or an earlier start_at",
			bc.Pos, bc.Name, n, len(early), first.Zone, bc.Timing.LocalTime, bc.Timing.Date, plan.Start.Format(time.RFC3339)))
	}
	return warnings
}

// zoneSum counts the recipients of zones and returns the first zone.
func zoneSum(zones []localtime.ZoneDue) (n int, first localtime.ZoneDue) {
	for _, z := range zones {
		n += z.Recipients
	}
	if len(zones) > 0 {
		first = zones[0]
	}
	return n, first
}

// checkDurations warns about broadcasts whose audience cannot be sent
// within their deadline at their account's rate: the rest would expire.
func (l *loader) checkDurations() {
	rates := l.bundle.rates()
	for _, b := range l.bundle.Broadcasts {
		rate, n := rates[b.Account], b.RecipientCount()
		need, ok := sendTime(n, rate)
		if !ok || need <= b.Deadline {
			continue
		}
		l.bundle.Warnings = append(l.bundle.Warnings, fmt.Sprintf(
			"%s: broadcast %s: %d recipients at account %s's rate of %g/s take ≈%s, longer than the deadline (%s): about %d would expire; raise rate_per_second if the number's tier allows, lengthen deadline, or split the audience",
			b.Pos, b.Name, n, b.Account, rate, ago(need), ago(b.Deadline),
			n-int(math.Floor(b.Deadline.Seconds()*rate))))
	}
}

// rates returns each account's send rate by name.
func (b *Bundle) rates() map[string]float64 {
	r := make(map[string]float64, len(b.Accounts))
	for _, a := range b.Accounts {
		r[a.Name] = a.RatePerSecond
	}
	return r
}

// sendTime is how long n sends take at rate per second; false without a
// rate.
func sendTime(n int, rate float64) (time.Duration, bool) {
	if rate <= 0 || n == 0 {
		return 0, false
	}
	return time.Duration(math.Ceil(float64(n)/rate)) * time.Second, true
}

// ago shows a duration rounded for people: "45s", "12m30s", "27h46m",
// "24h", "3d4h".
func ago(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour && d%time.Hour < time.Minute:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	default:
		return d.Round(time.Second).String()
	}
}
