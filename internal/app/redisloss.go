package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wacamp/wacamp/delivery"
)

// lossMarkerKeys are the keys whose absence tells that Redis lost its data:
// one per wacamp queue, under that queue's hash tag (asynq keeps a queue's
// keys under "asynq:{<queue>}"), so on a Redis Cluster each lives on the
// node that holds its queue's tasks, and a node that lost its data lost the
// marker of what it held.
var lossMarkerKeys = []string{
	"wacamp:data-marker:{" + delivery.QueueBroadcast + "}",
	"wacamp:data-marker:{" + delivery.QueueStatus + "}",
}

// legacyMarkerKey is the single marker of versions before lossMarkerKeys.
// Finding it where no marker of lossMarkerKeys is yet means an upgrade, not
// a loss: it is deleted then, so that it masks nothing later.
const legacyMarkerKey = "wacamp:data-marker"

// RedisLoss notices Redis losing its data — a restart without persistence,
// a flush — by marker keys the scheduler keeps there: if a marker is gone,
// so is every task queued beside it. It implements campaign.LossDetector.
type RedisLoss struct {
	client redis.UniversalClient
}

// NewRedisLoss returns a detector on client's database or cluster (the one
// asynq uses).
func NewRedisLoss(client redis.UniversalClient) *RedisLoss { return &RedisLoss{client: client} }

// asynqQueuesKey is the set in which asynq lists its queues (its
// inspector, the web UI and campaign's sweep find queues there).
const asynqQueuesKey = "asynq:queues"

// Lost sets the markers that are missing and reports whether one was: true
// once after every loss of data (and on the very first call on a new
// Redis), false otherwise. Several schedulers may call it; one of them sees
// each loss, which is enough (recovering from it is idempotent).
//
// On a loss it also lists wacamp's queues in asynq's set of queues again:
// an asynq client lists a queue there only the first time it enqueues to
// it, so after a loss the inspector (and the web UI) would not see the
// queues the running processes keep filling.
func (r *RedisLoss) Lost(ctx context.Context) (bool, error) {
	stamp := time.Now().UTC().Format(time.RFC3339)
	var set []string
	// undo takes back the markers this call set, so the next call reports
	// the loss again.
	undo := func() {
		for _, k := range set {
			r.client.Del(context.WithoutCancel(ctx), k)
		}
	}
	for _, k := range lossMarkerKeys {
		ok, err := r.client.SetNX(ctx, k, stamp, 0).Result()
		if err != nil {
			undo()
			return false, fmt.Errorf("redis data marker: %w", err)
		}
		if ok {
			set = append(set, k)
		}
	}
	if len(set) == 0 {
		return false, nil
	}
	if len(set) == len(lossMarkerKeys) {
		n, err := r.client.Del(ctx, legacyMarkerKey).Result()
		if err != nil {
			undo()
			return false, fmt.Errorf("redis data marker: %w", err)
		}
		if n == 1 {
			return false, nil // upgraded from the single marker: nothing was lost
		}
	}
	if err := r.client.SAdd(ctx, asynqQueuesKey, delivery.QueueBroadcast, delivery.QueueStatus).Err(); err != nil {
		undo()
		return false, fmt.Errorf("redis: list the queues again: %w", err)
	}
	return true, nil
}
