package throttle_test

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func redisClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
