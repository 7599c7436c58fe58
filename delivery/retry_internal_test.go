package delivery

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/throttle"
)

func TestTransientPolicy(t *testing.T) {
	t.Parallel()
	// 131056: 4^X s for the X-th retry, with up to a quarter of jitter.
	for tried, want := range map[int]time.Duration{1: time.Second, 2: 4 * time.Second, 3: 16 * time.Second, 4: 64 * time.Second} {
		d, tries := transientPolicy("131056", tried)
		require.GreaterOrEqual(t, d, want)
		require.LessOrEqual(t, d, want*5/4)
		require.Zero(t, tries)
	}
	// API-call limits: minutes, never more than an hour, jitter included.
	for tried := 1; tried < 12; tried++ {
		d, _ := transientPolicy("80007", tried)
		require.LessOrEqual(t, d, time.Hour)
		require.GreaterOrEqual(t, d, min(time.Minute<<(tried-1), time.Hour))
	}
	d, _ := transientPolicy("130429", 10)
	require.LessOrEqual(t, d, time.Minute*5/4)
	_, tries := transientPolicy("131000", 1)
	require.Equal(t, 3, tries)
	_, tries = transientPolicy("133004", 1)
	require.Equal(t, 5, tries)
	d, tries = transientPolicy("", 3)
	require.Zero(t, d, "no code: the default back-off")
	require.Zero(t, tries)
}

// Held sends come back no sooner than a few seconds (entries leaving the
// window milliseconds apart must not wake a whole window of them at once),
// no later than the recheck, spread by up to a quarter of it.
func TestBudgetDelay(t *testing.T) {
	t.Parallel()
	require.Equal(t, 5*time.Second, budgetDelay(12*time.Millisecond, time.Minute, 0))
	require.Equal(t, 5*time.Second+15*time.Second, budgetDelay(12*time.Millisecond, time.Minute, 1))
	require.Equal(t, 30*time.Second, budgetDelay(30*time.Second, time.Minute, 0))
	require.Equal(t, time.Minute, budgetDelay(20*time.Hour, time.Minute, 0))
	require.Equal(t, 200*time.Millisecond, budgetDelay(time.Millisecond, 200*time.Millisecond, 0), "a short recheck (tests) is its own floor")
}

// A send late for its departure slot comes back when the number's next
// free slot comes (as Depart saw it), at most a second later; any other
// failure of Depart waits a second.
func TestDepartRetry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	late := func(next time.Time) error {
		return fmt.Errorf("wrapped: %w", &throttle.LateError{Next: next})
	}
	require.Equal(t, 300*time.Millisecond, departRetry(late(now.Add(300*time.Millisecond)), now))
	require.Equal(t, time.Second, departRetry(late(now.Add(3*time.Second)), now))
	require.Zero(t, departRetry(late(now.Add(-time.Millisecond)), now))
	require.Equal(t, time.Second, departRetry(late(time.Time{}), now), "no next slot known")
	require.Equal(t, time.Second, departRetry(errors.New("redis: connection refused"), now))
	require.ErrorIs(t, late(now), throttle.ErrLate)
}
