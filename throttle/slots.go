package throttle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrPastDeadline is returned (wrapped) when the next free slot would come
// after the context's deadline. No slot was taken.
var ErrPastDeadline = errors.New("the next slot comes after the deadline")

// Jitter is the delay between a slot and its request reaching the provider
// (waking up late, the request's way there) that may vary from one send to
// the next: slots are spaced so that any window of 1 s + Jitter holds at
// most the rate, so requests delayed by anything from d to d + Jitter after
// their slots still never put more than the rate into one second at the
// provider. It costs Jitter's share of the rate: 98% with 20 ms.
const Jitter = 20 * time.Millisecond

// MaxReserve is the most slots one Reserve call may ask for.
const MaxReserve = 10_000

// The keys of a throttle key, all in one Redis Cluster slot (the braces):
// its last reserved slot, and the slots handed back and not yet taken again.
func slotKey(key string) string  { return "wacamp:throttle:{" + key + "}" }
func freedKey(key string) string { return "wacamp:throttle:freed:{" + key + "}" }

// Spacing is the time between two departures of a key at perSecond:
// (1 s + Jitter) / perSecond, rounded up to the microsecond. Any window of
// 1 s + Jitter then holds at most perSecond departures (for whole rates; a
// fractional rate is rounded up).
func Spacing(perSecond float64) time.Duration {
	return time.Duration(spacingMicros(perSecond)) * time.Microsecond
}

func spacingMicros(perSecond float64) int64 {
	us := math.Ceil(float64((time.Second+Jitter)/time.Microsecond) / perSecond)
	return max(1, int64(min(us, math.MaxInt32)))
}

// KEYS[1] -> wacamp:throttle:{<key>}: the last slot reserved (µs on Redis's clock)
// KEYS[2] -> wacamp:throttle:freed:{<key>}: slots handed back (scored by their µs)
// ARGV[1] -> spacing (µs)
// ARGV[2] -> how many slots (n ≥ 1)
// ARGV[3] -> the earliest a slot may be from now (µs, ≥ 0)
// ARGV[4] -> the farthest a slot may be from now (µs), -1 for no bound
// Output: {now, the first free slot after those reserved, slot...}, in µs
// on Redis's clock. Slots handed back (and not too soon) are taken first,
// then new ones after the last one, each a spacing after the one before:
// at most n, and none beyond the bound.
var reserve = redis.NewScript(`
redis.replicate_commands()
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spacing, n, ahead, bound = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local earliest, horizon = now + ahead, now + bound
if bound < 0 then horizon = math.huge end
local out = {now, 0}
redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", "(" .. string.format("%.0f", now))
local freed = redis.call("ZRANGEBYSCORE", KEYS[2], string.format("%.0f", earliest), "+inf", "LIMIT", 0, n)
local taken
for _, m in ipairs(freed) do
  if tonumber(m) > horizon then break end
  out[#out + 1] = tonumber(m)
  taken = m
end
if taken then redis.call("ZREMRANGEBYSCORE", KEYS[2], string.format("%.0f", earliest), taken) end
local last = tonumber(redis.call("GET", KEYS[1]) or "0")
local nxt = math.max(earliest, last + spacing)
local added = false
while #out - 2 < n and nxt <= horizon do
  out[#out + 1] = nxt
  last, nxt, added = nxt, nxt + spacing, true
end
if added then
  redis.call("SET", KEYS[1], string.format("%.0f", last), "PX", math.ceil((last - now + spacing) / 1000) + 1000)
end
out[2] = nxt
local rest = redis.call("ZRANGEBYSCORE", KEYS[2], string.format("%.0f", earliest), "+inf", "LIMIT", 0, 1)
if #rest > 0 and tonumber(rest[1]) < nxt then out[2] = tonumber(rest[1]) end
return out`)

// KEYS[1] -> wacamp:throttle:freed:{<key>}
// ARGV    -> the slots handed back (µs on Redis's clock)
// Output: how many were still ahead, and so kept for the next callers.
var release = redis.NewScript(`
redis.replicate_commands()
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local kept = 0
for _, a in ipairs(ARGV) do
  if tonumber(a) > now then
    redis.call("ZADD", KEYS[1], a, a)
    kept = kept + 1
  end
end
if kept > 0 then
  local last = redis.call("ZRANGE", KEYS[1], -1, -1)
  redis.call("PEXPIRE", KEYS[1], math.ceil((tonumber(last[1]) - now) / 1000) + 1000)
end
return kept`)

// Slot is one departure reserved for a key.
type Slot struct {
	// At is when to depart, on this process's clock: the slot's distance
	// from Redis's now when Redis answered, from when the answer came.
	At time.Time
	us int64 // the slot on Redis's clock (µs); 0 when none was needed
}

// Want is what a Reserve call asks for.
type Want struct {
	// N is how many slots, 1 to MaxReserve.
	N int
	// Ahead is the least time from now to the first slot: what the caller
	// needs before it can depart (claiming what it sends). 0 means now.
	Ahead time.Duration
	// Within, when positive, is how far from now the slots may come at
	// most: slots beyond are not taken, so a caller that could not wait for
	// them burns nothing. 0 means no bound.
	Within time.Duration
}

// Reservation is what Reserve reserved for a key.
type Reservation struct {
	// Slots are the departures reserved, in order; fewer than asked for
	// (or none) when the others would come later than Want.Within.
	Slots []Slot
	// Next is when the first free slot after these is, on this process's
	// clock: a caller that got fewer slots than it asked for may ask again
	// once Next is within its wait.
	Next time.Time
}

// Reserve reserves up to want.N departure slots of key at perSecond
// (lowered by a penalty, see Penalize) across the fleet, with one Redis
// call: slots handed back by others first, then the next free ones, each a
// Spacing after the one before; none sooner than want.Ahead nor later than
// want.Within. A perSecond of 0 or less means unlimited: N slots now. The
// caller departs at each Slot's At, and hands back with Release the slots
// it will not use.
func (f *Fleet) Reserve(ctx context.Context, key string, perSecond float64, want Want) (Reservation, error) {
	if want.N < 1 || want.N > MaxReserve {
		return Reservation{}, fmt.Errorf("throttle %s: reserve %d slots: must be 1 to %d", key, want.N, MaxReserve)
	}
	if perSecond <= 0 {
		now := time.Now()
		r := Reservation{Slots: make([]Slot, want.N), Next: now}
		for i := range r.Slots {
			r.Slots[i].At = now
		}
		return r, nil
	}
	factor, err := f.Factor(ctx, key)
	if err != nil {
		return Reservation{}, err
	}
	bound := int64(-1)
	if want.Within > 0 {
		bound = want.Within.Microseconds()
	}
	vals, err := reserve.Run(ctx, f.rdb, []string{slotKey(key), freedKey(key)},
		spacingMicros(perSecond*factor), want.N, max(want.Ahead, 0).Microseconds(), bound).Int64Slice()
	answered := time.Now()
	if err != nil {
		return Reservation{}, fmt.Errorf("throttle %s: reserve: %w", key, err)
	}
	if len(vals) < 2 {
		return Reservation{}, fmt.Errorf("throttle %s: reserve: unexpected answer %v", key, vals)
	}
	// Redis's now is when the answer came, less how much later than the
	// quickest answers lately it came.
	late := f.offset.late(answered.UnixMicro()-vals[0], answered)
	at := func(us int64) time.Time { return answered.Add(time.Duration(us-vals[0]-late) * time.Microsecond) }
	r := Reservation{Next: at(vals[1]), Slots: make([]Slot, 0, len(vals)-2)}
	for _, us := range vals[2:] {
		r.Slots = append(r.Slots, Slot{At: at(us), us: us})
	}
	return r, nil
}

// offset follows this process's clock less Redis's, as seen in answers:
// their arrival (local µs) less the Redis time they carry. That is the
// clocks' offset plus how long the answer took; the least of the last
// offsetWindow or two is taken as the offset plus the quickest answer, so
// that an answer held up on its way (a busy machine) does not put its
// slots late by as much. A sample far above it is taken as the local clock
// stepping forward, and starts over.
type offset struct {
	mu       sync.Mutex
	cur, old int64 // the least in the current and the previous window
	since    time.Time
}

const (
	offsetWindow = 10 * time.Second
	offsetStep   = 100 * time.Millisecond
)

// late notes a sample taken at now and returns how far (µs) it is above
// the least of late.
func (o *offset) late(sample int64, now time.Time) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.since.IsZero() || sample-min(o.cur, o.old) > offsetStep.Microseconds():
		o.cur, o.old, o.since = sample, sample, now
	case now.Sub(o.since) > offsetWindow:
		o.old, o.cur, o.since = o.cur, sample, now
	default:
		o.cur = min(o.cur, sample)
	}
	return sample - min(o.cur, o.old)
}

// Release hands back slots of key that will not be used, so that the next
// callers to reserve take them (in order, before any later slot) and the
// key keeps its pace. Slots already past are gone: handing them back does
// nothing.
func (f *Fleet) Release(ctx context.Context, key string, slots ...Slot) error {
	args := make([]any, 0, len(slots))
	for _, s := range slots {
		if s.us > 0 {
			args = append(args, strconv.FormatInt(s.us, 10))
		}
	}
	if len(args) == 0 {
		return nil
	}
	if err := release.Run(ctx, f.rdb, []string{freedKey(key)}, args...).Err(); err != nil {
		return fmt.Errorf("throttle %s: hand back %d slots: %w", key, len(args), err)
	}
	return nil
}

// releaseTimeout bounds handing back the slot of a wait whose context
// ended.
const releaseTimeout = 5 * time.Second

// Late is how long after its slot a caller may still go. A waiter that
// wakes later than that (its process stalled, or the machine is
// overloaded), or comes to Depart later than that (its work before the
// request overran), does not go (unless it tried enough): departures that
// pile up behind a delay would leave together and put more than the rate
// into the next second.
// The rest of Jitter is left for the request's own delays.
const Late = Jitter / 2

// lateTries is how many slots Wait, and Depart, try before they go late
// anyway.
const lateTries = 3

// ErrLate is returned (wrapped, in a *LateError) by Depart when the caller
// came, or woke, more than Late after its slot and no later slot came soon
// enough. Its slot is lost.
var ErrLate = errors.New("more than throttle.Late after its slot")

// LateError is Depart's error wrapping ErrLate: Next is when the key's next
// free slot came as Depart gave up (zero when it did not look), so that the
// caller can come back for a slot about then.
type LateError struct {
	Next time.Time
	msg  string
}

func (e *LateError) Error() string { return cmp.Or(e.msg, ErrLate.Error()) }

// Unwrap returns ErrLate.
func (e *LateError) Unwrap() error { return ErrLate }

// Wait blocks until key may do one more thing at perSecond across the
// fleet, or ctx ends: it reserves the key's next slot and sleeps until it
// (and reserves again when it woke more than Late after it). When the slot
// would come after ctx's deadline it takes none and returns at once an
// error wrapping ErrPastDeadline, so the caller can come back later; when
// ctx ends before the slot, it hands the slot back. A perSecond of 0 or
// less means unlimited.
func (f *Fleet) Wait(ctx context.Context, key string, perSecond float64) error {
	_, err := f.wait(ctx, key, perSecond, 0)
	return err
}

// WaitAhead is Wait for a caller that has work to do before its request
// (claiming what it sends): it reserves a slot and returns before it, and
// the caller departs at the slot it returns through Depart, so the varying
// time that work takes does not bunch requests at the provider. It returns
// ahead before the slot, or earlier (up to maxLead) when the callers' work
// has lately taken longer than two thirds of that (see Depart). The slot
// must come before ctx's deadline.
func (f *Fleet) WaitAhead(ctx context.Context, key string, perSecond float64, ahead time.Duration) (time.Time, error) {
	return f.wait(ctx, key, perSecond, f.work.lead(ahead))
}

func (f *Fleet) wait(ctx context.Context, key string, perSecond float64, ahead time.Duration) (time.Time, error) {
	if perSecond <= 0 {
		return time.Now(), nil
	}
	for try := 1; ; try++ {
		if err := ctx.Err(); err != nil {
			return time.Time{}, fmt.Errorf("throttle %s: %w", key, err)
		}
		want := Want{N: 1, Ahead: ahead}
		if dl, ok := ctx.Deadline(); ok {
			if want.Within = time.Until(dl); want.Within <= 0 {
				return time.Time{}, fmt.Errorf("throttle %s: %w", key, context.DeadlineExceeded)
			}
		}
		r, err := f.Reserve(ctx, key, perSecond, want)
		if err != nil {
			return time.Time{}, err
		}
		if len(r.Slots) == 0 {
			return time.Time{}, fmt.Errorf("throttle %s: the next slot comes in %s: %w", key,
				time.Until(r.Next).Round(time.Millisecond), ErrPastDeadline)
		}
		s := r.Slots[0]
		if err := f.sleepUntil(ctx, s.At.Add(-ahead)); err != nil {
			return time.Time{}, f.handBack(ctx, key, &s, err)
		}
		if time.Since(s.At) <= Late || try == lateTries {
			return s.At, nil
		}
	}
}

// Depart sleeps until at, a slot WaitAhead returned, so that the caller's
// request leaves at its slot. A caller that comes more than Late after
// its slot, or wakes from its sleep more than Late after it (its process
// stalled), does not go then (it would leave in a bunch with the
// departures after it): it takes the next free slot if that comes within
// lateWait of when it first sought one (so a caller holding a claim holds
// it that much longer at most), and otherwise gets an error wrapping
// ErrLate (a *LateError, which says when the next free slot came), and
// should give up what it holds and come back for a new slot.
// How early callers come tells WaitAhead how long their work takes; once
// its lead is at maxLead and callers still come late, they go late rather
// than never, as they do after lateTries slots.
func (f *Fleet) Depart(ctx context.Context, key string, perSecond float64, at time.Time) error {
	if perSecond <= 0 {
		return nil
	}
	left := time.Until(at)
	late := !f.work.note(left) && -left > Late
	var until time.Time // the latest a later slot may be: lateWait after the first was sought
	for try := 1; ; try++ {
		var taken *Slot // a slot reserved here, handed back if ctx ends before it
		if late {
			if until.IsZero() {
				until = time.Now().Add(lateWait)
			}
			within := time.Until(until)
			if dl, ok := ctx.Deadline(); ok {
				within = min(within, time.Until(dl))
			}
			if within <= 0 {
				return &LateError{msg: fmt.Sprintf("throttle %s: %s after its slot, with no time left for another: %s", key,
					time.Since(at).Round(time.Millisecond), ErrLate)}
			}
			r, err := f.Reserve(ctx, key, perSecond, Want{N: 1, Within: within})
			if err != nil {
				return err
			}
			if len(r.Slots) == 0 {
				return &LateError{Next: r.Next, msg: fmt.Sprintf("throttle %s: %s after its slot, and the next is in %s: %s", key,
					time.Since(at).Round(time.Millisecond), time.Until(r.Next).Round(time.Millisecond), ErrLate)}
			}
			taken, at = &r.Slots[0], r.Slots[0].At
		}
		// Only a sleep can end late: a caller that came late and may go
		// late (its lead is at maxLead) goes now.
		sleeps := time.Until(at) > 0
		if err := f.sleepUntil(ctx, at); err != nil {
			return f.handBack(ctx, key, taken, err)
		}
		if late = sleeps && time.Since(at) > Late; !late || try == lateTries {
			return nil
		}
	}
}

// handBack wraps err, which ended a sleep until slot s of key (ctx ended),
// and hands s back for the next callers, if there is one: the release
// gets its own releaseTimeout, as ctx is over.
func (f *Fleet) handBack(ctx context.Context, key string, s *Slot, err error) error {
	err = fmt.Errorf("throttle %s: %w", key, err)
	if s == nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	return errors.Join(err, f.Release(rctx, key, *s))
}

// lateWait is how long a caller that came late to its slot may wait for
// another while it holds what it claimed: short, so that a pause that
// came after its claim still stops everything within about a second.
const lateWait = 500 * time.Millisecond

// work follows how long WaitAhead's callers take from its return to
// Depart (claiming what they send), to wake them early enough: lead is
// the ahead they ask for, or one and a half times a high estimate of that
// time (it rises fast and falls slowly), whichever is longer, at most
// maxLead.
type work struct {
	mu    sync.Mutex
	ahead time.Duration // the last lead WaitAhead used
	est   time.Duration
}

// maxLead bounds the lead: a send holds its claim that long before its
// request, which must stay well inside the claim's lease.
const maxLead = 500 * time.Millisecond

func (w *work) lead(floor time.Duration) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ahead = min(max(floor, w.est*3/2), maxLead)
	return w.ahead
}

// note takes the time left before the slot when a caller came to Depart
// (its work took the lead less that), and reports whether the lead is
// already at its bound.
func (w *work) note(left time.Duration) (atMax bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	took := max(w.ahead-left, 0)
	if took > w.est {
		w.est += (took - w.est) / 4
	} else {
		w.est -= (w.est - took) / 64
	}
	return w.ahead >= maxLead
}

// SleepUntil returns at t (at once if t has passed), or with ctx's error
// if ctx ends first.
func SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
