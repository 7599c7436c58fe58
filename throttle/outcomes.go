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
type Outcomes struct{ rdb redis.UniversalClient }

// NewOutcomes returns an Outcomes on rdb (one server or a Redis Cluster:
// a key's list and count share its hash tag).
func NewOutcomes(rdb redis.UniversalClient) *Outcomes { return &Outcomes{rdb: rdb} }

// KEYS[1] -> wacamp:outcomes:{<key>}        list of the last N outcomes
// KEYS[2] -> wacamp:outcomes:{<key>}:failed  how many of them failed
// ARGV[1] -> 1 if this outcome failed, else 0
// ARGV[2] -> window size N
// ARGV[3] -> TTL in seconds
// Output: {failed among the last N, how many there are (<= N)}
// Constant work per call: the count follows what is pushed and what falls
// off the end, so nothing scans the window (it runs once per send).
var recordOutcome = redis.NewScript(`
local failed = tonumber(redis.call("GET", KEYS[2]) or "0")
redis.call("LPUSH", KEYS[1], ARGV[1])
if ARGV[1] == "1" then failed = failed + 1 end
while redis.call("LLEN", KEYS[1]) > tonumber(ARGV[2]) do
  if redis.call("RPOP", KEYS[1]) == "1" then failed = failed - 1 end
end
redis.call("SET", KEYS[2], failed, "EX", tonumber(ARGV[3]))
redis.call("EXPIRE", KEYS[1], tonumber(ARGV[3]))
return {failed, redis.call("LLEN", KEYS[1])}`)

// Record adds one outcome for key and returns how many of the last window
// outcomes failed and how many there are.
func (o *Outcomes) Record(ctx context.Context, key string, failed bool, window int) (int, int, error) {
	f := "0"
	if failed {
		f = "1"
	}
	list := "wacamp:outcomes:{" + key + "}"
	res, err := recordOutcome.Run(ctx, o.rdb, []string{list, list + ":failed"}, f, window, int((24 * time.Hour).Seconds())).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("record outcome %s: %w", key, err)
	}
	return int(res[0]), int(res[1]), nil
}
