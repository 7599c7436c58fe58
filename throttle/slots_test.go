package throttle_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testenv"
	"github.com/wacamp/wacamp/throttle"
)

// The tests below reserve slots far ahead at low rates (a slot is seconds
// after the one before), so every slot after the first follows the one
// before it by exactly the spacing whatever the machine's load, and the
// slots are checked on Redis's clock, where the script put them.

// TestReserveSpacesSlotsAcrossProcesses has two "processes" (Fleets with
// their own Redis clients) reserve slots of one number at once, single
// and in batches: every slot is handed out once, each a spacing after the
// one before (no gap, no two closer), a batch's slots are consecutive, and
// so no window of 1 s + Jitter holds more than the rate.
func TestReserveSpacesSlotsAcrossProcesses(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	const perSecond = 10
	spacing := throttle.Spacing(perSecond).Microseconds()
	var (
		mu    sync.Mutex
		slots []int64
		wg    sync.WaitGroup
	)
	for range 2 {
		f := throttle.NewFleet(rds.NewClient(t))
		for g := range 8 {
			wg.Go(func() {
				for i := range 12 {
					n := 1 + (g+i)%2*2 // 1 or 3
					r, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: n})
					if !assertNoError(t, err) {
						return
					}
					got := micros(r.Slots)
					if len(got) != n {
						t.Errorf("got %d slots for %d", len(got), n)
						return
					}
					for j := 1; j < len(got); j++ {
						if got[j]-got[j-1] != spacing {
							t.Errorf("a batch's slots are not consecutive: %v", got)
						}
					}
					mu.Lock()
					slots = append(slots, got...)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	require.Len(t, slots, 2*8*6*(1+3))
	slices.Sort(slots)
	for i := 1; i < len(slots); i++ {
		require.Equal(t, spacing, slots[i]-slots[i-1], "slots %d and %d", i-1, i)
	}
	require.LessOrEqual(t, worstWindow(slots, time.Second+throttle.Jitter), float64(perSecond))
}

// TestReserveRefusesBeyondMaxWait: a slot farther than the caller may wait
// is not taken (the caller learns when the next one is), a batch gets only
// the slots within the wait, and the refused slots go to the next caller:
// nothing is burnt.
func TestReserveRefusesBeyondMaxWait(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	f := throttle.NewFleet(rds.Client)
	const perSecond = 0.1 // a slot every 10.2 s
	spacing := throttle.Spacing(perSecond)

	r, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 3})
	require.NoError(t, err)
	first := micros(r.Slots)
	require.Len(t, first, 3)

	refused, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1, Within: 5 * time.Second})
	require.NoError(t, err)
	require.Empty(t, refused.Slots)
	require.True(t, refused.Next.After(r.Slots[2].At), "the next free slot is after the last one reserved")
	require.ErrorIs(t, waitFor(ctx, f, "phone:1", perSecond, 5*time.Second), throttle.ErrPastDeadline)
	require.ErrorIs(t, waitFor(ctx, f, "phone:1", perSecond, 0), context.DeadlineExceeded, "an ended context takes nothing")

	// Room for one and a half more spacings past the next free slot: two
	// of the four asked for.
	part, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 4, Within: time.Until(refused.Next) + spacing*3/2})
	require.NoError(t, err)
	require.Equal(t, []int64{first[2] + spacing.Microseconds(), first[2] + 2*spacing.Microseconds()}, micros(part.Slots))
	require.True(t, part.Next.After(part.Slots[1].At))

	rest, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{first[2] + 3*spacing.Microseconds()}, micros(rest.Slots))
}

// TestReserveAhead: a caller with work to do before it departs gets no
// slot sooner than it asked for, not even one handed back.
func TestReserveAhead(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	f := throttle.NewFleet(rds.Client)
	const perSecond = 0.1
	spacing := throttle.Spacing(perSecond).Microseconds()

	before := time.Now()
	r, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1, Ahead: 3 * time.Second})
	require.NoError(t, err)
	require.False(t, r.Slots[0].At.Before(before.Add(3*time.Second)), "an idle number's first slot is Ahead from now")
	s0 := micros(r.Slots)[0]
	require.NoError(t, f.Release(ctx, "phone:1", r.Slots...))

	later, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1, Ahead: 5 * time.Second})
	require.NoError(t, err)
	require.Equal(t, []int64{s0 + spacing}, micros(later.Slots), "the slot handed back is too soon for this caller")
	now, err := f.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{s0}, micros(now.Slots), "and goes to the next")
}

// TestReleasedSlotsAreTakenFirst: slots handed back by one process are
// taken by the next reservations of another, earliest first and before any
// new slot, so the slots in use stay a spacing apart with no gap; a slot
// handed back after its time is gone.
func TestReleasedSlotsAreTakenFirst(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	a := throttle.NewFleet(rds.NewClient(t))
	b := throttle.NewFleet(rds.NewClient(t))
	const perSecond = 0.1
	spacing := throttle.Spacing(perSecond).Microseconds()

	r, err := a.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 6})
	require.NoError(t, err)
	s := micros(r.Slots)
	require.NoError(t, a.Release(ctx, "phone:1", r.Slots[5], r.Slots[1], r.Slots[3]))

	one, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{s[1]}, micros(one.Slots))
	require.True(t, one.Next.After(r.Slots[2].At) && one.Next.Before(r.Slots[4].At), "the next free slot is the next handed back")
	three, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 3})
	require.NoError(t, err)
	require.Equal(t, []int64{s[3], s[5], s[5] + spacing}, micros(three.Slots))

	// A slot handed back once its time has come is not given out again.
	now, err := a.Reserve(ctx, "phone:2", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.NoError(t, a.Release(ctx, "phone:2", now.Slots...))
	next, err := b.Reserve(ctx, "phone:2", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{micros(now.Slots)[0] + spacing}, micros(next.Slots))
}

// TestCancelledWaitHandsBackItsSlot: a Wait whose context ends while it
// sleeps towards its slot hands the slot back, and another process's next
// reservation takes it, so the number loses no departure.
func TestCancelledWaitHandsBackItsSlot(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	const perSecond = 0.1
	spacing := throttle.Spacing(perSecond).Microseconds()
	reserved := &afterScript{done: make(chan struct{}, 1)}
	ca := rds.NewClient(t)
	ca.AddHook(reserved)
	a, b := throttle.NewFleet(ca), throttle.NewFleet(rds.NewClient(t))

	r, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	s0 := micros(r.Slots)[0]

	wctx, cancel := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() { waited <- a.Wait(wctx, "phone:1", perSecond) }()
	<-reserved.done // its slot, s0 + spacing, is reserved: it sleeps
	cancel()
	require.ErrorIs(t, <-waited, context.Canceled)

	next, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 2})
	require.NoError(t, err)
	require.Equal(t, []int64{s0 + spacing, s0 + 2*spacing}, micros(next.Slots))
}

// TestLateDepartureDoesNotGo: a caller that comes to depart more than Late
// after its slot does not go on it (it would leave in a bunch with the
// departures after it): it takes the next free slot when that is near,
// and is told it is late when the next is far; one that comes early waits
// for its slot. (When callers keep coming late, WaitAhead wakes them
// earlier: TestWorkLeadFollowsSlowCallers.)
func TestLateDepartureDoesNotGo(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	f := throttle.NewFleet(rds.Client)
	ctx := context.Background()

	// A free number: the late caller takes a new slot, now.
	require.NoError(t, f.Depart(ctx, "phone:1", 50, time.Now().Add(-2*throttle.Late)))
	last, err := rds.Client.Get(ctx, "wacamp:throttle:{phone:1}").Result()
	require.NoError(t, err, "a new slot was reserved")
	require.NotEmpty(t, last)

	// At 0.1/s the next slot is 10 s away: too far to wait holding a claim.
	r, err := f.Reserve(ctx, "phone:2", 0.1, throttle.Want{N: 1})
	require.NoError(t, err)
	require.ErrorIs(t, f.Depart(ctx, "phone:2", 0.1, time.Now().Add(-time.Second)), throttle.ErrLate)
	next, err := f.Reserve(ctx, "phone:2", 0.1, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, throttle.SlotMicros(r.Slots[0])+throttle.Spacing(0.1).Microseconds(), micros(next.Slots)[0], "the late caller took nothing")

	require.NoError(t, f.Depart(ctx, "phone:3", 0, time.Now().Add(-time.Second)), "no limit")
	ended, cancel := context.WithCancel(ctx)
	cancel()
	err = f.Depart(ended, "phone:3", 50, time.Now().Add(time.Hour))
	require.ErrorIs(t, err, context.Canceled, "it waits for a slot ahead")
	require.NotErrorIs(t, err, throttle.ErrLate)
}

// TestDepartAfterStalledSleep: a caller whose sleep until its slot ends
// more than Late after it (its process stalled) does not go then, but on
// the next free slot; one that keeps waking late goes after lateTries
// slots rather than never, and gives up when it would hold its claim more
// than lateWait longer; one whose next slot is far is told it is late and
// takes nothing; and one that came late with its lead at maxLead goes at
// once, without a sleep that could end late. The slots are reserved ahead
// (at 10/s, 102 ms apart), so that every sleep is a real one.
func TestDepartAfterStalledSleep(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	const perSecond = 10
	stall := 2 * throttle.Late
	ahead := throttle.Want{N: 1, Ahead: 200 * time.Millisecond}
	// oversleeping makes a fleet whose sleeps wake late by stalls[i] (the
	// i-th sleep; 0 past the list), and notes every slot it slept for.
	oversleeping := func(stalls ...time.Duration) (*throttle.Fleet, *[]time.Time) {
		f := throttle.NewFleet(rds.Client)
		var slept []time.Time
		throttle.SetSleep(f, func(ctx context.Context, at time.Time) error {
			slept = append(slept, at)
			if len(slept) <= len(stalls) {
				at = at.Add(stalls[len(slept)-1])
			}
			return throttle.SleepUntil(ctx, at)
		})
		return f, &slept
	}
	lastSlot := func(key string) int64 {
		v, err := rds.Client.Get(ctx, "wacamp:throttle:{"+key+"}").Int64()
		require.NoError(t, err)
		return v
	}

	f, slept := oversleeping(stall)
	r, err := f.Reserve(ctx, "phone:1", perSecond, ahead)
	require.NoError(t, err)
	require.NoError(t, f.Depart(ctx, "phone:1", perSecond, r.Slots[0].At))
	// It slept again, for the next slot; a loaded machine can make that
	// sleep end late too (a third sleep, for the slot after), never more
	// than lateTries in all.
	n := len(*slept)
	require.GreaterOrEqual(t, n, 2, "it slept again after waking late")
	require.LessOrEqual(t, n, throttle.LateTries)
	require.True(t, (*slept)[1].After((*slept)[0]), "for a later slot")
	require.GreaterOrEqual(t, lastSlot("phone:1"), throttle.SlotMicros(r.Slots[0])+int64(n-1)*throttle.Spacing(perSecond).Microseconds(), "the next one, or later")

	f, slept = oversleeping(stall, stall, stall, stall)
	r, err = f.Reserve(ctx, "phone:2", perSecond, ahead)
	require.NoError(t, err)
	require.NoError(t, f.Depart(ctx, "phone:2", perSecond, r.Slots[0].At), "it goes late rather than never")
	require.Len(t, *slept, throttle.LateTries)

	// A caller that seeks later slots holds its claim lateWait longer at
	// most, however it wakes: one that wakes late again past that gives up.
	f, slept = oversleeping(stall, throttle.LateWait+stall)
	r, err = f.Reserve(ctx, "phone:4", perSecond, ahead)
	require.NoError(t, err)
	require.ErrorIs(t, f.Depart(ctx, "phone:4", perSecond, r.Slots[0].At), throttle.ErrLate)
	require.Len(t, *slept, 2)

	f, slept = oversleeping(stall)
	r, err = f.Reserve(ctx, "phone:3", 0.1, ahead)
	require.NoError(t, err)
	err = f.Depart(ctx, "phone:3", 0.1, r.Slots[0].At)
	require.ErrorIs(t, err, throttle.ErrLate)
	var late *throttle.LateError
	require.ErrorAs(t, err, &late)
	require.False(t, late.Next.Before(r.Slots[0].At.Add(10*time.Second)), "it says when the next free slot comes (at 0.1/s, 10 s after the one it missed): %s", late.Next.Sub(r.Slots[0].At))
	require.Len(t, *slept, 1)
	require.Equal(t, throttle.SlotMicros(r.Slots[0]), lastSlot("phone:3"), "the late caller took nothing")

	// With the lead at maxLead (claims keep overrunning it), a caller a
	// second late goes now: it takes no new slot.
	f = throttle.NewFleet(rds.Client)
	_, err = f.WaitAhead(ctx, "phone:5", perSecond, throttle.MaxLead)
	require.NoError(t, err)
	require.NoError(t, f.Depart(ctx, "phone:6", 0.1, time.Now().Add(-time.Second)))
	require.ErrorIs(t, rds.Client.Get(ctx, "wacamp:throttle:{phone:6}").Err(), redis.Nil, "no slot taken")
}

// TestPenaltySpacesSlotsWider: after a 130429 the number's new slots are
// spaced for the halved rate, in the process that was penalized at once
// and in the others once they read the penalty; slots handed back before
// the halving are dropped (they were spaced for the old rate); the spacing
// narrows again as the rate recovers.
func TestPenaltySpacesSlotsWider(t *testing.T) {
	t.Parallel()
	rds := testenv.NewRedis(t)
	ctx := context.Background()
	clk := &clock{t: time.Now()}
	fleet := func() *throttle.Fleet {
		f := throttle.NewFleet(rds.NewClient(t))
		f.Now = clk.Now
		return f
	}
	a, b := fleet(), fleet()
	const perSecond = 0.2 // a slot every 5.1 s
	us := func(r float64) int64 { return throttle.Spacing(r).Microseconds() }

	r, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 3})
	require.NoError(t, err)
	s := micros(r.Slots)
	require.NoError(t, b.Release(ctx, "phone:1", r.Slots[2])) // handed back before the halving

	p, err := a.Penalize(ctx, "phone:1")
	require.NoError(t, err)
	require.Equal(t, 0.5, p.Factor)
	got, err := a.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{s[2] + us(perSecond*0.5)}, micros(got.Slots), "the slot handed back is dropped, the next is twice as far")

	clk.Add(time.Second) // past b's cache of the factor
	got2, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{micros(got.Slots)[0] + us(perSecond*0.5)}, micros(got2.Slots), "the other process spaces for the halved rate too")

	clk.Add(3 * time.Second) // one recovery step: 0.6
	f, err := b.Factor(ctx, "phone:1")
	require.NoError(t, err)
	require.InDelta(t, 0.6, f, 1e-9)
	got3, err := b.Reserve(ctx, "phone:1", perSecond, throttle.Want{N: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{micros(got2.Slots)[0] + us(perSecond*f)}, micros(got3.Slots))
}

// TestUnlimitedReservesNothing: a rate of 0 or less is no limit; Reserve
// hands out slots at once without asking Redis (here unreachable) and
// Release ignores them.
func TestUnlimitedReservesNothing(t *testing.T) {
	t.Parallel()
	f := throttle.NewFleet(redis.NewClient(&redis.Options{Addr: testenv.ClosedAddr(t)}))
	ctx := context.Background()
	r, err := f.Reserve(ctx, "phone:1", 0, throttle.Want{N: 3})
	require.NoError(t, err)
	require.Len(t, r.Slots, 3)
	require.NoError(t, f.Release(ctx, "phone:1", r.Slots...))
	require.NoError(t, f.Wait(ctx, "phone:1", 0))
	_, err = f.Reserve(ctx, "phone:1", 10, throttle.Want{N: 0})
	require.ErrorContains(t, err, "reserve 0 slots")
}

func micros(slots []throttle.Slot) []int64 {
	out := make([]int64, len(slots))
	for i, s := range slots {
		out[i] = throttle.SlotMicros(s)
	}
	return out
}

// worstWindow is the most of the sorted µs times at in any window of w.
func worstWindow(at []int64, w time.Duration) float64 {
	worst, j := 0, 0
	for i := range at {
		for j < len(at) && at[j] < at[i]+w.Microseconds() {
			j++
		}
		worst = max(worst, j-i)
	}
	return float64(worst)
}

// waitFor is Wait with a deadline maxWait from now.
func waitFor(ctx context.Context, f *throttle.Fleet, key string, perSecond float64, maxWait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	return f.Wait(ctx, key, perSecond)
}

func assertNoError(t *testing.T, err error) bool {
	t.Helper()
	if err != nil {
		t.Error(err)
		return false
	}
	return true
}

// afterScript signals on done after each Lua script call that succeeded.
type afterScript struct{ done chan struct{} }

func (h *afterScript) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *afterScript) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if (cmd.Name() == "evalsha" || cmd.Name() == "eval") && err == nil {
			select {
			case h.done <- struct{}{}:
			default:
			}
		}
		return err
	}
}

func (h *afterScript) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
