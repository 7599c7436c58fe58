package app

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/hibiken/asynq"
)

// A failed task that asynq runs again is routine (info); its last try, or
// one that cannot be retried, is a warning.
func TestTaskFailureLevel(t *testing.T) {
	t.Parallel()
	transient := errors.New("provider answered 503")
	for _, c := range []struct {
		name          string
		retried, most int
		err           error
		want          slog.Level
	}{
		{"first try", 0, 25, transient, slog.LevelInfo},
		{"a later try", 24, 25, transient, slog.LevelInfo},
		{"the last try", 25, 25, transient, slog.LevelWarn},
		{"not to be retried", 3, 25, fmt.Errorf("bad payload: %w", asynq.SkipRetry), slog.LevelWarn},
		{"revoked", 3, 25, fmt.Errorf("gone: %w", asynq.RevokeTask), slog.LevelWarn},
	} {
		if got, msg := taskFailure(c.retried, c.most, c.err); got != c.want || msg == "" {
			t.Errorf("%s: level %v (%q), want %v", c.name, got, msg, c.want)
		}
	}
}
