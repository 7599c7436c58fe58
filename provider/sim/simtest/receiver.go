package simtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Receiver is a webhook endpoint for a simulator's pushes. It counts every
// request and keeps the body of each one it acknowledges (HTTP 200), in
// order. It is an http.Handler, served for the test at URL.
type Receiver struct {
	// URL is where the Receiver is served.
	URL string

	mu       sync.Mutex
	requests int
	acked    [][]byte
	taken    int           // acked bodies handed out by Take and Next
	wake     chan struct{} // closed (and replaced) at each acknowledged body
	fail     func(n int) int
}

// NewReceiver returns a Receiver served until the end of the test.
func NewReceiver(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{wake: make(chan struct{})}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// SetFail makes f decide the answer to each request, by its number
// (1-based): HTTP f(n), or 200 when f(n) is 0. Nil acknowledges every one.
func (r *Receiver) SetFail(f func(n int) int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

// FailFirst answers the first n requests HTTP 500.
func (r *Receiver) FailFirst(n int) {
	r.SetFail(func(i int) int {
		if i <= n {
			return http.StatusInternalServerError
		}
		return 0
	})
}

// ServeHTTP records one push.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.requests++
	n, fail := r.requests, r.fail
	r.mu.Unlock()
	if fail != nil {
		if code := fail(n); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	r.mu.Lock()
	r.acked = append(r.acked, b)
	close(r.wake)
	r.wake = make(chan struct{})
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// Requests returns how many requests came, acknowledged or not.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// Acked returns every body acknowledged so far, in order.
func (r *Receiver) Acked() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.acked...)
}

// Take returns the acknowledged bodies not handed out yet by Take or Next.
func (r *Receiver) Take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([][]byte(nil), r.acked[r.taken:]...)
	r.taken = len(r.acked)
	return out
}

// Next returns the next acknowledged body not handed out yet, waiting for
// it up to timeout; false if none came.
func (r *Receiver) Next(timeout time.Duration) ([]byte, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		if r.taken < len(r.acked) {
			b := r.acked[r.taken]
			r.taken++
			r.mu.Unlock()
			return b, true
		}
		wake := r.wake
		r.mu.Unlock()
		select {
		case <-wake:
		case <-deadline.C:
			return nil, false
		}
	}
}
