package throttle

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Fleet is a limiter shared by every worker process: it spaces the
// departures of each key (a phone number) evenly at its rate, fleet-wide,
// by handing out departure slots from Redis. A caller reserves the number's
// next free slot with one Lua call, which computes it on Redis's clock
// (slot = max(now, last + spacing), then last = slot), and sleeps until it;
// nobody polls, so there is one Redis call per send however many callers
// wait. Slots are (1 s + Jitter)/rate apart, so the departures in any window
// of 1 s + Jitter never exceed the rate, and a request that reaches the
// provider up to Jitter later than another's still keeps every second there
// within it.
//
// A slot is a promise: a slot farther away than the caller may wait (its
// context's deadline) is not taken at all, and a caller whose context ends
// before its slot hands the slot back, so that the next caller to reserve
// takes it instead of a later one and the number keeps its pace.
//
// Waiting is not failing: Wait blocks until the slot comes, and only
// returns an error when ctx ends (or its deadline comes before the slot) or
// Redis cannot be reached.
type Fleet struct {
	rdb redis.Cmdable

	// Policy is how Penalize lowers a key's rate and how it recovers.
	// Set it before the first call.
	Policy PenaltyPolicy
	// Now is the clock of penalties (their halving and recovery); nil
	// means time.Now. The fleet's clocks should agree to well within
	// Policy.RecoverEvery. Slots are on Redis's clock, never this one.
	Now func() time.Time

	mu       sync.Mutex
	factors  map[string]cachedFactor // penalty factors, cached briefly per key
	cacheFor time.Duration
	offset   offset                                       // this process's clock less Redis's
	work     work                                         // how long WaitAhead's callers take to Depart
	sleep    func(ctx context.Context, t time.Time) error // nil: SleepUntil; tests make it oversleep
}

// PenaltyPolicy is WHATSAPP.md §8's answer to 130429 (a number over its
// throughput): halve the rate, then recover it gradually. The zero value of
// a field means its default.
type PenaltyPolicy struct {
	// Floor is the lowest share of the nominal rate a key is lowered to.
	// Default 0.1.
	Floor float64
	// Hold is how long after a halving further penalties do not halve
	// again: the 130429s that arrive meanwhile answer requests made before
	// the lower rate took effect (every process reads the factor at most
	// once per second, and the answers were in flight). Default 2 s.
	Hold time.Duration
	// RecoverEvery and RecoverStep: after a halving, the factor rises by
	// RecoverStep every RecoverEvery until the full rate is back (additive
	// increase: from a half to the full rate in 15 s by default). Defaults
	// 3 s and 0.1.
	RecoverEvery time.Duration
	RecoverStep  float64
}

func (p PenaltyPolicy) withDefaults() PenaltyPolicy {
	if p.Floor <= 0 || p.Floor > 1 {
		p.Floor = 0.1
	}
	if p.Hold <= 0 {
		p.Hold = 2 * time.Second
	}
	if p.RecoverEvery <= 0 {
		p.RecoverEvery = 3 * time.Second
	}
	if p.RecoverStep <= 0 {
		p.RecoverStep = 0.1
	}
	return p
}

type cachedFactor struct {
	f  float64
	at time.Time
}

// NewFleet returns a fleet-wide limiter on rdb (one server or a Redis
// Cluster) with the default PenaltyPolicy.
func NewFleet(rdb redis.UniversalClient) *Fleet {
	return &Fleet{rdb: rdb, factors: map[string]cachedFactor{}, cacheFor: time.Second}
}

// sleepUntil is SleepUntil, or what a test put in its place.
func (f *Fleet) sleepUntil(ctx context.Context, t time.Time) error {
	if f.sleep != nil {
		return f.sleep(ctx, t)
	}
	return SleepUntil(ctx, t)
}

func (f *Fleet) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// penaltyKey holds a key's penalty while it lasts: a hash of the factor f
// (0 < f < 1) set at t and the time h of the last halving (Unix ms).
func penaltyKey(key string) string { return "wacamp:penalty:{" + key + "}" }

// KEYS[1] -> wacamp:penalty:{<key>}
// KEYS[2] -> wacamp:throttle:freed:{<key>}
// ARGV[1] -> now (Unix ms)
// ARGV[2] -> floor
// ARGV[3] -> hold (ms)
// ARGV[4] -> recover every (ms)
// ARGV[5] -> recover step
// Output: {the factor now, 1 if this call halved it}
var penalize = redis.NewScript(`
local now, floor, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local every, step = tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call("HMGET", KEYS[1], "f", "t", "h")
local f = 1
if v[1] and v[2] then
  f = tonumber(v[1]) + math.floor(math.max(now - tonumber(v[2]), 0) / every) * step
  if f > 1 - 1e-9 then f = 1 end
end
if v[3] and now - tonumber(v[3]) < hold then
  return {tostring(f), 0}
end
f = f * 0.5
if f < floor then f = floor end
redis.call("DEL", KEYS[2])
redis.call("HSET", KEYS[1], "f", tostring(f), "t", ARGV[1], "h", ARGV[1])
redis.call("PEXPIRE", KEYS[1], math.ceil((1 - f) / step - 1e-9) * every + hold)
return {tostring(f), 1}`)

// Penalty is what a Penalize did.
type Penalty struct {
	// Factor is the share of its nominal rate the key may use now.
	Factor float64
	// Halved is false when the call fell within Policy.Hold of the last
	// halving and changed nothing.
	Halved bool
}

// Penalize answers a 130429 for key, fleet-wide: it halves the key's
// current factor (never below Policy.Floor), unless it was halved less than
// Policy.Hold ago, and the factor then recovers by Policy.RecoverStep every
// Policy.RecoverEvery up to the full rate. Slots reserved from then on are
// spaced for the lowered rate; slots already reserved keep their times
// (they are promised to callers already waiting), except those handed back
// and not yet taken again, which a halving drops.
func (f *Fleet) Penalize(ctx context.Context, key string) (Penalty, error) {
	p, now := f.Policy.withDefaults(), f.now()
	vals, err := penalize.Run(ctx, f.rdb, []string{penaltyKey(key), freedKey(key)}, now.UnixMilli(), p.Floor,
		p.Hold.Milliseconds(), p.RecoverEvery.Milliseconds(), p.RecoverStep).Slice()
	if err != nil {
		return Penalty{Factor: 1}, fmt.Errorf("throttle %s: penalize: %w", key, err)
	}
	s, _ := vals[0].(string)
	nf, err := strconv.ParseFloat(s, 64)
	if err != nil || len(vals) != 2 {
		return Penalty{Factor: 1}, fmt.Errorf("throttle %s: penalize: unexpected answer %v", key, vals)
	}
	halved, _ := vals[1].(int64)
	f.mu.Lock()
	f.factors[key] = cachedFactor{f: nf, at: now}
	f.mu.Unlock()
	return Penalty{Factor: nf, Halved: halved == 1}, nil
}

// Factor is the share of its nominal rate key may use now (1 = no penalty).
// The penalty is read from Redis at most once a second per key and process.
func (f *Fleet) Factor(ctx context.Context, key string) (float64, error) {
	now := f.now()
	f.mu.Lock()
	c, ok := f.factors[key]
	f.mu.Unlock()
	if ok && now.Sub(c.at) < f.cacheFor {
		return c.f, nil
	}
	vals, err := f.rdb.HMGet(ctx, penaltyKey(key), "f", "t").Result()
	if err != nil {
		return 1, fmt.Errorf("throttle %s: read penalty: %w", key, err)
	}
	v := f.Policy.withDefaults().factorAt(vals, now)
	f.mu.Lock()
	f.factors[key] = cachedFactor{f: v, at: now}
	f.mu.Unlock()
	return v, nil
}

// factorAt is the factor at now of a penalty hash's f and t fields (1 when
// there is none or it cannot be read), as the penalize script computes it.
func (p PenaltyPolicy) factorAt(vals []any, now time.Time) float64 {
	if len(vals) != 2 {
		return 1
	}
	fs, _ := vals[0].(string)
	ts, _ := vals[1].(string)
	f0, err1 := strconv.ParseFloat(fs, 64)
	t0, err2 := strconv.ParseInt(ts, 10, 64)
	if err1 != nil || err2 != nil {
		return 1
	}
	steps := max(now.UnixMilli()-t0, 0) / p.RecoverEvery.Milliseconds()
	f := f0 + float64(steps)*p.RecoverStep
	if f > 1-1e-9 {
		return 1
	}
	return f
}
