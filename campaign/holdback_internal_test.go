package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/delivery"
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

// TestStepRoomHolds: an account whose window is more than half full
// releases nothing now, and all its due sequences are reported held (the
// release loop is then not woken by their next due steps); an account with
// room shares it among its due sequences, and reports none held.
func TestStepRoomHolds(t *testing.T) {
	f := NewFeeder(nil, nil, nil, delivery.Options{})
	w := f.stepWindow(100) // 200 steps: 2 s of 100/s
	take, room, held := f.stepRoom([]StepLane{
		{SequenceID: 1, AccountID: 10, Rate: 100, Due: true, InFlight: w/2 + 1},
		{SequenceID: 2, AccountID: 10, Rate: 100, Due: true},
		{SequenceID: 3, AccountID: 20, Rate: 100, Due: true, InFlight: w / 2},
		{SequenceID: 4, AccountID: 20, Rate: 100, Due: true},
		{SequenceID: 5, AccountID: 30, Rate: 100, InFlight: w}, // nothing due
	})
	require.ElementsMatch(t, []int64{1, 2}, held, "account 10's window is more than half full")
	require.Equal(t, map[int64]int{20: w - w/2}, room)
	require.Equal(t, map[int64]int{3: (w - w/2 + 1) / 2, 4: (w - w/2 + 1) / 2}, take, "the room shared by account 20's due sequences")
}
