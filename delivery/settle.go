package delivery

import (
	"cmp"
	"context"
	"log/slog"
	"time"
)

// The choices of an account's on_unknown_outcome: what happens to a send
// whose outcome is unknown (the request was written and its answer lost, or
// a bare HTTP 500) on a provider without a conversation history to check it.
const (
	// OutcomeSettle (the default, also "") keeps the delivery sending,
	// "awaiting provider confirmation", until the provider's status
	// webhooks show the message (it is then recorded sent) or the
	// account's settle window passes without a trace (it is sent again).
	OutcomeSettle = "settle"
	// OutcomeFail fails the delivery as "outcome unknown": at most once.
	OutcomeFail = "fail"
	// OutcomeResend sends it again at once: at least once.
	OutcomeResend = "resend"
)

// DefaultSettleWindow is how long a send whose outcome is unknown waits for
// a trace at the provider — its status webhooks, or its conversation
// history for the BotSailor family — when neither the account's
// settle_window nor Options.SettleWindow says otherwise. Providers push a
// message's first status within seconds; the window leaves room for a
// webhook retried for a few minutes and for a slow provider that accepts a
// request long after the client gave up on it.
const DefaultSettleWindow = 5 * time.Minute

// The settle states of a delivery, shown by status and export.
const (
	// SettleAwaiting: sending, awaiting provider confirmation.
	SettleAwaiting = "awaiting"
	// SettleSettled: a webhook of the provider showed the message; it was
	// recorded sent from it (with the id the webhook named).
	SettleSettled = "settled"
	// SettleResent: no trace came within the settle window (or the account
	// resends at once): the message was sent again.
	SettleResent = "resent"
)

// ReasonAwaiting is the reason a delivery shows while it awaits the
// provider's confirmation.
const ReasonAwaiting = "awaiting provider confirmation"

// SettleStore is what settling an unknown outcome needs from persistence
// (store.DB satisfies it). A WorkerStore without it fails such sends as
// "outcome unknown".
type SettleStore interface {
	// AwaitSettle marks a sending delivery of ref's generation that holds
	// lease (the caller's attempt) as awaiting the provider's confirmation
	// until until (its lease runs as long, so no other attempt takes it
	// meanwhile); false when it is settled or another attempt holds it.
	AwaitSettle(ctx context.Context, ref Ref, lease, until time.Time, reason string, now time.Time) (bool, error)
	// SettleFromKept records an awaiting delivery sent if a status webhook
	// kept since its send (it came before the delivery awaited) shows its
	// message; true when it did.
	SettleFromKept(ctx context.Context, id int64, now time.Time) (bool, error)
	// Resend puts a sending delivery of ref's generation that holds lease
	// back in the queue (skipped if its owner was cancelled) marked
	// SettleResent; false when it was settled meanwhile or another attempt
	// holds it (one that stalled past its lease must not hand back the
	// attempt that took over, which may be in flight).
	Resend(ctx context.Context, ref Ref, lease time.Time, reason string, now time.Time) (bool, error)
}

// PendingWebhooks sees the status webhooks on their way to the database
// (app.PendingWebhooks: the receiver's records in Redis and the webhooks
// kept in Postgres while Redis was away).
type PendingWebhooks interface {
	// WebhooksPending reports whether a status webhook of the account
	// about phone reached the receiver at or after since and is not
	// applied yet, as of now. Such a webhook may show a send of unknown
	// outcome that began at since. Once it reports false, every such
	// webhook taken by the receiver before the call has been applied, and
	// what it kept is visible to SettleStore.SettleFromKept — except one
	// given up as stale (not applied for hours) or lost with Redis's data.
	WebhooksPending(ctx context.Context, accountID int64, phone string, since, now time.Time) (bool, error)
}

// ApplyingWait is how long a send of unknown outcome whose settle window
// has ended waits, before it looks again, while a webhook about its
// recipient is still being applied.
const ApplyingWait = 5 * time.Second

// ReasonApplying is why such a send waits.
const ReasonApplying = "a webhook about this recipient is still being applied"

// policy returns the account's on_unknown_outcome and settle window, with
// their defaults (def: the engine's Options.SettleWindow).
func (a Account) policy(def time.Duration) (string, time.Duration) {
	return cmp.Or(a.OnUnknownOutcome, OutcomeSettle), cmp.Or(a.SettleWindow, def)
}

// settleUnknown handles a delivery left sending whose outcome the provider
// cannot be asked about (no conversation history): a lost answer, a bare
// 500, or a worker that died between the claim and the answer. The
// account's on_unknown_outcome decides. done means the delivery needs
// nothing more now (settled, failed, or awaiting: err is then a *WaitError
// that brings the task back when the window ends, or ApplyingWait later
// while a webhook about the recipient is being applied); otherwise the
// caller sends it again.
func (h *SendHandler) settleUnknown(ctx context.Context, log *slog.Logger, job Job) (done bool, err error) {
	now := h.opts.Now()
	policy, window := job.Account.policy(h.opts.SettleWindow)
	st, ok := h.store.(SettleStore)
	if !ok {
		policy = OutcomeFail
	}
	switch policy {
	case OutcomeFail:
		_, ferr := h.store.Finish(ctx, job.Ref, Failed, "", "outcome unknown: the answer was lost and the provider offers no history to check whether it was sent; not sent again (on_unknown_outcome: fail)", now)
		log.WarnContext(ctx, "delivery: send outcome unknown; failed rather than risk sending twice")
		return true, ferr
	case OutcomeResend:
		return h.resend(ctx, log, st, job, "outcome unknown; sent again (on_unknown_outcome: resend)")
	}

	since := now
	if job.SendingAt != nil {
		since = *job.SendingAt
	}
	until := since.Add(window)
	if !now.Before(until) {
		return h.settleEnded(ctx, log, st, job, since, window)
	}
	// A webhook may have shown the message before the delivery awaited it.
	if settled, err := settleFromKept(ctx, log, st, job, now); err != nil || settled {
		return true, err
	}
	ok, err = awaitSettle(ctx, st, &job, until, ReasonAwaiting, now)
	if err != nil || !ok {
		return true, err
	}
	// A webhook kept between the look above and the mark is found by the
	// webhook sweep, or here when the window ends.
	if settled, err := st.SettleFromKept(ctx, job.ID, now); err != nil || settled {
		return true, err
	}
	log.InfoContext(ctx, "delivery: send outcome unknown; awaiting provider confirmation", slog.Time("until", until))
	return true, &WaitError{After: until.Sub(now) + time.Second, Kind: WaitSettle, Reason: ReasonAwaiting}
}

// settleFromKept settles job from a status webhook kept since its send
// began, if one shows it.
func settleFromKept(ctx context.Context, log *slog.Logger, st SettleStore, job Job, now time.Time) (bool, error) {
	settled, err := st.SettleFromKept(ctx, job.ID, now)
	if settled {
		log.InfoContext(ctx, "delivery: unknown send outcome settled from the provider's webhook")
	}
	return settled, err
}

// settleEnded decides a send of unknown outcome whose settle window has
// ended, in this order:
//
//  1. a status webhook about its recipient that reached the receiver since
//     the send began but is not applied yet (queued, being retried, or kept
//     in the database) may show it: wait for it (ApplyingWait), marked
//     awaiting, so that applying it can settle the send;
//  2. a webhook applied meanwhile and kept may show it (SettleFromKept,
//     once the delivery is marked awaiting: one looked at for the first
//     time only now was not);
//  3. otherwise no trace came within the window: send it again.
//
// The order closes the race with an apply: a webhook no longer pending has
// been applied, so step 2 sees what step 1 did not.
func (h *SendHandler) settleEnded(ctx context.Context, log *slog.Logger, st SettleStore, job Job, since time.Time, window time.Duration) (bool, error) {
	now := h.opts.Now()
	if h.webhooks != nil {
		pending, err := h.webhooks.WebhooksPending(ctx, job.Account.ID, job.Phone, since, now)
		if err != nil {
			return true, err
		}
		if pending {
			ok, err := awaitSettle(ctx, st, &job, now.Add(ApplyingWait), ReasonAwaiting, now)
			if err != nil || !ok {
				return true, err
			}
			log.InfoContext(ctx, "delivery: settle window over, but a webhook about the recipient is still being applied; waiting for it")
			return true, &WaitError{After: ApplyingWait, Kind: WaitSettle, Reason: ReasonApplying}
		}
	}
	// A busy worker may look only now for the first time: the delivery was
	// never marked awaiting, so a webhook applied meanwhile could only be
	// kept. Mark it (holding the lease while deciding) so that the kept
	// webhook can settle it.
	if ok, err := awaitSettle(ctx, st, &job, now.Add(ApplyingWait), ReasonAwaiting, now); err != nil || !ok {
		return true, err
	}
	if settled, err := settleFromKept(ctx, log, st, job, now); err != nil || settled {
		return true, err
	}
	return h.resend(ctx, log, st, job, "no trace of the message in the provider's webhooks within the settle window ("+window.String()+"); sent again")
}

// resend puts a delivery whose outcome stayed unknown back for sending,
// marked resent; done when it was settled meanwhile.
func (h *SendHandler) resend(ctx context.Context, log *slog.Logger, st SettleStore, job Job, reason string) (bool, error) {
	ok, err := st.Resend(ctx, job.Ref, leaseOf(job), reason, h.opts.Now())
	if err != nil || !ok {
		return true, err
	}
	log.WarnContext(ctx, "delivery: send outcome unknown; sending again", slog.String("reason", reason))
	return false, nil
}

// awaitSettle marks job's attempt awaiting until until, and on success
// makes until job's lease: the value its later calls hold the attempt by.
func awaitSettle(ctx context.Context, st SettleStore, job *Job, until time.Time, reason string, now time.Time) (bool, error) {
	until = asLease(until)
	ok, err := st.AwaitSettle(ctx, job.Ref, leaseOf(*job), until, reason, now)
	if ok {
		job.LeaseUntil = &until
	}
	return ok, err
}

// asLease is t as a lease is stored and compared: in microseconds, what
// Postgres keeps. A lease's exact value names the attempt holding it, so
// every lease the send path writes and later holds the row by is one.
func asLease(t time.Time) time.Time { return t.Truncate(time.Microsecond) }

// leaseOf is the lease job's attempt holds its delivery by (zero, matching
// nothing, if it holds none).
func leaseOf(job Job) time.Time {
	if job.LeaseUntil == nil {
		return time.Time{}
	}
	return *job.LeaseUntil
}
