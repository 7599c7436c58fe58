package testenv

import (
	"context"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/wacamp/wacamp/internal/redisproc"
)

// RedisServer is a private redis-server process on a loopback port, kept
// in memory only (no RDB, no AOF), for tests that restart Redis: the shared
// server cannot be restarted under other tests.
type RedisServer struct {
	Redis
	t   testing.TB
	srv *redisproc.Server
}

// NewRedisServer starts redis-server (it must be on PATH) on a free port
// and stops it when the test ends.
func NewRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	srv, err := redisproc.Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(srv.Stop)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return &RedisServer{
		Redis: Redis{URL: "redis://" + srv.Addr + "/0", Opt: asynq.RedisClientOpt{Addr: srv.Addr}, Client: c},
		t:     t,
		srv:   srv,
	}
}

// Restart kills the server (SIGKILL: nothing is saved) and starts a new
// one on the same port, empty.
func (s *RedisServer) Restart() {
	s.t.Helper()
	if err := s.srv.Restart(context.Background()); err != nil {
		s.t.Fatalf("testenv: %v", err)
	}
}

// String names the server for messages.
func (s *RedisServer) String() string { return s.srv.String() }
