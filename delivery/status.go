package delivery

import (
	"errors"

	"github.com/wacamp/wacamp/provider"
)

// Status is where one recipient's message is.
type Status string

// Delivery states, in the order `status --json` reports them.
const (
	Planned   Status = "planned"
	Queued    Status = "queued"
	Sending   Status = "sending"
	Sent      Status = "sent"
	Delivered Status = "delivered"
	Read      Status = "read"
	Failed    Status = "failed"
	Skipped   Status = "skipped"
	Expired   Status = "expired"
)

// Statuses lists every delivery state in report order.
var Statuses = []Status{
	Planned, Queued, Sending, Sent,
	Delivered, Read, Failed, Skipped, Expired,
}

// StatusMoves is the delivery ladder's transition table for what a
// provider reports, by poll or by webhook alike: the delivery states each
// reported status may replace. Statuses only move forward (sent <
// delivered < read), and failed only replaces sent; anything else — a
// duplicate, a report that arrives late or out of order, a sent — changes
// nothing. The store applies every status through it.
var StatusMoves = map[provider.Status][]Status{
	provider.StatusDelivered: {Sent},
	provider.StatusRead:      {Sent, Delivered},
	provider.StatusFailed:    {Sent},
}

// Pending reports whether the delivery has not been handed to the provider yet.
func (s Status) Pending() bool {
	return s == Planned || s == Queued || s == Sending
}

// Accepted reports whether the provider accepted the message.
func (s Status) Accepted() bool {
	return s == Sent || s == Delivered || s == Read
}

// ErrNotFound: no delivery (or broadcast, sequence) by that id or name.
var ErrNotFound = errors.New("not found")
