package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// go-redis's lines go to slog as warnings, without their "redis: " prefix,
// and a line repeated within 30 s (each failed dial while Redis is away) is
// written once, the next one after that with the count held back.
func TestRedisLoggerWritesThroughSlogAndHoldsBackRepeats(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewRedisLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	clock := time.Now()
	l.repeats.now = func() time.Time { return clock }
	ctx := context.Background()
	const format = "redis: connection pool: failed to dial after %d attempts: %v"
	for range 50 {
		l.Printf(ctx, format, 5, "dial tcp 127.0.0.1:6379: connect: connection refused")
		clock = clock.Add(100 * time.Millisecond) // 5 s in all
	}
	l.Printf(ctx, "redis: discarding bad PubSub connection: %v", "EOF")
	clock = clock.Add(quiet)
	l.Printf(ctx, format, 5, "dial tcp 127.0.0.1:6379: connect: connection refused")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 3, buf.String())
	require.Contains(t, lines[0], `level=WARN msg="connection pool: failed to dial after 5 attempts: dial tcp 127.0.0.1:6379: connect: connection refused" component=redis`)
	require.NotContains(t, lines[0], "repeated")
	require.Contains(t, lines[1], `msg="discarding bad PubSub connection: EOF"`)
	require.Contains(t, lines[2], "repeated=49")
}
