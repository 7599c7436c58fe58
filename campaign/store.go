package campaign

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/provider"
)

// SchedulerStore is what the scheduler side (planning, feeding, lifecycle)
// needs from persistence. Methods that change state are conditional: they
// report whether a row matched instead of failing on a lost race.
type SchedulerStore interface {
	// BroadcastByName returns ErrNotFound if there is none.
	BroadcastByName(ctx context.Context, name string) (Broadcast, error)
	// BroadcastsIn lists the broadcasts in any of the states.
	BroadcastsIn(ctx context.Context, states ...Status) ([]Broadcast, error)
	// Account returns ErrNotFound if there is none.
	Account(ctx context.Context, id int64) (Account, error)
	// StartBroadcast moves a scheduled broadcast to running if it is still
	// at updatedAt and its start has come.
	StartBroadcast(ctx context.Context, id int64, updatedAt, now time.Time) (bool, error)
	// Touch restarts the queued clock of a queued delivery.
	Touch(ctx context.Context, ref Ref, now time.Time) error
	// SetStatus moves a broadcast from one of from to to, recording reason.
	SetStatus(ctx context.Context, id int64, from []Status, to Status, reason string, now time.Time) (bool, error)
	// PlanBatch inserts deliveries for the next recipients with id > after,
	// at most limit, skipping those already planned. It returns the last
	// recipient id read and how many recipients it read (0 = done).
	PlanBatch(ctx context.Context, broadcastID, after int64, limit int, now time.Time) (last int64, n int, err error)
	// CountByStatus counts a broadcast's deliveries per state.
	CountByStatus(ctx context.Context, broadcastID int64) (map[DeliveryStatus]int, error)
	// Window returns how many deliveries are queued or sending, not
	// counting those awaiting the provider's confirmation, and whether any
	// are still planned or awaiting (the broadcast is not over).
	Window(ctx context.Context, broadcastID int64) (inflight int, morePlanned bool, err error)
	// SentSince counts deliveries of a broadcast accepted at or after t.
	SentSince(ctx context.Context, broadcastID int64, t time.Time) (int, error)
	// NextPlanned returns up to limit planned deliveries in id order.
	NextPlanned(ctx context.Context, broadcastID int64, limit int) ([]Ref, error)
	// MarkQueued moves planned deliveries of the given generation to queued,
	// only while their broadcast is running.
	// It returns the refs it moved.
	MarkQueued(ctx context.Context, refs []Ref, now time.Time) ([]Ref, error)
	// Unqueue moves every queued delivery of a broadcast back to planned with
	// a new generation and returns the refs they had (to delete their tasks).
	Unqueue(ctx context.Context, broadcastID int64, now time.Time) ([]Ref, error)
	// FinishPending moves the broadcast's planned and queued deliveries to a
	// terminal state (skipped on cancel, expired past the deadline).
	FinishPending(ctx context.Context, broadcastID int64, to DeliveryStatus, reason string, now time.Time) ([]Ref, error)
	// Stale returns, in id order after afterID, queued deliveries queued
	// before `before` and sending deliveries whose lease ended before
	// `before`.
	Stale(ctx context.Context, before time.Time, afterID int64, limit int) ([]Job, error)
	// RequeuePolls makes status polls due between now and until (those
	// parked in Redis by LeaseDuePolls among them) due now, and returns how
	// many.
	RequeuePolls(ctx context.Context, now, until time.Time) (int, error)
	// Regen gives a delivery a new generation if it still has ref's.
	Regen(ctx context.Context, ref Ref, now time.Time) (Ref, bool, error)
	// LeaseDuePolls returns deliveries whose next poll is due and pushes
	// their next_poll_at to leaseUntil so no other scheduler enqueues them.
	LeaseDuePolls(ctx context.Context, now, leaseUntil time.Time, limit int) ([]PollRef, error)
	// CreateOccurrence creates the broadcast of one occurrence of a
	// recurring broadcast, once: created is false if it already existed.
	CreateOccurrence(ctx context.Context, parentID int64, at, now time.Time) (name string, created bool, err error)
	// SkipOccurrences records occurrences up to upTo as skipped.
	SkipOccurrences(ctx context.Context, parentID int64, upTo time.Time) error
	// DueSteps returns planned sequence steps due by until, earliest first.
	DueSteps(ctx context.Context, until time.Time, limit int) ([]DueStep, error)
	// Export calls fn for every delivery of a broadcast in id order.
	Export(ctx context.Context, broadcastID int64, fn func(Row) error) error
}

// PollRef names one due status poll.
type PollRef struct {
	DeliveryID int64
	PollCount  int
}

// SentLookup is what finding a sent message in a conversation needs: which
// wamids and entries are already some delivery's.
type SentLookup interface {
	// KnownWAMIDs returns which of the wamids are already recorded.
	KnownWAMIDs(ctx context.Context, wamids []string) (map[string]bool, error)
	EvidenceStore
}

// PollStore is what the status poll handler needs from persistence.
type PollStore interface {
	// PollTarget loads what a status poll needs; ErrNotFound.
	PollTarget(ctx context.Context, id int64) (PollTarget, error)
	// ApplyStatus records a status observation, moving the delivery only
	// forward, sets the wamid if it was unknown, and schedules the next poll
	// (nil = stop tracking). It reports whether the status changed.
	ApplyStatus(ctx context.Context, id int64, wamid string, r provider.StatusReport, now time.Time, nextPoll *time.Time) (bool, error)
	SentLookup
}

// WorkerStore is what the send handler needs from persistence (and, as a
// PollStore, the poll handler: one worker serves both).
type WorkerStore interface {
	PollStore
	// Job loads a delivery with its broadcast and account; ErrNotFound.
	Job(ctx context.Context, id int64) (Job, error)
	// Claim moves a delivery of ref's generation from planned/queued to
	// sending with a lease, only while its broadcast is running or its
	// enrollment is active, recording mark (nil: none) and when the request
	// began.
	Claim(ctx context.Context, ref Ref, now, leaseUntil time.Time, mark []string) (bool, error)
	// Reclaim takes over a sending delivery whose lease ended.
	Reclaim(ctx context.Context, ref Ref, now, leaseUntil time.Time) (bool, error)
	// Unclaim moves a sending delivery back (to queued, or to planned with a
	// new generation when newGen), when the provider surely did not take it;
	// to skipped if its broadcast was cancelled meanwhile.
	Unclaim(ctx context.Context, ref Ref, newGen bool, errCode, reason string, now time.Time) (bool, error)
	// Release hands back a claim that never reached the provider: back to
	// queued with the attempt not counted (planned with a new generation if
	// paused, skipped if cancelled), only while the delivery holds lease.
	Release(ctx context.Context, ref Ref, lease time.Time, reason string, now time.Time) (bool, error)
	// ReleaseLease shortens the lease of a sending delivery to until, so a
	// retry may reconcile from then on.
	ReleaseLease(ctx context.Context, ref Ref, until time.Time, reason string, now time.Time) error
	// MarkSent records an accepted send: sending → sent, the wamid (may be
	// empty when still unknown) and the first status poll (zero: none, the
	// provider pushes statuses).
	MarkSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// MatchWebhookEvents applies the webhook events kept for a delivery
	// whose message was not known when they came (its wamid, or for
	// providers whose answers carry no id its phone), now that it is sent.
	MatchWebhookEvents(ctx context.Context, id int64, now time.Time) (int, error)
	// MarkStepSent is MarkSent for a sequence step; in the same transaction
	// it plans the enrollment's next step, or completes the enrollment.
	MarkStepSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// ExitEnrollment ends an active enrollment as exited and skips its
	// pending steps.
	ExitEnrollment(ctx context.Context, enrollmentID int64, reason string, now time.Time) (bool, error)
	// Finish moves a delivery of ref's generation that is not yet accepted
	// to failed, skipped or expired.
	Finish(ctx context.Context, ref Ref, to DeliveryStatus, code, reason string, now time.Time) (bool, error)
	// PauseAccount pauses every running broadcast of an account.
	PauseAccount(ctx context.Context, accountID int64, reason string, now time.Time) ([]int64, error)
	// SetStatus as in SchedulerStore.
	SetStatus(ctx context.Context, id int64, from []Status, to Status, reason string, now time.Time) (bool, error)
}
