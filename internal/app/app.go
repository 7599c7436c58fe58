package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/internal/ops"
	"github.com/wacamp/wacamp/store"
)

// Conns are the connections every command shares.
type Conns struct {
	// Redis is asynq's connection (to one server or a Redis Cluster).
	Redis    asynq.RedisConnOpt
	RedisURL string
	// RedisClient is a go-redis client on the same database (or cluster),
	// for the fleet-wide throttle, the webhook records and the data marker.
	RedisClient redis.UniversalClient
	// RedisTarget is what REDIS_URL says (zero in tests that build Conns
	// themselves).
	RedisTarget RedisTarget
	Store       *store.DB
	// Metrics are the process's metrics (see ops); nil counts nothing.
	// NewWorker instruments its sends, waits and deferrals with them,
	// ServeWebhooks its receiver.
	Metrics *ops.Metrics
	closers []func()
}

// Close releases everything Open started.
func (c *Conns) Close() {
	for i := len(c.closers) - 1; i >= 0; i-- {
		c.closers[i]()
	}
}

// Open connects to cfg's REDIS_URL and DATABASE_URL, with a Postgres pool
// of cfg.DBMaxConns connections (less than 1: store.DefaultMaxConns); both
// URLs must be set. (The demo starts its embedded Redis and SQLite
// database itself and passes their URLs.) Open does not wait for Redis:
// commands that need it at once call PingRedis.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Conns, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool := cfg.DBMaxConns
	if pool < 1 {
		pool = store.DefaultMaxConns
	}
	c := &Conns{}
	redisURL := cfg.RedisURL
	if redisURL == "" {
		return nil, fmt.Errorf("REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	target, err := ParseRedisURL(redisURL)
	if err != nil {
		return nil, err
	}
	c.Redis, c.RedisURL, c.RedisTarget = target.Asynq, redisURL, target
	c.RedisClient = target.NewClient()
	c.closers = append(c.closers, func() { _ = c.RedisClient.Close() })

	dsn := cfg.DatabaseURL
	if dsn == "" {
		c.Close()
		return nil, fmt.Errorf("DATABASE_URL is not set (e.g. postgres://user@127.0.0.1:5432/wacamp)")
	}
	db, err := store.Open(ctx, dsn, log)
	if err != nil {
		c.Close()
		return nil, err
	}
	db.SetMaxConns(pool)
	c.Store = db
	c.closers = append(c.closers, func() { _ = db.Close() })
	return c, nil
}

// pingTimeout bounds PingRedis.
const pingTimeout = 10 * time.Second

// PingRedis checks that Redis answers, and is a Redis Cluster if and only if
// REDIS_URL says so, so a daemon fails at start with a clear message,
// naming REDIS_URL without its password, instead of running without it.
// Later outages are waited out (and logged).
func (c *Conns) PingRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	shown := config.RedactURL(c.RedisURL)
	if err := c.RedisClient.Ping(ctx).Err(); err != nil {
		if c.RedisTarget.Cluster && strings.Contains(err.Error(), "cluster support disabled") {
			return fmt.Errorf("REDIS_URL=%s names a Redis Cluster, but the server is not in cluster mode: use redis://host:port/db: %w", shown, err)
		}
		return fmt.Errorf("cannot reach Redis at REDIS_URL=%s: %w", shown, err)
	}
	return checkRedisKind(ctx, c.RedisClient, c.RedisTarget, shown)
}
