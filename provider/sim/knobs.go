package sim

import "time"

// Knobs are the knobs every simulator has, embedded in its Options: the
// faults, the number's limits, the lifecycle of an accepted message, the
// seed and the clock. The zero Knobs is a well-behaved number. What a
// simulator answers when a fault or a limit strikes is its provider's, and
// its Options say so.
type Knobs struct {
	// Latency is added to every answer.
	Latency time.Duration
	// Fail5xxRate is the share (0–1) of sends answered HTTP 503 before
	// anything is accepted.
	Fail5xxRate float64
	// DropAfterAcceptRate is the share (0–1) of accepted sends whose
	// connection is then closed unanswered: the message goes out, the
	// client never learns its id.
	DropAfterAcceptRate float64
	// RatePerSecond, PairInterval and SubscriberLimit are the number's
	// Limits (0 turns each off); every send that gets as far as them takes
	// a token, refused or not.
	RatePerSecond   float64
	PairInterval    time.Duration
	SubscriberLimit int
	// DeliverAfter is how long a message stays sent before it is delivered
	// or failed (0 means the simulator's DefaultDeliverAfter, < 0 never);
	// ReadAfter how long a read one then stays delivered (< 0 never read).
	// ReadShare is the share (0–1) of delivered messages read, FailShare
	// that of accepted ones failed (code 131026, "Message undeliverable.").
	DeliverAfter time.Duration
	ReadAfter    time.Duration
	ReadShare    float64
	FailShare    float64
	// Seed seeds the simulator's random decisions; only its New reads it.
	Seed int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Time reads the clock: Now, or time.Now when Now is nil.
func (k *Knobs) Time() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Limits returns the number's limits the knobs set.
func (k *Knobs) Limits() Limits {
	return Limits{RatePerSecond: k.RatePerSecond, PairInterval: k.PairInterval, SubscriberLimit: k.SubscriberLimit}
}

// Lifecycle returns the message lifecycle the knobs set.
func (k *Knobs) Lifecycle() Lifecycle {
	return Lifecycle{DeliverAfter: k.DeliverAfter, ReadAfter: k.ReadAfter}
}

// Recipient is a recorded send that knows its recipient's phone.
type Recipient interface{ Recipient() string }

// Sent is the log of a simulator's accepted sends, embedded in its Server
// to give it Sends and SendCount. It is safe for concurrent use; the zero
// Sent is empty and ready.
type Sent[T Recipient] struct{ log Log[T] }

// Record appends an accepted send.
func (s *Sent[T]) Record(x T) { s.log.Add(x) }

// Sends returns every accepted send, in order.
func (s *Sent[T]) Sends() []T { return s.log.All() }

// SendCount returns how many sends to phone were accepted.
func (s *Sent[T]) SendCount(phone string) int {
	return s.log.Count(func(x T) bool { return x.Recipient() == phone })
}
