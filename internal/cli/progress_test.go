package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/sequence"
)

// A running broadcast held back by a full unique-recipient budget says so,
// with when room frees, in both the status page and the progress line.
func TestReportShowsABudgetHold(t *testing.T) {
	t.Parallel()
	room := time.Date(2026, 11, 22, 9, 30, 0, 0, time.Local)
	r := campaign.Report{Name: "promo", Status: campaign.StatusRunning, Account: "main", Total: 18, Handed: 10,
		Counts: map[string]int{"delivered": 10, "queued": 8},
		Budget: &campaign.BudgetReport{Ledger: "number:1190600", Limit: 10, Used: 10, Full: true, NextRoom: &room}}
	var out strings.Builder
	printReport(&out, r)
	require.Contains(t, out.String(), "budget     10 of 10 unique recipients in the last 24 h (number:1190600)\n"+
		"           deferred: daily unique-recipient budget full (10 of 10), room from 2026-11-22 09:30:00; sends to recipients already counted go on\n")
	require.Contains(t, ProgressLine(r), "pending 8  0/s  ETA deferred: daily unique-recipient budget full (10 of 10), room from 2026-11-22 09:30:00")

	// Sends still going out (to recipients already counted): the ETA stands.
	r.Rate = 5
	require.NotContains(t, ProgressLine(r), "deferred")
	r.Rate = 0

	// Nothing pending: a full budget holds nothing back.
	r.Counts = map[string]int{"delivered": 18}
	out.Reset()
	printReport(&out, r)
	require.Contains(t, out.String(), "budget     10 of 10 unique recipients in the last 24 h (number:1190600), full\n")
	require.NotContains(t, ProgressLine(r), "deferred")

	// Redis unreachable: the rest of the report still shows.
	r.Budget = &campaign.BudgetReport{Ledger: "number:1190600", Limit: 10, Error: "dial tcp 127.0.0.1:6379: connection refused"}
	out.Reset()
	printReport(&out, r)
	require.Contains(t, out.String(), "budget     10 unique recipients per 24 h (number:1190600); use unknown: dial tcp")
	require.Contains(t, out.String(), "delivered")
}

// The one-line view counts expired (and, when any, skipped) deliveries: a
// broadcast whose deliveries all expired does not look like one with
// nothing to do.
func TestProgressLineShowsExpired(t *testing.T) {
	t.Parallel()
	r := campaign.Report{Name: "late", Status: campaign.StatusCompleted, Total: 5, Handed: 5,
		Counts: map[string]int{"expired": 4, "delivered": 1}}
	require.Contains(t, ProgressLine(r), "failed 0  expired 4  pending 0")
	require.NotContains(t, ProgressLine(r), "skipped")
	r.Counts["skipped"] = 2
	require.Contains(t, ProgressLine(r), "expired 4  skipped 2  pending 0")
}

// The status page counts the frequency cap's ends: the skips by their
// reason code, and Meta's 131049 refusals beside them.
func TestReportShowsTheFrequencyCap(t *testing.T) {
	t.Parallel()
	r := campaign.Report{Name: "promo", Status: campaign.StatusCompleted, Account: "main", Total: 10, Handed: 10,
		Counts: map[string]int{"delivered": 6, "skipped": 3, "failed": 1},
		Skips:  map[string]int{"frequency_cap": 3}, MarketingCapRefused: 1}
	var out strings.Builder
	printReport(&out, r)
	require.Contains(t, out.String(), "  skipped    3 (3 frequency_cap)\n")
	require.Contains(t, out.String(), "frequency cap: 3 skipped (the person had had the account's frequency_cap of messages), 1 failed (refused under Meta's per-user marketing limit, 131049)\n")
	r.Skips, r.MarketingCapRefused = nil, 0
	out.Reset()
	printReport(&out, r)
	require.NotContains(t, out.String(), "frequency cap")
}

// A paused broadcast's progress line says it is paused, and why, where a
// running one shows its ETA: a line that stopped moving explains itself.
func TestProgressLineShowsAPause(t *testing.T) {
	t.Parallel()
	r := campaign.Report{Name: "promo", Status: campaign.StatusPaused, Reason: "account main: api token: environment variable SIM_TOKEN is not set",
		Total: 5, Counts: map[string]int{"planned": 5}}
	require.Contains(t, ProgressLine(r), "pending 5  0/s  ETA paused: account main: api token: environment variable SIM_TOKEN is not set")
	r.Status, r.Reason = campaign.StatusRunning, ""
	require.Contains(t, ProgressLine(r), "ETA -")
}

// A sequence's progress line shows a step's skipped (and failed) sends
// beside the sent ones: a follow-up only for people inside their window
// reads "sent 0 skipped 50", not a bare "sent 0".
func TestSequenceLineShowsSkips(t *testing.T) {
	t.Parallel()
	r := sequence.Report{Name: "welcome", Enrollments: map[string]int{sequence.EnrollCompleted: 50},
		Steps: []sequence.StepReport{{Step: 1, Counts: map[string]int{"delivered": 48, "failed": 2}}, {Step: 2, Counts: map[string]int{"skipped": 50}}}}
	require.Equal(t, "step 1 sent 48 failed 2, step 2 sent 0 skipped 50, 50 completed", SequenceLine(r))
}

// An unquoted phone with a space leaves a stray argument: enroll names it
// rather than printing its usage alone.
func TestEnrollNamesAStrayArgument(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	io := IO{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }}
	err := Scheduler(context.Background(), []string{"enroll", "onboarding", "--phone", "0151", "12345682"}, io)
	require.Error(t, err)
	require.Contains(t, err.Error()+out.String(), `unexpected argument "12345682" after "onboarding"`)
}
