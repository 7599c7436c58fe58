package throttle

import (
	"context"
	"errors"
	"fmt"
	"math"
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
	lim   *redis_rate.Limiter
	local *Local
}

// NewFleet returns a fleet-wide limiter on rdb.
func NewFleet(rdb *redis.Client) *Fleet {
	return &Fleet{lim: redis_rate.NewLimiter(rdb), local: NewLocal()}
}

// ErrPastDeadline is returned (wrapped) when the next token would come after
// the context's deadline.
var ErrPastDeadline = errors.New("token would come after the deadline")

// fleetKey is the Redis key of a throttle key (redis_rate prefixes it with
// "rate:"); the braces keep one key in one Redis Cluster slot.
func fleetKey(key string) string { return "wacamp:throttle:{" + key + "}" }

// limitFor expresses perSecond as a redis_rate limit. A GCRA bucket with
// burst b grants at most rate×T + (b−1) in any window T, so with burst 2 the
// rate is lowered to min(perSecond×Margin, perSecond−1): every one-second
// window stays within perSecond, and the spare token absorbs the round trip
// and timer slop that would otherwise waste emission slots (burst 1 used
// only ~90% of the rate in tests). Rates below 2/s keep burst 1. Fractional
// rates are kept by counting per 100 s.
func limitFor(perSecond float64) redis_rate.Limit {
	burst, r := 1, perSecond*Margin
	if perSecond >= 2 {
		burst, r = 2, min(r, perSecond-1)
	}
	return redis_rate.Limit{Rate: max(1, int(math.Floor(r*100))), Burst: burst, Period: 100 * time.Second}
}

// Wait blocks until key may do one more thing at perSecond across the
// fleet, or ctx ends. A perSecond of 0 or less means unlimited.
func (f *Fleet) Wait(ctx context.Context, key string, perSecond float64) error {
	if perSecond <= 0 {
		return nil
	}
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
