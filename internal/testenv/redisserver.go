package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// RedisServer is a private redis-server process on a loopback port, kept
// in memory only (no RDB, no AOF), for tests that restart Redis: the shared
// server cannot be restarted under other tests.
type RedisServer struct {
	Redis
	t    testing.TB
	port int
	dir  string
	cmd  *exec.Cmd
}

// NewRedisServer starts redis-server (it must be on PATH) on a free port
// and stops it when the test ends.
func NewRedisServer(t testing.TB) *RedisServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &RedisServer{t: t, port: port, dir: t.TempDir()}
	s.start()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	s.Redis = Redis{URL: "redis://" + addr + "/0", Opt: asynq.RedisClientOpt{Addr: addr}, Client: c}
	t.Cleanup(s.stop)
	return s
}

func (s *RedisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", "")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("testenv: start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("testenv: redis-server on port %d did not come up", s.port)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process; it sends no signal
	}
}

func (s *RedisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
	}
}

// Restart kills the server (SIGKILL: nothing is saved) and starts a new
// one on the same port, empty.
func (s *RedisServer) Restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// String names the server for messages.
func (s *RedisServer) String() string { return fmt.Sprintf("redis-server on 127.0.0.1:%d", s.port) }
