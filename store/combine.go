package store

import (
	"context"
	"sync"
	"time"
)

// combiner runs the calls of concurrent goroutines that arrive while
// statements are in flight as one statement (group commit): a caller that
// finds a lane free leads a round of its own call and every call waiting at
// that moment (at most max); when a round ends, the oldest waiting call
// leads the next one on that lane. Idle, a call runs at once, alone:
// combining adds no wait, it only takes what queued up behind statements
// anyway. A second lane opens only behind a round that has run for stall
// (when a call arrives then): in the normal course one round at a time
// carries everything that queued behind it, and a round held up (a row
// lock, a slow flush) does not hold up every other call of the process.
//
// exec runs one round and returns each call's result in order. The calls of
// one round must be independent (a round never holds two calls on one row:
// see key); when a combined round fails, each of its calls runs alone, so
// one bad call fails only itself.
type combiner[T any] struct {
	max, lanes int
	// stall is how long the round last begun must have run before a call
	// opens another lane (0: whenever one is free).
	stall time.Duration
	exec  func(ctx context.Context, args []T) ([]bool, error)
	// key names the row a call changes: a call on a row already in the
	// round waits for the next one, so the row's calls keep their
	// outcomes (the second claim of a row loses, as it would one statement
	// later). Rounds on other lanes are other transactions: Postgres's row
	// locks order them.
	key func(T) any

	mu      sync.Mutex
	pending []*combined[T]
	running int       // lanes with a round in flight
	begun   time.Time // when the last round began
}

type combined[T any] struct {
	arg  T
	ok   bool
	err  error
	wake chan bool // true: lead the next round; false: done
}

// roundTimeout bounds one round. A round runs on behalf of many callers, so
// it ignores the leader's own cancellation.
const roundTimeout = 30 * time.Second

// do runs arg in a round and returns its result.
func (c *combiner[T]) do(ctx context.Context, arg T) (bool, error) {
	me := &combined[T]{arg: arg, wake: make(chan bool, 1)}
	c.mu.Lock()
	lead := c.running == 0 || (c.running < c.lanes && time.Since(c.begun) >= c.stall)
	if lead {
		c.running++
	} else {
		c.pending = append(c.pending, me)
	}
	c.mu.Unlock()
	if !lead && !<-me.wake {
		return me.ok, me.err
	}
	c.round(ctx, me)
	return me.ok, me.err
}

// round runs the leader's call (not in the queue) with the waiting ones and
// hands the lane on.
func (c *combiner[T]) round(ctx context.Context, leader *combined[T]) {
	c.mu.Lock()
	calls := []*combined[T]{leader}
	seen := map[any]bool{c.key(leader.arg): true}
	later := c.pending[:0:0]
	for _, p := range c.pending {
		if k := c.key(p.arg); len(calls) < c.max && !seen[k] {
			seen[k] = true
			calls = append(calls, p)
			continue
		}
		later = append(later, p)
	}
	c.pending = later
	c.begun = time.Now()
	c.mu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), roundTimeout)
	defer cancel()
	args := make([]T, len(calls))
	for i, p := range calls {
		args[i] = p.arg
	}
	oks, err := c.exec(rctx, args)
	if err != nil && len(calls) > 1 {
		// One call may have failed the round (a unique wamid): run each
		// alone, so only it fails — in a time of their own, as the round
		// may have failed by running out of its time (one budget for all
		// of them: a slow database must not hold the lane a round each).
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), roundTimeout)
		for _, p := range calls {
			var ok []bool
			ok, p.err = c.exec(pctx, []T{p.arg})
			p.ok = p.err == nil && ok[0]
		}
		cancel()
	} else {
		for i, p := range calls {
			p.err = err
			p.ok = err == nil && oks[i]
		}
	}

	c.mu.Lock()
	if len(c.pending) > 0 {
		// The lane passes on to the oldest waiting call, which leaves the
		// queue now so that no other round takes it.
		next := c.pending[0]
		c.pending = c.pending[1:]
		next.wake <- true
	} else {
		c.running--
	}
	c.mu.Unlock()
	for _, p := range calls[1:] {
		p.wake <- false
	}
}
