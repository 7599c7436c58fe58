package sim

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Limits are the knobs of a number's limits; zero turns each off.
type Limits struct {
	// RatePerSecond is the send rate allowed per sender key (a token
	// bucket holding max(1, RatePerSecond) tokens).
	RatePerSecond float64
	// PairInterval is the least time between two sends from one sender key
	// to one recipient.
	PairInterval time.Duration
	// SubscriberLimit is how many distinct recipients a scope may have.
	SubscriberLimit int
}

// Verdict is what a Number says of a send.
type Verdict int

// The verdicts, in the order they are checked.
const (
	Admitted          Verdict = iota
	RateLimited               // 130429: no token left
	PairLimited               // 131056: too soon after the last send to the recipient
	SubscriberLimited         // a new recipient beyond the subscriber limit
)

// Meta's texts of a refused or failed message, which every simulated
// provider passes on.
const (
	MsgRateLimited     = "(#130429) Rate limit hit"
	MsgPairLimited     = "(#131056) (Business Account, Consumer Account) pair rate limit hit"
	MsgSubscriberLimit = "Subscriber limit has been exceeded. You cannot have more subscribers."
	MsgUndeliverable   = "Message undeliverable." // code 131026
)

// Message is Meta's text of a send refused with v; "" for Admitted.
func (v Verdict) Message() string {
	switch v {
	case RateLimited:
		return MsgRateLimited
	case PairLimited:
		return MsgPairLimited
	case SubscriberLimited:
		return MsgSubscriberLimit
	}
	return ""
}

// Number keeps what a number's limits need: a token bucket per sender key
// (an API key, a phone number id, a session), the last send per sender key
// and recipient, and the subscribers of each scope (the account, or a
// session). The zero Number is ready to use.
type Number struct {
	buckets     map[string]*bucket
	lastTo      map[pair]time.Time
	subscribers map[string]map[string]bool
}

type pair struct{ key, phone string }

// bucket is a token bucket of one sender key.
type bucket struct {
	tokens float64
	last   time.Time
}

// Admit checks a send by key to phone, a subscriber of scope, at now: it
// takes a token (so a send refused later, by the pair interval or the
// subscriber limit, still spends one), then checks the pair interval and
// the subscriber limit. It records nothing else; Record does once the send
// is accepted.
func (n *Number) Admit(key, scope, phone string, now time.Time, l Limits) Verdict {
	if !n.takeToken(key, now, l.RatePerSecond) {
		return RateLimited
	}
	if last, ok := n.lastTo[pair{key, phone}]; ok && l.PairInterval > 0 && now.Sub(last) < l.PairInterval {
		return PairLimited
	}
	subs := n.subscribers[scope]
	if l.SubscriberLimit > 0 && !subs[phone] && len(subs) >= l.SubscriberLimit {
		return SubscriberLimited
	}
	return Admitted
}

// Record notes an accepted send by key to phone at now, making phone a
// subscriber of scope.
func (n *Number) Record(key, scope, phone string, now time.Time) {
	if n.lastTo == nil {
		n.lastTo = map[pair]time.Time{}
	}
	n.lastTo[pair{key, phone}] = now
	n.Subscribe(scope, phone)
}

// Subscribe makes phone a subscriber of scope (a recipient, or someone who
// wrote in).
func (n *Number) Subscribe(scope, phone string) {
	if n.subscribers == nil {
		n.subscribers = map[string]map[string]bool{}
	}
	if n.subscribers[scope] == nil {
		n.subscribers[scope] = map[string]bool{}
	}
	n.subscribers[scope][phone] = true
}

// Subscribers returns how many subscribers scope has.
func (n *Number) Subscribers(scope string) int { return len(n.subscribers[scope]) }

// takeToken takes one token from key's bucket; rate <= 0 is unlimited.
func (n *Number) takeToken(key string, now time.Time, rate float64) bool {
	if rate <= 0 {
		return true
	}
	capacity := max(1, rate)
	if n.buckets == nil {
		n.buckets = map[string]*bucket{}
	}
	b := n.buckets[key]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		n.buckets[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(capacity, b.tokens+elapsed.Seconds()*rate)
		b.last = now
	}
	b.tokens = min(b.tokens, capacity) // the knob may have been lowered
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Lifecycle is when an accepted message moves on.
type Lifecycle struct {
	// DeliverAfter is how long a message stays sent before it is delivered
	// (or failed); 0 means the simulator's default, < 0 never.
	DeliverAfter time.Duration
	// ReadAfter is how long a read message stays delivered before it is
	// read; < 0 means never read.
	ReadAfter time.Duration
}

// Fate is what becomes of one accepted message, drawn when it is accepted.
type Fate struct {
	Failed bool // fails (131026) instead of being delivered
	Read   bool // is read once delivered
}

// Step is one status of a message's lifecycle and when it is reached.
type Step struct {
	Status string // "sent", "delivered", "failed" or "read"
	At     time.Time
}

// Steps returns the statuses a message sent at now with fate goes through,
// in order: sent; then, DeliverAfter later (defaultDeliverAfter when 0),
// failed or delivered; then, ReadAfter after delivery, read.
func (l Lifecycle) Steps(now time.Time, fate Fate, defaultDeliverAfter time.Duration) []Step {
	steps := []Step{{"sent", now}}
	deliverAfter := cmp.Or(l.DeliverAfter, defaultDeliverAfter)
	if deliverAfter <= 0 {
		return steps
	}
	deliverAt := now.Add(deliverAfter)
	if fate.Failed {
		return append(steps, Step{"failed", deliverAt})
	}
	steps = append(steps, Step{"delivered", deliverAt})
	if fate.Read && l.ReadAfter >= 0 {
		steps = append(steps, Step{"read", deliverAt.Add(l.ReadAfter)})
	}
	return steps
}

// Counts are the counters every simulator's Stats embed.
type Counts struct {
	Accepted          int // sends recorded (including dropped ones)
	Rejected5xx       int // sends answered HTTP 503 before accepting
	Dropped           int // accepted sends whose connection was closed unanswered
	RateLimited       int // sends refused with 130429
	PairLimited       int // sends refused with 131056 (pair rate)
	SubscriberLimited int // sends refused for the subscriber limit
}

// Tally adds one to the counter of v: RateLimited, PairLimited or
// SubscriberLimited (nothing for Admitted).
func (c *Counts) Tally(v Verdict) {
	switch v {
	case RateLimited:
		c.RateLimited++
	case PairLimited:
		c.PairLimited++
	case SubscriberLimited:
		c.SubscriberLimited++
	}
}

// NewRand returns the random source of a simulator seeded with seed.
func NewRand(seed int64) *rand.Rand {
	u := uint64(seed) // #nosec G115 -- the bits of the seed, sign and all
	return rand.New(rand.NewPCG(u, u^0x9e3779b97f4a7c15))
}

// Log is what a simulator accepted, in order. It is safe for concurrent
// use; the zero Log is empty and ready.
type Log[T any] struct {
	mu   sync.Mutex
	list []T
}

// Add appends x.
func (l *Log[T]) Add(x T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.list = append(l.list, x)
}

// All returns a copy of everything added, in order.
func (l *Log[T]) All() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.list)
}

// Count returns how many added values match.
func (l *Log[T]) Count(match func(T) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, x := range l.list {
		if match(x) {
			n++
		}
	}
	return n
}
