package throttle_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// TestFleetNeverExceedsRateAcrossProcesses runs two "processes" (two Fleet
// limiters with their own Redis clients and local buckets) hammering one
// key, and checks the union of their grants: no one-second window holds
// more than the rate, and the rate is used at least 95%.
func TestFleetNeverExceedsRateAcrossProcesses(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	const perSecond = 40
	const run = 3 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), run)
	defer cancel()
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	for range 2 {
		opt := *rds.Client.Options()
		f := throttle.NewFleet(redisClient(t, &opt))
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for f.Wait(ctx, "phone:1", perSecond) == nil {
					mu.Lock()
					times = append(times, time.Now())
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	worst := 0
	for i := range times {
		n := 0
		for j := i; j < len(times) && times[j].Sub(times[i]) < time.Second; j++ {
			n++
		}
		worst = max(worst, n)
	}
	require.LessOrEqual(t, worst, perSecond, "worst one-second window")
	span := times[len(times)-1].Sub(times[0]).Seconds()
	util := float64(len(times)-1) / span / perSecond
	require.GreaterOrEqual(t, util, 0.95, "utilisation of the rate (%d grants in %.2fs)", len(times), span)
}
