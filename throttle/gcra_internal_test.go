package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestGCRAParametersInSimulatedTime checks the limit limitFor builds, in
// simulated time (miniredis's TIME follows SetTime), so no scheduler jitter
// enters: three callers wait and ask again as a real waiter does, for 10 s
// (or 1,000 grants);
// the grants must never exceed the rate in any window of 1 s + Jitter and must
// use at least 95% of it, for low, default and high rates (on both sides of
// limitFor's switch from burst 1 to burst 2 at 33/s).
func TestGCRAParametersInSimulatedTime(t *testing.T) {
	t.Parallel()
	for _, perSecond := range []float64{1, 2, 5, 10, 20, 32, 33, 40, 50, 80, 250} {
		t.Run(fmt.Sprint(perSecond), func(t *testing.T) {
			t.Parallel()
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			defer rdb.Close()
			lim := redis_rate.NewLimiter(rdb)
			limit := limitFor(perSecond)
			ctx := context.Background()
			start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
			// 10 s, or as long as 1,000 grants take at higher rates: every
			// window of a second is checked, so more seconds add nothing
			// but Lua calls in miniredis.
			span := min(10*time.Second, time.Duration(1000/perSecond*float64(time.Second)))
			// Event-driven: each of three callers asks at its next time; a
			// denied one comes back when the limiter says, 0–3 ms late (a
			// real waiter's timer and round trip), a granted one 0–2 ms later.
			next := []time.Duration{0, 0, 0}
			seed := uint64(perSecond * 1000)
			rnd := func(n uint64) time.Duration {
				seed = seed*6364136223846793005 + 1442695040888963407
				return time.Duration((seed>>33)%n) * time.Millisecond
			}
			var grants []time.Duration
			for {
				i := 0
				for k := range next {
					if next[k] < next[i] {
						i = k
					}
				}
				at := next[i]
				if at >= span {
					break
				}
				mr.SetTime(start.Add(at))
				res, err := lim.Allow(ctx, "k", limit)
				require.NoError(t, err)
				if res.Allowed > 0 {
					grants = append(grants, at)
					next[i] = at + rnd(3)
				} else {
					next[i] = at + max(res.RetryAfter, time.Millisecond) + rnd(4)
				}
			}
			// Windows of 1 s + Jitter: requests delayed by up to Jitter
			// after their grant still never exceed the rate in a second.
			worst := 0
			for i := range grants {
				n := 0
				for j := i; j < len(grants) && grants[j]-grants[i] < time.Second+Jitter; j++ {
					n++
				}
				worst = max(worst, n)
			}
			require.LessOrEqual(t, float64(worst), perSecond, "worst window of 1 s + %s", Jitter)
			util := float64(len(grants)) / span.Seconds() / perSecond
			require.GreaterOrEqual(t, util, 0.95, "utilisation")
		})
	}
}
