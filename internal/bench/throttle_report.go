package bench

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteTable writes r as human-readable tables and a one-line conclusion
// per scenario.
func (r ThrottleResult) WriteTable(w io.Writer) error {
	ew := &errWriter{w: w}
	fmt.Fprintf(ew, "wacamp throttle bench: %d CPUs, %d worker processes × concurrency %d, limit %s/s per number, %d sends per number, redis db %d (flushed), one postgres database per scenario (dropped)\n\n",
		r.CPUs, r.Processes, r.Concurrency, num(r.Rate), r.SendsPerNumber, r.RedisDB)

	if r.Slow > 0 {
		fmt.Fprintf(ew, "Slow numbers sharing the workers in every scenario: %d at %s/s, %d sends each (not in the figures).\n", r.Slow, num(SlowRate), r.SendsPerSlowNumber)
	}
	if r.FeedAhead > 0 || r.MinWindow > 0 {
		fmt.Fprintf(ew, "Broadcast window: %s s of each number's rate, at least %d deliveries (0: the product's).\n", num(r.FeedAhead), r.MinWindow)
	}
	switch {
	case r.QueueLead < 0:
		fmt.Fprintln(ew, "Every batch task entered the send queue at once (-queue-lead below 0).")
	case r.QueueLead > 0:
		fmt.Fprintf(ew, "Batch tasks entered the send queue %s s before their first departure.\n", num(r.QueueLead))
	}
	if r.Slow > 0 || r.FeedAhead > 0 || r.MinWindow > 0 || r.QueueLead != 0 {
		fmt.Fprintln(ew)
	}

	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "processes\tnumbers\tlimit/s\tsends\tseconds\tfleet/s\tfleet util\tmean util\tmin util\tworst 1-s window\tat grant\tat departure\tlate\tlua/send\t130429\tdup\tmissing\tsend requests per process\t\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.3f\t%.1f\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%.2f\t%d\t%d\t%d\t%s\t\n",
			s.Processes, s.Numbers, num(s.Limit), s.Sends, s.Seconds, s.PerSecond, pct(s.FleetUtilisation),
			pct(s.MeanUtilisation), pct(s.MinUtilisation), s.windowVsLimit(), s.GrantWorstWindow, s.DepartWorstWindow, s.LeftLate, s.LuaCallsPerSend, s.RateLimited,
			s.Duplicates, s.Missing, ints(s.ProcessRequests))
	}
	_ = tw.Flush()

	fmt.Fprint(ew, `
Times are the simulator's, when it accepted each send; "at grant" counts the rate tokens
the workers' limiters granted instead (the departure slots), "at departure" the moments
the workers let the requests go at those slots; "late" counts the requests
that left more than 10 ms after the slots they were granted: most at later slots, after
coming or waking late for theirs (the slots they missed went unused); "lua/send" is the rate
limit's Lua calls to Redis per accepted send, over both processes. Fleet utilisation is
all sends over all numbers' limits, from the first send to the last: every number has
work waiting from the start.

per number ("start" is after the scenario's first send, "at s" after the number's own):

`)
	tw = tabwriter.NewWriter(ew, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "numbers\tphone_number_id\tsends\tstart s\tfirst→last s\tper second\tutilisation\tworst 1-s window\tat s\tat grant\tat departure\t\n")
	for _, s := range r.Scenarios {
		for _, n := range s.PerNumber {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.3f\t%.3f\t%.2f\t%s\t%d\t%.3f\t%d\t%d\t\n",
				s.Numbers, n.PhoneNumberID, n.Sends, n.StartSeconds, n.Seconds, n.PerSecond, pct(n.Utilisation), n.WorstWindow, n.WorstWindowStart,
				n.GrantWorstWindow, n.DepartWorstWindow)
		}
	}
	_ = tw.Flush()

	fmt.Fprintf(ew, "\nall numbers' sends in each %s from the first send (a stall of every number, or a tail of a few):\n", TimelineBin)
	for _, s := range r.Scenarios {
		fmt.Fprintf(ew, "%3d numbers (%s at the full rate): %s\n", s.Numbers, num(float64(s.Numbers)*s.Limit*TimelineBin.Seconds()),
			strings.Trim(fmt.Sprint(s.Timeline), "[]"))
	}

	fmt.Fprintln(ew)
	for _, s := range r.Scenarios {
		fmt.Fprintln(ew, s.Conclusion())
	}
	if ew.err != nil {
		return fmt.Errorf("write table: %w", ew.err)
	}
	return nil
}

// Conclusion is the scenario in one line, e.g. "2 processes × 2 numbers at
// 50/s: 98.1% utilisation (min 97.9%), worst 1-s window 50 ≤ 50, 1.00 Lua
// calls per send, 0 rate-limit answers", with whether the throttle's claim
// held.
func (s Scenario) Conclusion() string {
	line := fmt.Sprintf("%d processes × %d numbers at %s/s: %s utilisation (min %s, fleet %s), worst 1-s window %s, %.2f Lua calls per send, %d rate-limit answers, %d duplicated, %d missing",
		s.Processes, s.Numbers, num(s.Limit), pct(s.MeanUtilisation), pct(s.MinUtilisation), pct(s.FleetUtilisation),
		s.windowVsLimit(), s.LuaCallsPerSend, s.RateLimited, s.Duplicates, s.Missing)
	var fails []string
	if !s.WithinLimit() {
		fails = append(fails, fmt.Sprintf("number %s exceeded the limit in a one-second window", s.WorstWindowNumber))
	}
	if !s.Utilised() {
		f := fmt.Sprintf("utilisation below %s", pct(MinUtilisation))
		if s.LastStartSeconds >= 1 {
			f += fmt.Sprintf(" (numbers waited up to %.1f s behind other numbers' work)", s.LastStartSeconds)
		}
		fails = append(fails, f)
	}
	if s.RateLimited > 0 {
		fails = append(fails, "the provider answered 130429")
	}
	if s.Duplicates > 0 || s.Missing > 0 || s.Sends != s.Recipients {
		fails = append(fails, "not exactly once")
	}
	if len(fails) == 0 {
		return line + " — holds"
	}
	return line + " — DOES NOT HOLD: " + strings.Join(fails, "; ")
}

// windowVsLimit is e.g. "50 ≤ 50" or "51 > 50".
func (s Scenario) windowVsLimit() string {
	if s.WithinLimit() {
		return fmt.Sprintf("%d ≤ %s", s.WorstWindow, num(s.Limit))
	}
	return fmt.Sprintf("%d > %s", s.WorstWindow, num(s.Limit))
}

func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func ints(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, " / ")
}

// errWriter keeps the first write error, so a report can be written without
// checking every line.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
