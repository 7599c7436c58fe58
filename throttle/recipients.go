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

// Recipients enforces the per-recipient limits, fleet-wide, in Redis: the
// two of WhatsApp (WHATSAPP.md §2–3) and the account's frequency cap:
//
//   - the pair interval: at most one message per interval to the same
//     recipient from the same number, whatever campaign or sequence sends it.
//     One key per (number, recipient) that expires with the interval, so
//     nothing grows with the audience;
//   - the rolling 24 h unique-recipient budget: at most Limit distinct
//     recipients in any moving window. A sorted set per ledger (a number, or
//     a portfolio of numbers) holds each recipient with the time of the
//     latest message; recipients already in it pass freely;
//   - the frequency cap: at most Cap.Messages messages to one recipient in
//     any moving Cap.Per, from every number of the ledger. A sorted set per
//     (ledger, recipient) holds each counted send (its id) with the time
//     its place was taken; it expires Cap.Per after the latest, so only
//     recipients messaged within Cap.Per take memory (about 150 bytes
//     each). A send counted once is counted once however often its place
//     is taken again, and a send that was surely not made is handed back
//     with [Recipients.Refund].
//
// All three are checked and taken in one Lua script, so two workers cannot
// both take the last place. The pair interval runs on Redis's clock (no
// worker's clock skew can shorten it); the budget and the cap on the
// caller's (the engine's clock), so a 24 h window can be tested without
// waiting a day.
//
// A ledger's pair and cap keys carry the ledger's hash tag, so the
// script's keys share one Redis Cluster slot: a ledger and the pair
// intervals and caps of its numbers live on one node.
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
	// Cap is the ledger's frequency cap (zero: none). Send names this send
	// (its delivery) in the cap, and must be set with a cap: taking the
	// place of a send already counted (a send whose outcome was unknown,
	// sent again) does not count it twice.
	Cap  Cap
	Send string
}

// Cap is a frequency cap: at most Messages messages to one recipient in
// any moving Per. A zero Messages or Per is no cap.
type Cap struct {
	Messages int
	Per      time.Duration
}

// on reports whether c caps anything.
func (c Cap) on() bool { return c.Messages > 0 && c.Per > 0 }

// Hold says why a send must wait.
type Hold int

// The reasons a send is held back.
const (
	HoldNone   Hold = iota
	HoldPair        // the pair interval to this recipient has not passed
	HoldBudget      // the unique-recipient budget is used up
	HoldCap         // the recipient has had the frequency cap's messages
)

func (h Hold) String() string {
	switch h {
	case HoldPair:
		return "pair interval"
	case HoldBudget:
		return "daily unique-recipient budget"
	case HoldCap:
		return "frequency cap"
	}
	return "none"
}

// Verdict is the answer of [Recipients.Admit]: Hold is HoldNone when the
// send may go, else the send must wait at least Wait (for HoldCap: until
// enough of the recipient's counted messages leave the cap's window).
type Verdict struct {
	Hold Hold
	Wait time.Duration
	// Counted is true when this call (a take, under a cap) counted the send
	// in the cap for the first time: if the send is then surely not made,
	// the caller hands it back with [Recipients.Refund]. A send counted by
	// an earlier attempt (whose outcome may be unknown) is not counted
	// again, and must not be handed back by a later attempt.
	Counted bool
	// pair is when the pair interval this call started ends (Redis ms;
	// 0 = none), so that Refund hands back that interval only.
	pair int64
}

// WithoutPair is v for a Refund once the send's request was made (and
// refused): its place in the cap is handed back, its pair interval is
// not — the request reached the provider, and the next message to the
// recipient waits an interval after it.
func (v Verdict) WithoutPair() Verdict {
	v.pair = 0
	return v
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

// capKey is the sorted set of a recipient's counted sends under a
// ledger's frequency cap: send id → when its place was taken (ms, the
// engine's clock). It carries the ledger's hash tag.
func capKey(g Gate) string {
	return "wacamp:cap:{" + g.ledger() + "}:" + g.Recipient
}

// redisNow is Redis's clock in ms, read inside a script. The pair interval
// is kept in Redis time: its keys expire in Redis time, and the workers'
// clocks may disagree by more than the margin.
const redisNow = `
local t = redis.call("TIME")
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS[1] -> wacamp:pair:{<ledger>}:<number>:<recipient>
// KEYS[2] -> wacamp:ledger:{<ledger>}
// KEYS[3] -> wacamp:cap:{<ledger>}:<recipient>
// ARGV[1] -> now, ms, for the budget and the cap (the engine's clock)
// ARGV[2] -> pair span, ms (0 = no interval; a hold after 131056 still counts)
// ARGV[3] -> budget limit (0 = unlimited)
// ARGV[4] -> budget window, ms
// ARGV[5] -> recipient
// ARGV[6] -> "1" to take the place, "0" only to look
// ARGV[7] -> cap: messages (0 = no cap)
// ARGV[8] -> cap: window, ms
// ARGV[9] -> the send's id in the cap
// Output: {hold, wait ms, counted, pair}; hold 0 = go, 1 = pair, 2 = budget,
// 3 = cap; counted 1 when this call counted the send in the cap; pair the
// end of the pair interval this call started (Redis ms), else 0.
var admit = redis.NewScript(redisNow + `
local now = tonumber(ARGV[1])
local span = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local capn = tonumber(ARGV[7])
local per = tonumber(ARGV[8])
-- The cap first: for a broadcast it is final (the delivery is skipped),
-- whatever the pair interval or the budget would say.
local prior = false
if capn > 0 then
  redis.call("ZREMRANGEBYSCORE", KEYS[3], "-inf", now - per)
  prior = redis.call("ZSCORE", KEYS[3], ARGV[9])
  if not prior then
    local n = redis.call("ZCARD", KEYS[3])
    if n >= capn then
      -- Room comes when the (n - capn + 1)th oldest leaves the window.
      local e = redis.call("ZRANGE", KEYS[3], n - capn, n - capn, "WITHSCORES")
      return {3, math.max(1, tonumber(e[2]) + per - now), 0, 0}
    end
  end
end
local nb = redis.call("GET", KEYS[1])
if nb and tonumber(nb) > rnow then return {1, tonumber(nb) - rnow, 0, 0} end
if limit > 0 then
  redis.call("ZREMRANGEBYSCORE", KEYS[2], "-inf", now - window)
  if not redis.call("ZSCORE", KEYS[2], ARGV[5]) and redis.call("ZCARD", KEYS[2]) >= limit then
    local oldest = redis.call("ZRANGE", KEYS[2], 0, 0, "WITHSCORES")
    return {2, math.max(1, tonumber(oldest[2]) + window - now), 0, 0}
  end
end
if ARGV[6] ~= "1" then return {0, 0, 0, 0} end
local pair = 0
if span > 0 then
  pair = rnow + span
  redis.call("SET", KEYS[1], string.format("%.0f", pair), "PX", span)
end
if limit > 0 then
  -- The latest message counts: a recipient leaves the window 24 h after
  -- the last message it got, not the first.
  redis.call("ZADD", KEYS[2], now, ARGV[5])
  redis.call("PEXPIRE", KEYS[2], window)
end
if capn > 0 then
  -- A send counted before (an attempt of unknown outcome, sent again)
  -- counts from its latest attempt, and once.
  local at = math.max(now, tonumber(prior or now))
  redis.call("ZADD", KEYS[3], at, ARGV[9])
  redis.call("PEXPIRE", KEYS[3], per + at - now)
  if not prior then return {0, 0, 1, pair} end
end
return {0, 0, 0, pair}`)

// Admit checks whether a send to g.Recipient may go now and, when take is
// true and it may, takes its place: the pair interval starts, the
// recipient enters (or stays in) the budget with now as its latest message,
// and the send is counted in the frequency cap. With take false it only
// looks (and takes nothing), so a caller can find out before it waits for
// a rate token. now is the engine's clock, used for the 24 h budget and the
// cap; the pair interval runs on Redis's clock.
func (r *Recipients) Admit(ctx context.Context, g Gate, now time.Time, take bool) (Verdict, error) {
	flag := "0"
	if take {
		flag = "1"
	}
	var capn int
	var per int64
	if g.Cap.on() {
		if g.Send == "" {
			return Verdict{}, fmt.Errorf("throttle %s: a frequency cap needs the send's id", g.Number)
		}
		capn, per = g.Cap.Messages, g.Cap.Per.Milliseconds()
	}
	res, err := admit.Run(ctx, r.rdb, []string{pairKey(g), ledgerKey(g.ledger()), capKey(g)},
		now.UnixMilli(), pairSpan(g.PairInterval).Milliseconds(), max(g.Limit, 0), g.Window.Milliseconds(), g.Recipient, flag,
		capn, per, g.Send).Int64Slice()
	if err != nil {
		return Verdict{}, fmt.Errorf("throttle %s: recipient limits: %w", g.Number, err)
	}
	if len(res) != 4 {
		return Verdict{}, fmt.Errorf("throttle %s: recipient limits: unexpected answer %v", g.Number, res)
	}
	return Verdict{Hold: Hold(res[0]), Wait: time.Duration(res[1]) * time.Millisecond, Counted: res[2] == 1, pair: res[3]}, nil
}

// KEYS[1] -> wacamp:cap:{<ledger>}:<recipient>
// KEYS[2] -> wacamp:pair:{<ledger>}:<number>:<recipient>
// ARGV[1] -> the send's id in the cap, "" to leave the cap alone
// ARGV[2] -> the pair interval's end the send's Admit set (Redis ms), 0 for none
var refund = redis.NewScript(`
if ARGV[1] ~= "" then redis.call("ZREM", KEYS[1], ARGV[1]) end
local pair = tonumber(ARGV[2])
if pair > 0 and tonumber(redis.call("GET", KEYS[2]) or "0") == pair then redis.call("DEL", KEYS[2]) end
return 0`)

// Refund hands back what a send's Admit (v, a take) took, when the send
// was surely not made (its request was never written, or the provider
// refused it): its place in g.Recipient's frequency cap (when
// v.Counted), and the pair interval it started (unless v is WithoutPair,
// for a request that was made and refused), if no later hold (an
// answer's, a 131056's, a later attempt's) replaced it. The recipient's
// next send then need not wait out an interval after a message that never
// went (a send late for its departure slot comes back for another within
// a second). It never hands back a send whose outcome is unknown; the
// caller decides.
// The budget keeps the recipient: it counts unique recipients, and the
// send is usually made soon after. Of g it reads Ledger (or Number),
// Recipient and Send.
func (r *Recipients) Refund(ctx context.Context, g Gate, v Verdict) error {
	send := ""
	if v.Counted {
		send = g.Send
	}
	if send == "" && v.pair == 0 {
		return nil
	}
	if err := refund.Run(ctx, r.rdb, []string{capKey(g), pairKey(g)}, send, v.pair).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("throttle %s: hand back a send's places: %w", g.Number, err)
	}
	return nil
}

// CapCount is how many of g.Recipient's messages g's frequency cap counts
// at now.
func (r *Recipients) CapCount(ctx context.Context, g Gate, now time.Time) (int, error) {
	min := "(" + strconv.FormatInt(now.Add(-g.Cap.Per).UnixMilli(), 10)
	n, err := r.rdb.ZCount(ctx, capKey(g), min, "+inf").Result()
	if err != nil {
		return 0, fmt.Errorf("throttle %s: frequency cap: %w", g.Number, err)
	}
	return int(n), nil
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
