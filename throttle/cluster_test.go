package throttle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// Every Redis script of the package runs on a real Redis Cluster: each
// keeps its keys in one hash slot. (Admit failed with CROSSSLOT while the
// pair interval's keys carried the number's tag and the ledger the
// portfolio's.) The ledger keeps its name, so an upgrade remembers who was
// messaged in the last 24 h.
func TestScriptsRunOnARedisCluster(t *testing.T) {
	t.Parallel()
	rc := testenv.NewRedisCluster(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)

	r := throttle.NewRecipients(rc.Client)
	admit := func(g throttle.Gate, take bool) throttle.Verdict {
		t.Helper()
		v, err := r.Admit(ctx, g, now, take)
		require.NoError(t, err)
		return v
	}
	// Two numbers of one portfolio share its budget of two recipients.
	g := throttle.Gate{Number: "phone:1", Recipient: "4915100000001", PairInterval: 6 * time.Second,
		Ledger: "portfolio:acme", Limit: 2, Window: 24 * time.Hour}
	require.Equal(t, throttle.HoldNone, admit(g, false).Hold)
	require.Equal(t, throttle.HoldNone, admit(g, true).Hold)
	require.Equal(t, throttle.HoldPair, admit(g, false).Hold)
	require.NoError(t, r.HoldPair(ctx, g, time.Minute))
	v := admit(g, false)
	require.Equal(t, throttle.HoldPair, v.Hold)
	require.Greater(t, v.Wait, 50*time.Second, "the 131056 hold")
	other := g
	other.Number, other.Recipient = "phone:2", "4915100000002"
	require.Equal(t, throttle.HoldNone, admit(other, true).Hold)
	third := other
	third.Recipient = "4915100000003"
	require.Equal(t, throttle.HoldBudget, admit(third, true).Hold)
	u, err := r.Usage(ctx, "portfolio:acme", 24*time.Hour, now)
	require.NoError(t, err)
	require.Equal(t, 2, u.Used)
	n, err := rc.Client.ZCard(ctx, "wacamp:ledger:{portfolio:acme}").Result()
	require.NoError(t, err)
	require.EqualValues(t, 2, n, "the ledger's key is named as before (an upgrade must not forget it)")
	// A number's own ledger, and none.
	own := throttle.Gate{Number: "phone:3", Recipient: "4915100000001", PairInterval: 6 * time.Second, Ledger: "number:3", Limit: 250, Window: 24 * time.Hour}
	require.Equal(t, throttle.HoldNone, admit(own, true).Hold)
	none := throttle.Gate{Number: "phone:4", Recipient: "4915100000001", PairInterval: 6 * time.Second}
	require.Equal(t, throttle.HoldNone, admit(none, true).Hold)
	require.Equal(t, throttle.HoldPair, admit(none, false).Hold)
	require.NoError(t, r.HoldPair(ctx, none, time.Second))

	f := throttle.NewFleet(rc.Client)
	require.NoError(t, f.Wait(ctx, "phone:1", 1000))
	p, err := f.Penalize(ctx, "phone:1")
	require.NoError(t, err)
	require.True(t, p.Halved)
	factor, err := throttle.NewFleet(rc.NewClient(t)).Factor(ctx, "phone:1")
	require.NoError(t, err)
	require.InDelta(t, 0.5, factor, 1e-9, "another process reads the penalty")
	require.NoError(t, f.Wait(ctx, "phone:1", 1000))

	o := throttle.NewOutcomes(rc.Client)
	for i := range 3 {
		fails, total, err := o.Record(ctx, "broadcast:1", i == 0, 2)
		require.NoError(t, err)
		require.Equal(t, min(i+1, 2), total)
		require.Equal(t, map[bool]int{true: 1, false: 0}[i < 2], fails)
	}
}
