package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
)

// bar renders a progress bar of width cells for done of total.
func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("·", width) + "]"
	}
	fill := done * width / total
	return "[" + strings.Repeat("█", fill) + strings.Repeat("·", width-fill) + "]"
}

// progressLine is one line of live progress for a broadcast.
func progressLine(r campaign.Report) string {
	c := r.Counts
	pct := 0.0
	if r.Total > 0 {
		pct = 100 * float64(r.Handed) / float64(r.Total)
	}
	eta := "-"
	if r.ETASeconds != nil {
		eta = (time.Duration(*r.ETASeconds) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s %s %5.1f%%  sent %d  delivered %d  read %d  failed %d  pending %d  %.0f/s  ETA %s",
		r.Name, bar(r.Handed, r.Total, 24), pct,
		c["sent"]+c["delivered"]+c["read"], c["delivered"]+c["read"], c["read"], c["failed"],
		c["planned"]+c["queued"]+c["sending"], r.Rate, eta)
}

// printReport writes the human form of `scheduler status NAME`.
func printReport(w io.Writer, r campaign.Report) {
	fmt.Fprintf(w, "broadcast  %s (account %s)\n", r.Name, r.Account)
	state := string(r.Status)
	if r.Reason != "" {
		state += " — " + r.Reason
	}
	fmt.Fprintf(w, "state      %s\n", state)
	fmt.Fprintf(w, "start      %s", r.StartAt.Local().Format(time.RFC3339))
	if r.StartedAt != nil {
		fmt.Fprintf(w, " (started %s)", r.StartedAt.Local().Format(time.RFC3339))
	}
	if r.FinishedAt != nil {
		fmt.Fprintf(w, ", finished %s", r.FinishedAt.Local().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	pct := 0.0
	if r.Total > 0 {
		pct = 100 * float64(r.Handed) / float64(r.Total)
	}
	fmt.Fprintf(w, "progress   %s %.1f%% (%d of %d handed to the provider or finished)\n", bar(r.Handed, r.Total, 40), pct, r.Handed, r.Total)
	if r.Duplicates > 0 {
		fmt.Fprintf(w, "audience   %d recipients (%d duplicates removed)\n", r.Recipients, r.Duplicates)
	}
	fmt.Fprintf(w, "rate       %.1f/s now, at most %.0f/s", r.Rate, r.ConfiguredMax)
	if r.ETASeconds != nil {
		fmt.Fprintf(w, ", ETA %s", (time.Duration(*r.ETASeconds) * time.Second).Round(time.Second))
	}
	fmt.Fprintln(w)
	for _, s := range campaign.DeliveryStatuses {
		fmt.Fprintf(w, "  %-10s %d\n", s, r.Counts[string(s)])
	}
}
