package app

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wacamp/wacamp/delivery"
)

// lossMarkerKey is the key whose absence tells that Redis lost its data.
const lossMarkerKey = "wacamp:data-marker"

// RedisLoss notices Redis losing its data — a restart without persistence,
// a flush — by a marker key the scheduler keeps there: if the marker is
// gone, so is every queued task. It implements campaign.LossDetector.
type RedisLoss struct {
	client *redis.Client
}

// NewRedisLoss returns a detector on client's database (the one asynq uses).
func NewRedisLoss(client *redis.Client) *RedisLoss { return &RedisLoss{client: client} }

// asynqQueuesKey is the set in which asynq lists its queues (its
// inspector, the web UI and campaign's sweep find queues there).
const asynqQueuesKey = "asynq:queues"

// Lost sets the marker if it is missing and reports whether it was: true
// once after every loss of data (and on the very first call on a new
// Redis), false otherwise. Several schedulers may call it; one of them sees
// each loss, which is enough (recovering from it is idempotent).
//
// On a loss it also lists wacamp's queues in asynq's set of queues again:
// an asynq client lists a queue there only the first time it enqueues to
// it, so after a loss the inspector (and the web UI) would not see the
// queues the running processes keep filling.
func (r *RedisLoss) Lost(ctx context.Context) (bool, error) {
	set, err := r.client.SetNX(ctx, lossMarkerKey, time.Now().UTC().Format(time.RFC3339), 0).Result()
	if err != nil {
		return false, fmt.Errorf("redis data marker: %w", err)
	}
	if set {
		if err := r.client.SAdd(ctx, asynqQueuesKey, delivery.QueueBroadcast, delivery.QueueStatus).Err(); err != nil {
			// Take the marker back, so the next call reports the loss again.
			r.client.Del(context.WithoutCancel(ctx), lossMarkerKey)
			return false, fmt.Errorf("redis: list the queues again: %w", err)
		}
	}
	return set, nil
}
