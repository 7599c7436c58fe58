package localtime_test

import (
	"fmt"
	"time"

	"github.com/wacamp/wacamp/localtime"
)

// A recipient's zone is their "timezone" variable, else their number's.
func ExampleLocation() {
	fmt.Println(localtime.Location("recipient", "4915112345678", nil, time.UTC))
	fmt.Println(localtime.Location("recipient", "4915112345678", map[string]string{"timezone": "Asia/Tokyo"}, time.UTC))
	fmt.Println(localtime.Location("Europe/Paris", "4915112345678", nil, time.UTC))
	// Output:
	// Europe/Berlin
	// Asia/Tokyo
	// Europe/Paris
}

// A broadcast at 09:00 local time on the day Berlin's clocks go forward
// reaches each zone at its own 09:00: Tokyo first, then Berlin (in summer
// time since 02:00 that night), then New York (already in summer time).
func ExampleTiming_FanOut() {
	t := localtime.Timing{LocalTime: "09:00", Date: "2030-03-31"}
	start, _ := t.DefaultStart()
	fmt.Println("starts ", start.Format(time.RFC3339))
	for _, z := range t.FanOut(start, map[string]int{"Europe/Berlin": 2, "America/New_York": 1, "Asia/Tokyo": 3}) {
		loc, _ := localtime.Zone(z.Zone)
		fmt.Printf("%-16s %s  %s  %d\n", z.Zone, z.Due.Format(time.RFC3339), z.Due.In(loc).Format("15:04 MST"), z.Recipients)
	}
	// Output:
	// starts  2030-03-30T19:00:00Z
	// Asia/Tokyo       2030-03-31T00:00:00Z  09:00 JST  3
	// Europe/Berlin    2030-03-31T07:00:00Z  09:00 CEST  2
	// America/New_York 2030-03-31T13:00:00Z  09:00 EDT  1
}
