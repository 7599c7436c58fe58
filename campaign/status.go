package campaign

import (
	"errors"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// Status is a broadcast's lifecycle state.
type Status string

// Broadcast states.
const (
	StatusDraft     Status = "draft"
	StatusScheduled Status = "scheduled"
	StatusRunning   Status = "running"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusCancelled Status = "cancelled"
	StatusFailed    Status = "failed"
	// StatusRecurring is a broadcast with a cron schedule: it never sends
	// itself; each occurrence is a broadcast of its own, named
	// NAME@<occurrence time in UTC>, with a copy of its audience.
	StatusRecurring Status = "recurring"
)

// Move is a change of a broadcast's lifecycle state.
type Move string

// The moves of the broadcast lifecycle (see [Lifecycle]).
const (
	MoveStart         Move = "start"          // its start_at came
	MovePause         Move = "pause"          // by the operator
	MoveAutoPause     Move = "auto-pause"     // an error storm or a halting provider error
	MovePauseAccount  Move = "pause-account"  // its account cannot send
	MoveResume        Move = "resume"         // to running, or scheduled if it never started
	MoveCancel        Move = "cancel"         // by the operator
	MoveStopRecurring Move = "stop-recurring" // cancel a recurring broadcast: no more occurrences
	MoveComplete      Move = "complete"       // every delivery ended
	MoveExpirePaused  Move = "expire-paused"  // its deadline passed while paused
	// MoveRetryFailed reopens a completed broadcast whose failed
	// deliveries retry-failed planned again (Service.RetryFailed): the
	// one move out of a final state.
	MoveRetryFailed Move = "retry-failed"
)

// Transition is where a move may start from and where it ends.
type Transition struct {
	From []Status
	To   Status
}

// Lifecycle is the broadcast lifecycle's transition table: the one place
// that says which state each move may start from. Every change of a
// broadcast's state is one of these, made by a conditional update on From
// (so of two racing moves only one wins).
//
//	draft ─▶ scheduled ─▶ running ─▶ completed
//	   │         │  ▲       │  ▲
//	   │         ▼  │       ▼  │
//	   └──────▶ paused ─────┴──┴─▶ cancelled      recurring ─▶ cancelled
//
// and completed ─▶ running when retry-failed plans failed deliveries again.
var Lifecycle = map[Move]Transition{
	MoveStart:         {From: []Status{StatusScheduled}, To: StatusRunning},
	MovePause:         {From: []Status{StatusScheduled, StatusRunning}, To: StatusPaused},
	MoveAutoPause:     {From: []Status{StatusRunning}, To: StatusPaused},
	MovePauseAccount:  {From: []Status{StatusRunning, StatusScheduled}, To: StatusPaused},
	MoveResume:        {From: []Status{StatusPaused}, To: StatusRunning},
	MoveCancel:        {From: []Status{StatusDraft, StatusScheduled, StatusRunning, StatusPaused}, To: StatusCancelled},
	MoveStopRecurring: {From: []Status{StatusRecurring}, To: StatusCancelled},
	MoveComplete:      {From: []Status{StatusRunning}, To: StatusCompleted},
	MoveExpirePaused:  {From: []Status{StatusPaused}, To: StatusCompleted},
	MoveRetryFailed:   {From: []Status{StatusCompleted}, To: StatusRunning},
}

// Editable reports whether a broadcast's audience and message may still change.
func (s Status) Editable() bool {
	return s == StatusDraft || s == StatusScheduled || s == StatusRecurring
}

// Final reports whether the broadcast will never send again.
func (s Status) Final() bool {
	return s == StatusCompleted || s == StatusCancelled || s == StatusFailed
}

// Errors returned by the campaign engine and its stores.
var (
	// ErrNotFound: no broadcast (or delivery) by that name or id.
	ErrNotFound = delivery.ErrNotFound
	// ErrInvalidTransition: the broadcast is not in a state that allows the move.
	ErrInvalidTransition = errors.New("invalid state transition")
)

// OccurrenceName names the broadcast of one occurrence of a recurring
// broadcast: NAME@2026-11-23T09:00Z (UTC, to the minute; '@' cannot appear
// in a configured name).
func OccurrenceName(parent string, at time.Time) string {
	return parent + "@" + at.UTC().Format("2006-01-02T15:04Z")
}
