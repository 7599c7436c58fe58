package delivery_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/provider"
)

// What a provider reports, by poll or by webhook, moves a delivery only
// forward: each report may replace only the states listed, so a late
// "delivered" after "read", or a duplicate, changes nothing.
func Example_ladder() {
	for _, report := range []provider.Status{provider.StatusDelivered, provider.StatusRead, provider.StatusFailed} {
		fmt.Println(report, "may replace", delivery.StatusMoves[report])
	}
	fmt.Println("pending:", delivery.Queued.Pending(), "accepted:", delivery.Read.Accepted())
	// Output:
	// delivered may replace [sent]
	// read may replace [sent delivered]
	// failed may replace [sent]
	// pending: true accepted: true
}

// A handler that must wait (a rate limit, a lease held elsewhere, a step not
// due yet) returns a WaitError: asynq runs the task again after its wait,
// and the wait is not a failure, so it never uses up the task's retries.
func ExampleWaitError() {
	wait := &delivery.WaitError{After: 30 * time.Second, Reason: "pair interval"}
	fmt.Println(delivery.IsFailure(wait), delivery.RetryDelay(1, wait, nil))
	fmt.Println(delivery.IsFailure(errors.New("connection refused")))
	// Output:
	// false 30s
	// true
}
