package campaign

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/wacamp/wacamp/provider"
)

// WaitError asks asynq to run the task again after After without counting a
// failure: the task was not wrong, it has to wait (a lease held by another
// attempt, a provider asking to slow down).
type WaitError struct {
	After  time.Duration
	Reason string
}

func (e *WaitError) Error() string { return "wait " + e.After.String() + ": " + e.Reason }

// IsFailure is the asynq Config.IsFailure of the worker: waits are not
// failures, so they never consume a task's retries nor land it in the archive.
func IsFailure(err error) bool {
	var w *WaitError
	return !errors.As(err, &w)
}

// RetryDelay is the asynq Config.RetryDelayFunc of the worker: a WaitError's
// own delay, a provider's Retry-After, else exponential back-off with jitter
// (2 s, 4 s, 8 s … capped at 5 min).
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var w *WaitError
	if errors.As(err, &w) {
		return w.After
	}
	var pe *provider.Error
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		return pe.RetryAfter
	}
	d := time.Duration(1<<min(n+1, 9)) * time.Second
	d = min(d, 5*time.Minute)
	// ±25% jitter so retries of a burst spread out.
	return d*3/4 + time.Duration(rand.Int64N(int64(d/2)+1))
}
