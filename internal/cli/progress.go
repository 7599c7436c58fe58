package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
)

// bar renders a progress bar of width cells for done of total.
func bar(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("·", width) + "]"
	}
	fill := done * width / total
	return "[" + strings.Repeat("█", fill) + strings.Repeat("·", width-fill) + "]"
}

// ProgressLine is one line of live progress for a broadcast; a paused or
// cancelled one shows its state and why in place of the ETA. Its counts
// add up the states a message passes through: sent is every message the
// provider took (sent, delivered or read), delivered those delivered or
// read.
func ProgressLine(r campaign.Report) string {
	c := r.Counts
	pct := 0.0
	if r.Total > 0 {
		pct = 100 * float64(r.Handed) / float64(r.Total)
	}
	eta := "-"
	if r.ETASeconds != nil {
		eta = (time.Duration(*r.ETASeconds) * time.Second).Round(time.Second).String()
	}
	pending := c["planned"] + c["queued"] + c["sending"]
	if held := budgetHeld(r); held != "" {
		eta = held
	}
	if r.Status == campaign.StatusPaused || r.Status == campaign.StatusCancelled {
		// Nothing moves until someone acts: say so, and why.
		eta = string(r.Status)
		if r.Reason != "" {
			eta += ": " + r.Reason
		}
	}
	skipped := ""
	if c["skipped"] > 0 {
		skipped = fmt.Sprintf("  skipped %d", c["skipped"])
	}
	return fmt.Sprintf("%s %s %5.1f%%  sent %d  delivered %d  read %d  failed %d  expired %d%s  pending %d  %.0f/s  ETA %s",
		r.Name, bar(r.Handed, r.Total, 24), pct,
		c["sent"]+c["delivered"]+c["read"], c["delivered"]+c["read"], c["read"], c["failed"], c["expired"], skipped,
		pending, r.Rate, eta)
}

// budgetHeld says, when the unique-recipient budget holds back a running
// broadcast's pending sends, until when; else "".
func budgetHeld(r campaign.Report) string { return r.BudgetHeld() }

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
	if b := r.Budget; b != nil && b.Error != "" {
		fmt.Fprintf(w, "budget     %d unique recipients per 24 h (%s); use unknown: %s\n", b.Limit, b.Ledger, b.Error)
	} else if b != nil {
		fmt.Fprintf(w, "budget     %d of %d unique recipients in the last 24 h (%s)", b.Used, b.Limit, b.Ledger)
		if held := budgetHeld(r); held != "" {
			fmt.Fprintf(w, "\n           %s; sends to recipients already counted go on", held)
		} else if b.Full {
			fmt.Fprint(w, ", full")
		}
		fmt.Fprintln(w)
	}
	// Each delivery once, in its state now; the one-line views count
	// "sent" as reached the provider (sent, delivered or read).
	fmt.Fprintln(w, "by state   (each delivery once, as it is now: a read message is not also counted sent or delivered)")
	for _, s := range delivery.Statuses {
		fmt.Fprintf(w, "  %-10s %d", s, r.Counts[string(s)])
		if s == delivery.Skipped && len(r.Skips) > 0 {
			fmt.Fprintf(w, " (%s)", countsLine(r.Skips, nil))
		}
		fmt.Fprintln(w)
	}
	if len(r.Settle) > 0 {
		fmt.Fprintln(w, settleLine(r.Settle))
	}
	if n, m := r.Skips[delivery.ReasonFrequencyCap], r.MarketingCapRefused; n+m > 0 {
		fmt.Fprintf(w, "frequency cap: %d skipped (the person had had the account's frequency_cap of messages), %d failed (refused under Meta's per-user marketing limit, 131049)\n", n, m)
	}
	printZones(w, r)
}

// maxZoneLines is how many zones `status NAME` lists; --json lists all.
const maxZoneLines = 30

// printZones writes a zoned broadcast's timing and its progress by zone,
// earliest due first.
func printZones(w io.Writer, r campaign.Report) {
	if len(r.Zones) == 0 {
		return
	}
	var when []string
	if r.LocalTime != "" {
		at := r.LocalTime + " in each recipient's zone"
		if r.Date != "" {
			at += " on " + r.Date
		}
		when = append(when, at)
	}
	if r.Window != "" {
		when = append(when, "window "+r.Window+" in each recipient's zone")
	}
	fmt.Fprintf(w, "timing     %s\n", strings.Join(when, "; "))
	fmt.Fprintf(w, "zones      %d, earliest first (handed on of recipients)\n", len(r.Zones))
	for i, z := range r.Zones {
		if i == maxZoneLines {
			fmt.Fprintf(w, "  … %d more zones (status --json lists them all)\n", len(r.Zones)-i)
			break
		}
		fmt.Fprintf(w, "  %-24s %-30s %s  %-8s %d of %d\n", z.Zone, z.Local, z.Due.Format(time.RFC3339), z.State, z.Handed, z.Recipients)
	}
}

// settleLine says how a campaign's (or a step's) sends of unknown outcome
// stand: counts by delivery.SettleAwaiting, SettleSettled, SettleResent.
func settleLine(settle map[string]int) string {
	return fmt.Sprintf("outcome unknown: %d awaiting provider confirmation, %d settled from webhooks, %d sent again after the settle window",
		settle[delivery.SettleAwaiting], settle[delivery.SettleSettled], settle[delivery.SettleResent])
}
