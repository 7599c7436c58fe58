package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wacamp/wacamp/provider"
)

// Owner is what a delivery's owner decides about it: the broadcast that
// planned it, or the sequence enrollment whose step it is. The send path
// asks the owner wherever the two differ and never branches on the kind of
// owner itself; a job's Owned part names its owner ([Owned.OwnerKind]) and
// [SendDeps.Owners] holds one Owner per kind (campaign.BroadcastOwner,
// sequence.StepOwner).
type Owner interface {
	// LogAttrs names the owner in the delivery's log lines.
	LogAttrs(job Job) []any
	// State says whether the owner runs (the delivery may be sent), has
	// stopped for good (the delivery is skipped, with the reason), or
	// neither (paused, not started: the delivery waits to be fed again).
	State(job Job) (OwnerState, string)
	// Ready returns nil when the delivery may be sent now, else what to
	// do instead: a *WaitError, ErrDone once it moved the delivery on
	// itself (expired it, or put it back to be fed later), or the error of
	// doing so.
	Ready(ctx context.Context, job Job, now time.Time) error
	// AccountDown is what the send returns once the account that cannot
	// send has been paused.
	AccountDown(reason string) error
	// EndedBeforeSend reports whether the owner ended the delivery's
	// reason to exist before the request (a reply ended an enrollment).
	EndedBeforeSend(ctx context.Context, log *slog.Logger, s Sender, caps provider.Capabilities, job Job, now time.Time) (bool, error)
	// RecordSent records an accepted send, with whatever follows from it
	// for the owner, in one statement.
	RecordSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// Halted applies a provider error that halts the campaign or the
	// account.
	Halted(ctx context.Context, log *slog.Logger, job Job, class provider.Class, code, text string) error
	// Outcome counts a send's outcome (the error storm).
	Outcome(ctx context.Context, log *slog.Logger, job Job, failed bool, lastErr string)
	// OverCap says what a delivery whose recipient has had the account's
	// frequency cap of messages does: CapSkip (it ends skipped) or
	// CapDefer (it waits for room, within its deadline).
	OverCap(job Job) string
}

// Parker is an Owner whose deliveries wait in the store, not in a task,
// when a wait is long (longer than ParkAfter): a sequence step released
// into its account's window of steps in flight would hold room there for
// hours (outside its send window, over the frequency cap) and hold back
// every other step of the account.
type Parker interface {
	// Park puts the delivery of job back until until (planned, under a
	// new generation), for reason; false when it moved on meanwhile (or
	// is being sent: it is not parked then).
	Park(ctx context.Context, job Job, until time.Time, reason string, now time.Time) (bool, error)
}

// ParkAfter is the longest wait a Parker's delivery spends in a task; a
// longer one parks it.
const ParkAfter = time.Minute

// ParkRecheck bounds how long a delivery parked for room in the budget or
// our frequency cap (a WaitError with Ends) waits before it is checked
// again, so that a raised limit reaches parked deliveries within it.
const ParkRecheck = time.Hour

// parkable are the waits a Parker's delivery is parked for when long:
// those of a delivery that is not being sent, whose end is known (a pair
// interval is one: after a 131056 it grows to minutes).
var parkable = map[WaitKind]bool{WaitWindow: true, WaitCap: true, WaitBudget: true, WaitAccount: true, WaitPair: true}

// ErrDone is what Owner.Ready returns when it has moved the delivery on
// itself (expired it, or put it back to be fed when it is due): this
// attempt has nothing more to do, and the task ends without an error.
var ErrDone = errors.New("delivery moved on by its owner")

// Owned is an owner's part of a job, loaded with it (campaign.Broadcast,
// sequence.StepJob).
type Owned interface {
	// OwnerKind names the Owner that decides about the delivery.
	OwnerKind() string
}

// OwnerState is what a delivery's owner allows it now.
type OwnerState int

const (
	OwnerRunning OwnerState = iota // the delivery may be sent
	OwnerWaiting                   // paused or not started: it waits to be fed again
	OwnerStopped                   // cancelled or ended: the delivery is skipped
)

// Owners holds the Owner of each kind of Owned.
type Owners map[string]Owner

// of returns the owner of job's delivery.
func (o Owners) of(job Job) (Owner, error) {
	if job.Owner == nil {
		return nil, fmt.Errorf("delivery %d: no owner loaded", job.ID)
	}
	own, ok := o[job.Owner.OwnerKind()]
	if !ok {
		return nil, fmt.Errorf("delivery %d: no owner of kind %q registered", job.ID, job.Owner.OwnerKind())
	}
	return own, nil
}

// HandBack hands back a claim that never reached the provider, as
// [WorkerStore.Release] does, and returns why (the error the task ends
// with). A failed release is logged: the claim is reconciled when its
// lease ends.
func HandBack(ctx context.Context, store Releaser, log *slog.Logger, ref Ref, lease time.Time, why error, now time.Time) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := store.Release(ctx, ref, lease, why.Error(), now); err != nil {
		log.ErrorContext(ctx, "delivery: could not release claim; it is reconciled when the lease ends", slog.Int64("delivery_id", ref.ID), slog.String("error", err.Error()))
	}
	return why
}

// Releaser hands back claims (see WorkerStore.Release).
type Releaser interface {
	Release(ctx context.Context, ref Ref, lease time.Time, reason string, now time.Time) (bool, error)
}
