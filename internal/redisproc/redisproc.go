package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long a starting server may take to answer PING.
const startTimeout = 10 * time.Second

// Server is one redis-server process (redis-server must be on PATH).
type Server struct {
	// Addr is the server's host:port on 127.0.0.1; it stays the same across
	// Restart.
	Addr string
	dir  string
	args []string // besides the port, bind address and persistence
	cmd  *exec.Cmd
}

// Start starts redis-server on a free loopback port, with dir as its working
// directory (it writes nothing there), and waits until it answers.
func Start(ctx context.Context, dir string) (*Server, error) {
	return start(ctx, dir)
}

// start starts redis-server on a free loopback port with extra arguments.
func start(ctx context.Context, dir string, args ...string) (*Server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redisproc: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), dir: dir, args: args}
	if err := s.start(ctx, port); err != nil {
		return nil, err
	}
	return s, nil
}

// ErrNoRedisServer is returned (wrapped) when redis-server is not on PATH.
var ErrNoRedisServer = errors.New("redis-server is not on PATH: install it (Debian: apt-get install redis-server; .ci/run does)")

func (s *Server) start(ctx context.Context, port int) error {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return fmt.Errorf("redisproc: %w", ErrNoRedisServer)
	}
	args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", s.dir, "--logfile", ""}, s.args...)
	s.cmd = exec.Command("redis-server", args...) // #nosec G204 -- fixed program; arguments are a port, a temporary directory and fixed settings
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("redisproc: start redis-server: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		err := c.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("redisproc: redis-server on %s did not come up: %w", s.Addr, errors.Join(err, ctx.Err()))
		case <-time.After(20 * time.Millisecond): // a starting process sends no signal
		}
	}
}

// Stop kills the server (SIGKILL: nothing is saved) and waits for it to
// exit. It is safe to call more than once.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_, _ = s.cmd.Process.Wait()
		s.cmd = nil
	}
}

// Restart kills the server (SIGKILL: nothing is saved) and starts a new one
// on the same port, empty, returning once it answers.
func (s *Server) Restart(ctx context.Context) error {
	s.Stop()
	_, p, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("redisproc: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return fmt.Errorf("redisproc: port of %s: %w", s.Addr, err)
	}
	return s.start(ctx, port)
}

// String names the server for messages.
func (s *Server) String() string { return "redis-server on " + s.Addr }
