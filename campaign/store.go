package campaign

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// The scheduler side's persistence, as each part consumes it. Methods that
// change state are conditional: they report whether a row matched instead
// of failing on a lost race. store.DB satisfies them all.

// BroadcastReader reads broadcasts and their accounts.
type BroadcastReader interface {
	// BroadcastByName returns ErrNotFound if there is none.
	BroadcastByName(ctx context.Context, name string) (Broadcast, error)
	// BroadcastsIn lists the broadcasts in any of the states.
	BroadcastsIn(ctx context.Context, states ...Status) ([]Broadcast, error)
	// Account returns ErrNotFound if there is none.
	Account(ctx context.Context, id int64) (delivery.Account, error)
}

// BroadcastWriter moves a broadcast through its lifecycle and ends its pending deliveries.
type BroadcastWriter interface {
	// SetStatus moves a broadcast from one of from to to, recording reason.
	SetStatus(ctx context.Context, id int64, from []Status, to Status, reason string, now time.Time) (bool, error)
	// FinishPending moves the broadcast's planned and queued deliveries to a
	// terminal state (skipped on cancel, expired past the deadline), and
	// gives the recipients not planned yet deliveries in that state.
	// It returns the queued ones and their tasks (to delete them).
	FinishPending(ctx context.Context, broadcastID int64, to delivery.Status, reason string, now time.Time) ([]delivery.QueuedRef, error)
}

// PlanStore plans a broadcast: its start, then its deliveries as it sends.
type PlanStore interface {
	// StartBroadcast moves a scheduled broadcast to running if it is still
	// at updatedAt and its start has come.
	StartBroadcast(ctx context.Context, id int64, updatedAt, now time.Time) (bool, error)
	// PlanNext creates planned deliveries for the next recipients (at most
	// limit) of a running broadcast that have none yet, in audience order,
	// and returns them in id order; none unless the broadcast runs. A
	// zoned broadcast's (Broadcast.Timing) are those of the zones whose
	// time has come and whose window is open at now, earliest zone first.
	PlanNext(ctx context.Context, broadcastID int64, limit int, now time.Time) ([]delivery.Ref, error)
}

// WindowStore keeps a running broadcast's window of queued deliveries in
// Redis, and marks the sequence steps released to it.
type WindowStore interface {
	// Window returns how many deliveries are queued or sending, not
	// counting those awaiting the provider's confirmation, and whether any
	// are still planned or awaiting, or any recipient is not planned yet
	// (the broadcast is not over).
	Window(ctx context.Context, broadcastID int64) (inflight int, morePlanned bool, err error)
	// NextDue returns up to limit planned deliveries in id order that are
	// due at now (their due time, if any, is not after it).
	NextDue(ctx context.Context, broadcastID int64, limit int, now time.Time) ([]delivery.Ref, error)
	// MarkBatches moves planned deliveries of the given generations to
	// queued, only while their broadcast runs (or their enrollment is
	// active), each carried by a batch send task: refs[i] by batches[i],
	// which it records on it. It returns the refs it moved.
	MarkBatches(ctx context.Context, refs []delivery.Ref, batches []int64, now time.Time) ([]delivery.Ref, error)
	// Unqueue moves every queued delivery of a broadcast back to planned with
	// a new generation and returns the refs they had and their tasks (to
	// delete them).
	Unqueue(ctx context.Context, broadcastID int64, now time.Time) ([]delivery.QueuedRef, error)
}

// SweepStore finds and revives deliveries whose task was lost.
type SweepStore interface {
	// Stale returns, in id order after afterID, queued deliveries queued
	// before `before` and sending deliveries whose lease ended before
	// `before`.
	Stale(ctx context.Context, before time.Time, afterID int64, limit int) ([]delivery.Job, error)
	// Regen gives a delivery a new generation if it still has ref's.
	Regen(ctx context.Context, ref delivery.Ref, now time.Time) (delivery.Ref, bool, error)
	// Touch restarts the queued clock of a queued delivery.
	Touch(ctx context.Context, ref delivery.Ref, now time.Time) error
	// FoldCounts folds the changes of delivery counts recorded since the
	// last fold into the counts CountByStatus reads.
	FoldCounts(ctx context.Context) error
	// SettleFinishedAt moves the finished_at of broadcasts that ended at or
	// after since to their last send when one ended later, and returns how
	// many it moved.
	SettleFinishedAt(ctx context.Context, since time.Time) (int, error)
}

// PollFeedStore moves due status polls into Redis.
type PollFeedStore interface {
	// LeaseDuePolls returns deliveries whose next poll is due and pushes
	// their next_poll_at to leaseUntil so no other scheduler enqueues them.
	LeaseDuePolls(ctx context.Context, now, leaseUntil time.Time, limit int) ([]delivery.PollRef, error)
	// RequeuePolls makes status polls due between now and until (those
	// parked in Redis by LeaseDuePolls among them) due now, and returns how
	// many.
	RequeuePolls(ctx context.Context, now, until time.Time) (int, error)
}

// OccurrenceStore creates the occurrences of recurring broadcasts.
type OccurrenceStore interface {
	// CreateOccurrence creates the broadcast of one occurrence of a
	// recurring broadcast, once: created is false if it already existed.
	CreateOccurrence(ctx context.Context, parentID int64, at, now time.Time) (name string, created bool, err error)
	// SkipOccurrences records occurrences up to upTo as skipped.
	SkipOccurrences(ctx context.Context, parentID int64, upTo time.Time) error
}

// StepFeedStore finds sequence steps falling due.
type StepFeedStore interface {
	// StepLanes returns the sequences with planned steps due by until or
	// with steps in flight.
	StepLanes(ctx context.Context, until time.Time) ([]StepLane, error)
	// DueSteps returns planned sequence steps due by until, earliest first:
	// at most take[id] of sequence id (nil take: at most limit in all).
	DueSteps(ctx context.Context, until time.Time, take map[int64]int, limit int) ([]DueStep, error)
	// NextStepDue returns the due time of the earliest planned step of an
	// active enrollment due after after (zero: any), of a sequence not in
	// except; ok is false if there is none.
	NextStepDue(ctx context.Context, after time.Time, except []int64) (at time.Time, ok bool, err error)
	// PutBackSteps moves steps of refs marked queued in batch (whose task
	// could not be enqueued) back to planned under a new generation.
	PutBackSteps(ctx context.Context, batch int64, refs []delivery.Ref, now time.Time) (int, error)
}

// ReportStore reads what a broadcast did.
type ReportStore interface {
	// CountByStatus counts a broadcast's deliveries per state (recipients
	// not planned yet have none), from counts kept as deliveries change.
	CountByStatus(ctx context.Context, broadcastID int64) (map[delivery.Status]int, error)
	// SentSince counts deliveries of a broadcast accepted at or after t.
	SentSince(ctx context.Context, broadcastID int64, t time.Time) (int, error)
	// Export calls fn for every delivery of a broadcast in id order.
	Export(ctx context.Context, broadcastID int64, fn func(delivery.Row) error) error
	// Zones returns a zoned broadcast's audience zones with their counts
	// (none for a broadcast that is not zoned).
	Zones(ctx context.Context, broadcastID int64) ([]Zone, error)
}

// Zone is one time zone of a zoned broadcast's audience.
type Zone struct {
	Name       string // IANA
	Recipients int
	// Planned is how many of them have a delivery (the rest wait for the
	// zone's time, or for room in the window).
	Planned int
	Counts  map[delivery.Status]int
}

// FeederStore is what the Feeder needs: planning, feeding windows of sends,
// status polls and sequence steps, recurring occurrences and the sweep.
type FeederStore interface {
	BroadcastReader
	BroadcastWriter
	PlanStore
	WindowStore
	SweepStore
	PollFeedStore
	OccurrenceStore
	StepFeedStore
}

// ServiceStore is what the Service (pause, resume, cancel, status, export)
// needs: the feeder's store, since resuming plans what is left, and the
// reports.
type ServiceStore interface {
	FeederStore
	ReportStore
}
