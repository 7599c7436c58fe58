package throttle_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// TestFleetSharesOneRateAcrossProcesses runs two "processes" (two Fleet
// limiters with their own Redis clients) hammering one key through Wait on
// a real Redis until a deadline. The slots themselves are checked on
// Redis's clock by TestReserveSpacesSlotsAcrossProcesses; this asserts
// what scheduling jitter cannot blur: over an interval that contains every
// grant, the two processes together got no more than one slot per spacing,
// not twice that, and waits whose slot would come after the deadline took
// none.
func TestFleetSharesOneRateAcrossProcesses(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	const perSecond = 40
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var (
		mu     sync.Mutex
		grants int
		wg     sync.WaitGroup
	)
	begin := time.Now()
	for range 2 {
		f := throttle.NewFleet(rds.NewClient(t))
		for range 6 {
			wg.Go(func() {
				for f.Wait(ctx, "phone:1", perSecond) == nil {
					mu.Lock()
					grants++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(begin)
	// Slots (1 s + Jitter)/40 apart: at most elapsed/spacing + 1.
	require.LessOrEqual(t, float64(grants), elapsed.Seconds()/throttle.Spacing(perSecond).Seconds()+1, "%d grants in %s", grants, elapsed)
	require.Greater(t, grants, 0)
}

// clock is a settable clock shared by the test's "processes".
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestPenaltyHalvesOnceThenRecoversGradually, on a real Redis: a burst of
// 130429s (answers to requests made before the first penalty took effect)
// halves a number's rate once, fleet-wide; a 130429 after the hold halves
// it again; the rate then comes back step by step, not after a flat
// minute, and never falls below the floor.
func TestPenaltyHalvesOnceThenRecoversGradually(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	fleet := func() *throttle.Fleet {
		f := throttle.NewFleet(rds.NewClient(t))
		f.Now = clk.Now
		return f
	}
	a, b := fleet(), fleet() // two processes
	key := "phone:" + t.Name()
	factor := func(f *throttle.Fleet) float64 {
		t.Helper()
		clk.Add(time.Second) // past the per-process cache
		v, err := f.Factor(ctx, key)
		require.NoError(t, err)
		return v
	}

	p, err := a.Penalize(ctx, key)
	require.NoError(t, err)
	require.Equal(t, throttle.Penalty{Factor: 0.5, Halved: true}, p)
	// Nine more 130429s of the same burst, from both processes: no more
	// halving.
	for i := range 9 {
		clk.Add(100 * time.Millisecond)
		p, err := []*throttle.Fleet{a, b}[i%2].Penalize(ctx, key)
		require.NoError(t, err)
		require.Equal(t, throttle.Penalty{Factor: 0.5}, p, "penalty %d of the burst", i+2)
	}
	require.InDelta(t, 0.5, factor(b), 1e-9, "the other process sees it") // 1.9 s after the halving
	// Still refused after the hold: the rate was still too high.
	clk.Add(200 * time.Millisecond)
	p, err = b.Penalize(ctx, key)
	require.NoError(t, err)
	require.Equal(t, throttle.Penalty{Factor: 0.25, Halved: true}, p)

	// Additive increase: +0.1 every 3 s, from a quarter to the full rate
	// in 24 s.
	got := []float64{}
	for range 8 {
		clk.Add(2 * time.Second) // + the second factor() adds: 3 s a step
		got = append(got, factor(a))
	}
	want := []float64{0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95, 1}
	require.InDeltaSlice(t, want, got, 1e-9)
	require.Equal(t, 1.0, factor(b))

	// Halvings far enough apart reach the floor and stay there.
	for i, want := range []float64{0.5, 0.25, 0.125, 0.1, 0.1} {
		clk.Add(2 * time.Second)
		p, err := a.Penalize(ctx, key)
		require.NoError(t, err)
		require.InDelta(t, want, p.Factor, 1e-9, "halving %d", i+1)
		require.True(t, p.Halved)
	}
	other, err := b.Factor(ctx, "phone:other")
	require.NoError(t, err)
	require.Equal(t, 1.0, other, "other numbers keep their rate")
	ttl, err := rds.Client.PTTL(ctx, "wacamp:penalty:{"+key+"}").Result()
	require.NoError(t, err)
	require.LessOrEqual(t, ttl, 29*time.Second, "the penalty ends with its recovery (9 steps of 3 s, plus the hold)")
}
