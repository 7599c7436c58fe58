package campaign_test

import (
	"slices"
	"testing"
	"time"

	"github.com/wacamp/wacamp/campaign"
	"github.com/wacamp/wacamp/delivery"
)

// Reasons says why a broadcast is where it is, in words an operator reads
// on the console: a pause and its cause, a full budget holding the pending
// sends, zones waiting or held, sends whose outcome is awaited.
func TestReportReasons(t *testing.T) {
	t.Parallel()
	now := time.Now()
	full := &campaign.BudgetReport{Ledger: "account:main", Limit: 1000, Used: 1000, Full: true, NextRoom: &now}
	for _, c := range []struct {
		name string
		r    campaign.Report
		want []string // each a prefix of one reason, in order
	}{
		{"running freely", campaign.Report{Status: campaign.StatusRunning, Rate: 5, Counts: map[string]int{"planned": 3}}, nil},
		{"paused by the operator", campaign.Report{Status: campaign.StatusPaused, Reason: "paused by operator"}, []string{"paused by operator"}},
		{"paused by a halting error", campaign.Report{Status: campaign.StatusPaused, Reason: "halted by provider error: subscriber limit reached"},
			[]string{"paused: halted by provider error: subscriber limit reached"}},
		{"auto-paused", campaign.Report{Status: campaign.StatusPaused, Reason: "auto-paused: 9 of the last 10 sends failed"}, []string{"auto-paused: 9 of"}},
		{"budget full, nothing going out", campaign.Report{Status: campaign.StatusRunning, Budget: full, Counts: map[string]int{"planned": 5}},
			[]string{"deferred: daily unique-recipient budget full (1000 of 1000), room from "}},
		{"budget full but sending to people counted", campaign.Report{Status: campaign.StatusRunning, Rate: 2, Budget: full, Counts: map[string]int{"planned": 5}}, nil},
		{"budget unknown", campaign.Report{Status: campaign.StatusRunning, Rate: 2, Budget: &campaign.BudgetReport{Limit: 5, Error: "redis down"}},
			[]string{"budget use unknown: redis down"}},
		{"zones", campaign.Report{Status: campaign.StatusRunning, Window: "Mon-Fri 09:00-18:00", Zones: []campaign.ZoneReport{
			{Zone: "Asia/Tokyo", State: campaign.ZoneHeld}, {Zone: "America/New_York", Local: "Tue 09:00", State: campaign.ZoneWaiting},
			{Zone: "Pacific/Honolulu", State: campaign.ZoneLate}}},
			[]string{"held: 1 zone(s) outside the send window Mon-Fri 09:00-18:00", "waiting: 1 zone(s) for their local time, the next America/New_York at Tue 09:00", "late: 1 zone(s)"}},
		{"outcomes awaited", campaign.Report{Status: campaign.StatusCompleted, Settle: map[string]int{delivery.SettleAwaiting: 2}},
			[]string{"unknown outcome: 2 send(s) awaiting"}},
		{"cancelled", campaign.Report{Status: campaign.StatusCancelled, Reason: "cancelled by operator"}, []string{"cancelled: cancelled by operator"}},
	} {
		got := c.r.Reasons()
		if len(got) != len(c.want) || !slices.EqualFunc(got, c.want, func(g, w string) bool { return len(g) >= len(w) && g[:len(w)] == w }) {
			t.Errorf("%s: reasons %q, want %q", c.name, got, c.want)
		}
	}
}
