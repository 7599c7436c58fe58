package sim

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Push is one webhook POST a simulator makes.
type Push struct {
	// Due is when it is made.
	Due time.Time
	// Body is the JSON posted.
	Body []byte
	// Twice posts it a second time right after the first (a duplicate).
	Twice bool
	// Key groups the pushes EnqueueSwapped may swap (a recipient); "" is
	// never swapped.
	Key string
	// Tag is the simulator's own note of what the push is.
	Tag any

	seq uint64 // turn among pushes due at the same time
}

// Target is where and how a push is posted, as the simulator's knobs say
// at the time.
type Target struct {
	// URL receives the push; "" drops it unposted and uncounted.
	URL string
	// Client posts it; nil means a client with a 5 s timeout.
	Client *http.Client
	// Tries is how many times a push that fails (transport error or
	// non-2xx) is tried in all; <= 0 counts it failed untried.
	Tries int
	// Backoff is the wait after the first failed try, doubled after each
	// next one.
	Backoff time.Duration
}

// PushStats counts what a Pusher did.
type PushStats struct {
	Pushed     int // posts answered 2xx (a duplicate counts twice)
	Duplicates int // pushes posted a second time on purpose
	Retries    int // tries after a failed one
	Failed     int // posts given up after the last try (or at Close)
}

// Pusher is a simulator's webhook queue: pushes wait for their due time
// on the simulator's clock and are posted in (due, enqueue) order, one at
// a time, retried with a doubling back-off. It calls its funcs without
// holding its own lock, so a simulator may call its methods under its
// lock and take that lock in the funcs. Close it to stop its timer.
type Pusher struct {
	// Now is the simulator's clock.
	Now func() time.Time
	// Target says where and how to post p; it is asked before each post
	// of p (a duplicate is asked again).
	Target func(p *Push) Target
	// Posted, when set, is told of every post the receiver answered 2xx.
	Posted func(p *Push, url string)
	// MaxWait caps how long the timer sleeps before it looks at the clock
	// again (for a fake clock that moves without it); 0 is no cap.
	MaxWait time.Duration

	mu     sync.Mutex
	queue  []*Push // by (Due, seq)
	seq    uint64
	manual bool
	timer  *time.Timer
	closed bool
	stats  PushStats
	done   chan struct{}
	once   sync.Once

	postMu   sync.Mutex     // one post at a time, so pushes keep their order
	inflight sync.WaitGroup // posting goroutines, for Close
}

// Enqueue queues p for its due time; now is the simulator's clock reading.
func (pu *Pusher) Enqueue(p *Push, now time.Time) { pu.enqueue(p, now, false) }

// EnqueueSwapped queues p and swaps it (due time and turn) with the
// latest pending push of the same Key that is due no later, so pushes of
// one Key come out newest first.
func (pu *Pusher) EnqueueSwapped(p *Push, now time.Time) { pu.enqueue(p, now, true) }

func (pu *Pusher) enqueue(p *Push, now time.Time, swap bool) {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	if pu.closed {
		return
	}
	pu.seq++
	p.seq = pu.seq
	if swap && p.Key != "" {
		var prev *Push
		for _, q := range pu.queue {
			if q.Key == p.Key && comparePush(q, p) <= 0 && (prev == nil || comparePush(prev, q) < 0) {
				prev = q
			}
		}
		if prev != nil {
			prev.Due, p.Due = p.Due, prev.Due
			prev.seq, p.seq = p.seq, prev.seq
			slices.SortFunc(pu.queue, comparePush)
		}
	}
	i, _ := slices.BinarySearchFunc(pu.queue, p, comparePush)
	pu.queue = slices.Insert(pu.queue, i, p)
	pu.armLocked(now)
}

func comparePush(a, b *Push) int { return cmp.Or(a.Due.Compare(b.Due), cmp.Compare(a.seq, b.seq)) }

// SetManual turns the timer off (true) or on: with it off, pushes are
// made only by DeliverDue and PushNow, so a test on a fake clock sees no
// push made behind its back.
func (pu *Pusher) SetManual(manual bool, now time.Time) {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	pu.manual = manual
	pu.armLocked(now)
}

// armLocked sets the timer for the earliest pending push. Callers hold mu.
func (pu *Pusher) armLocked(now time.Time) {
	if pu.closed || pu.manual || len(pu.queue) == 0 {
		if pu.timer != nil {
			pu.timer.Stop()
		}
		return
	}
	wait := max(0, pu.queue[0].Due.Sub(now))
	if pu.MaxWait > 0 {
		wait = min(pu.MaxWait, max(time.Millisecond, wait))
	}
	if pu.timer == nil {
		pu.timer = time.AfterFunc(wait, func() { pu.DeliverDue(pu.Now()) })
		return
	}
	pu.timer.Reset(wait)
}

// Pending returns how many pushes wait for their time.
func (pu *Pusher) Pending() int {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	return len(pu.queue)
}

// Stats returns the counters.
func (pu *Pusher) Stats() PushStats {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	return pu.stats
}

// DeliverDue posts, in order, every pending push due at or before now and
// returns how many it took (posted, or given up). It returns when they
// are done, so a test on a fake clock can advance it, call DeliverDue and
// look at what the receiver got.
func (pu *Pusher) DeliverDue(now time.Time) int {
	if !pu.enter() {
		return 0
	}
	defer pu.inflight.Done()
	pu.postMu.Lock()
	defer pu.postMu.Unlock()
	pu.mu.Lock()
	n := 0
	for n < len(pu.queue) && !pu.queue[n].Due.After(now) {
		n++
	}
	due := slices.Clone(pu.queue[:n])
	pu.queue = slices.Delete(pu.queue, 0, n)
	pu.mu.Unlock()
	for _, p := range due {
		pu.deliver(p)
	}
	now = pu.Now()
	pu.mu.Lock()
	pu.armLocked(now)
	pu.mu.Unlock()
	return len(due)
}

// PushNow posts p at once (a push that beats the answer, or an inbound
// message), in turn with the queued ones.
func (pu *Pusher) PushNow(p *Push) {
	if !pu.enter() {
		return
	}
	defer pu.inflight.Done()
	pu.postMu.Lock()
	defer pu.postMu.Unlock()
	pu.deliver(p)
}

// enter counts a posting goroutine in, unless the Pusher is closed.
func (pu *Pusher) enter() bool {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	if pu.closed {
		return false
	}
	pu.inflight.Add(1)
	return true
}

func (pu *Pusher) count(f func(*PushStats)) {
	pu.mu.Lock()
	defer pu.mu.Unlock()
	f(&pu.stats)
}

// deliver posts p, twice if it is a duplicate. Callers hold postMu.
func (pu *Pusher) deliver(p *Push) {
	for i := range 1 + btoi(p.Twice) {
		if i > 0 {
			pu.count(func(st *PushStats) { st.Duplicates++ })
		}
		if !pu.post(p) {
			return
		}
	}
}

// post makes one post of p, retrying failures; false when the Pusher was
// closed meanwhile.
func (pu *Pusher) post(p *Push) bool {
	t := pu.Target(p)
	if t.URL == "" {
		return true
	}
	hc := cmp.Or(t.Client, &http.Client{Timeout: 5 * time.Second})
	for try := 0; try < t.Tries; try++ {
		if try > 0 {
			pu.count(func(st *PushStats) { st.Retries++ })
			if !pu.wait(t.Backoff << (try - 1)) {
				pu.count(func(st *PushStats) { st.Failed++ })
				return false
			}
		}
		if pu.postOnce(hc, t.URL, p.Body) {
			pu.count(func(st *PushStats) { st.Pushed++ })
			if pu.Posted != nil {
				pu.Posted(p, t.URL)
			}
			return true
		}
	}
	pu.count(func(st *PushStats) { st.Failed++ })
	return true
}

// wait waits d; false when the Pusher is closed first.
func (pu *Pusher) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-pu.doneChan():
		return false
	}
}

func (pu *Pusher) doneChan() chan struct{} {
	pu.once.Do(func() { pu.done = make(chan struct{}) })
	return pu.done
}

// postOnce makes one try and reports whether the receiver answered 2xx;
// Close cuts it short.
func (pu *Pusher) postOnce(hc *http.Client, url string, body []byte) bool {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-pu.doneChan():
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// Close stops the timer, drops the pending pushes, cuts retries short and
// waits for the posts in flight. It is idempotent.
func (pu *Pusher) Close() {
	pu.mu.Lock()
	if pu.closed {
		pu.mu.Unlock()
		return
	}
	pu.closed = true
	if pu.timer != nil {
		pu.timer.Stop()
	}
	pu.queue = nil
	close(pu.doneChan())
	pu.mu.Unlock()
	pu.inflight.Wait()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
