package campaign

import (
	"testing"
	"time"
)

// TestHoldBack: a batch task waits in the schedule until lead before its
// first departure, at the rate behind the deliveries ahead of it; never
// when it leaves within lead, when the rate is unlimited, or when lead is
// negative.
func TestHoldBack(t *testing.T) {
	const lead = 500 * time.Millisecond
	for _, c := range []struct {
		pos  int
		rate float64
		lead time.Duration
		want time.Duration
	}{
		{0, 1, lead, 0},
		{1, 2, lead, 0},                      // leaves in 500 ms: queued now
		{1, 1, lead, 500 * time.Millisecond}, // leaves in 1 s
		{250, 50, lead, 4500 * time.Millisecond},
		{4, 0.1, lead, 39500 * time.Millisecond},
		{100, 0, lead, 0}, // unlimited
		{100, 10, -1, 0},  // lead off
		{100, 10, 0, 10 * time.Second},
		{1, 1e-12, lead, maxHoldBack}, // no overflow: bounded
		{3, 0.001, lead, maxHoldBack},
	} {
		if got := holdBack(c.pos, c.rate, c.lead); got != c.want {
			t.Errorf("holdBack(%d, %g, %s) = %s, want %s", c.pos, c.rate, c.lead, got, c.want)
		}
	}
}
