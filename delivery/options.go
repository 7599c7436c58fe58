package delivery

import (
	"cmp"
	"context"
	"log/slog"
	"time"
)

// Options tune the engine. The zero value of every field means its default.
type Options struct {
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// Logger; nil = discard.
	Logger *slog.Logger
	// Lease is how long a claimed send may take before another attempt may
	// reconcile it. The claim comes after the rate wait, right before the
	// request, so it must cover the request (HTTP timeout 30 s) and recording
	// it (up to 30 s). Default 2 min.
	Lease time.Duration
	// AmbiguousDelay is how long to wait after a send whose answer was lost
	// before reconciling with the provider. Default 10 s.
	AmbiguousDelay time.Duration
	// SettleWindow is how long after a request began whose answer was lost
	// (or whose worker died) the engine keeps looking for a trace of it at
	// the provider (its conversation history, or its status webhooks) before
	// it concludes the message was not sent and sends it again, for accounts
	// that set no settle_window. It must cover the provider's worst accept
	// time: a request the client abandoned after its 30 s timeout may still
	// be accepted later. Default DefaultSettleWindow (5 min).
	SettleWindow time.Duration
	// Polls is when the status of a message is polled, on providers that do
	// not push statuses: at most MaxPolls times over its life. Its zero
	// fields take DefaultPollPlan's values.
	Polls PollPlan
	// TrackFor is how long after sending a message's status is tracked
	// (WhatsApp's default message TTL): no poll comes later. Default 30 days.
	TrackFor time.Duration
	// ConversationLimit is how many conversation entries reconciliation
	// reads. Default 20.
	ConversationLimit int
	// FeedAhead sizes the Redis window: about rate × FeedAhead deliveries
	// per running broadcast, between MinWindow and MaxWindow. Default 5 s:
	// every task in the window may hold a worker slot while its sends wait
	// for their departures, and whatever is enqueued after the window (other
	// numbers' sends) waits behind it in the one FIFO queue.
	FeedAhead time.Duration
	// MinWindow and MaxWindow bound the window. Defaults 4 and 5000.
	MinWindow, MaxWindow int
	// QueueLead is how long before its first send's departure (estimated
	// from its number's rate and the deliveries ahead of it in its
	// broadcast's window) a batch send task enters the send queue; one that
	// departs later waits in Redis's schedule until then, holding no worker
	// slot. asynq releases scheduled tasks by the whole second, so a task
	// comes QueueLead to a second more before its departure. Default 500 ms;
	// negative: every task enters the queue at once.
	QueueLead time.Duration
	// StaleAfter is how long a queued task may wait, or a send lease may be
	// overdue, before the feeder checks that its task still exists. Default 5 min.
	StaleAfter time.Duration
	// TaskTimeout bounds one run of a send task, and one delivery's part of
	// a batch send task. Default 3 min.
	TaskTimeout time.Duration
	// BatchParallel is how many deliveries of one batch send task are in
	// flight at once, each waiting for its own rate token; a worker has at
	// most its concurrency × BatchParallel sends in flight. Default 4.
	BatchParallel int
	// Stop, when done, makes handlers waiting for a rate token give up at
	// once (the worker's shutdown has begun: nothing new may start). Nil =
	// never.
	Stop context.Context
	// StormShare and StormWindow: a broadcast pauses itself when more than
	// StormShare of its last StormWindow sends failed. Defaults 0.2 and 200.
	StormShare  float64
	StormWindow int
	// BudgetRecheck is the longest a send deferred by the unique-recipient
	// budget waits before it checks again (so a raised limit takes effect
	// soon). Default 1 min.
	BudgetRecheck time.Duration
	// CapRecheck is the longest a sequence step deferred by the frequency
	// cap waits before it checks again (room comes when the oldest counted
	// message leaves the window, or sooner when a send is handed back or
	// the cap is raised). Default 15 min.
	CapRecheck time.Duration
	// ReconcileFor is how long after a send began its outcome may stay
	// unknown (the provider's history unreadable) before the delivery
	// fails as "outcome unknown" rather than risk a duplicate. Default 24 h.
	ReconcileFor time.Duration
	// Metrics is told what the engine decides, for monitoring
	// (ops.Metrics satisfies it); nil = nothing is counted.
	Metrics Metrics
}

// Metrics is what the engine reports for monitoring. Its methods are
// called on the send path: they must be cheap and safe for concurrent use.
// account is the account's name (a bounded label; never a phone number).
type Metrics interface {
	// RateWaited: a send of account waited d for its number's rate token
	// (granted or not).
	RateWaited(account string, d time.Duration)
	// Deferred: a delivery of account was put off, for kind.
	Deferred(account string, kind WaitKind)
}

// WithDefaults returns o with every zero field set to its default.
func (o Options) WithDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Lease = cmp.Or(o.Lease, 2*time.Minute)
	o.AmbiguousDelay = cmp.Or(o.AmbiguousDelay, 10*time.Second)
	o.SettleWindow = cmp.Or(o.SettleWindow, DefaultSettleWindow)
	o.Polls = o.Polls.withDefaults()
	o.TrackFor = cmp.Or(o.TrackFor, 30*24*time.Hour)
	o.ConversationLimit = cmp.Or(o.ConversationLimit, 20)
	o.FeedAhead = cmp.Or(o.FeedAhead, 5*time.Second)
	o.MinWindow = cmp.Or(o.MinWindow, 4)
	o.MaxWindow = cmp.Or(o.MaxWindow, 5000)
	o.QueueLead = cmp.Or(o.QueueLead, 500*time.Millisecond)
	o.StaleAfter = cmp.Or(o.StaleAfter, 5*time.Minute)
	o.TaskTimeout = cmp.Or(o.TaskTimeout, 3*time.Minute)
	o.BatchParallel = cmp.Or(o.BatchParallel, 4)
	o.ReconcileFor = cmp.Or(o.ReconcileFor, 24*time.Hour)
	o.BudgetRecheck = cmp.Or(o.BudgetRecheck, time.Minute)
	o.CapRecheck = cmp.Or(o.CapRecheck, 15*time.Minute)
	o.StormShare = cmp.Or(o.StormShare, 0.2)
	o.StormWindow = cmp.Or(o.StormWindow, 200)
	return o
}
