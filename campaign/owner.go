package campaign

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/sequence"
)

// owner is what a delivery's owner decides about it: the broadcast that
// planned it, or the sequence enrollment whose step it is. The send path
// asks the owner wherever the two differ and never branches on the kind of
// owner itself; [SendHandler.ownerOf] is the one place that tells them
// apart.
type owner interface {
	// logAttrs names the owner in the delivery's log lines.
	logAttrs(job Job) []any
	// state says whether the owner runs (the delivery may be sent), has
	// stopped for good (the delivery is skipped, with the reason), or
	// neither (paused, not started: the delivery waits to be fed again).
	state(job Job) (ownerState, string)
	// ready returns nil when the delivery may be sent now, else what to
	// do instead (a *WaitError, or the error of finishing it).
	ready(ctx context.Context, job Job, now time.Time) error
	// accountDown is what the send returns once the account that cannot
	// send has been paused.
	accountDown(reason string) error
	// endedBeforeSend reports whether the owner ended the delivery's
	// reason to exist before the request (a reply ended an enrollment).
	endedBeforeSend(ctx context.Context, log *slog.Logger, s Sender, caps provider.Capabilities, job Job, now time.Time) (bool, error)
	// recordSent records an accepted send, with whatever follows from it
	// for the owner, in one statement.
	recordSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// halted applies a provider error that halts the campaign or the
	// account.
	halted(ctx context.Context, log *slog.Logger, job Job, class provider.Class, code, text string) error
	// outcome counts a send's outcome (the error storm).
	outcome(ctx context.Context, log *slog.Logger, job Job, failed bool, lastErr string)
}

// ownerOf returns the owner of job's delivery.
func (h *SendHandler) ownerOf(job Job) owner {
	if job.Step != nil {
		return stepOwner{h}
	}
	return broadcastOwner{h}
}

// ownerState is what a delivery's owner allows it now.
type ownerState int

const (
	ownerRunning ownerState = iota // the delivery may be sent
	ownerWaiting                   // paused or not started: it waits to be fed again
	ownerStopped                   // cancelled or ended: the delivery is skipped
)

// broadcastOwner is a broadcast: it can be paused, by its user, an error
// storm or a halting provider error.
type broadcastOwner struct{ h *SendHandler }

func (broadcastOwner) logAttrs(job Job) []any {
	return []any{slog.String("broadcast", job.Broadcast.Name)}
}

func (broadcastOwner) state(job Job) (ownerState, string) {
	switch job.Broadcast.Status {
	case StatusRunning:
		return ownerRunning, ""
	case StatusCancelled:
		return ownerStopped, "broadcast cancelled"
	}
	return ownerWaiting, ""
}

func (broadcastOwner) ready(context.Context, Job, time.Time) error { return nil }

// accountDown: the paused account paused the broadcast; it resumes with it.
func (broadcastOwner) accountDown(string) error { return nil }

func (broadcastOwner) endedBeforeSend(context.Context, *slog.Logger, Sender, provider.Capabilities, Job, time.Time) (bool, error) {
	return false, nil
}

func (o broadcastOwner) recordSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	return o.h.store.MarkSent(ctx, ref, wamid, now, firstPoll, trackUntil)
}

// halted pauses the account or the broadcast and hands the claim back,
// counted: the broadcast goes on from there when resumed.
func (o broadcastOwner) halted(ctx context.Context, log *slog.Logger, job Job, class provider.Class, code, text string) error {
	h := o.h
	now := h.opts.Now()
	reason := "halted by provider error: " + text
	if class == provider.ClassHaltAccount {
		if _, perr := h.store.PauseAccount(ctx, job.Account.ID, reason, now); perr != nil {
			return perr
		}
	} else if _, perr := h.store.SetStatus(ctx, job.Broadcast.ID, Lifecycle[MoveAutoPause].From, Lifecycle[MoveAutoPause].To, reason, now); perr != nil {
		return perr
	}
	log.ErrorContext(ctx, "campaign: paused by provider error", slog.String("error", text), slog.String("class", class.String()))
	_, uerr := h.store.Unclaim(ctx, job.Ref, true, code, text, now)
	return uerr
}

// outcome records a send's outcome and pauses the broadcast when more than
// StormShare of its last StormWindow sends failed (at least a tenth of the
// window must have been seen). The window starts afresh whenever the
// broadcast's state changes (a resume), as its key carries updated_at.
func (o broadcastOwner) outcome(ctx context.Context, log *slog.Logger, job Job, failed bool, lastErr string) {
	h := o.h
	if h.outcomes == nil {
		return
	}
	share, window := cmp.Or(job.Broadcast.StormShare, h.opts.StormShare), cmp.Or(job.Broadcast.StormWindow, h.opts.StormWindow)
	key := fmt.Sprintf("%d:%d", job.Broadcast.ID, job.Broadcast.UpdatedAt.UnixNano())
	f, n, err := h.outcomes.Record(ctx, key, failed, window)
	if err != nil {
		log.WarnContext(ctx, "campaign: cannot record send outcome", slog.String("error", err.Error()))
		return
	}
	if !failed || n < max(1, window/10) || float64(f) <= share*float64(n) {
		return
	}
	reason := fmt.Sprintf("auto-paused: %d of the last %d sends failed (over %.0f%%); last error: %s", f, n, 100*share, lastErr)
	ok, err := h.store.SetStatus(ctx, job.Broadcast.ID, Lifecycle[MoveAutoPause].From, Lifecycle[MoveAutoPause].To, reason, h.opts.Now())
	if err == nil && ok {
		log.ErrorContext(ctx, "campaign: broadcast paused on an error storm", slog.String("reason", reason))
	}
}

// stepOwner is a sequence enrollment: it has no pause, so its steps wait
// (until their deadline) where a broadcast would be paused, and are not
// counted toward an error storm.
type stepOwner struct{ h *SendHandler }

func (stepOwner) logAttrs(job Job) []any {
	return []any{slog.String("sequence", job.Step.Sequence), slog.Int("step", job.Step.Step+1)}
}

// state: an enrollment runs while it is active; once it ended (completed,
// exited, unenrolled, stopped) its steps are skipped.
func (stepOwner) state(job Job) (ownerState, string) {
	if job.Step.Enrollment == sequence.EnrollActive {
		return ownerRunning, ""
	}
	return ownerStopped, "enrollment " + job.Step.Enrollment
}

// ready holds a step until its delay has passed (a task run early, or
// re-enqueued by the sweep) and its send window is open.
func (o stepOwner) ready(ctx context.Context, job Job, now time.Time) error {
	if wait := job.Step.DueAt.Sub(now); wait > 0 {
		return &WaitError{After: wait, Reason: "step not due yet"}
	}
	return o.h.inWindow(ctx, job, now)
}

// accountDown: sequences have no pause; the step waits (until its
// deadline).
func (stepOwner) accountDown(reason string) error {
	return &WaitError{After: accountRetry, Reason: reason}
}

// endedBeforeSend ends the enrollment of a sequence that exits on a reply
// when the recipient has replied since the previous step, as read from the
// conversation history. Without a history, replies arrive by webhook and
// end the enrollment there.
func (o stepOwner) endedBeforeSend(ctx context.Context, log *slog.Logger, s Sender, caps provider.Capabilities, job Job, now time.Time) (bool, error) {
	if !job.Step.Spec.Exits("reply") || !caps.History {
		return false, nil
	}
	replied, err := o.h.replied(ctx, s, job)
	if err != nil {
		return true, fmt.Errorf("read conversation for replies: %w", err)
	}
	if !replied {
		return false, nil
	}
	if _, err := o.h.store.ExitEnrollment(ctx, job.Step.EnrollmentID, "reply", now); err != nil {
		return true, err
	}
	log.InfoContext(ctx, "campaign: recipient replied; enrollment exited", slog.String("sequence", job.Step.Sequence))
	return true, nil
}

// recordSent records the step sent and plans the next one, atomically.
func (o stepOwner) recordSent(ctx context.Context, ref Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	return o.h.store.MarkStepSent(ctx, ref, wamid, now, firstPoll, trackUntil)
}

// outcome: a sequence has no pause, so its steps are not counted.
func (stepOwner) outcome(context.Context, *slog.Logger, Job, bool, string) {}

// halted applies a halting error to a sequence step, which has no
// broadcast to pause: a campaign-level error (the message itself is
// refused) fails the step and stops its enrollment; an account-level one
// pauses the account's broadcasts and the step waits, until its deadline.
func (o stepOwner) halted(ctx context.Context, log *slog.Logger, job Job, class provider.Class, code, text string) error {
	h := o.h
	now := h.opts.Now()
	if class == provider.ClassHaltCampaign {
		_, err := h.store.Finish(ctx, job.Ref, DeliveryFailed, code, text, now)
		return err
	}
	reason := "halted by provider error: " + text
	if _, err := h.store.PauseAccount(ctx, job.Account.ID, reason, now); err != nil {
		return err
	}
	log.ErrorContext(ctx, "campaign: account paused by provider error", slog.String("error", text))
	// Hand the claim back with the attempt not counted: the step waits for
	// the account (until its deadline) instead of using up its tries.
	return h.release(ctx, job.Ref, *job.LeaseUntil, &WaitError{After: accountRetry, Reason: reason})
}

// inWindow defers a sequence step that came due outside its send window
// (a throttle held it past the window's close) to the window's next
// opening, or expires it if that is past its deadline.
func (h *SendHandler) inWindow(ctx context.Context, job Job, now time.Time) error {
	st := job.Step
	w := st.Spec.WindowOf(st.Step)
	if w.Always() {
		return nil // no zone to look up
	}
	loc := st.Location(job)
	next := w.Next(now, loc)
	if !next.After(now) {
		return nil
	}
	if !st.SendBy.IsZero() && next.After(st.SendBy) {
		_, err := h.store.Finish(ctx, job.Ref, DeliveryExpired, "", "its send window does not open again before its deadline", now)
		return err
	}
	return &WaitError{After: next.Sub(now), Reason: "outside the step's send window; it opens at " + next.In(loc).Format(time.RFC3339)}
}

// replied reports whether the recipient wrote since the enrollment's
// previous step: a message from them newer than that step's in the
// conversation (newest first). Without the previous step's wamid, or with
// it beyond the conversation read, nothing can be ordered and no reply is
// assumed.
func (h *SendHandler) replied(ctx context.Context, s Sender, job Job) (bool, error) {
	if job.Step.PrevWAMID == "" {
		return false, nil
	}
	conv, err := s.Conversation(ctx, job.Phone, h.opts.ConversationLimit)
	if err != nil {
		return false, err
	}
	inbound := false
	for _, c := range conv {
		if c.WAMID == job.Step.PrevWAMID {
			return inbound, nil
		}
		inbound = inbound || !c.FromBot
	}
	return false, nil
}
