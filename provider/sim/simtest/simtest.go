// Package simtest is what the simulators' tests share: a settable clock
// that starts now, a simulator served for one test, a raw call that reads
// the simulator's answer, a webhook receiver, and readings of what a
// driver got (its error, the statuses of its events). Each simulator's
// tests keep only their provider's requests and answers.
package simtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
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
