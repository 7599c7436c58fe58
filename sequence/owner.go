package sequence

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider"
)

// KindStep is the owner kind of a sequence step's delivery.
const KindStep = "step"

// StepJob is the owned part of a sequence step's job: what the send path
// needs about the step and its enrollment.
type StepJob struct {
	EnrollmentID int64
	SequenceID   int64
	Sequence     string
	Version      int
	Step         int    // 0-based
	Enrollment   string // the enrollment's state (EnrollActive…)
	EnrolledAt   time.Time
	DueAt        time.Time
	SendBy       time.Time // zero = no deadline
	Spec         Spec
	// PrevWAMID is the wamid of the enrollment's previous step ("" for the
	// first, or when unknown).
	PrevWAMID string
}

// OwnerKind makes a StepJob the owned part of its delivery's job.
func (StepJob) OwnerKind() string { return KindStep }

// StepOf returns the step that owns job's delivery; ok is false for a
// delivery some other owner planned (a broadcast).
func StepOf(job delivery.Job) (s StepJob, ok bool) {
	s, ok = job.Owner.(StepJob)
	return s, ok
}

// Location is the time zone the step's window is read in for j's
// recipient.
func (s StepJob) Location(j delivery.Job) *time.Location {
	return localtime.Location(s.Spec.Timezone, j.Phone, j.Vars, localtime.AccountZone(j.Account.Timezone))
}

// StepStore is what deciding about sequence steps needs from persistence.
type StepStore interface {
	delivery.Releaser
	// MarkStepSent records an accepted step, as a broadcast's send is
	// recorded, and in the same transaction carries out the sequence's
	// plan after it (Spec.Sent): its next step, or completing it.
	MarkStepSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// ExitEnrollment ends an active enrollment as exited and skips its
	// pending steps.
	ExitEnrollment(ctx context.Context, enrollmentID int64, reason string, now time.Time) (bool, error)
	// Finish moves a delivery of ref's generation that is not yet accepted
	// to failed, skipped or expired (and its enrollment as Ended says).
	Finish(ctx context.Context, ref delivery.Ref, to delivery.Status, code, reason string, now time.Time) (bool, error)
	// PauseAccount pauses every running broadcast of an account.
	PauseAccount(ctx context.Context, accountID int64, reason string, now time.Time) ([]int64, error)
	// Defer moves a planned or queued delivery of ref's generation back to
	// planned under a new generation, due at until.
	Defer(ctx context.Context, ref delivery.Ref, until time.Time, reason string, now time.Time) (bool, error)
}

// StepOwner is the delivery.Owner of sequence steps. An enrollment has no
// pause, so its steps wait (until their deadline) where a broadcast would
// be paused, and are not counted toward an error storm.
type StepOwner struct {
	store StepStore
	opts  delivery.Options
}

// NewStepOwner returns the owner of sequence steps' deliveries.
func NewStepOwner(store StepStore, opts delivery.Options) *StepOwner {
	return &StepOwner{store: store, opts: opts.WithDefaults()}
}

var _ delivery.Owner = (*StepOwner)(nil)

func stepOf(job delivery.Job) StepJob {
	s, _ := StepOf(job)
	return s
}

// LogAttrs names the sequence and the step.
func (*StepOwner) LogAttrs(job delivery.Job) []any {
	st := stepOf(job)
	return []any{slog.String("sequence", st.Sequence), slog.Int("step", st.Step+1)}
}

// State: an enrollment runs while it is active; once it ended (completed,
// exited, unenrolled, stopped) its steps are skipped.
func (*StepOwner) State(job delivery.Job) (delivery.OwnerState, string) {
	st := stepOf(job)
	if st.Enrollment == EnrollActive {
		return delivery.OwnerRunning, ""
	}
	return delivery.OwnerStopped, "enrollment " + st.Enrollment
}

// Ready holds a step until its delay has passed (a task run early, or
// re-enqueued by the sweep) and its send window is open.
func (o *StepOwner) Ready(ctx context.Context, job delivery.Job, now time.Time) error {
	if wait := stepOf(job).DueAt.Sub(now); wait > 0 {
		return &delivery.WaitError{After: wait, Kind: delivery.WaitNotDue, Reason: "step not due yet"}
	}
	return o.inWindow(ctx, job, now)
}

// Park puts a step that waits longer than delivery.ParkAfter back to
// planned, due when the wait ends (its deliveries.due_at moves there), so
// that it holds no room in its account's window of steps in flight
// meanwhile; the scheduler releases it again then. A step being sent (a
// wait for a lease, a settle) is not parked.
func (o *StepOwner) Park(ctx context.Context, job delivery.Job, until time.Time, reason string, now time.Time) (bool, error) {
	return o.store.Defer(ctx, job.Ref, until, "waits until "+until.UTC().Format(time.RFC3339)+": "+reason, now)
}

// AccountDown: sequences have no pause; the step waits (until its
// deadline).
func (*StepOwner) AccountDown(reason string) error {
	return &delivery.WaitError{After: delivery.AccountRetry, Kind: delivery.WaitAccount, Reason: reason}
}

// EndedBeforeSend ends the enrollment of a sequence that exits on a reply
// when the recipient has replied since the previous step, as read from the
// conversation history. Without a history, replies arrive by webhook and
// end the enrollment there.
func (o *StepOwner) EndedBeforeSend(ctx context.Context, log *slog.Logger, s delivery.Sender, caps provider.Capabilities, job delivery.Job, now time.Time) (bool, error) {
	st := stepOf(job)
	if !st.Spec.Exits("reply") || !caps.History {
		return false, nil
	}
	replied, err := o.replied(ctx, s, job)
	if err != nil {
		return true, fmt.Errorf("read conversation for replies: %w", err)
	}
	if !replied {
		return false, nil
	}
	if _, err := o.store.ExitEnrollment(ctx, st.EnrollmentID, "reply", now); err != nil {
		return true, err
	}
	log.InfoContext(ctx, "sequence: recipient replied; enrollment exited", slog.String("sequence", st.Sequence))
	return true, nil
}

// RecordSent records the step sent and plans the next one, atomically.
func (o *StepOwner) RecordSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	return o.store.MarkStepSent(ctx, ref, wamid, now, firstPoll, trackUntil)
}

// OverCap: a step over the frequency cap waits for room within its
// deadline, unless the account's cap says sequences: skip.
func (*StepOwner) OverCap(job delivery.Job) string {
	if job.Account.FrequencyCap.Sequences == delivery.CapSkip {
		return delivery.CapSkip
	}
	return delivery.CapDefer
}

// Outcome: a sequence has no pause, so its steps are not counted.
func (*StepOwner) Outcome(context.Context, *slog.Logger, delivery.Job, bool, string) {}

// Halted applies a halting error to a sequence step, which has no
// broadcast to pause: a campaign-level error (the message itself is
// refused) fails the step and stops its enrollment; an account-level one
// pauses the account's broadcasts and the step waits, until its deadline.
func (o *StepOwner) Halted(ctx context.Context, log *slog.Logger, job delivery.Job, class provider.Class, code, text string) error {
	now := o.opts.Now()
	if class == provider.ClassHaltCampaign {
		_, err := o.store.Finish(ctx, job.Ref, delivery.Failed, code, text, now)
		return err
	}
	reason := "halted by provider error: " + text
	if _, err := o.store.PauseAccount(ctx, job.Account.ID, reason, now); err != nil {
		return err
	}
	log.ErrorContext(ctx, "sequence: account paused by provider error", slog.String("error", text))
	// Hand the claim back with the attempt not counted: the step waits for
	// the account (until its deadline) instead of using up its tries.
	return delivery.HandBack(ctx, o.store, o.opts.Logger, job.Ref, *job.LeaseUntil, &delivery.WaitError{After: delivery.AccountRetry, Kind: delivery.WaitAccount, Reason: reason}, now)
}

// inWindow defers a sequence step that came due outside its send window
// (a throttle held it past the window's close) to the window's next
// opening, or expires it if that is past its deadline.
func (o *StepOwner) inWindow(ctx context.Context, job delivery.Job, now time.Time) error {
	st := stepOf(job)
	w := st.Spec.WindowOf(st.Step)
	if w.Always() {
		return nil // no zone to look up
	}
	loc := st.Location(job)
	next, expire := w.Hold(now, st.SendBy, loc)
	switch {
	case expire:
		if _, err := o.store.Finish(ctx, job.Ref, delivery.Expired, "", localtime.ReasonWindowExpired, now); err != nil {
			return err
		}
		return delivery.ErrDone
	case next.After(now):
		return &delivery.WaitError{After: next.Sub(now), Kind: delivery.WaitWindow, Reason: "outside the step's send window; it opens at " + next.In(loc).Format(time.RFC3339)}
	}
	return nil
}

// replied reports whether the recipient wrote since the enrollment's
// previous step: a message from them newer than that step's in the
// conversation (newest first). Without the previous step's wamid, or with
// it beyond the conversation read, nothing can be ordered and no reply is
// assumed.
func (o *StepOwner) replied(ctx context.Context, s delivery.Sender, job delivery.Job) (bool, error) {
	st := stepOf(job)
	if st.PrevWAMID == "" {
		return false, nil
	}
	conv, err := s.Conversation(ctx, job.Phone, o.opts.ConversationLimit)
	if err != nil {
		return false, err
	}
	inbound := false
	for _, c := range conv {
		if c.WAMID == st.PrevWAMID {
			return inbound, nil
		}
		inbound = inbound || !c.FromBot
	}
	return false, nil
}
