package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testWait bounds how long a test waits for goroutines to line up, polling
// every pollEvery.
const (
	testWait  = 10 * time.Second
	pollEvery = time.Millisecond
)

// TestCombinerRounds: calls that arrive while a round is in flight run
// together in the next round, at most max per round, never two on one key
// in a round, and a failed round is run again call by call so only the bad
// call fails.
func TestCombinerRounds(t *testing.T) {
	t.Parallel()
	h := newHeldRounds() // the first round holds the lane until every other call waits
	c := &combiner[int]{max: 4, lanes: 1, key: func(v int) any { return v % 100 },
		exec: h.exec(func(args []int) ([]bool, error) {
			oks := make([]bool, len(args))
			for i, a := range args {
				if a == 13 {
					return nil, errors.New("bad call")
				}
				oks[i] = a%2 == 0
			}
			return oks, nil
		})}
	ctx := context.Background()
	var mu sync.Mutex
	type result struct {
		ok  bool
		err error
	}
	results := map[int]result{}
	var wg sync.WaitGroup
	run := func(v int) {
		ok, err := c.do(ctx, v)
		mu.Lock()
		results[v] = result{ok, err}
		mu.Unlock()
	}
	wg.Go(func() { run(0) })
	require.Eventually(t, func() bool { return len(h.all()) == 1 }, testWait, pollEvery)
	// 1..7 wait behind round 1, and 101 and 102 on the keys of 1 and 2;
	// 13 fails whatever round it is in.
	for _, v := range []int{1, 2, 3, 4, 5, 6, 7, 101, 102, 13} {
		wg.Go(func() { run(v) })
	}
	require.Eventually(t, func() bool { c.mu.Lock(); defer c.mu.Unlock(); return len(c.pending) == 10 }, testWait, pollEvery)
	close(h.release)
	wg.Wait()
	rounds := h.all()

	require.Len(t, results, 11)
	for v, r := range results {
		if v == 13 {
			require.Error(t, r.err)
			continue
		}
		require.NoError(t, r.err, "call %d failed only because another in its round did", v)
		require.Equal(t, v%2 == 0, r.ok, "call %d", v)
	}
	for i, r := range rounds {
		require.LessOrEqual(t, len(r), 4, "round %d", i)
		keys := map[int]bool{}
		for _, v := range r {
			require.False(t, keys[v%100], "round %d holds two calls on key %d", i, v%100)
			keys[v%100] = true
		}
	}
	require.Greater(t, len(rounds[1]), 1, "calls that waited run together")
	require.Less(t, len(rounds), 11, "fewer rounds than calls")
}

// TestCombinerSecondLaneOnlyBehindAStall: while a round runs, a call waits
// for the next round, even with a lane free, until the round has run for
// the combiner's stall; then a call opens the second lane and takes every
// waiting call with it, and the stalled round holds up only its own.
func TestCombinerSecondLaneOnlyBehindAStall(t *testing.T) {
	t.Parallel()
	h := newHeldRounds() // the first round is the stalled one
	c := &combiner[int]{max: 10, lanes: 2, stall: time.Hour, key: func(v int) any { return v },
		exec: h.exec(func(args []int) ([]bool, error) { return make([]bool, len(args)), nil })}
	ctx := context.Background()
	nRounds := func() int { return len(h.all()) }
	nPending := func() int { c.mu.Lock(); defer c.mu.Unlock(); return len(c.pending) }
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = c.do(ctx, 1) })
	require.Eventually(t, func() bool { return nRounds() == 1 }, testWait, pollEvery)
	// The round has run for less than its stall (an hour): 2 and 3 wait.
	wg.Go(func() { _, _ = c.do(ctx, 2) })
	wg.Go(func() { _, _ = c.do(ctx, 3) })
	require.Eventually(t, func() bool { return nPending() == 2 }, testWait, pollEvery)
	require.Equal(t, 1, nRounds(), "a lane opened behind a round that had not stalled")

	// The round has now run past its stall: the next call opens the
	// second lane, with the waiting calls, while round 1 still holds.
	c.mu.Lock()
	c.begun = c.begun.Add(-2 * time.Hour)
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { _, _ = c.do(ctx, 4); close(done) }()
	<-done
	require.Equal(t, 0, nPending())
	rounds := h.all()
	require.Len(t, rounds, 2)
	require.ElementsMatch(t, []int{4, 2, 3}, rounds[1], "the second lane's round takes the waiting calls")
	close(h.release)
	wg.Wait()
	require.Equal(t, 2, nRounds())
}

// heldRounds records the rounds a test's combiner runs and holds the first
// until release is closed.
type heldRounds struct {
	release chan struct{}
	mu      sync.Mutex
	rounds  [][]int
}

func newHeldRounds() *heldRounds { return &heldRounds{release: make(chan struct{})} }

// exec is a combiner's exec that records its round, holds it if it is the
// first, and answers with result.
func (h *heldRounds) exec(result func(args []int) ([]bool, error)) func(context.Context, []int) ([]bool, error) {
	return func(_ context.Context, args []int) ([]bool, error) {
		h.mu.Lock()
		h.rounds = append(h.rounds, append([]int(nil), args...))
		first := len(h.rounds) == 1
		h.mu.Unlock()
		if first {
			<-h.release
		}
		return result(args)
	}
}

// all returns the rounds run so far.
func (h *heldRounds) all() [][]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.rounds)
}
