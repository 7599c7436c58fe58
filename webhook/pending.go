package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/provider"
)

// PendingStale is how long a webhook taken but not applied is believed to
// be on its way to the database. An apply task that fails is retried by the
// worker 25 times with back-off growing to 5 minutes (delivery.RetryDelay:
// about 1.6 h in all, under 2 h with its jitter) and then archived; a
// webhook still not applied after PendingStale never will be (its task was
// archived, or lost with a crash), so its entry no longer holds back the
// sending again of a message of unknown outcome. A shorter bound would send
// such a message twice when a late retry succeeds.
const PendingStale = 2 * time.Hour

// Pending records in Redis the status webhooks the receiver took and no
// worker has applied yet: per account and recipient phone, a sorted set of
// the webhooks' ids scored by their arrival (Unix milliseconds). The
// receiver records a webhook before it queues it, and the apply handler
// removes it once its events are applied (from the queue or from the
// inbox), so a webhook in between — queued, being retried, or kept in the
// database because Redis failed after recording it — is seen by Since. The
// send engine asks Since before it sends again a message whose outcome is
// unknown: such a webhook may show that the message went out.
//
// Only statuses with a phone are recorded: a status that names no phone
// can only find its message by an id we know, and a send of unknown
// outcome has none, so it can settle no such send. The phone is the one
// the event carries, as the store matches it to a delivery's.
//
// A recording older than PendingStale is stale: Since removes it, logs it,
// and counts it no more. Each set expires 2×PendingStale after its last
// recording, so nothing is left behind. If Redis loses its data, it loses
// the queued apply tasks with the recordings: those webhooks are not
// applied at all unless the provider sends them again.
type Pending struct {
	Redis redis.Cmdable
	// Logger logs stale recordings; nil logs nothing.
	Logger *slog.Logger
}

// pendingKey is the sorted set of an account's webhooks about phone taken
// and not applied.
func pendingKey(accountID int64, phone string) string {
	return "wacamp:webhook:pending:" + strconv.FormatInt(accountID, 10) + ":" + phone
}

// pendingPhones lists, once each, the phones of events's statuses: those a
// recording is made for.
func pendingPhones(events []provider.Event) []string {
	var out []string
	for _, e := range events {
		if !e.Inbound && e.Phone != "" && !slices.Contains(out, e.Phone) {
			out = append(out, e.Phone)
		}
	}
	return out
}

// recordPending adds a webhook to a pending set and renews the set's
// expiry in one step, so no set is left without one.
//
// KEYS[1] -> wacamp:webhook:pending:<account>:<phone>
// ARGV[1] -> arrival (Unix ms)
// ARGV[2] -> webhook id
// ARGV[3] -> expiry (ms)
var recordPending = redis.NewScript(`
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
redis.call("PEXPIRE", KEYS[1], ARGV[3])
return 0`)

// Add records that webhook id, about phones of the account, arrived at at
// and is not applied yet. Each phone's set is written in one step, all in
// one round trip (per node, on a Redis Cluster). The sets of different
// phones may live on different nodes, so they are not one transaction:
// when Add fails, it removes what it may have written, as far as Redis
// lets it (the caller then keeps the webhook without an id, which nothing
// would remove).
func (p *Pending) Add(ctx context.Context, accountID int64, id string, phones []string, at time.Time) error {
	if len(phones) == 0 {
		return nil
	}
	_, err := p.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, ph := range phones {
			// Eval, not EvalSha: in a pipeline a missing script shows only
			// after the round trip. The script is a few dozen bytes.
			recordPending.Eval(ctx, pipe, []string{pendingKey(accountID, ph)}, at.UnixMilli(), id, (2 * PendingStale).Milliseconds())
		}
		return nil
	})
	if err != nil {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), QueueTimeout)
		_ = p.Done(uctx, accountID, id, phones)
		cancel()
		return fmt.Errorf("record pending webhook: %w", err)
	}
	return nil
}

// Done removes the recordings of webhook id: its events are applied.
func (p *Pending) Done(ctx context.Context, accountID int64, id string, phones []string) error {
	if len(phones) == 0 {
		return nil
	}
	_, err := p.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, ph := range phones {
			pipe.ZRem(ctx, pendingKey(accountID, ph), id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget applied webhook: %w", err)
	}
	return nil
}

// Since reports whether a webhook about phone of the account arrived at or
// after since and is not applied yet, as of now. Recordings older than
// PendingStale are removed (and logged) first.
func (p *Pending) Since(ctx context.Context, accountID int64, phone string, since, now time.Time) (bool, error) {
	k := pendingKey(accountID, phone)
	var stale *redis.IntCmd
	var n *redis.IntCmd
	_, err := p.Redis.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		stale = tx.ZRemRangeByScore(ctx, k, "-inf", "("+strconv.FormatInt(now.Add(-PendingStale).UnixMilli(), 10))
		n = tx.ZCount(ctx, k, strconv.FormatInt(since.UnixMilli(), 10), "+inf")
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("look for webhooks not applied yet: %w", err)
	}
	if s := stale.Val(); s > 0 && p.Logger != nil {
		p.Logger.WarnContext(ctx, "webhook: webhooks taken but not applied within "+PendingStale.String()+" no longer hold back sending again",
			slog.Int64("account_id", accountID), slog.Int64("webhooks", s))
	}
	return n.Val() > 0, nil
}
