package throttle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/throttle"
)

// TestLocalPacesAllCallersTogether lets 8 goroutines hammer one key. Per-
// window counts measured here would include scheduler jitter, so it checks
// the bound jitter cannot blur: over an interval containing every grant,
// at most rate×Margin×T + 1 (the token bucket's burst of one).
func TestLocalPacesAllCallersTogether(t *testing.T) {
	t.Parallel()
	const perSecond = 50
	l := throttle.NewLocal()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var (
		mu     sync.Mutex
		grants int
		wg     sync.WaitGroup
	)
	begin := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l.Wait(ctx, "phone:1", perSecond) == nil {
				mu.Lock()
				grants++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	// At most the burst (1) plus the rate times the time taken. The
	// limiter and this test read the clock at different moments, a few
	// milliseconds apart on a loaded machine (seen: 74 grants against a
	// bound of 73.87): 10 ms of slack, a tenth of a grant at this rate,
	// still fails a limiter that lets even one grant too many through.
	const slack = 10 * time.Millisecond
	require.LessOrEqual(t, float64(grants), perSecond*throttle.Margin*(elapsed+slack.Seconds())+1, "%d grants in %.3fs", grants, elapsed)
	require.Greater(t, grants, 0)
}

func TestLocalKeysAreIndependentAndZeroIsUnlimited(t *testing.T) {
	t.Parallel()
	l := throttle.NewLocal()
	ctx := context.Background()
	const perHour = 1.0 / 3600
	require.NoError(t, l.Wait(ctx, "a", perHour))
	// "a" has no token left for an hour; "b" has its own bucket. A wait
	// that would pass short's deadline fails at once, so "b" passes only
	// if it need not wait, and neither call waits. (At 1/s with a 50 ms
	// deadline, a loaded machine could spend the 50 ms before "b" asks.)
	short, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	require.NoError(t, l.Wait(short, "b", perHour))
	require.Error(t, l.Wait(short, "a", perHour))
	for range 1000 {
		require.NoError(t, l.Wait(ctx, "c", 0))
	}
	// A context that has ended takes no token: "d" still has its one.
	done, stop := context.WithCancel(ctx)
	stop()
	require.ErrorIs(t, l.Wait(done, "d", perHour), context.Canceled)
	require.NoError(t, l.Wait(short, "d", perHour))
}
