package throttle_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// capGate is a send of id to recipient from number under a portfolio's cap
// of 2 messages per hour, with no other limit.
func capGate(number, recipient, id string) throttle.Gate {
	return throttle.Gate{Number: number, Recipient: recipient, Ledger: "portfolio:acme",
		Cap: throttle.Cap{Messages: 2, Per: time.Hour}, Send: id}
}

// testCap runs the frequency cap's checks on rdb (one Redis server or a
// Redis Cluster).
func testCap(t *testing.T, rdb redis.UniversalClient) {
	r := throttle.NewRecipients(rdb)
	ctx := context.Background()
	t0 := time.Now().Truncate(time.Millisecond)
	admit := func(g throttle.Gate, at time.Duration, take bool) throttle.Verdict {
		t.Helper()
		v, err := r.Admit(ctx, g, t0.Add(at), take)
		require.NoError(t, err)
		return v
	}
	const alice, bob = "4915100000001", "4915100000002"

	// Looking counts nothing.
	require.Equal(t, throttle.Verdict{}, admit(capGate("phone:1", alice, "1"), 0, false))
	require.Equal(t, throttle.Verdict{}, admit(capGate("phone:1", alice, "1"), 0, false))
	// Two sends from two numbers of the portfolio fill alice's cap.
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:1", alice, "1"), 0, true))
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:2", alice, "2"), 10*time.Minute, true))
	// A third waits until the first leaves the window, looking or taking,
	// and taking counts nothing.
	for _, take := range []bool{false, true} {
		v := admit(capGate("phone:3", alice, "3"), 20*time.Minute, take)
		require.Equal(t, throttle.Verdict{Hold: throttle.HoldCap, Wait: 40 * time.Minute}, v, "take %v", take)
	}
	n, err := r.CapCount(ctx, capGate("phone:1", alice, ""), t0.Add(20*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	// Other recipients have their own cap.
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:1", bob, "4"), 20*time.Minute, true))
	// A send already counted (an attempt of unknown outcome, sent again)
	// goes, and is not counted twice.
	require.Equal(t, throttle.Verdict{}, admit(capGate("phone:1", alice, "1"), 25*time.Minute, true))
	n, err = r.CapCount(ctx, capGate("phone:1", alice, ""), t0.Add(25*time.Minute))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	// It counts from its latest attempt: the second send now leaves first.
	require.Equal(t, throttle.Verdict{Hold: throttle.HoldCap, Wait: 40 * time.Minute}, admit(capGate("phone:3", alice, "3"), 30*time.Minute, false))
	// A send surely not made is handed back: room for the third.
	require.NoError(t, r.Refund(ctx, capGate("phone:2", alice, "2"), throttle.Verdict{Counted: true}))
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:3", alice, "3"), 30*time.Minute, true))
	// Once the window has moved past both, two more go.
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:1", alice, "5"), 90*time.Minute, true))
	require.Equal(t, throttle.Verdict{Counted: true}, admit(capGate("phone:1", alice, "6"), 90*time.Minute, true))
	require.Equal(t, throttle.HoldCap, admit(capGate("phone:1", alice, "7"), 90*time.Minute, true).Hold)

	// The cap is checked before the pair interval and the budget: a send
	// over it is told so (a broadcast's delivery is skipped at once)
	// rather than to wait for either.
	g := capGate("phone:1", alice, "8")
	g.PairInterval, g.Limit, g.Window = time.Minute, 1, 24*time.Hour
	require.Equal(t, throttle.HoldCap, admit(g, 90*time.Minute, false).Hold)

	// A cap without the send's id is refused, not guessed.
	_, err = r.Admit(ctx, capGate("phone:1", bob, ""), t0, true)
	require.Error(t, err)
}

// The frequency cap on a real Redis: counted per recipient across the
// numbers of a ledger, held until the oldest counted message leaves the
// window, each send counted once, a refunded send handed back.
func TestFrequencyCap(t *testing.T) {
	t.Parallel()
	testCap(t, testenv.NewRedis(t).Client)
}

// The same on a Redis Cluster: the cap's key carries the ledger's hash
// tag, so the script's keys share one slot.
func TestFrequencyCapOnARedisCluster(t *testing.T) {
	t.Parallel()
	rc := testenv.NewRedisCluster(t)
	testCap(t, rc.Client)
	k, err := rc.Client.ClusterKeySlot(context.Background(), "wacamp:cap:{portfolio:acme}:4915100000001").Result()
	require.NoError(t, err)
	l, err := rc.Client.ClusterKeySlot(context.Background(), "wacamp:ledger:{portfolio:acme}").Result()
	require.NoError(t, err)
	require.Equal(t, l, k, "a recipient's cap lies in its ledger's slot")
}

// Many workers taking places for one recipient at once, through separate
// connections: exactly the cap's number get through.
func TestFrequencyCapIsAtomic(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	now := time.Now()
	const workers, capN = 8, 3
	var passed atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		r := throttle.NewRecipients(rds.NewClient(t))
		wg.Go(func() {
			for i := range 5 {
				g := capGate(fmt.Sprintf("phone:%d", w), "4915100000009", fmt.Sprintf("%d-%d", w, i))
				g.Cap.Messages = capN
				v, err := r.Admit(context.Background(), g, now, true)
				if err != nil {
					t.Error(err)
					return
				}
				if v.Hold == throttle.HoldNone {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	require.EqualValues(t, capN, passed.Load())
}
