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

// simulatedPair returns a miniredis (whose clock follows SetTime, so the
// pair interval, on Redis's clock, runs in simulated time), Recipients on
// it, the simulated clock's origin and a gate with a 6 s pair interval.
func simulatedPair(t *testing.T) (*miniredis.Miniredis, *throttle.Recipients, time.Time, throttle.Gate) {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	t0 := time.Now().UTC().Truncate(time.Second) // miniredis's clock starts here
	return mr, throttle.NewRecipients(rdb), t0, throttle.Gate{Number: "phone:1", Recipient: "4915100000001", PairInterval: 6 * time.Second}
}

// The pair interval runs on Redis's clock; miniredis's follows SetTime, so
// the interval is checked here in simulated time.
func TestPairIntervalHoldsLaterMessagesToTheSameRecipient(t *testing.T) {
	t.Parallel()
	mr, r, t0, g := simulatedPair(t)
	ctx := context.Background()
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

// A send surely not made (late for its departure slot, a claim stalled, a
// refusal) hands back the pair interval its Admit started, so the
// recipient's next attempt need not wait out an interval after a message
// that never went; a hold set since (the answer's, a 131056's, a later
// attempt's) stays. In simulated time (miniredis), as above.
func TestRefundHandsBackThePairIntervalItStarted(t *testing.T) {
	t.Parallel()
	mr, r, t0, g := simulatedPair(t)
	ctx := context.Background()
	admit := func(at time.Duration, take bool) throttle.Verdict {
		t.Helper()
		mr.SetTime(t0.Add(at))
		v, err := r.Admit(ctx, g, t0.Add(at), take)
		require.NoError(t, err)
		return v
	}

	first := admit(0, true)
	require.Equal(t, throttle.HoldNone, first.Hold)
	require.Equal(t, throttle.HoldPair, admit(time.Second, false).Hold)
	require.NoError(t, r.Refund(ctx, g, first))
	require.Equal(t, throttle.HoldNone, admit(time.Second, false).Hold, "the interval of a send never made is handed back")

	// A later hold replaces the interval: handing back the send's own
	// does not end it.
	second := admit(time.Second, true)
	require.Equal(t, throttle.HoldNone, second.Hold)
	mr.SetTime(t0.Add(2 * time.Second))
	require.NoError(t, r.HoldPair(ctx, g, 16*time.Second))
	require.NoError(t, r.Refund(ctx, g, second))
	require.Equal(t, throttle.HoldPair, admit(3*time.Second, false).Hold, "the answer's hold stays")

	// Nor does an attempt that gave up hand back a later attempt's interval.
	third := admit(20*time.Second, true)
	require.Equal(t, throttle.HoldNone, third.Hold)
	require.NoError(t, r.Refund(ctx, g, second))
	require.Equal(t, throttle.HoldPair, admit(21*time.Second, false).Hold, "the later attempt's interval stays")

	// A look takes nothing, and hands back nothing.
	look := admit(21*time.Second, false)
	require.NoError(t, r.Refund(ctx, g, look))
	require.Equal(t, throttle.HoldPair, admit(21*time.Second, false).Hold)
	require.NoError(t, r.Refund(ctx, g, third))
	require.Equal(t, throttle.HoldNone, admit(21*time.Second, false).Hold)

	// A request that was made and refused hands back no interval, even
	// before its answer's hold (nominal: shorter than Admit's) replaced it.
	made := admit(40*time.Second, true)
	require.Equal(t, throttle.HoldNone, made.Hold)
	require.NoError(t, r.Refund(ctx, g, made.WithoutPair()))
	require.Equal(t, throttle.HoldPair, admit(41*time.Second, false).Hold, "the request reached the provider")
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
