package delivery

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/provider"
)

// msgLife is when a message is delivered (or fails) and read at the
// provider, as offsets from its send; negative: never.
type msgLife struct {
	deliver, read time.Duration
	fail          bool
}

// seenAt is what a poll at offset at finds.
func (l msgLife) seenAt(at time.Duration) provider.Status {
	switch {
	case l.deliver < 0 || at < l.deliver:
		return provider.StatusSent
	case l.fail:
		return provider.StatusFailed
	case l.read >= 0 && at >= l.deliver+l.read:
		return provider.StatusRead
	}
	return provider.StatusDelivered
}

// polled is what tracking a message by plan records.
type polled struct {
	polls          int
	status         Status
	deliveredSeen  bool // a poll before the last found it delivered (or read)
	allAnswered    bool
	lastAfterFound time.Duration // from the delivery to the last poll, once a poll found it delivered
}

// track runs plan over one message's life: every poll finds what the
// provider shows then (unanswered when unanswered says so) and moves the
// status forward only, as the store does.
func track(t *testing.T, plan PollPlan, l msgLife, rng *rand.Rand, unanswered func() bool) polled {
	sent := time.Unix(1_000_000, 0) // any instant: only offsets matter
	r := polled{status: Sent, allAnswered: true}
	at := sent.Add(plan.first(rng.Float64()))
	for {
		r.polls++
		seen := l.seenAt(at.Sub(sent))
		if unanswered() {
			seen, r.allAnswered = provider.StatusUnknown, false
		}
		before := r.status
		if slices.Contains(StatusMoves[seen], r.status) {
			r.status = Status(seen)
		}
		next, ok := plan.next(r.polls, before, seen, sent, at, rng.Float64())
		if !ok {
			if r.status == Delivered || r.status == Read {
				r.lastAfterFound = at.Sub(sent) - l.deliver
			}
			return r
		}
		require.True(t, next.After(at), "poll %d: the next poll comes later", r.polls)
		if r.status == Delivered || r.status == Read {
			r.deliveredSeen = true
		}
		at = next
	}
}

// TestPollPlanOverRandomLives tracks random message lives (delivered within
// seconds or days or never, read within minutes or days or never, failed,
// polls unanswered) with the default plan and a scaled-down one: never more
// than MaxPolls polls; a read within ReadWindow of a delivery that happened
// before the Offline poll is always recorded; an online recipient's
// message costs two polls when unread, one when read or failed at once;
// one never delivered costs three.
func TestPollPlanOverRandomLives(t *testing.T) {
	t.Parallel()
	for _, plan := range []PollPlan{DefaultPollPlan, {First: 2 * time.Second, Offline: 10 * time.Second, ReadWindow: 4 * time.Second, Retry: time.Second}} {
		plan := plan.withDefaults()
		rng := rand.New(rand.NewPCG(14, 5))
		span := 3*plan.Offline + 2*plan.ReadWindow
		pick := func(never float64) time.Duration {
			if rng.Float64() < never {
				return -1
			}
			return time.Duration(rng.Int64N(int64(span)))
		}
		for range 20000 {
			l := msgLife{deliver: pick(0.1), read: pick(0.3), fail: rng.Float64() < 0.05}
			if rng.Float64() < 0.3 { // an online recipient: delivered within seconds
				l.deliver = time.Duration(rng.Int64N(int64(plan.First) * 8 / 10))
			}
			if rng.Float64() < 0.1 { // read at once: delivered is skipped
				l.read = 0
			}
			share := 0.0
			if rng.Float64() < 0.2 {
				share = 0.3
			}
			r := track(t, plan, l, rng, func() bool { return rng.Float64() < share })
			require.LessOrEqual(t, r.polls, MaxPolls, "%+v", l)
			if !r.allAnswered {
				continue
			}
			early := l.deliver >= 0 && l.deliver < plan.Offline*8/10 // before the earliest Offline poll
			switch {
			case l.deliver >= 0 && l.deliver < plan.First*8/10 && l.fail:
				require.Equal(t, 1, r.polls, "failed at once: %+v", l)
				require.Equal(t, Failed, r.status)
			case l.deliver >= 0 && l.deliver < plan.First*8/10 && l.read == 0:
				require.Equal(t, 1, r.polls, "read at once: %+v", l)
			case l.deliver >= 0 && l.deliver < plan.First*8/10 && l.read < 0:
				require.Equal(t, 2, r.polls, "delivered at once, never read: %+v", l)
				require.Equal(t, Delivered, r.status)
			case l.deliver < 0:
				require.Equal(t, 3, r.polls, "never delivered: %+v", l)
				require.Equal(t, Sent, r.status)
			}
			if early && !l.fail {
				require.True(t, r.deliveredSeen || r.status == Read, "delivered before the Offline poll, found before the last poll: %+v %+v", l, r)
			}
			if r.deliveredSeen && r.status != Read {
				require.GreaterOrEqual(t, r.lastAfterFound, plan.ReadWindow, "the read check comes ReadWindow after the delivery at the earliest: %+v", l)
				if l.read >= 0 {
					require.Greater(t, l.read, plan.ReadWindow, "a read within ReadWindow of delivery is recorded: %+v %+v", l, r)
				}
			}
		}
	}
}
