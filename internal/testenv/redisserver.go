package testenv

import (
	"context"
	"strings"
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
	newClient := func() redis.UniversalClient { return redis.NewClient(&redis.Options{Addr: srv.Addr}) }
	c := newClient()
	t.Cleanup(func() { _ = c.Close() })
	return &RedisServer{
		Redis: Redis{URL: "redis://" + srv.Addr + "/0", Opt: asynq.RedisClientOpt{Addr: srv.Addr}, Client: c, Addrs: []string{srv.Addr}, newClient: newClient},
		t:     t,
		srv:   srv,
	}
}

// NewRedisCluster starts a private Redis Cluster for the test: three
// redis-server processes (redis-server must be on PATH; the test fails, not
// skips, without it) in cluster mode on loopback ports, each a master of a
// third of the hash slots, in memory only; they are stopped when the test
// ends. Its URL is the redis-cluster:// form REDIS_URL takes.
func NewRedisCluster(t testing.TB) Redis {
	t.Helper()
	cl, err := redisproc.StartCluster(context.Background(), t.TempDir(), 3)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(cl.Stop)
	newClient := func() redis.UniversalClient { return redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs}) }
	c := newClient()
	t.Cleanup(func() { _ = c.Close() })
	return Redis{URL: "redis-cluster://" + strings.Join(cl.Addrs, ","), Opt: asynq.RedisClusterClientOpt{Addrs: cl.Addrs},
		Client: c, Addrs: cl.Addrs, Cluster: true, newClient: newClient}
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
