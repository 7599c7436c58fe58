package delivery

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
	// Kind says what the wait is for, in a word (a bounded label for
	// metrics: Options.Metrics counts deferrals by it); "" is WaitOther.
	Kind WaitKind
	// Ends, when longer than After, is how long until the wait can end
	// as known now (room in a budget or a cap, which After re-checks
	// sooner): a parked delivery (Parker) waits that long, at most
	// ParkRecheck.
	Ends time.Duration
}

// WaitKind is what a send waits for: one of a few words, a metric label.
type WaitKind string

// The kinds of wait.
const (
	WaitPair      WaitKind = "pair_interval" // the recipient's pair interval
	WaitBudget    WaitKind = "budget"        // the daily unique-recipient budget
	WaitCap       WaitKind = "cap"           // the frequency cap (ours, or Meta's marketing limit)
	WaitWindow    WaitKind = "window"        // a send window (recipient's local time, a step's window)
	WaitNotDue    WaitKind = "not_due"       // a step or zoned delivery not due yet
	WaitRate      WaitKind = "rate_limit"    // no rate token in time, or a missed departure slot
	WaitInFlight  WaitKind = "in_flight"     // another attempt holds the lease
	WaitReconcile WaitKind = "reconcile"     // an answer was lost: look at the provider first
	WaitSettle    WaitKind = "settle"        // awaiting the provider's confirmation of a lost answer
	WaitAccount   WaitKind = "account"       // the account cannot send (credentials, halted)
	WaitStalled   WaitKind = "stalled"       // the claim stalled before the request
	WaitShutdown  WaitKind = "shutdown"      // the worker is shutting down
	WaitOther     WaitKind = "other"
)

// KindOf is w's Kind, WaitOther when it has none.
func (w *WaitError) KindOf() WaitKind {
	if w.Kind == "" {
		return WaitOther
	}
	return w.Kind
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

// transientPolicy is WHATSAPP.md §4's policy for a send that failed with a
// transient provider error code: the least wait before the next try (0 =
// the default exponential back-off of [RetryDelay]) and how many tries the
// code allows in all (0 = [SendMaxAttempts]). tried counts the tries so
// far, the failed one included.
func transientPolicy(code string, tried int) (wait time.Duration, tries int) {
	x := max(tried-1, 0)
	switch code {
	case "131056": // pair rate: 4^X s (1, 4, 16, 64 …), that recipient only
		return jitter(time.Duration(1<<(2*min(x, 5))) * time.Second), 0
	case "130429": // throughput: 1, 2, 4 … s with jitter, at most 60 s
		return jitter(min(time.Second<<min(x, 6), time.Minute)), 0
	case "131057": // maintenance or throughput upgrade: at least 60 s
		return jitter(time.Minute), 0
	case "4", "80007": // API-call limit: minutes, up to an hour
		return min(jitter(time.Minute<<min(x, 6)), time.Hour), 0
	case "1", "2", "131016", "133004": // service unavailable: at most 5 tries
		return 0, 5
	case "131000": // unknown: at most 3 tries, then permanent
		return 0, 3
	}
	return 0, 0
}

// jitter spreads d over [d, 1.25 d), so retries of a burst do not return
// together and never come sooner than d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d/4)+1))
}
