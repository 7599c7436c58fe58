package wiretest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fake is a scripted provider for a driver's tests: it notes what each
// request looked like (a T made by the test's see func) and answers with
// the test's respond func. It is safe for concurrent use.
type Fake[T any] struct {
	// URL is the fake's root; Client calls it.
	URL    string
	Client *http.Client
	mu     sync.Mutex
	seen   []T
}

// NewFake starts a Fake, closed when tb ends. see gets each request with
// its body read (r.Body can be read again); respond then answers it.
func NewFake[T any](tb testing.TB, see func(r *http.Request, body []byte) T, respond http.HandlerFunc) *Fake[T] {
	tb.Helper()
	f := &Fake[T]{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		s := see(r, body)
		f.mu.Lock()
		f.seen = append(f.seen, s)
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		respond(w, r)
	}))
	tb.Cleanup(srv.Close)
	f.URL, f.Client = srv.URL, srv.Client()
	return f
}

// JSONRequest is what a Fake saw of a request of a driver that posts
// JSON (see SeeJSON).
type JSONRequest struct {
	Method      string
	Path        string
	RawQuery    string
	ContentType string
	Header      http.Header
	Body        map[string]any // the body as a JSON object; nil if it is not one
	RawBody     string
}

// SeeJSON is the see func of a Fake of a driver that posts JSON.
func SeeJSON(r *http.Request, raw []byte) JSONRequest {
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return JSONRequest{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), Header: r.Header.Clone(), Body: body, RawBody: string(raw),
	}
}

// Last returns what the latest request looked like; it fails the test
// when none came.
func (f *Fake[T]) Last(tb testing.TB) T {
	tb.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(tb, f.seen, "no request reached the server")
	return f.seen[len(f.seen)-1]
}

// Count returns how many requests came.
func (f *Fake[T]) Count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}
