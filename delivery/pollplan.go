package delivery

import (
	"cmp"
	"time"

	"github.com/wacamp/wacamp/provider"
)

// MaxPolls is the most status polls one message gets over its whole life,
// whatever the plan's durations.
const MaxPolls = 3

// PollPlan is when an accepted message's status is polled, on providers
// that do not push statuses (WHATSAPP.md §6). It is built from WhatsApp's
// timing: a recipient who is online has a message delivered within seconds
// (Meta: p99 ≈ 5 s; a paced template within about an hour) or it fails at
// once; a phone that is offline gets it when it comes back, up to the
// message's 30-day TTL; a read follows delivery, mostly within hours.
//
// So a message is polled at most MaxPolls times:
//
//  1. First after the send: delivered, read or failed for a recipient who
//     is online. Read or failed ends tracking.
//  2. Delivered (by any poll): one last poll, the read check, ReadWindow
//     after the poll that found it delivered — so at least ReadWindow after
//     the delivery, whatever the provider's clock says. It records a read
//     within ReadWindow of delivery (the report's timestamps say when).
//  3. Still only sent at the first poll: again Offline after the send.
//     Still sent there too: one last poll ReadWindow later, which records a
//     delivery (and a read) up to then.
//
// A read check the provider did not answer (an error, no status) is tried
// again Retry later, if the budget allows: only a message found delivered by
// its first poll has a poll to spare.
//
// What is given up: reads later than ReadWindow after delivery, read counts
// that move during those hours (a read shows at the read check), a delivery
// or failure that happens after the last poll, and, for a message first
// delivered after the Offline poll, reads after the last poll. Jitter
// spreads the polls of a burst of sends: ±20 % on First, Offline and
// Retry; on ReadWindow only +0–20 %, so a read check never comes early.
type PollPlan struct {
	// First is how long after the send the first poll comes. Default 1 min.
	First time.Duration
	// Offline is how long after the send a message the first poll found
	// still only sent is polled again. Default 24 h.
	Offline time.Duration
	// ReadWindow is how long after the poll that found a message delivered
	// (or the Offline poll that found it still sent) its last poll comes.
	// Default 48 h.
	ReadWindow time.Duration
	// Retry is how long after an unanswered read check it is tried again.
	// Default 1 h.
	Retry time.Duration
}

// DefaultPollPlan is the production plan: polls at +1 min, +24 h if still
// only sent, and 48 h after the poll that found the message delivered.
var DefaultPollPlan = PollPlan{First: time.Minute, Offline: 24 * time.Hour, ReadWindow: 48 * time.Hour, Retry: time.Hour}

func (p PollPlan) withDefaults() PollPlan {
	d := DefaultPollPlan
	p.First = cmp.Or(p.First, d.First)
	p.Offline = cmp.Or(p.Offline, d.Offline)
	p.ReadWindow = cmp.Or(p.ReadWindow, d.ReadWindow)
	p.Retry = cmp.Or(p.Retry, d.Retry)
	return p
}

// first is when, after the send, the first poll comes; jitter in [0, 1).
func (p PollPlan) first(jitter float64) time.Duration { return spread(p.First, jitter) }

// next is when the poll after poll number n (1-based: the poll just made)
// comes, or ok false when n was the last. before is the delivery's status
// before poll n, seen what poll n found (StatusUnknown: no answer), sentAt
// when the message was sent, now when poll n ran; jitter in [0, 1).
func (p PollPlan) next(n int, before Status, seen provider.Status, sentAt, now time.Time, jitter float64) (at time.Time, ok bool) {
	switch {
	case n >= MaxPolls, seen == provider.StatusRead, seen == provider.StatusFailed, before == Read, before == Failed:
		return time.Time{}, false
	case before == Delivered && n > 1 && seen != provider.StatusUnknown:
		return time.Time{}, false // the read check, answered
	case before == Delivered && n > 1:
		return now.Add(spread(p.Retry, jitter)), true // the read check, unanswered
	case seen == provider.StatusDelivered, before == Delivered:
		return now.Add(late(p.ReadWindow, jitter)), true // the read check
	case n == 1:
		if sentAt.IsZero() {
			sentAt = now
		}
		return later(sentAt.Add(spread(p.Offline, jitter)), now), true
	default: // still sent at the Offline poll: the last look
		return now.Add(late(p.ReadWindow, jitter)), true
	}
}

// spread is d ±20 %: the polls of a burst of sends spread out instead of
// arriving together.
func spread(d time.Duration, jitter float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*jitter))
}

// late is d +0–20 %: spread, never earlier than d.
func late(d time.Duration, jitter float64) time.Duration {
	return time.Duration(float64(d) * (1 + 0.2*jitter))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
