package throttle_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// The pair interval runs on Redis's clock; miniredis's follows SetTime, so
// the interval is checked here in simulated time.
func TestPairIntervalHoldsLaterMessagesToTheSameRecipient(t *testing.T) {
	t.Parallel()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	r := throttle.NewRecipients(rdb)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	g := throttle.Gate{Number: "phone:1", Recipient: "4915100000001", PairInterval: 6 * time.Second}
	span := time.Duration(math.Ceil(float64(g.PairInterval)/throttle.Margin/1e6)) * time.Millisecond

	admit := func(g throttle.Gate, at time.Duration, take bool) throttle.Verdict {
		t.Helper()
		mr.SetTime(t0.Add(at))
		v, err := r.Admit(ctx, g, t0.Add(at), take)
		require.NoError(t, err)
		return v
	}
	// Looking takes nothing.
	require.Equal(t, throttle.HoldNone, admit(g, 0, false).Hold)
	require.Equal(t, throttle.HoldNone, admit(g, 0, false).Hold)
	require.Equal(t, throttle.HoldNone, admit(g, 0, true).Hold)

	v := admit(g, time.Second, false)
	require.Equal(t, throttle.HoldPair, v.Hold)
	require.Equal(t, span-time.Second, v.Wait)
	require.Equal(t, throttle.HoldPair, admit(g, span-time.Millisecond, true).Hold)

	other := g
	other.Recipient = "4915100000002"
	require.Equal(t, throttle.HoldNone, admit(other, time.Second, true).Hold, "other recipients are not held")
	otherNumber := g
	otherNumber.Number = "phone:2"
	require.Equal(t, throttle.HoldNone, admit(otherNumber, time.Second, true).Hold, "nor is another number")

	second := admit(g, span, true)
	require.Equal(t, throttle.HoldNone, second.Hold, "the interval has passed")

	// A 131056 answer holds the pair for 16 s, even where the account keeps
	// no interval of its own, and a shorter hold does not shorten it.
	noInterval := g
	noInterval.PairInterval = 0
	base := 2 * span
	mr.SetTime(t0.Add(base))
	require.NoError(t, r.HoldPair(ctx, g, 16*time.Second))
	require.NoError(t, r.HoldPair(ctx, g, time.Second))
	v = admit(noInterval, base+time.Second, false)
	require.Equal(t, throttle.HoldPair, v.Hold)
	require.Equal(t, 15*time.Second, v.Wait)
	require.Equal(t, throttle.HoldNone, admit(noInterval, base+16*time.Second, false).Hold)
}

func TestBudgetDefersNewRecipientsUntilTheWindowFreesRoom(t *testing.T) {
	t.Parallel()
	r := throttle.NewRecipients(testenv.NewRedis(t).Client)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	gate := func(phone string) throttle.Gate {
		return throttle.Gate{Number: "phone:1", Recipient: phone, Ledger: "account:main", Limit: 3, Window: 24 * time.Hour}
	}
	admit := func(phone string, at time.Duration) throttle.Verdict {
		t.Helper()
		v, err := r.Admit(ctx, gate(phone), t0.Add(at), true)
		require.NoError(t, err)
		return v
	}
	for i := range 3 {
		require.Equal(t, throttle.HoldNone, admit(fmt.Sprint("49151", i), time.Duration(i)*time.Hour).Hold)
	}
	v := admit("491519", 3*time.Hour)
	require.Equal(t, throttle.HoldBudget, v.Hold, "a fourth new recipient waits")
	require.Equal(t, 21*time.Hour, v.Wait)
	require.Equal(t, throttle.HoldNone, admit("491510", 3*time.Hour).Hold, "a recipient already counted passes")

	u, err := r.Usage(ctx, "account:main", 24*time.Hour, t0.Add(3*time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3, u.Used)
	require.True(t, u.NextRoom.Equal(t0.Add(25*time.Hour)), "next room %s: 491510's latest message was at 3 h, so 491511 (1 h) leaves first", u.NextRoom)

	// 491510 was messaged again at 3 h: it stays counted past 24 h.
	require.Equal(t, throttle.HoldBudget, admit("491519", 24*time.Hour+time.Millisecond).Hold)
	require.Equal(t, throttle.HoldBudget, admit("491519", 25*time.Hour-time.Millisecond).Hold)
	require.Equal(t, throttle.HoldNone, admit("491519", 25*time.Hour+time.Millisecond).Hold, "491511 left the window")
	require.Equal(t, throttle.HoldBudget, admit("491518", 25*time.Hour+time.Millisecond).Hold, "and only one slot freed")

	// Another ledger is independent.
	g := gate("491518")
	g.Ledger = "account:other"
	v, err = r.Admit(ctx, g, t0, true)
	require.NoError(t, err)
	require.Equal(t, throttle.HoldNone, v.Hold)
}

// TestBudgetIsNeverOverdrawnByConcurrentWorkers races 4 "processes" (own
// Redis clients) for a budget of 5: exactly 5 new recipients get in.
func TestBudgetIsNeverOverdrawnByConcurrentWorkers(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	now := time.Now()
	var (
		mu       sync.Mutex
		admitted int
		wg       sync.WaitGroup
	)
	for p := range 4 {
		r := throttle.NewRecipients(rds.NewClient(t))
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := throttle.Gate{Number: "phone:1", Recipient: fmt.Sprintf("49151%d%02d", p, i),
					PairInterval: 6 * time.Second, Ledger: "portfolio:acme", Limit: 5, Window: 24 * time.Hour}
				v, err := r.Admit(ctx, g, now, true)
				require.NoError(t, err)
				if v.Hold == throttle.HoldNone {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	require.Equal(t, 5, admitted)
}
