package throttle

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Outcomes keeps, per key, the last N outcomes (failed or not) in a Redis
// list shared by the fleet, and answers how many of them failed. The
// campaign engine uses it to pause a broadcast on an error storm.
type Outcomes struct{ rdb *redis.Client }

// NewOutcomes returns an Outcomes on rdb.
func NewOutcomes(rdb *redis.Client) *Outcomes { return &Outcomes{rdb: rdb} }

// KEYS[1] -> wacamp:outcomes:{<key>}
// ARGV[1] -> 1 if this outcome failed, else 0
// ARGV[2] -> window size N
// ARGV[3] -> TTL in seconds
// Output: {failed among the last N, how many there are (<= N)}
var recordOutcome = redis.NewScript(`
redis.call("LPUSH", KEYS[1], ARGV[1])
redis.call("LTRIM", KEYS[1], 0, tonumber(ARGV[2]) - 1)
redis.call("EXPIRE", KEYS[1], tonumber(ARGV[3]))
local all = redis.call("LRANGE", KEYS[1], 0, -1)
local failed = 0
for _, v in ipairs(all) do
  if v == "1" then failed = failed + 1 end
end
return {failed, #all}`)

// Record adds one outcome for key and returns how many of the last window
// outcomes failed and how many there are.
func (o *Outcomes) Record(ctx context.Context, key string, failed bool, window int) (int, int, error) {
	f := "0"
	if failed {
		f = "1"
	}
	res, err := recordOutcome.Run(ctx, o.rdb, []string{"wacamp:outcomes:{" + key + "}"}, f, window, int((24 * time.Hour).Seconds())).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("record outcome %s: %w", key, err)
	}
	return int(res[0]), int(res[1]), nil
}
