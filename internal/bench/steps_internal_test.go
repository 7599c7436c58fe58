package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The floor serves the steps one after the other at the rate, none before
// its due time: a burst leaves 1/rate apart, and a step due after the
// queue has drained leaves at its due time.
func TestRateFloor(t *testing.T) {
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	due := []time.Time{ms(0), ms(0), ms(0), ms(50), ms(500), ms(510)}
	got := rateFloor(due, 10) // 100 ms apart
	require.Equal(t, []time.Time{ms(0), ms(100), ms(200), ms(300), ms(500), ms(600)}, got)
}
