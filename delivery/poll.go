package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider"
)

// PollHandler processes status poll tasks. It is safe for concurrent use.
type PollHandler struct {
	store   PollStore
	senders Senders
	opts    Options
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
		return err
	}
	now := h.opts.Now()
	wamid := target.WAMID
	var report provider.StatusReport
	if wamid == "" {
		// The send answer carried no wamid: find the message in the
		// conversation, and while the provider lists it without a wamid,
		// take the status its entry shows.
		wamid, report = h.fromConversation(ctx, sender, target)
	}
	if wamid != "" {
		r, err := sender.MessageStatus(ctx, wamid)
		switch {
		case err == nil:
			report = r
		case provider.ClassOf(err) == provider.ClassPermanent:
			// e.g. "message not found" while the provider catches up:
			// keep the status, poll again later.
			h.opts.Logger.DebugContext(ctx, "delivery: status poll answered with an error", slog.Int64("delivery_id", target.DeliveryID), slog.String("error", err.Error()))
		default:
			// Transient: keep the status and poll again after the next
			// step of the schedule. Provider trouble never archives a poll.
			h.opts.Logger.DebugContext(ctx, "delivery: status poll failed", slog.Int64("delivery_id", target.DeliveryID), slog.String("error", err.Error()))
		}
	}
	next := h.next(target, report.Status, now)
	_, err = h.store.ApplyStatus(ctx, target.DeliveryID, wamid, report, now, next)
	return err
}

// next is when to poll again: never once read or failed or past the
// tracking TTL; delivered messages keep being polled since read may follow.
func (h *PollHandler) next(t PollTarget, s provider.Status, now time.Time) *time.Time {
	if s == provider.StatusRead || s == provider.StatusFailed || t.Status == Read || t.Status == Failed {
		return nil
	}
	step := t.PollCount + 1
	if s == provider.StatusDelivered || t.Status == Delivered {
		step += 2 // delivered: read may follow, but poll less often
	}
	at := now.Add(h.opts.pollDelay(step, rand.Float64()))
	if !t.TrackUntil.IsZero() && at.After(t.TrackUntil) {
		return nil
	}
	return &at
}
