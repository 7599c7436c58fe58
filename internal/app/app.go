package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/config"
	"github.com/wacamp/wacamp/store"
)

// Conns are the connections every command shares.
type Conns struct {
	Redis    asynq.RedisConnOpt
	RedisURL string
	// RedisClient is a go-redis client on the same database, for the
	// fleet-wide throttle.
	RedisClient *redis.Client
	Store       *store.DB
	closers     []func()
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
	// Parse errors are not wrapped: they quote the URL, password included.
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("REDIS_URL %s is not a valid redis:// URL", config.RedactURL(redisURL))
	}
	c.Redis, c.RedisURL = opt, redisURL
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("REDIS_URL %s is not a valid redis:// URL", config.RedactURL(redisURL))
	}
	c.RedisClient = redis.NewClient(ropt)
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

// PingRedis checks that Redis answers, so a daemon fails at start with a
// clear message, naming REDIS_URL without its password, instead of running
// without it. Later outages are waited out (and logged).
func (c *Conns) PingRedis(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := c.RedisClient.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at REDIS_URL=%s: %w", config.RedactURL(c.RedisURL), err)
	}
	return nil
}
