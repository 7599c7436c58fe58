package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RefusalLogEvery is how often the receiver logs one kind of refusal (or
// an unusable secret) of one account: a flood of bad requests makes one
// line every RefusalLogEvery, with the count of those left out since.
const RefusalLogEvery = 10 * time.Second

// refusalLog rate-limits the receiver's refusal lines per account and
// message. Its keys are account names the receiver knows (or "" for all
// unknown ones) times a handful of messages, so it stays small.
type refusalLog struct {
	mu   sync.Mutex
	seen map[refusalKey]*refusalCount
}

type refusalKey struct{ account, msg string }

type refusalCount struct {
	last       time.Time
	suppressed int
}

func (l *refusalLog) warn(ctx context.Context, log *slog.Logger, now time.Time, account, msg string, attrs ...slog.Attr) {
	l.log(ctx, log, slog.LevelWarn, now, account, msg, attrs)
}

func (l *refusalLog) info(ctx context.Context, log *slog.Logger, now time.Time, account, msg string, attrs ...slog.Attr) {
	l.log(ctx, log, slog.LevelInfo, now, account, msg, attrs)
}

func (l *refusalLog) error(ctx context.Context, log *slog.Logger, now time.Time, account, msg string, attrs ...slog.Attr) {
	l.log(ctx, log, slog.LevelError, now, account, msg, attrs)
}

// log writes msg unless the same account's msg was written less than
// RefusalLogEvery ago; a line written after some were left out says how
// many ("suppressed").
func (l *refusalLog) log(ctx context.Context, log *slog.Logger, level slog.Level, now time.Time, account, msg string, attrs []slog.Attr) {
	l.mu.Lock()
	if l.seen == nil {
		l.seen = make(map[refusalKey]*refusalCount)
	}
	k := refusalKey{account, msg}
	c, ok := l.seen[k]
	if ok && now.Sub(c.last) < RefusalLogEvery {
		c.suppressed++
		l.mu.Unlock()
		return
	}
	if !ok {
		c = &refusalCount{}
		l.seen[k] = c
	}
	n := c.suppressed
	c.last, c.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		attrs = append(attrs, slog.Int("suppressed", n))
	}
	log.LogAttrs(ctx, level, msg, attrs...)
}
