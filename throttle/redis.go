package throttle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Fleet is a limiter shared by every worker process: a GCRA bucket per key
// in Redis (github.com/go-redis/redis_rate), burst one, so that the sends of
// all processes together never exceed perSecond in any one-second window. In
// front of it each process smooths its own callers with an in-process bucket
// at the same rate, so a process asks Redis about once per send rather than
// once per waiting goroutine.
//
// Waiting is not failing: Wait blocks until a token is granted, and only
// returns an error when ctx ends or Redis cannot be reached.
type Fleet struct {
	rdb   *redis.Client
	lim   *redis_rate.Limiter
	local *Local

	mu       sync.Mutex
	factors  map[string]cachedFactor // penalty factors, cached briefly per key
	cacheFor time.Duration
}

type cachedFactor struct {
	f  float64
	at time.Time
}

// NewFleet returns a fleet-wide limiter on rdb.
func NewFleet(rdb *redis.Client) *Fleet {
	return &Fleet{rdb: rdb, lim: redis_rate.NewLimiter(rdb), local: NewLocal(),
		factors: map[string]cachedFactor{}, cacheFor: time.Second}
}

// penaltyKey holds a key's rate factor (0 < f < 1) while a penalty lasts.
func penaltyKey(key string) string { return "wacamp:penalty:{" + key + "}" }

// KEYS[1] -> wacamp:penalty:{<key>}
// ARGV[1] -> factor to apply (e.g. 0.5)
// ARGV[2] -> floor (e.g. 0.1)
// ARGV[3] -> duration in ms
// Output: the new factor
var penalize = redis.NewScript(`
local f = tonumber(redis.call("GET", KEYS[1]) or "1") * tonumber(ARGV[1])
if f < tonumber(ARGV[2]) then f = tonumber(ARGV[2]) end
redis.call("SET", KEYS[1], tostring(f), "PX", tonumber(ARGV[3]))
return tostring(f)`)

// Penalize lowers key's rate for the whole fleet: the current factor is
// halved (never below a tenth) and holds for d, after which the full rate
// returns. WhatsApp's answer to a number over its throughput (130429) asks
// for exactly this. It returns the new factor.
func (f *Fleet) Penalize(ctx context.Context, key string, d time.Duration) (float64, error) {
	v, err := penalize.Run(ctx, f.rdb, []string{penaltyKey(key)}, 0.5, 0.1, d.Milliseconds()).Text()
	if err != nil {
		return 1, fmt.Errorf("throttle %s: penalize: %w", key, err)
	}
	nf, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 1, fmt.Errorf("throttle %s: penalize: %w", key, err)
	}
	f.mu.Lock()
	f.factors[key] = cachedFactor{f: nf, at: time.Now()}
	f.mu.Unlock()
	return nf, nil
}

// Factor is the share of its nominal rate key may use now (1 = no penalty).
// It is read from Redis at most once a second per key and process.
func (f *Fleet) Factor(ctx context.Context, key string) (float64, error) {
	f.mu.Lock()
	c, ok := f.factors[key]
	f.mu.Unlock()
	if ok && time.Since(c.at) < f.cacheFor {
		return c.f, nil
	}
	v, err := f.rdb.Get(ctx, penaltyKey(key)).Float64()
	switch {
	case errors.Is(err, redis.Nil):
		v = 1
	case err != nil:
		return 1, fmt.Errorf("throttle %s: read penalty: %w", key, err)
	}
	f.mu.Lock()
	f.factors[key] = cachedFactor{f: v, at: time.Now()}
	f.mu.Unlock()
	return v, nil
}

// ErrPastDeadline is returned (wrapped) when the next token would come after
// the context's deadline.
var ErrPastDeadline = errors.New("token would come after the deadline")

// fleetKey is the Redis key of a throttle key (redis_rate prefixes it with
// "rate:"); the braces keep one key in one Redis Cluster slot.
func fleetKey(key string) string { return "wacamp:throttle:{" + key + "}" }

// Jitter is the delay between a rate token's grant and the request
// reaching the provider (a claim, an HTTP round trip) that the limits leave
// room for: grants in any window of 1 s + Jitter stay within the rate, so
// requests delayed by up to Jitter still never put more than the rate in
// one second at the provider.
const Jitter = 20 * time.Millisecond

// limitFor expresses perSecond as a redis_rate limit. A GCRA bucket with
// burst b at rate R grants fewer than b + R·T in any window T; with
// T = 1 s + Jitter that must stay within perSecond + 1:
//
//   - from 33/s, burst 2 at min(perSecond×Margin, (perSecond−1)/(1+Jitter)):
//     the spare token absorbs the round trip and timer slop that would
//     otherwise waste emission slots (burst 1 used only 82–89% at 80–250/s
//     in simulated time); 96% of 50/s, 97% of 80/s;
//   - below 33/s, where that would give up more than 5% of the rate, burst
//     1 at perSecond×Margin: the slots are 30 ms or more apart, so a few
//     milliseconds of slop waste little (98% at 5/s, 96.5% at 20/s).
//
// Fractional rates are kept by counting per 100 s.
func limitFor(perSecond float64) redis_rate.Limit {
	burst, r := 1, perSecond*Margin
	if perSecond >= 33 {
		burst, r = 2, min(r, (perSecond-1)/(1+Jitter.Seconds()))
	}
	return redis_rate.Limit{Rate: max(1, int(math.Floor(r*100))), Burst: burst, Period: 100 * time.Second}
}

// Wait blocks until key may do one more thing at perSecond across the
// fleet, or ctx ends. A perSecond of 0 or less means unlimited.
func (f *Fleet) Wait(ctx context.Context, key string, perSecond float64) error {
	if perSecond <= 0 {
		return nil
	}
	factor, err := f.Factor(ctx, key)
	if err != nil {
		return err
	}
	perSecond *= factor
	if err := f.local.Wait(ctx, key, perSecond); err != nil {
		return err
	}
	limit := limitFor(perSecond)
	for {
		res, err := f.lim.Allow(ctx, fleetKey(key), limit)
		if err != nil {
			return fmt.Errorf("throttle %s: redis: %w", key, err)
		}
		if res.Allowed > 0 {
			return nil
		}
		// The limiter says exactly when the next token is due. Like
		// rate.Limiter, give up at once if that is past ctx's deadline, so
		// the caller can reschedule before its task times out.
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(res.RetryAfter).After(dl) {
			return fmt.Errorf("throttle %s: next token in %s is past the deadline: %w", key, res.RetryAfter, ErrPastDeadline)
		}
		t := time.NewTimer(res.RetryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("throttle %s: %w", key, ctx.Err())
		case <-t.C:
		}
	}
}
