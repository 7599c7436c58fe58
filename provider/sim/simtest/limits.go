package simtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/sim"
)

// Limits runs, through a driver, the scenarios of the number's limits
// (sim.Number) that every simulator passes alike; each simulator's test
// adds its provider's answer (HTTP status, Retry-After) and what its
// sender key is.
type Limits struct {
	Client provider.Client
	Clock  *testclock.Clock
	// Counts reads the simulator's counters.
	Counts func() sim.Counts
}

// RateLimit checks a number at RatePerSecond 2: sends to phones[0] and
// phones[1] pass, the next, to phones[2], is refused with 130429 and
// counted, and half a second later (a token refilled) it passes. It
// returns the refusal.
func (l Limits) RateLimit(t testing.TB, phones [3]string) *provider.Error {
	t.Helper()
	ctx := context.Background()
	for _, p := range phones[:2] {
		_, err := l.Client.Send(ctx, p, Text("hi"))
		require.NoError(t, err)
	}
	_, err := l.Client.Send(ctx, phones[2], Text("over"))
	pe := RequireLimited(t, err, sim.RateLimited)
	require.Equal(t, 1, l.Counts().RateLimited)

	l.Clock.Add(500 * time.Millisecond)
	_, err = l.Client.Send(ctx, phones[2], Text("after refill"))
	require.NoError(t, err, "one token refilled")
	return pe
}

// PairInterval checks a number at PairInterval 6 s: a second send to
// phone within (less than 6 s) after the first is refused with 131056, one
// to other passes meanwhile, and one to phone 6 s after the first passes;
// one refusal is counted.
func (l Limits) PairInterval(t testing.TB, phone, other string, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := l.Client.Send(ctx, phone, Text("first"))
	require.NoError(t, err)
	l.Clock.Add(within)
	_, err = l.Client.Send(ctx, phone, Text("too soon"))
	RequireLimited(t, err, sim.PairLimited)
	_, err = l.Client.Send(ctx, other, Text("another recipient"))
	require.NoError(t, err)
	l.Clock.Add(6*time.Second - within)
	_, err = l.Client.Send(ctx, phone, Text("six seconds later"))
	require.NoError(t, err)
	require.Equal(t, 1, l.Counts().PairLimited)
}

// SubscriberLimit checks a number at SubscriberLimit 1: a send to phone
// passes, one to other, a new subscriber, is refused for the subscriber
// limit and counted, and phone, a subscriber already, can still be sent
// to.
func (l Limits) SubscriberLimit(t testing.TB, phone, other string) {
	t.Helper()
	ctx := context.Background()
	_, err := l.Client.Send(ctx, phone, Text("first"))
	require.NoError(t, err)
	_, err = l.Client.Send(ctx, other, Text("new recipient"))
	RequireLimited(t, err, sim.SubscriberLimited)
	_, err = l.Client.Send(ctx, phone, Text("known subscriber"))
	require.NoError(t, err)
	require.Equal(t, 1, l.Counts().SubscriberLimited)
}
