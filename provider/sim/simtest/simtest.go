package simtest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wacamp/wacamp/internal/testclock"
	"github.com/wacamp/wacamp/provider"
	"github.com/wacamp/wacamp/provider/sim"
	"github.com/wacamp/wacamp/templates"
)

// NewClock returns a settable clock for a simulator, reading now (UTC, to
// the second), so no test depends on the calendar date.
func NewClock() *testclock.Clock {
	return testclock.New(time.Now().UTC().Truncate(time.Second))
}

// Serve serves h for the test; at its end it closes the server, then
// calls closers (a simulator's Close).
func Serve(t testing.TB, h http.Handler, closers ...func()) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		for _, c := range closers {
			c()
		}
	})
	return srv
}

// ExpireOnArrival returns h wrapped, and a context whose deadline passes
// (it ends with cause context.DeadlineExceeded) as soon as the wrapped
// handler is asked to serve a request: a call made with it gives up once
// its request has reached the provider, however loaded the machine, where
// a short timeout may pass before the request is even written. The
// context ends with the test in any case.
func ExpireOnArrival(t testing.TB, h http.Handler) (context.Context, http.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	return ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel(context.DeadlineExceeded)
		h.ServeHTTP(w, r)
	})
}

// Do makes one request to srv and returns the answer's status and body.
// body is sent as a form when it is url.Values, as is when a string, not
// at all when nil, and as JSON otherwise; header is set on the request.
func Do(t testing.TB, srv *httptest.Server, method, path string, header map[string]string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = bytes.NewBufferString(b.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd = bytes.NewBufferString(b)
	default:
		j, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", contentType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

// Call is Do for an answer that is a JSON object: it returns the status
// and the object decoded.
func Call(t testing.TB, srv *httptest.Server, method, path string, header map[string]string, body any) (int, map[string]any) {
	t.Helper()
	status, raw := Do(t, srv, method, path, header, body)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out), string(raw))
	return status, out
}

// Text is a text message.
func Text(s string) templates.Message { return templates.Message{Kind: templates.KindText, Text: s} }

// ProviderError returns err as the *provider.Error a driver returns, or
// fails the test.
func ProviderError(t testing.TB, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	require.ErrorAs(t, err, &pe)
	return pe
}

// RequireUnavailable checks that err is how a driver reads sim.Unavailable
// (the Fail5xxRate fault): a transient error, HTTP 503, to be retried
// after a second.
func RequireUnavailable(t testing.TB, err error) {
	t.Helper()
	pe := ProviderError(t, err)
	require.Equal(t, provider.ClassTransient, pe.Class)
	require.Equal(t, http.StatusServiceUnavailable, pe.HTTPStatus)
	require.Equal(t, time.Second, pe.RetryAfter)
}

// RequireLimited checks that err is how a driver reads a send the number's
// limits refused with v: Meta's 130429 or 131056, transient, or the
// subscriber limit, which halts the account. It returns the error for the
// provider's own checks (its HTTP status).
func RequireLimited(t testing.TB, err error, v sim.Verdict) *provider.Error {
	t.Helper()
	pe := ProviderError(t, err)
	switch v {
	case sim.RateLimited:
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.Equal(t, "130429", pe.Code)
	case sim.PairLimited:
		require.Equal(t, provider.ClassTransient, pe.Class)
		require.Equal(t, "131056", pe.Code)
	case sim.SubscriberLimited:
		require.True(t, provider.IsSubscriberLimit(err))
		require.Equal(t, provider.ClassHaltAccount, pe.Class)
	default:
		t.Fatalf("simtest: %v is no refusal", v)
	}
	return pe
}

// Events parses bodies with a driver's ParseWebhook, in order.
func Events(t testing.TB, parse func([]byte) ([]provider.Event, error), bodies [][]byte) []provider.Event {
	t.Helper()
	var out []provider.Event
	for _, b := range bodies {
		evs, err := parse(b)
		require.NoError(t, err, string(b))
		out = append(out, evs...)
	}
	return out
}

// Statuses returns the status of each event, in order.
func Statuses(evs []provider.Event) []provider.Status {
	out := make([]provider.Status, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Status)
	}
	return out
}

// Bundle is a simulator served for one test, a driver pointed at it and
// the simulator's fake clock.
type Bundle[S http.Handler, C any] struct {
	Sim    S
	Srv    *httptest.Server
	Client C
	Clock  *testclock.Clock
}

// Start serves sim until the end of the test (then calls closers) and
// points a driver made by client at it; clock is sim's clock.
func Start[S http.Handler, C any](t testing.TB, sim S, clock *testclock.Clock, client func(*httptest.Server) C, closers ...func()) Bundle[S, C] {
	t.Helper()
	srv := Serve(t, sim, closers...)
	return Bundle[S, C]{Sim: sim, Srv: srv, Client: client(srv), Clock: clock}
}

// UseClock makes clk the clock of k unless k has one already, and returns
// clk.
func UseClock(k *sim.Knobs, clk *testclock.Clock) *testclock.Clock {
	if k.Now == nil {
		k.Now = clk.Now
	}
	return clk
}

// Twice runs run twice and checks that both runs came out the same, as a
// seeded simulator's do; it returns the first run's outcome.
func Twice[T any](t testing.TB, run func() T) T {
	t.Helper()
	first, second := run(), run()
	require.Equal(t, first, second)
	return first
}

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

// Limits runs, through a driver, the scenarios of the number's limits
// (sim.Number) that every simulator passes alike; each simulator's test
// adds its provider's answer (HTTP status, Retry-After) and what its
// sender key is.
type Limits struct {
	Client provider.Client
	Clock  *testclock.Clock
	// Counts reads the simulator's counters.
	Counts func() sim.Counts
}

// RateLimit checks a number at RatePerSecond 2: sends to phones[0] and
// phones[1] pass, the next, to phones[2], is refused with 130429 and
// counted, and half a second later (a token refilled) it passes. It
// returns the refusal.
func (l Limits) RateLimit(t testing.TB, phones [3]string) *provider.Error {
	t.Helper()
	ctx := context.Background()
	for _, p := range phones[:2] {
		_, err := l.Client.Send(ctx, p, Text("hi"))
		require.NoError(t, err)
	}
	_, err := l.Client.Send(ctx, phones[2], Text("over"))
	pe := RequireLimited(t, err, sim.RateLimited)
	require.Equal(t, 1, l.Counts().RateLimited)

	l.Clock.Add(500 * time.Millisecond)
	_, err = l.Client.Send(ctx, phones[2], Text("after refill"))
	require.NoError(t, err, "one token refilled")
	return pe
}

// PairInterval checks a number at PairInterval 6 s: a second send to
// phone within (less than 6 s) after the first is refused with 131056, one
// to other passes meanwhile, and one to phone 6 s after the first passes;
// one refusal is counted.
func (l Limits) PairInterval(t testing.TB, phone, other string, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := l.Client.Send(ctx, phone, Text("first"))
	require.NoError(t, err)
	l.Clock.Add(within)
	_, err = l.Client.Send(ctx, phone, Text("too soon"))
	RequireLimited(t, err, sim.PairLimited)
	_, err = l.Client.Send(ctx, other, Text("another recipient"))
	require.NoError(t, err)
	l.Clock.Add(6*time.Second - within)
	_, err = l.Client.Send(ctx, phone, Text("six seconds later"))
	require.NoError(t, err)
	require.Equal(t, 1, l.Counts().PairLimited)
}

// SubscriberLimit checks a number at SubscriberLimit 1: a send to phone
// passes, one to other, a new subscriber, is refused for the subscriber
// limit and counted, and phone, a subscriber already, can still be sent
// to.
func (l Limits) SubscriberLimit(t testing.TB, phone, other string) {
	t.Helper()
	ctx := context.Background()
	_, err := l.Client.Send(ctx, phone, Text("first"))
	require.NoError(t, err)
	_, err = l.Client.Send(ctx, other, Text("new recipient"))
	RequireLimited(t, err, sim.SubscriberLimited)
	_, err = l.Client.Send(ctx, phone, Text("known subscriber"))
	require.NoError(t, err)
	require.Equal(t, 1, l.Counts().SubscriberLimited)
}
