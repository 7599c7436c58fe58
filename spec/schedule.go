package spec

import (
	"fmt"
	"math"
	"time"
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
			probs.add(bc.StartPos.File, bc.StartPos.Line, subfield(bc.Field, "start_at"),
				"%s plus the deadline (%s) ended %s, %s ago: every delivery would expire at once; set a later start_at, leave it out to start when applied, or lengthen deadline",
				start.Format(time.RFC3339), ago(bc.Deadline), end.Format(time.RFC3339), ago(now.Sub(end)))
			continue
		}
		left := end.Sub(now)
		w := fmt.Sprintf("%s: broadcast %s: start_at %s is %s in the past: it starts at once, with %s of its %s deadline left",
			bc.StartPos, bc.Name, start.Format(time.RFC3339), ago(now.Sub(start)), ago(left), ago(bc.Deadline))
		if need, ok := sendTime(bc.RecipientCount(), rates[bc.Account]); ok && need > left {
			w += fmt.Sprintf("; its %d recipients need ≈%s at %g/s, so some would expire", bc.RecipientCount(), ago(need), rates[bc.Account])
		}
		warnings = append(warnings, w)
	}
	return warnings, probs.err()
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
