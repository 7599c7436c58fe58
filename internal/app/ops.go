package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/delivery"
	"github.com/wacamp/wacamp/internal/ops"
)

// LiveFor is how long after it finishes a broadcast stays in the
// scheduler's wacamp_deliveries (so its last counts are scraped).
const LiveFor = time.Hour

// ReadyChecks are the readiness checks of a process with c's connections:
// Redis answers, Postgres (named by its dialect: the demo's embedded
// database is "sqlite") answers, and its schema is migrated at least to
// the version this program knows (a process that started before a newer
// one migrated stays ready; one whose database is behind is not).
func ReadyChecks(c *Conns) []ops.Check {
	return []ops.Check{
		RedisCheck(c.RedisClient),
		{Name: c.Store.Dialect(), Func: c.Store.Ping},
		{Name: "migrations", Func: func(ctx context.Context) error {
			current, at, err := c.Store.SchemaCurrent(ctx)
			if err != nil {
				return err
			}
			if !current {
				want, _ := c.Store.SchemaVersion()
				return fmt.Errorf("the database's schema is at version %d; this program needs %d (a process that starts migrates it)", at, want)
			}
			return nil
		}},
	}
}

// RedisCheck is the readiness check that Redis answers.
func RedisCheck(client redis.UniversalClient) ops.Check {
	return ops.Check{Name: "redis", Func: func(ctx context.Context) error {
		if client == nil {
			return errors.New("no Redis client")
		}
		if err := client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("ping Redis: %w", err)
		}
		return nil
	}}
}

// CollectFleet adds the fleet-wide gauges the scheduler reports to m, read
// at each scrape: deliveries per state of the live broadcasts (the kept
// counts), the status-poll lag (one index probe), each sequence's steps in
// flight and step lag (two index probes a sequence) and the Asynq queues'
// depth and oldest task age (insp).
func CollectFleet(m *ops.Metrics, c *Conns, insp ops.QueueInspector) {
	m.CollectCampaigns(func(ctx context.Context) ([]ops.Campaign, error) {
		bs, err := c.Store.LiveBroadcastCounts(ctx, time.Now().Add(-LiveFor))
		if err != nil {
			return nil, err
		}
		out := make([]ops.Campaign, len(bs))
		for i, b := range bs {
			out[i] = ops.Campaign{Name: b.Name, Status: string(b.Status), Counts: b.Counts}
		}
		return out, nil
	})
	m.CollectPollLag(c.Store.OldestDuePoll, nil)
	m.CollectSequences(func(ctx context.Context) ([]ops.Sequence, error) {
		ss, err := c.Store.SequenceStepStates(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]ops.Sequence, len(ss))
		for i, s := range ss {
			out[i] = ops.Sequence{Name: s.Name, InFlight: s.InFlight, OldestDue: s.OldestDue}
		}
		return out, nil
	}, nil)
	m.CollectQueues(insp, delivery.QueueBroadcast, delivery.QueueStatus)
}
