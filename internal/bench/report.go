package bench

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes r as a human-readable table.
func (r Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(w, "wacamp bench: %d CPUs, worker concurrency %d, redis db %d (flushed), postgres database %s (dropped)\n\n",
		r.CPUs, r.Concurrency, r.RedisDB, r.Database)
	fmt.Fprintf(tw, "phase\t%8s\t%8s\t%10s\n", "tasks", "seconds", "per second")
	row := func(name string, n int, secs, perSec float64) {
		fmt.Fprintf(tw, "%s\t%8d\t%8.3f\t%10.0f\n", name, n, secs, perSec)
	}
	row("asynq no-op: enqueue", r.Noop.Tasks, r.Noop.EnqueueSeconds, r.Noop.EnqueuePerSecond)
	row("asynq no-op: process", r.Noop.Tasks, r.Noop.Seconds, r.Noop.PerSecond)
	row("send path: end to end", r.Send.Recipients, r.Send.Seconds, r.Send.PerSecond)
	row("send path: first→last send", r.Send.Recipients, r.Send.SteadySeconds, r.Send.SteadyPerSecond)
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	_, err := fmt.Fprintf(w, `
send path runs at %.2f× the raw asynq no-op rate (first→last send: %.2f×)
first send began %.3f s after the feeder started (planning, first enqueue, worker idle poll)
send task run: p50 %.2f ms, p99 %.2f ms over %d runs carrying %d sends
simulator accepted %d sends for %d recipients: %d duplicated, %d missing
`, r.Ratio, r.SteadyRatio, r.Send.FirstSendSeconds, r.Send.P50Millis, r.Send.P99Millis, r.Send.HandlerRuns, r.Send.Carried,
		r.Send.SimAccepted, r.Send.Recipients, r.Send.Duplicates, r.Send.Missing)
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if len(r.Rounds) > 1 || r.Stopped {
		what := fmt.Sprintf("%d rounds, each a no-op phase and then a send phase; the table above is round %d, of median ratio:\n", len(r.Rounds), r.ShownRound)
		if r.Stopped {
			what = fmt.Sprintf("the run stopped at round %d, which the table above shows; the rounds before it:\n", r.ShownRound)
		}
		if _, err := fmt.Fprint(w, what); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
		for i, rd := range r.Rounds {
			if _, err := fmt.Fprintf(w, "  round %d: no-op %6.0f/s, send path %6.0f/s: %.2f× (first→last send %.2f×)\n",
				i+1, rd.NoopPerSecond, rd.SendPerSecond, rd.Ratio, rd.SteadyRatio); err != nil {
				return fmt.Errorf("write table: %w", err)
			}
		}
	}
	p := r.Send.Profile
	pg := "not on this machine"
	if p.PostgresCPUMillis >= 0 {
		pg = fmt.Sprintf("%.2f ms", p.PostgresCPUMillis)
	}
	_, err = fmt.Fprintf(w, `per send: CPU %.2f ms in this process (worker, feeder, simulator), Postgres backends %s;
  %.1f commits, %.0f tuples returned, %.1f tuples updated (deliveries: %.0f%% HOT updates), %.1f Redis commands
`, p.GoCPUMillis, pg, p.Commits, p.TuplesReturned, p.TuplesUpdated, 100*p.HOTShare, p.RedisCommands)
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
