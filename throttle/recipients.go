package throttle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Recipients enforces the two per-recipient limits of WhatsApp
// (WHATSAPP.md §2–3), fleet-wide, in Redis:
//
//   - the pair interval: at most one message per interval to the same
//     recipient from the same number, whatever campaign or sequence sends it.
//     One key per (number, recipient) that expires with the interval, so
//     nothing grows with the audience;
//   - the rolling 24 h unique-recipient budget: at most Limit distinct
//     recipients in any moving window. A sorted set per ledger (a number, or
//     a portfolio of numbers) holds each recipient with the time of the
//     latest message; recipients already in it pass freely.
//
// Both are checked and taken in one Lua script, so two workers cannot both
// take the last slot. The pair interval runs on Redis's clock (no worker's
// clock skew can shorten it); the budget on the caller's (the engine's
// clock), so a 24 h window can be tested without waiting a day.
//
// A ledger's pair keys carry the ledger's hash tag, so the script's keys
// share one Redis Cluster slot: a ledger and the pair intervals of its
// numbers live on one node.
type Recipients struct{ rdb redis.UniversalClient }

// NewRecipients returns the per-recipient limits on rdb (one server or a
// Redis Cluster).
func NewRecipients(rdb redis.UniversalClient) *Recipients { return &Recipients{rdb: rdb} }

// Gate describes one intended send for [Recipients.Admit].
type Gate struct {
	// Number is the sending phone number's key (e.g. "phone:1234").
	Number string
	// Recipient is the recipient's phone number.
	Recipient string
	// PairInterval is the least time between two messages to Recipient from
	// Number; 0 turns the check off.
	PairInterval time.Duration
	// Ledger names the unique-recipient budget (an account or portfolio;
	// "" = Number's own); Limit is its size, 0 = unlimited; Window its span
	// (24 h). The pair interval's keys are kept under it too.
	Ledger string
	Limit  int
	Window time.Duration
}

// Hold says why a send must wait.
type Hold int

// The reasons a send is held back.
const (
	HoldNone   Hold = iota
	HoldPair        // the pair interval to this recipient has not passed
	HoldBudget      // the unique-recipient budget is used up
)

func (h Hold) String() string {
	switch h {
	case HoldPair:
		return "pair interval"
	case HoldBudget:
		return "daily unique-recipient budget"
	}
	return "none"
}

// Verdict is the answer of [Recipients.Admit]: Hold is HoldNone when the
// send may go, else the send must wait at least Wait.
type Verdict struct {
	Hold Hold
	Wait time.Duration
}

// ledger is the budget g's keys are kept under.
func (g Gate) ledger() string {
	if g.Ledger == "" {
		return g.Number
	}
	return g.Ledger
}

// pairKey holds, in Redis time (ms), the earliest moment the next message
// to the recipient from the number may go ("not before"). It carries the
// ledger's hash tag, so that it shares the ledger key's Redis Cluster slot.
func pairKey(g Gate) string {
	return "wacamp:pair:{" + g.ledger() + "}:" + g.Number + ":" + g.Recipient
}

// ledgerKey is the sorted set of a budget: recipient → time of the latest
// message (ms). Its name must not change: it holds who was messaged in the
// last 24 h, which an upgrade must not forget.
func ledgerKey(ledger string) string { return "wacamp:ledger:{" + ledger + "}" }

// redisNow is Redis's clock in ms, read inside a script. The pair interval
// is kept in Redis time: its keys expire in Redis time, and the workers'
// clocks may disagree by more than the margin.
const redisNow = `
local t = redis.call("TIME")
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS[1] -> wacamp:pair:{<ledger>}:<number>:<recipient>
// KEYS[2] -> wacamp:ledger:{<ledger>}
// ARGV[1] -> now, ms, for the budget (the engine's clock)
// ARGV[2] -> pair span, ms (0 = no interval; a hold after 131056 still counts)
// ARGV[3] -> budget limit (0 = unlimited)
// ARGV[4] -> budget window, ms
// ARGV[5] -> recipient
// ARGV[6] -> "1" to take the place, "0" only to look
// Output: {hold, wait ms}; hold 0 = go, 1 = pair, 2 = budget.
var admit = redis.NewScript(redisNow + `
local now = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local nb = redis.call("GET", KEYS[1])
if nb and tonumber(nb) > rnow then return {1, tonumber(nb) - rnow} end
if limit > 0 then
  redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now - window)
  if not redis.call("ZSCORE", KEYS[2], ARGV[5]) and redis.call("ZCARD", KEYS[2]) >= limit then
    local oldest = redis.call("ZRANGE", KEYS[2], 0, 0, "WITHSCORES")
    return {2, math.max(1, tonumber(oldest[2]) + window - now)}
  end
end
if ARGV[6] ~= "1" then return {0, 0} end
if span > 0 then redis.call("SET", KEYS[1], rnow + span, "PX", span) end
if limit > 0 then
  -- The latest message counts: a recipient leaves the window 24 h after
  -- the last message it got, not the first.
  redis.call("ZADD", KEYS[2], now, ARGV[5])
  redis.call("PEXPIRE", KEYS[2], window)
end
return {0, 0}`)

// Admit checks whether a send to g.Recipient may go now and, when take is
// true and it may, takes its place: the pair interval starts and the
// recipient enters (or stays in) the budget with now as its latest message.
// With take false it only looks (and takes nothing), so a caller can find
// out before it waits for a rate token. now is the engine's clock, used for
// the 24 h budget; the pair interval runs on Redis's clock.
func (r *Recipients) Admit(ctx context.Context, g Gate, now time.Time, take bool) (Verdict, error) {
	flag := "0"
	if take {
		flag = "1"
	}
	res, err := admit.Run(ctx, r.rdb, []string{pairKey(g), ledgerKey(g.ledger())},
		now.UnixMilli(), pairSpan(g.PairInterval).Milliseconds(), max(g.Limit, 0), g.Window.Milliseconds(), g.Recipient, flag).Int64Slice()
	if err != nil {
		return Verdict{}, fmt.Errorf("throttle %s: recipient limits: %w", g.Number, err)
	}
	return Verdict{Hold: Hold(res[0]), Wait: time.Duration(res[1]) * time.Millisecond}, nil
}

// pairSpan is the interval actually kept between two sends to a pair: the
// nominal one over Margin, in whole milliseconds (6 s → 6.123 s), so the
// jitter between a grant and the request reaching the provider cannot bring
// two sends closer than the nominal interval.
func pairSpan(interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	ms := math.Ceil(float64(interval) / Margin / float64(time.Millisecond))
	return time.Duration(ms) * time.Millisecond
}

// KEYS[1] -> wacamp:pair:{<ledger>}:<number>:<recipient>
// ARGV[1] -> hold, ms
var holdPair = redis.NewScript(redisNow + `
local until_ = rnow + tonumber(ARGV[1])
local cur = tonumber(redis.call("GET", KEYS[1]) or "0")
if until_ > cur then
  redis.call("SET", KEYS[1], until_, "PX", tonumber(ARGV[1]))
end
return 0`)

// HoldPair keeps every send to g.Recipient from g.Number waiting for at
// least d from now (the provider answered 131056, pair rate hit: WhatsApp
// asks for 4^X s), whatever the account's pair interval. It never shortens
// a longer hold. Of g it reads Number, Recipient and Ledger.
func (r *Recipients) HoldPair(ctx context.Context, g Gate, d time.Duration) error {
	if err := holdPair.Run(ctx, r.rdb, []string{pairKey(g)}, max(d.Milliseconds(), 1)).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("throttle %s: hold pair: %w", g.Number, err)
	}
	return nil
}

// Usage is the state of a unique-recipient budget.
type Usage struct {
	Used int // distinct recipients in the window
	// NextRoom is when the oldest of them leaves the window (zero when the
	// ledger is empty).
	NextRoom time.Time
}

// Usage reports how much of ledger's budget the window holds at now.
func (r *Recipients) Usage(ctx context.Context, ledger string, window time.Duration, now time.Time) (Usage, error) {
	key := ledgerKey(ledger)
	min := "(" + strconv.FormatInt(now.Add(-window).UnixMilli(), 10)
	n, err := r.rdb.ZCount(ctx, key, min, "+inf").Result()
	if err != nil {
		return Usage{}, fmt.Errorf("throttle: budget %s: %w", ledger, err)
	}
	u := Usage{Used: int(n)}
	if n > 0 {
		first, err := r.rdb.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{Min: min, Max: "+inf", Count: 1}).Result()
		if err != nil {
			return Usage{}, fmt.Errorf("throttle: budget %s: %w", ledger, err)
		}
		if len(first) == 1 {
			u.NextRoom = time.UnixMilli(int64(first[0].Score)).Add(window)
		}
	}
	return u, nil
}
