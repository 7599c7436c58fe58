package campaign

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/localtime"
	"github.com/wacamp/wacamp/provider"
)

// KindBroadcast is the owner kind of a broadcast's deliveries.
const KindBroadcast = "broadcast"

// OwnerKind makes a Broadcast the owned part of its deliveries' jobs.
func (Broadcast) OwnerKind() string { return KindBroadcast }

// BroadcastOf returns the broadcast that owns job's delivery; ok is false
// for a delivery some other owner planned (a sequence step).
func BroadcastOf(job delivery.Job) (b Broadcast, ok bool) {
	b, ok = job.Owner.(Broadcast)
	return b, ok
}

// OwnerStore is what deciding about a broadcast's deliveries needs from
// persistence.
type OwnerStore interface {
	// MarkSent records an accepted send: sending → sent, the wamid (may be
	// empty when still unknown) and the first status poll (zero: none, the
	// provider pushes statuses).
	MarkSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error)
	// SetStatus moves a broadcast from one of from to to, recording reason.
	SetStatus(ctx context.Context, id int64, from []Status, to Status, reason string, now time.Time) (bool, error)
	// PauseAccount pauses every running broadcast of an account.
	PauseAccount(ctx context.Context, accountID int64, reason string, now time.Time) ([]int64, error)
	// Unclaim moves a sending delivery back (to queued, or to planned with a
	// new generation when newGen), when the provider surely did not take it,
	// only while it holds lease (the caller's attempt).
	Unclaim(ctx context.Context, ref delivery.Ref, lease time.Time, newGen bool, errCode, reason string, now time.Time) (bool, error)
	// Finish moves a delivery of ref's generation that is not yet accepted
	// to failed, skipped or expired.
	Finish(ctx context.Context, ref delivery.Ref, to delivery.Status, code, reason string, now time.Time) (bool, error)
	// Defer puts a queued delivery of ref's generation back to planned
	// under a new generation, due at until (the feeder sends it again
	// from then on), with reason as its error meanwhile.
	Defer(ctx context.Context, ref delivery.Ref, until time.Time, reason string, now time.Time) (bool, error)
}

// BroadcastOwner is the delivery.Owner of broadcasts: a broadcast can be
// paused, by its user, an error storm or a halting provider error, and
// goes on from where it was when resumed.
type BroadcastOwner struct {
	store    OwnerStore
	outcomes delivery.Outcomes
	opts     delivery.Options
}

// NewBroadcastOwner returns the owner of broadcasts' deliveries. outcomes
// may be nil, which turns off pausing on error storms.
func NewBroadcastOwner(store OwnerStore, outcomes delivery.Outcomes, opts delivery.Options) *BroadcastOwner {
	return &BroadcastOwner{store: store, outcomes: outcomes, opts: opts.WithDefaults()}
}

var _ delivery.Owner = (*BroadcastOwner)(nil)

func broadcastOf(job delivery.Job) Broadcast {
	b, _ := BroadcastOf(job)
	return b
}

// LogAttrs names the broadcast.
func (*BroadcastOwner) LogAttrs(job delivery.Job) []any {
	return []any{slog.String("broadcast", broadcastOf(job).Name)}
}

// State: a running broadcast's deliveries go out, a cancelled one's are
// skipped, and a paused or scheduled one's wait to be fed again.
func (*BroadcastOwner) State(job delivery.Job) (delivery.OwnerState, string) {
	switch broadcastOf(job).Status {
	case StatusRunning:
		return delivery.OwnerRunning, ""
	case StatusCancelled:
		return delivery.OwnerStopped, "broadcast cancelled"
	}
	return delivery.OwnerWaiting, ""
}

// DeferAfter is the longest a broadcast's delivery that is not due yet
// waits in its task (a *delivery.WaitError); one due later goes back to
// planned until then, so that it holds no room in its broadcast's window
// of queued sends meanwhile.
const DeferAfter = time.Minute

// Ready holds a delivery of a zoned broadcast until its recipient's time
// (job.DueAt: their zone's local time, which the feeder waits for anyway;
// a worker's clock may be behind the scheduler's) and while the
// broadcast's window is closed in the recipient's zone (a throttle or a
// pause held it past the window's close). It waits for the window's next
// opening if that comes before the deadline, else it expires; a wait
// longer than DeferAfter puts the delivery back to planned until then.
// A broadcast that is not zoned is ready at once.
func (o *BroadcastOwner) Ready(ctx context.Context, job delivery.Job, now time.Time) error {
	b := broadcastOf(job)
	if job.DueAt.IsZero() && b.Timing.Window.Always() {
		return nil
	}
	loc := localtime.Location("recipient", job.Phone, job.Vars, localtime.AccountZone(job.Account.Timezone))
	at := latest(job.DueAt, now)
	next, expire := b.Timing.Window.Hold(at, job.SendBy, loc)
	if expire {
		if _, err := o.store.Finish(ctx, job.Ref, delivery.Expired, "", localtime.ReasonWindowExpired, now); err != nil {
			return err
		}
		return delivery.ErrDone
	}
	wait := next.Sub(now)
	if wait <= 0 {
		return nil
	}
	when := next.In(loc).Format("2006-01-02 15:04 MST")
	reason, kind := "not due before the recipient's local time, "+when+" ("+loc.String()+")", delivery.WaitNotDue
	if next.After(at) {
		reason, kind = "outside the broadcast's send window in the recipient's zone ("+loc.String()+"); it opens at "+when, delivery.WaitWindow
	}
	if wait <= DeferAfter {
		return &delivery.WaitError{After: wait, Kind: kind, Reason: reason}
	}
	if _, err := o.store.Defer(ctx, job.Ref, next, reason, now); err != nil {
		return err
	}
	if m := o.opts.Metrics; m != nil {
		m.Deferred(job.Account.Name, kind) // put back to planned: no WaitError tells the send handler
	}
	return delivery.ErrDone
}

// AccountDown: the paused account paused the broadcast; it resumes with it.
func (*BroadcastOwner) AccountDown(string) error { return nil }

// EndedBeforeSend: nothing ends a broadcast's delivery but the broadcast.
func (*BroadcastOwner) EndedBeforeSend(context.Context, *slog.Logger, delivery.Sender, provider.Capabilities, delivery.Job, time.Time) (bool, error) {
	return false, nil
}

// OverCap: a broadcast's delivery over the frequency cap is skipped; it
// does not wait for room (a broadcast goes out now or not to that person).
func (*BroadcastOwner) OverCap(delivery.Job) string { return delivery.CapSkip }

// RecordSent records the send; nothing else follows from it.
func (o *BroadcastOwner) RecordSent(ctx context.Context, ref delivery.Ref, wamid string, now, firstPoll, trackUntil time.Time) (bool, error) {
	return o.store.MarkSent(ctx, ref, wamid, now, firstPoll, trackUntil)
}

// Halted pauses the account or the broadcast and hands the claim back,
// counted: the broadcast goes on from there when resumed.
func (o *BroadcastOwner) Halted(ctx context.Context, log *slog.Logger, job delivery.Job, class provider.Class, code, text string) error {
	now := o.opts.Now()
	reason := "halted by provider error: " + text
	if class == provider.ClassHaltAccount {
		if _, perr := o.store.PauseAccount(ctx, job.Account.ID, reason, now); perr != nil {
			return perr
		}
	} else if _, perr := o.store.SetStatus(ctx, broadcastOf(job).ID, Lifecycle[MoveAutoPause].From, Lifecycle[MoveAutoPause].To, reason, now); perr != nil {
		return perr
	}
	log.ErrorContext(ctx, "campaign: paused by provider error", slog.String("error", text), slog.String("class", class.String()))
	_, uerr := o.store.Unclaim(ctx, job.Ref, *job.LeaseUntil, true, code, text, now)
	return uerr
}

// Outcome records a send's outcome and pauses the broadcast when more than
// StormShare of its last StormWindow sends failed (at least a tenth of the
// window must have been seen). The window starts afresh whenever the
// broadcast's state changes (a resume), as its key carries updated_at.
func (o *BroadcastOwner) Outcome(ctx context.Context, log *slog.Logger, job delivery.Job, failed bool, lastErr string) {
	if o.outcomes == nil {
		return
	}
	b := broadcastOf(job)
	share, window := cmp.Or(b.StormShare, o.opts.StormShare), cmp.Or(b.StormWindow, o.opts.StormWindow)
	key := fmt.Sprintf("%d:%d", b.ID, b.UpdatedAt.UnixNano())
	f, n, err := o.outcomes.Record(ctx, key, failed, window)
	if err != nil {
		log.WarnContext(ctx, "campaign: cannot record send outcome", slog.String("error", err.Error()))
		return
	}
	if !failed || n < max(1, window/10) || float64(f) <= share*float64(n) {
		return
	}
	reason := fmt.Sprintf("auto-paused: %d of the last %d sends failed (over %.0f%%); last error: %s", f, n, 100*share, lastErr)
	ok, err := o.store.SetStatus(ctx, b.ID, Lifecycle[MoveAutoPause].From, Lifecycle[MoveAutoPause].To, reason, o.opts.Now())
	if err == nil && ok {
		log.ErrorContext(ctx, "campaign: broadcast paused on an error storm", slog.String("reason", reason))
	}
}
