package throttle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/throttle"
)

// TestLocalNeverExceedsRate lets 8 goroutines hammer one key and checks that
// no sliding one-second window holds more than the rate.
func TestLocalNeverExceedsRate(t *testing.T) {
	t.Parallel()
	const perSecond = 50
	l := throttle.NewLocal()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.Wait(ctx, "phone:1", perSecond) == nil {
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Greater(t, len(times), perSecond/2, "limiter let almost nothing through")
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		require.LessOrEqual(t, n, perSecond, "window starting at event %d", i)
	}
}

func TestLocalKeysAreIndependentAndZeroIsUnlimited(t *testing.T) {
	t.Parallel()
	l := throttle.NewLocal()
	ctx := context.Background()
	require.NoError(t, l.Wait(ctx, "a", 1))
	// "a" has no token left for a second; "b" has its own bucket.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.NoError(t, l.Wait(short, "b", 1))
	require.Error(t, l.Wait(short, "a", 1))
	for range 1000 {
		require.NoError(t, l.Wait(ctx, "c", 0))
	}
}
