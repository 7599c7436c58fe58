package throttle

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// TestSlotsInSimulatedTime runs the reserve script in simulated time
// (miniredis's TIME follows SetTime), so no scheduler jitter enters: four
// callers reserve a slot, depart 0–3 ms after it (a timer's lateness) and
// reserve again 0–2 ms later; one reservation in eight is given up halfway
// to its slot and handed back, and its caller reserves again at once. For
// low, default and high rates, the departures must never exceed the rate
// in any one-second window and must use at least 97% of it: handed-back
// slots are taken again, not lost.
func TestSlotsInSimulatedTime(t *testing.T) {
	t.Parallel()
	for _, perSecond := range []float64{1, 2, 5, 10, 20, 33, 50, 80, 250, 1000} {
		t.Run(fmt.Sprint(perSecond), func(t *testing.T) {
			t.Parallel()
			mr := miniredis.RunT(t)
			rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
			defer rdb.Close()
			f := NewFleet(rdb)
			ctx := context.Background()
			start := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
			// 20 s, or as long as 2,000 departures take at higher rates.
			span := min(20*time.Second, time.Duration(2000/perSecond*float64(time.Second)))
			seed := uint64(perSecond * 1000)
			rnd := func(n uint64) uint64 {
				seed = seed*6364136223846793005 + 1442695040888963407
				return (seed >> 33) % n
			}
			ms := func(n uint64) time.Duration { return time.Duration(rnd(n)) * time.Millisecond }

			const (
				reserving = iota
				departing
				givingUp
			)
			type caller struct {
				at    time.Duration // the caller's next event
				state int
				slot  Slot
			}
			callers := make([]caller, 4)
			var departures []time.Time
			handedBack := 0
			for {
				c := &callers[0]
				for i := range callers {
					if callers[i].at < c.at {
						c = &callers[i]
					}
				}
				if c.at >= span {
					break
				}
				now := start.Add(c.at)
				mr.SetTime(now)
				switch c.state {
				case reserving:
					r, err := f.Reserve(ctx, "k", perSecond, Want{N: 1})
					require.NoError(t, err)
					require.Len(t, r.Slots, 1)
					c.slot = r.Slots[0]
					slot := time.UnixMicro(c.slot.us).UTC()
					require.False(t, slot.Before(now), "a slot is never in the past")
					if rnd(8) == 0 && slot.After(now) {
						c.state, c.at = givingUp, c.at+slot.Sub(now)/2
					} else {
						c.state, c.at = departing, slot.Sub(start)+ms(4)
					}
				case departing:
					departures = append(departures, now)
					c.state, c.at = reserving, c.at+ms(3)
				case givingUp:
					require.NoError(t, f.Release(ctx, "k", c.slot))
					handedBack++
					c.state = reserving
				}
			}
			require.Positive(t, handedBack)
			slices.SortFunc(departures, func(a, b time.Time) int { return a.Compare(b) })
			require.LessOrEqual(t, float64(worstIn(departures, time.Second)), perSecond, "worst one-second window")
			util := float64(len(departures)) / span.Seconds() / perSecond
			require.GreaterOrEqual(t, util, 0.97, "utilisation")
		})
	}
}

// worstIn is the most of the sorted times at in any window [t, t+w).
func worstIn(at []time.Time, w time.Duration) int {
	worst, j := 0, 0
	for i := range at {
		for j < len(at) && at[j].Before(at[i].Add(w)) {
			j++
		}
		worst = max(worst, j-i)
	}
	return worst
}

func TestSpacing(t *testing.T) {
	t.Parallel()
	require.Equal(t, 20400*time.Microsecond, Spacing(50))
	require.Equal(t, 1020*time.Microsecond, Spacing(1000))
	require.Equal(t, 1020*time.Millisecond, Spacing(1))
	require.Equal(t, 3400*time.Millisecond, Spacing(0.3))
	// Any window of 1 s + Jitter holds at most the rate; rounding up to
	// the microsecond costs at most a microsecond per slot.
	for _, r := range []float64{1, 7, 50, 80, 999, 1000} {
		w := r * Spacing(r).Seconds()
		require.GreaterOrEqual(t, w, (time.Second + Jitter).Seconds(), "rate %v", r)
		require.LessOrEqual(t, w, (time.Second+Jitter).Seconds()+r*1e-6, "rate %v", r)
	}
}

// TestOffsetTakesTheQuickestAnswer: an answer that came later than the
// quickest of late is late by the difference; the quickest is forgotten
// after one to two windows, and a jump far above it (the local clock
// stepped forward) starts over.
func TestOffsetTakesTheQuickestAnswer(t *testing.T) {
	t.Parallel()
	var o offset
	t0 := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	require.Zero(t, o.late(1000, at(0)))
	require.Equal(t, int64(5000), o.late(6000, at(1)), "held up 5 ms")
	require.Zero(t, o.late(800, at(2)), "a quicker answer")
	require.Equal(t, int64(200), o.late(1000, at(3)))
	require.Equal(t, int64(200), o.late(1000, at(12)), "the previous window's quickest still counts")
	require.Zero(t, o.late(1000, at(23)), "two windows on it is forgotten")
	require.Zero(t, o.late(1000+offsetStep.Microseconds()+1, at(24)), "the clock stepped forward")
	require.Equal(t, int64(offsetStep.Microseconds()), o.late(1001+2*offsetStep.Microseconds(), at(25)))
}

// TestWorkLeadFollowsSlowCallers: WaitAhead wakes callers the ahead they
// ask for before their slot while their work fits in it; when their work
// keeps taking longer, it wakes them earlier, and the lead comes back down
// slowly once the work is quick again.
func TestWorkLeadFollowsSlowCallers(t *testing.T) {
	t.Parallel()
	var w work
	const floor = 100 * time.Millisecond
	for range 50 {
		require.Equal(t, floor, w.lead(floor))
		w.note(floor - 2*time.Millisecond) // its claim took 2 ms
	}
	require.Equal(t, floor, w.lead(floor))
	for range 50 {
		lead := w.lead(floor)
		w.note(lead - 150*time.Millisecond) // 150 ms, every time
	}
	lead := w.lead(floor)
	require.InDelta(t, 225*time.Millisecond, lead, float64(5*time.Millisecond), "1.5 × 150 ms")
	w.note(lead - 2*time.Millisecond)
	require.Greater(t, w.lead(floor), 200*time.Millisecond, "one quick claim does not bring it down")
	for range 500 {
		w.note(w.lead(floor) - 2*time.Millisecond)
	}
	require.Equal(t, floor, w.lead(floor))
	for range 100 {
		require.False(t, w.note(w.lead(floor)-150*time.Millisecond))
	}
	for range 100 {
		w.note(w.lead(floor) - 10*time.Second)
	}
	require.Equal(t, maxLead, w.lead(floor), "at most maxLead")
	require.True(t, w.note(w.lead(floor)-10*time.Second), "at its bound")
}
