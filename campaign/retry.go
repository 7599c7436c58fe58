package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/wacamp/wacamp/delivery"
)

// RetryResult is what Service.RetryFailed did: how many failed deliveries
// it planned again and, by reason code (delivery.NotRetried…), how many it
// left failed.
type RetryResult struct {
	Broadcast string `json:"broadcast"`
	// Status is the broadcast's state afterwards: a completed broadcast
	// with deliveries planned again is running again.
	Status     Status         `json:"status"`
	Replanned  int            `json:"replanned"`
	NotRetried map[string]int `json:"not_retried"`
}

// RetryStore plans a broadcast's failed deliveries again (store.DB
// satisfies it).
type RetryStore interface {
	// RetryFailed, in one transaction under the broadcast's row lock (the
	// one planning and completion take): if the broadcast's state is one
	// of from, it plans again (planned, a new generation, no attempts)
	// every failed delivery verdict accepts, counts the others by the
	// reason verdict gives, and moves a completed broadcast with
	// deliveries planned again to running. It returns the broadcast's
	// state afterwards, or ErrInvalidTransition (wrapped) when the state
	// is not one of from.
	RetryFailed(ctx context.Context, broadcastID int64, from []Status, verdict func(delivery.FailedDelivery) (bool, string), now time.Time) (RetryResult, error)
}

// RetryFailed plans again a broadcast's failed deliveries whose failure
// was transient and that surely never reached the provider
// (delivery.RetryVerdict); the rest stay failed, counted by why. A failed
// delivery that may have reached the provider (its answer was lost) is
// never planned again: exactly once wins over reaching everyone. A running
// or paused broadcast keeps its state (a paused one sends them on resume);
// a completed one runs again; a cancelled, draft, scheduled or recurring
// one is refused (ErrInvalidTransition). Past the broadcast's deadline
// nothing is planned (every failed delivery is counted
// delivery.NotRetriedDeadlinePassed). Running it again changes nothing
// more: the deliveries it planned are no longer failed.
func (s *Service) RetryFailed(ctx context.Context, name string) (RetryResult, error) {
	rs, ok := s.store.(RetryStore)
	if !ok {
		return RetryResult{}, fmt.Errorf("broadcast %q: retry-failed: the store cannot plan deliveries again", name)
	}
	b, err := s.store.BroadcastByName(ctx, name)
	if err != nil {
		return RetryResult{}, err
	}
	from := []Status{StatusRunning, StatusPaused, StatusCompleted}
	now := s.opts.Now()
	verdict := delivery.RetryVerdict
	if sb := b.SendBy(); !sb.IsZero() && now.After(sb) {
		verdict = func(delivery.FailedDelivery) (bool, string) { return false, delivery.NotRetriedDeadlinePassed }
	}
	r, err := rs.RetryFailed(ctx, b.ID, from, verdict, now)
	if err != nil {
		return r, fmt.Errorf("broadcast %q: retry-failed: %w", name, err)
	}
	r.Broadcast = b.Name
	return r, nil
}
