package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// LogRedisTo sends go-redis's own log lines (a failed dial in each
// connection pool, a dropped pub/sub connection: "redis: …" on the standard
// logger by default) to l as warnings, process-wide, for every go-redis
// client including asynq's. The process's main calls it once.
func LogRedisTo(l *slog.Logger) { redis.SetLogger(NewRedisLogger(l)) }

// quiet is how long a log line a library repeats is held back: while Redis
// is away every go-redis pool logs each failed dial, and asynq each failed
// poll, several times a second.
const quiet = 30 * time.Second

// repeats holds back log lines repeated within quiet, counting them.
type repeats struct {
	now  func() time.Time
	mu   sync.Mutex
	seen map[string]*repeat
}

type repeat struct {
	at   time.Time // when the line was last written
	held int       // repeats held back since
}

func newRepeats() *repeats { return &repeats{now: time.Now, seen: map[string]*repeat{}} }

// pass reports whether msg is to be written now and, if so, how many
// repeats of it were held back since it last was.
func (r *repeats) pass(msg string) (held int, ok bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	rep, seen := r.seen[msg]
	if seen && now.Sub(rep.at) < quiet {
		rep.held++
		return 0, false
	}
	if seen {
		held = rep.held
	}
	if len(r.seen) >= 100 {
		clear(r.seen) // lines that vary (addresses) must not grow it forever
	}
	r.seen[msg] = &repeat{at: now}
	return held, true
}

// write logs msg at level through l unless it is a repeat held back.
func (r *repeats) write(ctx context.Context, l *slog.Logger, level slog.Level, msg string) {
	held, ok := r.pass(msg)
	switch {
	case !ok:
	case held > 0:
		l.Log(ctx, level, msg, slog.Int("repeated", held))
	default:
		l.Log(ctx, level, msg)
	}
}

// RedisLogger adapts slog to go-redis's logger. A line repeated within 30 s
// is counted rather than written; the next one after that says how many
// were held back.
type RedisLogger struct {
	l       *slog.Logger
	repeats *repeats
}

// NewRedisLogger returns a go-redis logger writing warnings to l.
func NewRedisLogger(l *slog.Logger) *RedisLogger {
	return &RedisLogger{l: l.With(slog.String("component", "redis")), repeats: newRepeats()}
}

// Printf implements go-redis's logging interface.
func (r *RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.repeats.write(ctx, r.l, slog.LevelWarn, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}

// asynqLogger adapts slog to asynq's Logger interface; like RedisLogger it
// holds back warnings and errors repeated within 30 s.
type asynqLogger struct {
	l       *slog.Logger
	repeats *repeats
}

// NewAsynqLogger returns an asynq.Logger writing to l.
func NewAsynqLogger(l *slog.Logger) asynq.Logger {
	return asynqLogger{l.With(slog.String("component", "asynq")), newRepeats()}
}

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any) {
	a.repeats.write(context.Background(), a.l, slog.LevelWarn, fmt.Sprint(args...))
}
func (a asynqLogger) Error(args ...any) {
	a.repeats.write(context.Background(), a.l, slog.LevelError, fmt.Sprint(args...))
}
func (a asynqLogger) Fatal(args ...any) { a.Error(args...) }

// redisHealth logs when the worker's Redis becomes unreachable and when it
// is back (asynq's health check, every 15 s), once per change.
type redisHealth struct {
	log  *slog.Logger
	mu   sync.Mutex
	down bool
}

func (h *redisHealth) check(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err != nil && !h.down:
		h.down = true
		h.log.Error("worker: Redis is unreachable; sends and status polls wait until it is back", slog.String("error", err.Error()))
	case err == nil && h.down:
		h.down = false
		h.log.Info("worker: Redis is reachable again")
	}
}
