package delivery

import (
	"context"
	"time"

	"github.com/wacamp/wacamp/consent"
	"github.com/wacamp/wacamp/provider"
)

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
// PollStore, the poll handler: one worker serves both). What differs by
// owner (recording a send, pausing a broadcast, ending an enrollment) is
// the owners' own store (campaign.OwnerStore, sequence.StepStore).
type WorkerStore interface {
	PollStore
	// Job loads a delivery with its broadcast and account; ErrNotFound.
	Job(ctx context.Context, id int64) (Job, error)
	// Claim moves a delivery of ref's generation from planned/queued to
	// sending with a lease, only while its owner runs (its broadcast is
	// running, its enrollment active), recording mark (nil: none) and when the request
	// began.
	// The claim also refuses a recipient on the suppression lists check
	// names; SkipOptedOut then says whether that was why.
	Claim(ctx context.Context, ref Ref, now, leaseUntil time.Time, mark []string, check consent.Check) (bool, error)
	// SkipOptedOut skips a pending delivery of ref's generation whose
	// recipient is on the suppression lists check names (reason
	// consent.ReasonOptedOut), ending its enrollment if it is a step;
	// false when it is not pending or its recipient is not suppressed.
	SkipOptedOut(ctx context.Context, ref Ref, check consent.Check, now time.Time) (bool, error)
	// Reclaim takes over a sending delivery whose lease ended.
	Reclaim(ctx context.Context, ref Ref, now, leaseUntil time.Time) (bool, error)
	// Unclaim moves a sending delivery back (to queued, or to planned with a
	// new generation when newGen), when the provider surely did not take it;
	// to skipped if its broadcast was cancelled meanwhile. Only while it
	// holds lease (the caller's attempt).
	Unclaim(ctx context.Context, ref Ref, lease time.Time, newGen bool, errCode, reason string, now time.Time) (bool, error)
	// Release hands back a claim that never reached the provider: back to
	// queued with the attempt not counted (planned with a new generation if
	// paused, skipped if cancelled), only while the delivery holds lease.
	Release(ctx context.Context, ref Ref, lease time.Time, reason string, now time.Time) (bool, error)
	// ReleaseLease shortens the lease of a sending delivery to until, so a
	// retry may reconcile from then on, only while it holds lease (the
	// caller's attempt: a lease taken over by another attempt is left
	// alone).
	ReleaseLease(ctx context.Context, ref Ref, lease, until time.Time, reason string, now time.Time) error
	// MatchWebhookEvents applies the webhook events kept for a delivery
	// whose message was not known when they came (its wamid, or for
	// providers whose answers carry no id its phone), now that it is sent.
	MatchWebhookEvents(ctx context.Context, id int64, now time.Time) (int, error)
	// Finish moves a delivery of ref's generation that is not yet accepted
	// to failed, skipped or expired, with code (a provider's, or one of
	// wacamp's reason codes such as ReasonFrequencyCap) and reason.
	Finish(ctx context.Context, ref Ref, to Status, code, reason string, now time.Time) (bool, error)
	// PauseAccount pauses every running broadcast of an account.
	PauseAccount(ctx context.Context, accountID int64, reason string, now time.Time) ([]int64, error)
}

// InboundStore records what people wrote to an account's number, as read
// from a conversation history (store.DB satisfies it): their latest
// inbound time, and opt-out and opt-in keywords (see consent).
type InboundStore interface {
	RecordInbound(ctx context.Context, accountID int64, msgs []consent.Inbound, now time.Time) (consent.Outcome, error)
}
