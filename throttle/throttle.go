package throttle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Margin is the share of a nominal rate the limiters actually use. Sends
// leave a little after their token is granted, by scheduling jitter; pacing at
// 98% keeps every one-second window at the receiver within the nominal rate.
const Margin = 0.98

// Local is an in-process limiter: one token bucket per key, with a burst of
// one so that no one-second window ever holds more than perSecond sends.
// It is safe for concurrent use.
type Local struct {
	mu   sync.Mutex
	keys map[string]*rate.Limiter
}

// NewLocal returns an empty Local limiter.
func NewLocal() *Local { return &Local{keys: map[string]*rate.Limiter{}} }

// Wait blocks until key may do one more thing at perSecond, or ctx ends.
// A perSecond of 0 or less means unlimited. A changed rate applies at once.
func (l *Local) Wait(ctx context.Context, key string, perSecond float64) error {
	if perSecond <= 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		// Ended already: no token is taken (as rate.Limiter.Wait does).
		return fmt.Errorf("throttle %s: %w", key, err)
	}
	r := rate.Limit(perSecond * Margin)
	// The clock is read and the token reserved under l.mu: rate.Limiter's
	// own Wait reads the clock before taking its lock, and a caller paused
	// in between would move the bucket's clock back and be handed tokens
	// the rate never allowed.
	l.mu.Lock()
	lim, ok := l.keys[key]
	if !ok {
		lim = rate.NewLimiter(r, 1)
		l.keys[key] = lim
	} else if lim.Limit() != r {
		lim.SetLimit(r)
	}
	now := time.Now()
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if deadline, ok := ctx.Deadline(); ok && now.Add(delay).After(deadline) {
		res.CancelAt(now)
		l.mu.Unlock()
		return fmt.Errorf("throttle %s: the next token comes in %s, after the context's deadline: %w", key, delay, context.DeadlineExceeded)
	}
	l.mu.Unlock()
	if delay == 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		res.Cancel()
		l.mu.Unlock()
		return fmt.Errorf("throttle %s: %w", key, ctx.Err())
	}
}
