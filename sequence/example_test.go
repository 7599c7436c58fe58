package sequence_test

import (
	"fmt"
	"time"

	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/sequence"
)

// A step due a day after enrolling, sent only on weekdays from 09:00 to
// 17:00 in the recipient's zone, with a day to go out.
func ExampleSpec_Schedule() {
	weekdays, err := localtime.ParseWindow([]string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "17:00")
	if err != nil {
		panic(err)
	}
	spec := sequence.Spec{Window: weekdays, Steps: []sequence.Step{{After: 24 * time.Hour, Deadline: 24 * time.Hour}}}
	berlin, _ := localtime.Zone("Europe/Berlin")
	// Enrolled on a Friday evening: a day later is Saturday, so the step
	// waits for Monday morning, and may go out until Tuesday morning.
	enrolled := time.Date(2030, time.January, 4, 18, 0, 0, 0, berlin)
	due, sendBy := spec.Schedule(0, enrolled, berlin)
	fmt.Println("due    ", due.In(berlin).Format("Mon 2006-01-02 15:04"))
	fmt.Println("send by", sendBy.In(berlin).Format("Mon 2006-01-02 15:04"))
	// Output:
	// due     Mon 2030-01-07 09:00
	// send by Tue 2030-01-08 09:00
}
