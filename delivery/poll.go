package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider"
)

// PollHandler processes status poll tasks. It is safe for concurrent use.
type PollHandler struct {
	store   PollStore
	senders Senders
	opts    Options
	failing failing
}

// NewPollHandler returns the handler for TypePoll tasks.
func NewPollHandler(store PollStore, senders Senders, opts Options) *PollHandler {
	return &PollHandler{store: store, senders: senders, opts: opts.WithDefaults()}
}

// ProcessTask implements asynq.Handler: one status poll, then the next one
// is scheduled in Postgres (or tracking ends).
func (h *PollHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p PollPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("decode poll payload: %v: %w", err, asynq.SkipRetry)
	}
	target, err := h.store.PollTarget(ctx, p.DeliveryID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if target.PollCount != p.Poll || !target.Status.Accepted() {
		return nil // an older poll, or nothing left to track
	}
	sender, err := h.senders.Sender(ctx, target.Account)
	if err != nil {
		// No credentials in this process: nothing to ask the provider
		// with. The poll waits (not a failure to log once a second per
		// message); the worker said at start which accounts it cannot
		// use, and the account's sends pause theirs loudly.
		return &WaitError{After: pollCredentialsRetry, Kind: WaitAccount, Reason: "status poll: account " + target.Account.Name + ": " + err.Error()}
	}
	now := h.opts.Now()
	caps := sender.Capabilities()
	wamid := target.WAMID
	var report provider.StatusReport
	if wamid == "" {
		// The send answer carried no wamid: find the message in the
		// conversation, and while the provider lists it without a wamid,
		// take the status its entry shows. Finding it is part of the poll,
		// not a poll of its own: it counts against the same MaxPolls.
		wamid, report = h.fromConversation(ctx, sender, target)
	}
	if wamid != "" && caps.StatusPoll {
		r, err := sender.MessageStatus(ctx, wamid)
		if n, warn := h.failing.note(target.Account.Name, err, now); warn {
			h.opts.Logger.WarnContext(ctx, "delivery: status polls of this account keep failing; its messages stay as they are until a poll is answered (check its whatsapp_bot_id and token)",
				slog.String("account", target.Account.Name), slog.Int("failed_in_a_row", n), slog.String("error", err.Error()))
		}
		switch {
		case err == nil:
			report = r
		case provider.ClassOf(err) == provider.ClassPermanent:
			// e.g. "message not found" while the provider catches up:
			// keep the status; the plan says when to look again.
			h.opts.Logger.DebugContext(ctx, "delivery: status poll answered with an error", slog.Int64("delivery_id", target.DeliveryID), slog.String("error", err.Error()))
		default:
			// Transient: keep the status; the plan says when to look
			// again (an unanswered read check is tried once more if the
			// budget allows). Provider trouble never archives a poll.
			h.opts.Logger.DebugContext(ctx, "delivery: status poll failed", slog.Int64("delivery_id", target.DeliveryID), slog.String("error", err.Error()))
		}
	}
	var next *time.Time
	if caps.StatusPoll || wamid == "" {
		// (A provider that pushes statuses was polled only to find the
		// wamid its webhooks will name.)
		next = h.next(target, report.Status, now)
	}
	_, err = h.store.ApplyStatus(ctx, target.DeliveryID, wamid, report, now, next)
	return err
}

// failing follows, per account, the status polls answered with an error
// in a row. A poll is often refused for a while ("message not found" while
// the provider catches up), so each one is logged at debug level; but
// polls that are all refused (a wrong whatsapp_bot_id, a revoked token)
// would leave every message at its status in silence, so a run of
// failStreak refusals warns (the first, when the provider refuses the
// account: a wrong whatsapp_bot_id reads "WhatsApp account not found"),
// and again at most every failWarnEvery while it lasts.
type failing struct {
	mu   sync.Mutex
	runs map[string]*failRun
}

type failRun struct {
	n      int
	warned time.Time
}

const (
	failStreak    = 20
	failWarnEvery = 10 * time.Minute
)

// note records one poll of account answered with err (nil: answered) at
// now and returns the run of failures it ends or extends, and whether to
// warn of it now.
func (f *failing) note(account string, err error, now time.Time) (n int, warn bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.runs, account)
		return 0, false
	}
	if f.runs == nil {
		f.runs = make(map[string]*failRun)
	}
	r := f.runs[account]
	if r == nil {
		r = &failRun{}
		f.runs[account] = r
	}
	r.n++
	halting := provider.ClassOf(err) == provider.ClassHaltAccount
	if (r.n < failStreak && !halting) || (!r.warned.IsZero() && now.Sub(r.warned) < failWarnEvery) {
		return r.n, false
	}
	r.warned = now
	return r.n, true
}

// pollCredentialsRetry is how long a status poll waits when its account's
// credentials cannot be resolved in this process.
const pollCredentialsRetry = 5 * time.Minute

// next is when to poll again (Options.Polls), or nil: the message has had
// its last poll, or the next would come after its tracking ends.
func (h *PollHandler) next(t PollTarget, seen provider.Status, now time.Time) *time.Time {
	at, ok := h.opts.Polls.next(t.PollCount+1, t.Status, seen, t.SentAt, now, rand.Float64())
	if !ok || (!t.TrackUntil.IsZero() && at.After(t.TrackUntil)) {
		return nil
	}
	return &at
}
