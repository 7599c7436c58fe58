package campaign_test

import (
	"fmt"
	"slices"
	"time"

	"github.com/wacamp/wacamp/campaign"
)

// What can happen to a running broadcast: every move of the lifecycle
// table that starts from running.
func ExampleLifecycle() {
	var moves []string
	for m, tr := range campaign.Lifecycle {
		if slices.Contains(tr.From, campaign.StatusRunning) {
			moves = append(moves, fmt.Sprintf("%-13s → %s", m, tr.To))
		}
	}
	slices.Sort(moves)
	for _, m := range moves {
		fmt.Println(m)
	}
	// Output:
	// auto-pause    → paused
	// cancel        → cancelled
	// complete      → completed
	// pause         → paused
	// pause-account → paused
}

// Each occurrence of a recurring broadcast is a broadcast of its own,
// named after its parent and its time in UTC.
func ExampleOccurrenceName() {
	nine := time.Date(2030, time.March, 4, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	fmt.Println(campaign.OccurrenceName("weekly-digest", nine))
	// Output: weekly-digest@2030-03-04T08:00Z
}
